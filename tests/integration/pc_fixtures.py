"""Partner Center fixtures (loaded for every integration test by `conftest.py`).

`pc_sim` is one simulator per test session; `pc_control` resets it (state, faults, counters,
registration) for each test; `pc_settings` are Settings pointed at it (no storage needed);
`pc_storage_settings` adds the session's Azurite. `webhook_receiver(settings, ...)` starts a real
HTTP endpoint that does what the webhook trigger does (judge with `receive_event`, enqueue the job).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from devstack.pc_sim import PartnerCenterSimControl, PartnerCenterSimulator
from devstack.ports import free_port
from shared.config import Settings, load_settings
from shared.intake.partner_center_webhook import job_for
from shared.partner_center.webhook_events import (
    CertificateCache,
    WebhookOutcome,
    declared_too_large,
    receive_event,
)
from shared.store.job_queue import enqueue

PATH = "/api/partner-center/events"


@pytest.fixture(scope="session")
def pc_sim() -> Iterator[PartnerCenterSimulator]:
    with PartnerCenterSimulator(webhook_retry_base_seconds=0.05) as sim:
        yield sim


@pytest.fixture
def pc_control(pc_sim: PartnerCenterSimulator) -> Iterator[PartnerCenterSimControl]:
    with pc_sim.control() as control:
        control.reset()
        control.set_signing(True)
        yield control
        control.reset()


@pytest.fixture
def pc_settings(pc_sim: PartnerCenterSimulator, pc_control: PartnerCenterSimControl) -> Settings:
    return load_settings(**pc_sim.settings_overrides(), pc_timeout_seconds=5)


@pytest.fixture
def pc_storage_settings(
    settings: Settings, pc_sim: PartnerCenterSimulator, pc_control: PartnerCenterSimControl
) -> Settings:
    """The Azurite-backed `settings` fixture, pointed at the simulator."""
    values = {name: getattr(settings, name) for name in Settings.model_fields}
    return load_settings(**{**values, **pc_sim.settings_overrides(), "pc_timeout_seconds": 5})


@dataclass
class WebhookReceiver:
    """A loopback HTTP server answering webhook POSTs as the trigger does; records outcomes."""

    settings: Settings
    enqueue_jobs: bool = True
    fail_first: int = 0
    """Answer 500 to this many requests first (to exercise Partner Center's retries)."""
    port: int = field(default_factory=free_port)
    outcomes: list[WebhookOutcome] = field(default_factory=list)
    certificates: CertificateCache = field(default_factory=CertificateCache)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

        async def events(request: Request) -> Response:
            with self._lock:
                if self.fail_first > 0:
                    self.fail_first -= 1
                    return PlainTextResponse("temporarily broken", status_code=500)
            if declared_too_large(request.headers, self.settings):  # 413 before reading the body
                outcome = WebhookOutcome(413, "body too large")
            else:
                outcome = receive_event(
                    await request.body(), request.headers, self.settings, certificates=self.certificates
                )
            if outcome.event is not None and self.enqueue_jobs:
                enqueue(self.settings, [job_for(outcome.event)])
            with self._lock:
                self.outcomes.append(outcome)
            return PlainTextResponse(outcome.message, status_code=outcome.status_code)

        app = Starlette(routes=[Route(PATH, events, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("webhook receiver did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def statuses(self) -> list[int]:
        with self._lock:
            return [o.status_code for o in self.outcomes]


@pytest.fixture
def webhook_receiver() -> Iterator[Callable[..., WebhookReceiver]]:
    """Start `WebhookReceiver(settings, **options)` instances; all stop after the test."""
    started: list[WebhookReceiver] = []

    def start(settings: Settings, **options: object) -> WebhookReceiver:
        receiver = WebhookReceiver(settings, **options)  # type: ignore[arg-type]
        started.append(receiver.__enter__())
        return receiver

    yield start
    for receiver in started:
        receiver.__exit__()

"""PC_MAX_REQUESTS_PER_SECOND against the Partner Center simulator (issue #19): whatever mix of live
and background callers, threads and retries, the simulator never counts more than the process's
rate in any second, plus the one request of transport jitter `limit_requests_per_second` allows."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.pc_sim import PartnerCenterSimControl, PartnerCenterSimulator
from shared.config import Settings, load_settings
from shared.core.rate_budget import background
from shared.ops.ops_clients import OpsClients
from shared.partner_center import http_policy

RATE = 20.0
TOLERANCE = 1
"""One request per process over the rate: arrivals jitter by a few ms (`limit_requests_per_second`)."""
RUN_SECONDS = 2.5


@pytest.fixture
def arrivals(pc_sim: PartnerCenterSimulator, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When each Partner Center API request reached the simulator (token requests left out)."""
    seen: list[float] = []
    count = pc_sim.state.count

    def counted(endpoint: str) -> None:
        if endpoint != "POST /token":
            seen.append(time.monotonic())
        count(endpoint)

    monkeypatch.setattr(pc_sim.state, "count", counted)
    return seen


@pytest.fixture
def limited(pc_settings: Settings) -> Iterator[Settings]:
    """Settings with the rate set; the process's bucket is unlimited again afterwards."""
    values = {name: getattr(pc_settings, name) for name in Settings.model_fields}
    yield load_settings(**{**values, "pc_max_requests_per_second": RATE})
    http_policy.limit_requests_per_second(0)


def busiest_second(times: list[float]) -> int:
    """The most arrivals in any half-open 1-second window."""
    times = sorted(times)
    start, busiest = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


def run_threads(callers: list[Callable[[], None]], seconds: float) -> None:
    """Each caller on a thread of its own, again and again until `seconds` have passed; a caller's
    error fails the test."""
    deadline = time.monotonic() + seconds

    def loop(call: Callable[[], None]) -> None:
        while time.monotonic() < deadline:
            call()

    with ThreadPoolExecutor(len(callers)) as pool:
        for done in [pool.submit(loop, call) for call in callers]:
            done.result(timeout=seconds + 10)


def test_backfill_clients_keep_the_process_rate(
    limited: Settings, pc_control: PartnerCenterSimControl, arrivals: list[float]
) -> None:
    """The backfill's and reconcile's own clients (`OpsClients`), with no worker client built in
    the process first: list pages and single reads from several background threads."""
    pc_control.seed(3)
    ids = [r["id"] for r in pc_control.referrals()]

    with OpsClients(limited) as clients:

        def read_one() -> None:
            with background():
                for rid in ids:
                    clients.pc.get_referral(rid)

        def list_pages() -> None:
            with background():
                list(clients.pc.iter_referrals(top=1))

        run_threads([read_one, read_one, read_one, list_pages], RUN_SECONDS)

    assert busiest_second(arrivals) <= RATE + TOLERANCE
    assert len(arrivals) >= RATE * (RUN_SECONDS - 1)  # paced, not stalled


def test_live_calls_and_retries_share_the_rate_with_background_ones(
    limited: Settings, pc_control: PartnerCenterSimControl, arrivals: list[float]
) -> None:
    """Live reads (a few a second each, as webhook jobs come), background reads flooding, PATCHes,
    and 429s with Retry-After whose retries take turns too: one rate for all, live calls first."""
    pc_control.seed(2)
    first, second = (r["id"] for r in pc_control.referrals())
    pc_control.set_faults(
        api=[{"status": 429, "count": 8, "retry_after": 0.1, "endpoint": "GET /referrals/{id}"}]
    )
    live_seconds: list[float] = []
    background_calls = 0

    with OpsClients(limited) as clients:

        def live_read() -> None:
            started = time.monotonic()
            clients.pc.get_referral(first)
            live_seconds.append(time.monotonic() - started)
            time.sleep(0.2)

        def live_patch() -> None:
            referral = clients.pc.get_referral(second)
            clients.pc.update_referral(
                second, [{"op": "replace", "path": "/name", "value": f"v{time.time()}"}], etag=referral.e_tag
            )  # fmt: skip
            time.sleep(0.2)

        def background_read() -> None:
            nonlocal background_calls
            with background():
                clients.pc.get_referral(first)
                background_calls += 1

        run_threads([live_read, live_read, live_patch, *[background_read] * 4], RUN_SECONDS)

    assert busiest_second(arrivals) <= RATE + TOLERANCE
    assert pc_control.counters()["GET /referrals/{id}"] >= 8  # the 429s were answered and retried
    assert background_calls > 0  # the backfill used the turns live calls left
    # A live call waits behind other live calls at most, never behind the backfill's queue (the
    # first calls also fetch a token and meet the 429s: the median, not the maximum).
    assert statistics.median(live_seconds) < 3 / RATE

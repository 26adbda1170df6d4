"""`PartnerCenterSimulator`: the simulator app served by uvicorn on a free loopback port, in a
background thread, with its webhook delivery thread."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from devstack.pc_sim.app import CERTIFICATE_PATH, Credentials, SimState, build_app, build_state
from devstack.pc_sim.control import PartnerCenterSimControl
from devstack.ports import free_port


class PartnerCenterSimulator:
    """A running Partner Center stand-in. Use `settings_overrides()` to point `Settings` at it and
    `PartnerCenterSimControl(sim.origin)` (or `sim.control()`) to drive it."""

    def __init__(
        self,
        *,
        webhook_signing: bool = True,
        port: int | None = None,
        credentials: Credentials | None = None,
        webhook_retry_base_seconds: float = 0.2,
    ) -> None:
        self.port = port or free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.credentials = credentials or Credentials()
        self.state: SimState = build_state(
            self.origin,
            credentials=self.credentials,
            webhook_signing=webhook_signing,
            retry_base=webhook_retry_base_seconds,
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Value for `Settings.pc_api_base_url` (referrals live under `/referrals`)."""
        return f"{self.origin}/v1.0/engagements"

    @property
    def webhook_api_base_url(self) -> str:
        return f"{self.origin}/webhooks/v1"

    @property
    def token_url(self) -> str:
        return f"{self.origin}/common/oauth2/token"

    @property
    def certificate_url(self) -> str:
        return self.origin + CERTIFICATE_PATH

    @property
    def cert_host(self) -> str:
        return "127.0.0.1"

    def settings_overrides(self) -> dict[str, Any]:
        """`Settings` field values that point the connector at this simulator."""
        return {
            "pc_api_base_url": self.base_url,
            "pc_webhook_api_base_url": self.webhook_api_base_url,
            "pc_token_url": self.token_url,
            "pc_tenant_id": "sim-tenant",
            "pc_client_id": self.credentials.client_id,
            "pc_client_secret": self.credentials.client_secret,
            "pc_refresh_token": self.credentials.refresh_token,
            "pc_webhook_cert_hosts": [self.cert_host],
        }

    def control(self) -> PartnerCenterSimControl:
        return PartnerCenterSimControl(self.origin)

    def start(self) -> PartnerCenterSimulator:
        config = uvicorn.Config(
            build_app(self.state),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="pc-sim-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"Partner Center simulator did not start on port {self.port}")
            time.sleep(0.01)
        self.state.dispatcher.start()
        return self

    def stop(self) -> None:
        self.state.dispatcher.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> PartnerCenterSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

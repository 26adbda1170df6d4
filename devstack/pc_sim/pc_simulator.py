"""`PartnerCenterSimulator`: the simulator app served by uvicorn on a free loopback port, in a
background thread, with its webhook delivery thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from devstack.pc_sim.pc_cert_chain import CertificateOptions
from devstack.pc_sim.pc_http_app import SimOptions, SimState, build_app, build_state
from devstack.pc_sim.pc_identity import Credentials, IdentityOptions
from devstack.pc_sim.pc_referral_quirks import FilterMode
from devstack.pc_sim.pc_sim_client import PartnerCenterSimControl
from devstack.ports import free_port


class PartnerCenterSimulator:
    """A running Partner Center stand-in. Use `settings_overrides()` to point `Settings` at it and
    `PartnerCenterSimControl(sim.origin)` (or `sim.control()`) to drive it.

    Tenant behaviours (issue #15), each also switchable over `/_sim`: `identity` (single-tenant
    authority, refresh-token rotation/lifetime/grace), `filter_modes` (`$filter` property ->
    honour/ignore/refuse) and `certificate` (who signs webhooks and the announced certificate URL).
    `POST /_sim/reset` returns to these constructor choices."""

    def __init__(
        self,
        *,
        webhook_signing: bool = True,
        port: int | None = None,
        credentials: Credentials | None = None,
        webhook_retry_base_seconds: float = 0.2,
        identity: IdentityOptions | None = None,
        filter_modes: Mapping[str, FilterMode] | None = None,
        certificate: CertificateOptions | None = None,
    ) -> None:
        self.port = port or free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.credentials = credentials or Credentials()
        options = SimOptions(
            credentials=self.credentials,
            webhook_signing=webhook_signing,
            retry_base_seconds=webhook_retry_base_seconds,
            identity=identity or IdentityOptions(),
            filter_modes=dict(filter_modes or {}),
            certificate=certificate or CertificateOptions(),
        )
        self.state: SimState = build_state(self.origin, options)
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
        """The tenant-scoped v1 endpoint (`/{tenant}/oauth2/token`), as the secure application model uses."""
        return f"{self.origin}/{self.credentials.tenant_id}/oauth2/token"

    @property
    def token_url_v2(self) -> str:
        return f"{self.origin}/{self.credentials.tenant_id}/oauth2/v2.0/token"

    @property
    def certificate_url(self) -> str:
        """The URL deliveries announce in `x-ms-certificate-url` right now."""
        return self.state.signing.certificate_url()

    @property
    def root_ca_pem(self) -> str:
        """The test root CA the signing certificate chains to (a test-only trust anchor)."""
        return self.state.signing.pki.root_pem

    @property
    def root_ca_pem_path(self) -> Path:
        return self.state.signing.root_pem_path

    @property
    def cert_host(self) -> str:
        return "127.0.0.1"

    def settings_overrides(self) -> dict[str, Any]:
        """`Settings` field values that point the connector at this simulator."""
        return {
            "pc_api_base_url": self.base_url,
            "pc_webhook_api_base_url": self.webhook_api_base_url,
            "pc_token_url": self.token_url,
            "pc_tenant_id": self.credentials.tenant_id,
            "pc_client_id": self.credentials.client_id,
            "pc_client_secret": self.credentials.client_secret,
            "pc_refresh_token": self.credentials.refresh_token,
            # The certificate URL carries the simulator's port: allow exactly that host and port.
            "pc_webhook_cert_hosts": [f"{self.cert_host}:{self.port}"],
            # Test-only trust anchor (never set by infra): the test root CA, plus the intermediate
            # the signing certificate is issued by (the certificate URL serves the leaf only).
            "pc_webhook_test_trust_anchor_pem": self.root_ca_pem + self.state.signing.pki.intermediate_pem,
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

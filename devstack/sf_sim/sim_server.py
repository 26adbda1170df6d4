"""`SalesforceSimulator`: the app served by uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from devstack.ports import free_port
from devstack.sf_sim.credentials import SimCredentials
from devstack.sf_sim.http_app import SimState, build_app
from devstack.sf_sim.org import Org
from devstack.sf_sim.profiles import OrgProfile

INSTANCE_HOST = "cosell-sim.my.salesforce.com"


class SalesforceSimulator:
    """A faithful-enough Salesforce org over real HTTP on 127.0.0.1.

    Reach it with `devstack.sf_sim.transport.loopback_session(sim.port)`; configure the app with
    `sim.settings_overrides()`; drive sellers and faults with `sim.control` (`SalesforceSimControl`).
    `profile` picks the org's settings (`devstack.sf_sim.profiles`: "ideal" (default), "new_org",
    "enterprise", or an `OrgProfile`); `multi_currency` overrides the profile's currency setting.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        api_version: str = "59.0",
        profile: str | OrgProfile | None = None,
        multi_currency: bool | None = None,
        credentials: SimCredentials | None = None,
    ) -> None:
        self.port = port or free_port()
        self.credentials = credentials or SimCredentials()
        self.org = Org(api_version=api_version, profile=profile, multi_currency=multi_currency)
        self.state = SimState(
            org=self.org,
            credentials=self.credentials,
            instance_url=f"https://{INSTANCE_HOST}",
            base_profile=self.org.profile,
        )
        self.app = build_app(self.state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def control(self) -> Any:
        from devstack.sf_sim.control import SalesforceSimControl

        return SalesforceSimControl(self.base_url)

    def settings_overrides(self, auth_mode: str = "jwt") -> dict[str, str]:
        """The sf_* settings under which the connector authenticates against this simulator."""
        creds = self.credentials
        return {
            "sf_login_url": f"https://{INSTANCE_HOST}",
            "sf_api_version": self.org.api_version,
            "sf_auth_mode": auth_mode,
            "sf_client_id": creds.client_id,
            "sf_client_secret": creds.client_secret,
            "sf_username": creds.username,
            "sf_password": creds.password,
            "sf_security_token": creds.security_token,
            "sf_private_key": creds.private_key_pem,
        }

    def start(self) -> SalesforceSimulator:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"sf-sim-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"Salesforce simulator did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> SalesforceSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

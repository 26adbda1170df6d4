"""The whole local stack in one object: Azurite, both simulators and the local Functions host
running the real `function_app.app`, wired together the way a deployment is (the Partner Center
webhook registered at the host's URL, the poll on a short schedule). Shared by the demo, the
end-to-end tests and the benchmarks."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr

from devstack.azurite import Azurite
from devstack.host import LocalFunctionsHost
from devstack.pc_sim import PartnerCenterSimulator
from devstack.pc_sim.control import PartnerCenterSimControl
from devstack.ports import free_port
from devstack.sf_sim import SalesforceSimControl, SalesforceSimulator, loopback_session
from devstack.sf_sim.profiles import PROFILE_ENV
from shared import api_clients
from shared.config import Settings, get_settings, load_settings
from shared.partner_center.registration import REFERRAL_EVENTS
from shared.salesforce.salesforce_client import SalesforceClient

WEBHOOK_ROUTE = "api/partner-center/events"


def env_names() -> dict[str, str]:
    """Settings field name -> app setting (environment variable) name."""
    names = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names[name] = (
            alias.choices[0]
            if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str)
            else name.upper()
        )
    return names


def to_environ(values: dict[str, Any]) -> dict[str, str]:
    """Settings field values as the strings app settings hold."""
    names = env_names()
    out = {}
    for key, raw in values.items():
        out[names[key]] = _setting_text(raw)
    return out


def _setting_text(value: Any) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _restore_environ(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class LocalStack:
    """Start with `with LocalStack() as stack:`; `stack.pc` / `stack.sf` drive the simulators."""

    def __init__(
        self,
        *,
        poll_schedule: str = "*/2 * * * * *",
        only: Iterable[str] | None = None,
        start_host: bool = True,
        extra_settings: dict[str, Any] | None = None,
        azurite_location: Path | None = None,
    ) -> None:
        self.poll_schedule = poll_schedule
        self.only = only
        self.start_host = start_host
        self.extra_settings = extra_settings or {}
        self.azurite_location = azurite_location
        self._exit = ExitStack()
        self.http_port = free_port()
        self.azurite: Azurite
        self.pc_sim: PartnerCenterSimulator
        self.sf_sim: SalesforceSimulator
        self.host: LocalFunctionsHost | None = None
        self.environ: dict[str, str] = {}

    @property
    def callback_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/{WEBHOOK_ROUTE}"

    @property
    def settings(self) -> Settings:
        return get_settings()

    def start(self) -> LocalStack:
        try:
            return self._start()
        except BaseException:
            self._exit.close()  # whatever started is stopped, and the environment restored
            raise

    def _start(self) -> LocalStack:
        self.azurite = self._exit.enter_context(Azurite(location=self.azurite_location))
        self.pc_sim = self._exit.enter_context(PartnerCenterSimulator())
        # A new org as it comes (single currency, country picklists, duplicate rules) unless SF_SIM_PROFILE
        # names another profile (devstack.sf_sim.profiles).
        profile = os.environ.get(PROFILE_ENV) or "new_org"
        self.sf_sim = self._exit.enter_context(SalesforceSimulator(profile=profile))
        values: dict[str, Any] = {
            "storage_connection": self.azurite.connection_string,
            **self.pc_sim.settings_overrides(),
            **self.sf_sim.settings_overrides(),
            "pc_webhook_callback_url": self.callback_url,
            "sf_poll_schedule": self.poll_schedule,
            "sf_poll_overlap_seconds": 30,
            **self.extra_settings,
        }
        # Every setting, defaults included, as in an Azure deployment (timers resolve %SETTING%).
        self.environ = to_environ(load_settings(**values).model_dump())
        # The app reads its settings from the environment, exactly as in Azure; restored on stop.
        saved = {name: os.environ.get(name) for name in self.environ}
        self._exit.callback(_restore_environ, saved)
        os.environ.update(self.environ)
        get_settings.cache_clear()
        self._exit.callback(get_settings.cache_clear)
        self._exit.callback(api_clients.use_factories, salesforce=SalesforceClient)
        port = self.sf_sim.port
        api_clients.use_factories(salesforce=lambda s: SalesforceClient(s, session=loopback_session(port)))
        self.pc = PartnerCenterSimControl(self.pc_sim.origin)
        self.sf = SalesforceSimControl(self.sf_sim.base_url)
        self.pc.register_webhook(self.callback_url, [*REFERRAL_EVENTS, "test-created"])
        if self.start_host:
            import function_app  # imported only now: it reads the settings set above

            self.host = LocalFunctionsHost(
                function_app.app, http_port=self.http_port, environ=dict(os.environ), only=self.only
            )
            self._exit.enter_context(self.host)
        return self

    def stop(self) -> None:
        self._exit.close()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

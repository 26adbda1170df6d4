"""Helpers for tests that talk to the Salesforce simulator (plain functions, no fixtures)."""

from __future__ import annotations

from typing import Any

from devstack.sf_sim import SalesforceSimulator, loopback_session
from shared.config import Settings, load_settings
from shared.salesforce.salesforce_client import SalesforceClient


def sim_settings(sim: SalesforceSimulator, base: Settings | None = None, **overrides: Any) -> Settings:
    """Settings for the simulator (on top of `base`, e.g. the Azurite `settings` fixture)."""
    values: dict[str, Any] = dict(base.model_dump()) if base is not None else {}
    values.update(sim.settings_overrides())
    values.update(overrides)
    return load_settings(**values)


class RecordingSleep:
    """Stands in for time.sleep: remembers the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_client(sim: SalesforceSimulator, settings: Settings) -> SalesforceClient:
    sleep = RecordingSleep()
    client = SalesforceClient(settings, session=loopback_session(sim.port), sleep=sleep, random=lambda: 0.5)
    client.slept = sleep.delays  # type: ignore[attr-defined]
    return client

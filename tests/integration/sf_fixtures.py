"""Salesforce simulator fixtures (loaded for every integration test by `conftest.py`); helpers
such as `make_client` and `sim_settings` live in `tests.integration.sf_helpers`.

`sf_sim` is one simulator per test session; `sf_control` resets it before each test; `sf_settings`
are Settings (on the session's Azurite) pointed at it; `sf_client` is a SalesforceClient reaching it
over a loopback session, with sleeps recorded in `sf_client.slept` instead of slept.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.sf_sim import SalesforceSimControl, SalesforceSimulator
from shared.config import Settings
from shared.salesforce.salesforce_client import SalesforceClient
from tests.integration.sf_helpers import RecordingSleep, make_client, sim_settings

__all__ = [
    "RecordingSleep",
    "make_client",
    "sf_client",
    "sf_control",
    "sf_settings",
    "sf_sim",
    "sim_settings",
]


@pytest.fixture(scope="session")
def sf_sim() -> Iterator[SalesforceSimulator]:
    with SalesforceSimulator() as sim:
        yield sim


@pytest.fixture
def sf_control(sf_sim: SalesforceSimulator) -> Iterator[SalesforceSimControl]:
    control = SalesforceSimControl(sf_sim.base_url)
    control.reset()
    yield control
    control.close()


@pytest.fixture
def sf_settings(
    sf_sim: SalesforceSimulator, sf_control: SalesforceSimControl, settings: Settings
) -> Settings:
    return sim_settings(sf_sim, settings)


@pytest.fixture
def sf_client(sf_sim: SalesforceSimulator, sf_settings: Settings) -> SalesforceClient:
    return make_client(sf_sim, sf_settings)

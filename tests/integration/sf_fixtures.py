"""Salesforce simulator fixtures (loaded for every integration test by `conftest.py`); helpers
such as `make_client` and `sim_settings` live in `tests.integration.sf_helpers`.

`sf_sim` is one simulator per test session; `sf_control` resets it before each test, to the org profile
`sf_profile` names ("ideal"; the engine scenarios run on each of `ENGINE_PROFILES`); `sf_settings`
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
    "ENGINE_PROFILES",
    "RecordingSleep",
    "make_client",
    "sf_client",
    "sf_control",
    "sf_profile",
    "sf_settings",
    "sf_sim",
    "sim_settings",
]


@pytest.fixture(scope="session")
def sf_sim() -> Iterator[SalesforceSimulator]:
    with SalesforceSimulator() as sim:
        yield sim


ENGINE_PROFILES = ("new_org", "enterprise")
"""The org profiles every engine scenario runs on: a new org as it comes (the default) and an enterprise
org with multi-currency and record types (`devstack.sf_sim.profiles`)."""


@pytest.fixture
def sf_profile() -> str:
    """The org profile `sf_control` resets the simulator to before each test ("ideal" unless a module
    overrides this fixture, e.g. with `engine_profiles`)."""
    return "ideal"


@pytest.fixture(name="sf_profile", params=ENGINE_PROFILES)
def engine_profiles(request: pytest.FixtureRequest) -> str:
    """`sf_profile` parametrized over ENGINE_PROFILES: a test module that imports this fixture runs each
    test once per profile (`from tests.integration.sf_fixtures import engine_profiles`)."""
    return str(request.param)


@pytest.fixture
def sf_control(sf_sim: SalesforceSimulator, sf_profile: str) -> Iterator[SalesforceSimControl]:
    control = SalesforceSimControl(sf_sim.base_url)
    control.reset()
    control.set_profile(sf_profile)
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

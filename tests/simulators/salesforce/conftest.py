"""One simulator per org profile for this package; each test starts from an empty org."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simple_salesforce.api import Salesforce

from devstack.sf_sim import SalesforceSimControl, SalesforceSimulator, loopback_session


@pytest.fixture(scope="session")
def profile_sims() -> Iterator[dict[str, SalesforceSimulator]]:
    sims = {name: SalesforceSimulator(profile=name).start() for name in ("ideal", "new_org", "enterprise")}
    yield sims
    for sim in sims.values():
        sim.stop()


def client(sim: SalesforceSimulator) -> Salesforce:
    creds = sim.credentials
    return Salesforce(
        username=creds.username,
        consumer_key=creds.client_id,
        privatekey=creds.private_key_pem,
        domain="login",
        session=loopback_session(sim.port),
        version="59.0",
    )


def _connect(sims: dict[str, SalesforceSimulator], name: str) -> Iterator[tuple[Salesforce, Any]]:
    control = SalesforceSimControl(sims[name].base_url)
    control.reset()
    yield client(sims[name]), control
    control.close()


@pytest.fixture
def new_org(profile_sims: dict[str, SalesforceSimulator]) -> Iterator[tuple[Salesforce, Any]]:
    yield from _connect(profile_sims, "new_org")


@pytest.fixture
def enterprise(profile_sims: dict[str, SalesforceSimulator]) -> Iterator[tuple[Salesforce, Any]]:
    yield from _connect(profile_sims, "enterprise")


@pytest.fixture
def ideal(profile_sims: dict[str, SalesforceSimulator]) -> Iterator[tuple[Salesforce, Any]]:
    yield from _connect(profile_sims, "ideal")

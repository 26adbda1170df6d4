"""One Partner Center simulator for this folder, reset around each test, plus a raw HTTP helper."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.pc_sim import PartnerCenterSimControl, PartnerCenterSimulator

REFERRALS = "https://api.partner.microsoft.com"
WEBHOOKS = "https://api.partnercenter.microsoft.com"


@pytest.fixture(scope="module")
def sim() -> Iterator[PartnerCenterSimulator]:
    """This folder's own simulator (its tests switch tenant behaviours; nothing else shares it)."""
    running = PartnerCenterSimulator(webhook_retry_base_seconds=0.05).start()
    yield running
    running.stop()


@pytest.fixture
def control(sim: PartnerCenterSimulator) -> Iterator[PartnerCenterSimControl]:
    """The control client; the simulator is back to its constructor choices before and after."""
    ctl = sim.control()
    ctl.reset()
    yield ctl
    ctl.reset()
    ctl.close()


def refresh_form(
    sim: PartnerCenterSimulator, refresh_token: str | None = None, **extra: str
) -> dict[str, str]:
    form = {
        "grant_type": "refresh_token",
        "client_id": sim.credentials.client_id,
        "client_secret": sim.credentials.client_secret,
        "refresh_token": refresh_token or sim.credentials.refresh_token,
    }
    return {**form, **extra}


def redeem(sim: PartnerCenterSimulator, url: str | None = None, **form: str) -> httpx.Response:
    """POST a refresh-token grant (v1 `resource` unless `scope` is given)."""
    if "scope" not in form:
        form.setdefault("resource", REFERRALS)
    return httpx.post(url or sim.token_url, data=refresh_form(sim, **form))


def access_token(sim: PartnerCenterSimulator, resource: str = REFERRALS) -> str:
    response = redeem(sim, resource=resource)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def api(sim: PartnerCenterSimulator, control: PartnerCenterSimControl) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {access_token(sim)}"}
    with httpx.Client(base_url=sim.base_url, headers=headers) as client:
        yield client


def assert_partner_center_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """Partner Center's error shape: code, description, data, source (+ a Request-ID header)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "description", "data", "source"}
    assert body["code"] == status and body["description"]
    assert response.headers["Request-ID"]
    return body

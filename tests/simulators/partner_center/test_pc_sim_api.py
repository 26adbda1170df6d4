"""The simulator's own wire behaviour, over HTTP: OData errors, paging, eTag headers, capacity,
and running as a separate process."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from devstack.pc_sim import PartnerCenterSimControl
from shared.partner_center.referral_client import PartnerCenterClient

pytestmark = pytest.mark.integration


@pytest.fixture
def api(pc_sim, pc_control):
    form = {
        "grant_type": "refresh_token",
        "client_id": pc_sim.credentials.client_id,
        "client_secret": pc_sim.credentials.client_secret,
        "refresh_token": pc_sim.credentials.refresh_token,
        "resource": "https://api.partner.microsoft.com",
    }
    token = httpx.post(pc_sim.token_url, data=form).json()["access_token"]
    with httpx.Client(base_url=pc_sim.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.mark.parametrize(
    "query",
    [
        {"$filter": "status eq"},
        {"$filter": "team/any(t:t/email eq 'a@b')"},
        {"$orderby": "name asc"},
        {"$top": "zero"},
        {"$skiptoken": "%%%"},
    ],
)
def test_bad_queries_answer_partner_center_shaped_400(api, query):
    response = api.get("/referrals", params=query)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 400 and body["description"]
    assert response.headers["Request-ID"]


def test_missing_or_unknown_bearer_is_401(pc_sim, pc_control):
    assert httpx.get(f"{pc_sim.base_url}/referrals").status_code == 401
    headers = {"Authorization": "Bearer made-up"}
    assert httpx.get(f"{pc_sim.base_url}/referrals", headers=headers).status_code == 401


def test_pages_carry_count_and_next_link(api, pc_control):
    pc_control.seed(120)
    first = api.get("/referrals").json()
    assert first["@odata.count"] == 120
    assert len(first["value"]) == 100
    assert "skiptoken=" in first["@odata.nextLink"]
    second = api.get(first["@odata.nextLink"]).json()
    assert len(second["value"]) == 20
    assert "@odata.nextLink" not in second


def test_etag_header_matches_body_and_patch_without_prefer_is_204(api, pc_control):
    sent = pc_control.send_marketplace_lead()
    got = api.get(f"/referrals/{sent['id']}")
    assert got.headers["ETag"] == got.json()["eTag"] == sent["eTag"]
    patched = api.patch(
        f"/referrals/{sent['id']}",
        json=[{"op": "replace", "path": "/details/notes", "value": "hi"}],
        headers={"If-Match": sent["eTag"]},
    )
    assert patched.status_code == 204
    assert patched.headers["ETag"] != sent["eTag"]


def test_read_only_fields_cannot_be_patched(api, pc_control):
    sent = pc_control.send_marketplace_lead()
    response = api.patch(f"/referrals/{sent['id']}", json=[{"op": "replace", "path": "/eTag", "value": "x"}])
    assert response.status_code == 400


def test_holds_ten_thousand_referrals_and_filters_them_quickly(pc_settings, pc_control):
    assert pc_control.seed(10_000) == 10_000
    with PartnerCenterClient(pc_settings) as client:
        started = time.monotonic()
        found = client.find_by_external_reference("SEED00009999")
        elapsed = time.monotonic() - started
    assert found is not None and found.name == "Seeded deal 9999"
    assert elapsed < 2.0
    assert pc_control.health()["referrals"] == 10_000


def test_runs_as_its_own_process(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.pc_sim", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        with PartnerCenterSimControl(started["origin"]) as control:
            assert control.health() == {"ok": True, "referrals": 3}
            control.send_referral()
            assert control.health()["referrals"] == 5
        assert started["settings"]["pc_api_base_url"].endswith("/v1.0/engagements")
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0

"""Referrals API quirks over HTTP: `$filter` modes (honour / ignore / refuse) per property, per-referral
403/404 read faults, related referrals forbidden to the partner, and unknown status values."""

from __future__ import annotations

import httpx
import pytest

from devstack.pc_sim import PartnerCenterSimulator
from tests.simulators.partner_center.conftest import access_token, assert_partner_center_error

pytestmark = pytest.mark.integration

BY_EXTERNAL_ID = "externalReferenceId eq 'SEED00000007'"
BY_UPDATED = "updatedDateTime ge 2000-01-01T00:00:00Z"


def test_filters_are_honoured_by_default(api, control):
    control.seed(10)
    page = api.get("/referrals", params={"$filter": BY_EXTERNAL_ID}).json()
    assert [r["externalReferenceId"] for r in page["value"]] == ["SEED00000007"]


def test_an_ignored_filter_returns_the_unfiltered_collection_paged(api, control):
    control.seed(120)
    control.set_filter_modes({"externalReferenceId": "ignore"})
    first = api.get("/referrals", params={"$filter": BY_EXTERNAL_ID}).json()
    assert first["@odata.count"] == 120 and len(first["value"]) == 100
    assert "externalReferenceId" in first["@odata.nextLink"]  # the next link still echoes $filter
    second = api.get(first["@odata.nextLink"]).json()
    assert len(second["value"]) == 20 and "@odata.nextLink" not in second
    # Other properties are still honoured.
    assert api.get("/referrals", params={"$filter": "status eq 'Closed'"}).json()["@odata.count"] == 0


def test_a_refused_filter_is_a_partner_center_400(api, control):
    control.seed(3)
    control.set_filter_modes({"updatedDateTime": "refuse"})
    response = api.get("/referrals", params={"$filter": f"status eq 'Active' and {BY_UPDATED}"})
    body = assert_partner_center_error(response, 400)
    assert "'updatedDateTime' cannot be used in the $filter query option" in body["description"]
    assert api.get("/referrals", params={"$filter": "status eq 'Active'"}).status_code == 200


def test_star_sets_every_other_property(api, control):
    control.seed(2)
    control.set_filter_modes({"*": "refuse", "engagementId": "honour"})
    assert api.get("/referrals", params={"$filter": "engagementId eq 'x'"}).status_code == 200
    assert_partner_center_error(api.get("/referrals", params={"$filter": "status eq 'New'"}), 400)


def test_filter_modes_from_the_constructor_survive_reset():
    with PartnerCenterSimulator(filter_modes={"externalReferenceId": "refuse"}) as sim, sim.control() as ctl:
        ctl.reset()
        headers = {"Authorization": f"Bearer {access_token(sim)}"}
        response = httpx.get(f"{sim.base_url}/referrals", params={"$filter": BY_EXTERNAL_ID}, headers=headers)
        assert_partner_center_error(response, 400)


@pytest.mark.parametrize("status", [403, 404])
def test_a_referral_can_be_marked_forbidden_or_missing(api, control, status):
    sent = control.send_referral()
    control.set_read_fault(sent["id"], status)
    body = assert_partner_center_error(api.get(f"/referrals/{sent['id']}"), status)
    assert ("Access denied" if status == 403 else "doesn't exist") in body["description"]
    control.set_read_fault(sent["id"], None)
    assert api.get(f"/referrals/{sent['id']}").status_code == 200


def test_related_referrals_can_be_forbidden_to_the_partner(api, control):
    sent = control.send_referral()
    engagement = api.get("/referrals", params={"$filter": f"engagementId eq '{sent['engagementId']}'"}).json()
    microsoft_side = next(r for r in engagement["value"] if r["organizationId"] == "msft")
    assert api.get(f"/referrals/{microsoft_side['id']}").status_code == 200
    control.set_read_faults(related_referrals=403)
    assert_partner_center_error(api.get(f"/referrals/{microsoft_side['id']}"), 403)
    assert api.get(f"/referrals/{sent['id']}").status_code == 200  # the partner's own side still reads


def test_an_unknown_status_is_returned_as_is(api, control):
    sent = control.send_referral()
    control.set_status(sent["id"], "Archived", "Archived")
    got = api.get(f"/referrals/{sent['id']}").json()
    assert (got["status"], got["substatus"]) == ("Archived", "Archived")
    listed = api.get("/referrals", params={"$filter": "status eq 'Archived'"}).json()
    assert [r["id"] for r in listed["value"]] == [sent["id"]]

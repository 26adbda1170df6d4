"""The partner team both ways (issue #17) against both simulators: the opportunity owner and its
Opportunity Team <-> the referral's `team`, matched by email; unknown people reported, never
invented; loop-free; only the owner when the org has Opportunity Teams off."""

from __future__ import annotations

from typing import Any

import pytest

from shared.core import salesforce_fields as F
from shared.store.audit import Outcome
from tests.integration.sf_fixtures import engine_profiles  # noqa: F401 - every scenario on each org profile
from tests.integration.sync_fixtures import Sync

pytestmark = pytest.mark.integration

OWNER = "seller@cosell.example"  # the simulator's seller: owns what the control API creates


def teams(sync: Sync, *, on: bool = True) -> None:
    """The org's profile with Opportunity Teams on or off (an emptied org, before any sync)."""
    sync.sfc.set_profile(sync.org["name"], opportunity_teams=on)


def team_emails(sync: Sync, referral_id: str) -> list[str]:
    return sorted(m["email"] for m in sync.pcc.referral(referral_id).get("team") or [])


def team_rows(sync: Sync, opportunity_id: str) -> dict[str, dict[str, Any]]:
    return {row["User"]["Email"]: row for row in sync.sfc.team_members(opportunity_id)}


def set_pc_team(sync: Sync, referral_id: str, members: list[dict[str, Any]]) -> None:
    sync.update_referral(referral_id, [{"op": "replace", "path": "/team", "value": members}])


def assert_quiet(sync: Sync, opp: str, ref: str) -> None:
    """Every later signal, either side, finds the pair in sync and writes nothing."""
    before = sync.writes()
    for _ in range(2):
        assert sync.referral(ref).outcome is Outcome.NOOP
        assert sync.opportunity(opp).outcome is Outcome.NOOP
    assert sync.writes() == before


def test_a_referral_from_an_opportunity_carries_its_owner_and_two_team_members(sync: Sync):
    teams(sync)
    ana = sync.sfc.add_user("ana.lee@partner.example", first_name="Ana", last_name="Lee", phone="+15550100")
    ben = sync.sfc.add_user("Ben.Ode@partner.example", first_name="Ben", last_name="Ode")
    opp = sync.shared_opportunity()
    sync.sfc.add_team_member(opp, ana)
    sync.sfc.add_team_member(opp, ben, role="Pre-Sales Consultant")
    result = sync.opportunity(opp)
    assert result.outcome is Outcome.OK
    [referral] = sync.referrals_for(opp)
    assert sorted(m["email"] for m in referral["team"]) == [
        "ana.lee@partner.example",
        "ben.ode@partner.example",
        OWNER,
    ]
    ana_member = next(m for m in referral["team"] if m["email"] == "ana.lee@partner.example")
    assert ana_member == {
        "firstName": "Ana",
        "lastName": "Lee",
        "email": "ana.lee@partner.example",
        "phoneNumber": "+15550100",
    }
    assert_quiet(sync, opp, referral["id"])


def test_team_changes_in_salesforce_reach_the_referral(sync: Sync):
    teams(sync)
    ana = sync.sfc.add_user("ana@partner.example", first_name="Ana", last_name="Lee")
    ben = sync.sfc.add_user("ben@partner.example", first_name="Ben", last_name="Ode")
    cy = sync.sfc.add_user("cy@partner.example", first_name="Cy", last_name="Park")
    opp = sync.shared_opportunity()
    ana_row = sync.sfc.add_team_member(opp, ana)
    ref = sync.opportunity(opp).referral_id
    assert team_emails(sync, ref) == ["ana@partner.example", OWNER]
    sync.sfc.remove_team_member(ana_row)
    sync.sfc.add_team_member(opp, ben)
    sync.sfc.edit_opportunity(opp, OwnerId=cy)  # a new owner
    assert sync.opportunity(opp).outcome is Outcome.OK
    assert team_emails(sync, ref) == ["ben@partner.example", "cy@partner.example"]
    assert_quiet(sync, opp, ref)


def test_team_changes_in_partner_center_reach_the_opportunity_team_and_never_remove_the_owner(sync: Sync):
    teams(sync)
    ana = sync.sfc.add_user("ana@partner.example", first_name="Ana", last_name="Lee")
    sync.sfc.add_user("carol@partner.example", first_name="Carol", last_name="Diaz")
    opp = sync.shared_opportunity()
    sync.sfc.add_team_member(opp, ana)
    ref = sync.opportunity(opp).referral_id
    # In Partner Center: Ana leaves, Carol joins (the owner stays).
    team = [m for m in sync.pcc.referral(ref)["team"] if m["email"] != "ana@partner.example"]
    set_pc_team(
        sync, ref, [*team, {"firstName": "Carol", "lastName": "Diaz", "email": "Carol@Partner.example"}]
    )
    result = sync.referral(ref)
    assert result.outcome is Outcome.OK and "partner_team" in result.changed_fields
    rows = team_rows(sync, opp)
    assert list(rows) == ["carol@partner.example"]
    assert (
        rows["carol@partner.example"]["TeamMemberRole"],
        rows["carol@partner.example"]["OpportunityAccessLevel"],
    ) == (
        "Sales Rep",
        "Read",
    )
    assert_quiet(sync, opp, ref)
    # Removing the owner in Partner Center does not touch the owner; the owner goes back on the team.
    set_pc_team(sync, ref, [m for m in sync.pcc.referral(ref)["team"] if m["email"] != OWNER])
    sync.referral(ref)
    assert sync.opp(opp)["OwnerId"]
    sync.opportunity(opp)
    assert team_emails(sync, ref) == ["carol@partner.example", OWNER]
    assert_quiet(sync, opp, ref)


def test_a_partner_center_member_without_a_salesforce_user_is_reported_once_and_kept(sync: Sync):
    teams(sync)
    opp, ref = sync.linked_pair()
    team = sync.pcc.referral(ref)["team"]
    stranger = {"firstName": "Zed", "lastName": "Ng", "email": "zed@elsewhere.example", "title": "Architect"}
    set_pc_team(sync, ref, [*team, stranger])
    assert sync.referral(ref).outcome is Outcome.OK
    assert (
        "zed@elsewhere.example not added in Salesforce (no active Salesforce user" in sync.opp(opp)[F.AUDIT]
    )
    assert team_rows(sync, opp) == {}
    assert_quiet(sync, opp, ref)  # no write on any later poll or webhook
    # A Salesforce team change is pushed with the stranger still on the referral's team.
    dee = sync.sfc.add_user("dee@partner.example", first_name="Dee", last_name="Roy")
    sync.sfc.add_team_member(opp, dee)
    assert sync.opportunity(opp).outcome is Outcome.OK
    assert team_emails(sync, ref) == ["dee@partner.example", OWNER, "zed@elsewhere.example"]
    assert stranger in sync.pcc.referral(ref)["team"]
    assert_quiet(sync, opp, ref)


def test_with_opportunity_teams_off_only_the_owner_is_sent_and_no_team_is_written(sync: Sync):
    teams(sync, on=False)
    sync.sfc.add_user("ana@partner.example", first_name="Ana", last_name="Lee")
    opp, ref = sync.linked_pair()
    assert team_emails(sync, ref) == [OWNER]
    team = sync.pcc.referral(ref)["team"]
    set_pc_team(sync, ref, [*team, {"firstName": "Ana", "lastName": "Lee", "email": "ana@partner.example"}])
    assert sync.referral(ref).outcome is Outcome.OK
    assert "ana@partner.example not added in Salesforce (Opportunity Teams are off)" in sync.opp(opp)[F.AUDIT]
    assert team_emails(sync, ref) == ["ana@partner.example", OWNER]
    assert_quiet(sync, opp, ref)


def test_a_referral_from_partner_center_brings_its_known_people_into_the_opportunity_team(sync: Sync):
    teams(sync)
    sync.sfc.add_user("john@partner.example", first_name="John", last_name="Doe")
    referral = sync.pcc.send_referral(
        {"team": [{"firstName": "John", "lastName": "Doe", "email": "john@partner.example"},
                  {"firstName": "Zed", "lastName": "Ng", "email": "zed@elsewhere.example"}]}
    )  # fmt: skip
    ref = referral["id"]
    result = sync.referral(ref)
    assert result.outcome is Outcome.OK
    [opp] = sync.opps_for(ref)
    assert list(team_rows(sync, opp["Id"])) == ["john@partner.example"]
    assert team_emails(sync, ref) == [
        "john@partner.example",
        "zed@elsewhere.example",
    ]  # the connector owns it: not sent
    assert_quiet(sync, opp["Id"], ref)

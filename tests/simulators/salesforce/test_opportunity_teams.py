"""Opportunity Teams in the simulator (spec salesforce §4.6) over real HTTP: OpportunityTeamMember
exists only with Opportunity Teams on, names an active User once per opportunity, and comes back
through the `OpportunityTeamMembers` child relationship; Users carry their email."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _error(call: Any, *args: Any) -> str:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        call(*args)
    content: Any = caught.value.content
    return str(content[0]["errorCode"])


def test_a_team_member_is_an_active_user_once_per_opportunity_and_reads_back_with_the_opportunity(enterprise):
    sf, control = enterprise
    user = control.add_user("Ana.Lee@partner.example", first_name="Ana", last_name="Lee", phone="+1555")
    retired = control.add_user("old@partner.example", active=False)
    opp = control.create_opportunity()
    body = {
        "OpportunityId": opp,
        "UserId": user,
        "TeamMemberRole": "Sales Rep",
        "OpportunityAccessLevel": "Read",
    }
    row = sf.OpportunityTeamMember.create(body)["id"]
    assert row.startswith("00q")
    assert _error(sf.OpportunityTeamMember.create, body) == "DUPLICATE_VALUE"
    assert _error(sf.OpportunityTeamMember.create, {**body, "UserId": retired}) == "INACTIVE_OWNER_OR_USER"
    assert (
        _error(sf.OpportunityTeamMember.create, {**body, "OpportunityAccessLevel": "All"})
        == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    )
    [record] = sf.query(
        "SELECT Owner.Email, Owner.Username, (SELECT UserId, User.Email, User.FirstName "
        f"FROM OpportunityTeamMembers) FROM Opportunity WHERE Id = '{opp}'"
    )["records"]
    assert record["Owner"]["Email"] == "seller@cosell.example"
    [member] = record["OpportunityTeamMembers"]["records"]
    assert (member["User"]["Email"], member["User"]["FirstName"]) == ("Ana.Lee@partner.example", "Ana")
    users = sf.query("SELECT Id FROM User WHERE IsActive = true AND Email IN ('ana.lee@partner.example')")
    assert [u["Id"] for u in users["records"]] == [user]
    sf.OpportunityTeamMember.delete(row)
    assert control.team_members(opp) == []


def test_without_opportunity_teams_the_object_and_relationship_do_not_exist(new_org):
    sf, control = new_org
    assert control.profile()["opportunity_teams"] is False
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert "OpportunityTeamMember" not in names and "Opportunity" in names
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Id, (SELECT Id FROM OpportunityTeamMembers) FROM Opportunity")
    control.set_profile("new_org", opportunity_teams=True)
    assert "OpportunityTeamMember" in {o["name"] for o in sf.describe()["sobjects"]}

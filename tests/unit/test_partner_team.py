"""The partner team both ways (pure): reading each side, the wire, the Opportunity Team changes,
and the split that keeps people Salesforce cannot hold out of the merge."""

from __future__ import annotations

from shared.core.canonical import SYNCED_FIELDS, CanonicalDeal
from shared.core.mapping import deal_from_salesforce, partner_center_create_body, partner_center_patch
from shared.core.merge import DEFAULT_OWNERS
from shared.core.partner_team import (
    TeamMember,
    emails_to_look_up,
    keep_partner_center_only,
    split_partner_center_team,
    team_changes,
    team_from_partner_center,
    team_from_salesforce,
    team_wire,
    without_unmatched,
)
from tests.unit.builders import a_settings

OWNER = {
    "Username": "sam@partner.example",
    "FirstName": "Sam",
    "LastName": "Seller",
    "Email": "Sam@Partner.example",
}


def _opp(*users: dict[str, str], owner: dict[str, str] | None = OWNER) -> dict[str, object]:
    rows = [{"Id": f"00q{n}", "UserId": f"005{n}", "User": u} for n, u in enumerate(users)]
    return {"Id": "006A", "Owner": owner, "OpportunityTeamMembers": {"records": rows} if rows else None}


def _user(email: str, first: str = "Ana") -> dict[str, str]:
    return {"Username": email, "FirstName": first, "LastName": "Lee", "Email": email}


def test_the_field_is_synced_and_salesforce_owns_conflicts_by_default():
    assert "partner_team" in SYNCED_FIELDS
    assert DEFAULT_OWNERS["partner_team"] == "salesforce"


def test_salesforce_side_is_the_owner_and_the_team_sorted_by_lower_cased_email_without_the_integration_user():
    opp = _opp(_user("zoe@partner.example", "Zoe"), _user("ana@partner.example"), _user("int@x.example"))
    team = team_from_salesforce(opp, "INT@x.example")
    assert [m.email for m in team] == ["ana@partner.example", "sam@partner.example", "zoe@partner.example"]
    assert team_from_salesforce(_opp(owner=_user("int@x.example")), "int@x.example") == ()
    deal = deal_from_salesforce({**opp, "Name": "x"}, a_settings(sf_username="int@x.example"))
    assert [m["email"] for m in deal.comparable()["partner_team"]] == [m.email for m in team]


def test_partner_center_side_drops_members_without_email_and_duplicates():
    team = [
        {"email": "B@x"},
        {"firstName": "No email"},
        {"email": "b@x", "firstName": "Dup"},
        {"email": "a@x"},
    ]
    assert [m.email for m in team_from_partner_center(team)] == ["a@x", "b@x"]


def test_the_round_trip_through_the_snapshot_compares_sets():
    deal = CanonicalDeal(partner_team=(TeamMember(email="b@x"), TeamMember(email="A@x", phone=" 1 ")))
    assert CanonicalDeal.from_comparable(deal.comparable()) == deal
    assert [m["email"] for m in deal.comparable()["partner_team"]] == ["a@x", "b@x"]


def test_the_wire_keeps_unmapped_keys_of_existing_members():
    existing = [{"email": "A@x", "firstName": "Old", "contactPreference": {"locale": "en-US"}}]
    wire = team_wire([{"email": "a@x", "first_name": "New", "last_name": None, "phone": None}], existing)
    assert wire == [{"email": "a@x", "firstName": "New", "contactPreference": {"locale": "en-US"}}]


def test_the_create_body_carries_the_team_and_a_patch_replaces_it():
    deal = CanonicalDeal(name="n", partner_team=(TeamMember(email="a@x", first_name="Ana"),))
    assert partner_center_create_body(deal, a_settings())["team"] == [{"firstName": "Ana", "email": "a@x"}]
    ops = partner_center_patch({"partner_team": [{"email": "b@x"}]}, {"team": [{"email": "a@x"}]})
    assert ops == [{"op": "replace", "path": "/team", "value": [{"email": "b@x"}]}]


def test_team_changes_add_new_people_delete_departed_rows_and_never_the_owner():
    opp = _opp(_user("ana@x"), _user("ben@x"))
    changes = team_changes(opp, [TeamMember(email="ben@x"), TeamMember(email="cy@x")])
    assert changes.add == ("cy@x",)
    assert changes.delete == ("00q0",)
    assert team_changes(opp, []).delete == ("00q0", "00q1")  # the owner is no row: never deleted
    assert team_changes(opp, [TeamMember(email="sam@partner.example")]).add == ()


def test_unknown_people_stay_out_of_the_merge_are_reported_once_and_are_never_removed():
    sf_team = team_from_salesforce(_opp(_user("ana@x")))
    pc_team = [{"email": "ana@x"}, {"email": "zed@x"}, {"email": "carol@x"}, {"firstName": "no email"}]
    assert emails_to_look_up(pc_team, sf_team) == ["carol@x", "zed@x"]
    first = split_partner_center_team(pc_team, sf_team, {"carol@x"}, previous_pc_team=[{"email": "ana@x"}])
    assert [m["email"] for m in first.shared if m.get("email")] == ["ana@x", "zed@x", "carol@x"]
    assert (first.unmatched, first.unmatched_new) == (frozenset({"zed@x"}), ("zed@x",))
    later = split_partner_center_team(pc_team, sf_team, {"carol@x"}, previous_pc_team=pc_team)
    assert [m["email"] for m in later.shared] == ["ana@x", "carol@x"]
    assert later.unmatched_new == ()
    unknown_history = split_partner_center_team(pc_team, sf_team, set(), previous_pc_team=None)
    assert unknown_history.unmatched_new == ()  # nothing to compare with: nothing reported
    sent = keep_partner_center_only([{"email": "ana@x"}], pc_team, later.unmatched)
    assert sent == [{"email": "ana@x"}, {"email": "zed@x"}, {"firstName": "no email"}]
    assert without_unmatched([{"email": "ana@x"}, {"email": "zed@x"}], later.unmatched) == [
        {"email": "ana@x"}
    ]

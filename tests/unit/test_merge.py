"""Three-way merge rules, one case per rule (B4/B6 updates, on-hold, one-way fields, conflicts)."""

from __future__ import annotations

import pytest

from shared.core.mapping import deal_from_partner_center
from shared.core.merge import Conflict, OwnerPolicy, OwnerPolicyError, merge
from shared.errors import ConfigError
from tests.unit.builders import a_referral, a_settings

SYNCED = deal_from_partner_center(a_referral()).comparable()
POLICY = OwnerPolicy()


def _state(**changes: object) -> dict[str, object]:
    return {**SYNCED, **changes}


def test_a_synced_state_writes_nothing():
    result = merge(SYNCED, SYNCED, SYNCED, POLICY)
    assert result.writes_nothing
    assert result.conflicts == ()
    assert result.merged == {k: v for k, v in SYNCED.items() if k != "engagement_id"}


def test_a_salesforce_edit_goes_to_partner_center():
    result = merge(_state(deal_value="60000.00"), SYNCED, SYNCED, POLICY)
    assert (result.to_partner_center, result.to_salesforce) == ({"deal_value": "60000.00"}, {})
    assert result.merged["deal_value"] == "60000.00"


def test_a_partner_center_edit_goes_to_salesforce():
    result = merge(SYNCED, _state(close_date="2026-01-01"), SYNCED, POLICY)
    assert (result.to_partner_center, result.to_salesforce) == ({}, {"close_date": "2026-01-01"})


def test_the_same_edit_on_both_sides_writes_nothing():
    result = merge(_state(name="X"), _state(name="X"), SYNCED, POLICY)
    assert result.writes_nothing
    assert result.merged["name"] == "X"


@pytest.mark.parametrize(
    ("field", "sf", "pc", "winner"),
    [
        ("deal_value", "1.00", "2.00", "salesforce"),
        ("contacts", [], [{"email": "x@y.example"}], "salesforce"),
        ("microsoft_crm_id", "sf-edit", "7-MSX", "partner_center"),
    ],
)
def test_both_sides_changed_the_owner_wins_and_the_conflict_is_recorded(field, sf, pc, winner):
    result = merge(_state(**{field: sf}), _state(**{field: pc}), SYNCED, POLICY)
    assert result.conflicts == (
        Conflict(field=field, salesforce=sf, partner_center=pc, snapshot=SYNCED[field], winner=winner),
    )
    assert result.merged[field] == (sf if winner == "salesforce" else pc)


def test_status_conflicts_go_to_partner_center_and_status_moves_as_one_unit():
    sf = _state(status="Closed", substatus="Lost")
    pc = _state(status="Closed", substatus="Won")
    result = merge(sf, pc, SYNCED, POLICY)
    assert result.to_salesforce == {"status": "Closed", "substatus": "Won"}
    assert result.to_partner_center == {}
    assert result.conflicts[0].field == "status"
    assert result.conflicts[0].winner == "partner_center"


def test_a_salesforce_stage_change_is_pushed_and_recorded_back_in_salesforce():
    snapshot = _state(status="New", substatus="Pending")
    result = merge(_state(status="Active", substatus="Accepted"), snapshot, snapshot, POLICY)
    assert result.to_partner_center == {"status": "Active", "substatus": "Accepted"}
    assert result.to_salesforce == {"status": "Active", "substatus": "Accepted"}  # Referral_Status__c follows


def test_a_closed_referral_is_not_reopened_from_salesforce():
    closed = _state(status="Closed", substatus="Won")
    result = merge(_state(status="Active", substatus="Accepted"), closed, closed, POLICY)
    assert result.writes_nothing
    assert result.merged["status"] == "Closed"
    assert "reopening" in result.rejected[0]


@pytest.mark.parametrize("field", ["notes", "microsoft_crm_id", "referral_id"])
def test_partner_center_fields_flow_only_to_salesforce(field):
    down = merge(SYNCED, _state(**{field: "from PC"}), SYNCED, POLICY)
    assert down.to_salesforce == {field: "from PC"}
    up = merge(_state(**{field: "edited in SF"}), SYNCED, SYNCED, POLICY)
    assert up.writes_nothing
    assert up.merged[field] == SYNCED[field]


def test_the_opportunity_id_flows_only_to_partner_center():
    result = merge(SYNCED, _state(opportunity_id=None), None, POLICY)
    assert result.to_partner_center == {"opportunity_id": SYNCED["opportunity_id"]}
    assert merge(SYNCED, _state(opportunity_id="other"), SYNCED, POLICY).writes_nothing


def test_visibility_only_ever_becomes_true():
    hidden = _state(visible=False)
    shown = merge(SYNCED, hidden, hidden, POLICY)
    assert shown.to_partner_center == {"visible": True}
    refused = merge(hidden, SYNCED, SYNCED, POLICY)
    assert refused.writes_nothing
    assert refused.merged["visible"] is True
    assert "cannot be reverted" in refused.rejected[0]


def test_while_on_hold_nothing_goes_to_partner_center_but_partner_center_changes_still_arrive():
    result = merge(
        _state(deal_value="1.00", visible=True),
        _state(notes="Microsoft note", visible=False),
        _state(visible=False),
        POLICY,
        push_to_partner_center=False,
    )
    assert result.to_partner_center == {}
    assert result.to_salesforce == {"notes": "Microsoft note"}
    # the snapshot keeps Partner Center's values, so the edits are pushed once the deal leaves on-hold
    assert (result.merged["deal_value"], result.merged["visible"]) == (SYNCED["deal_value"], False)
    later = merge(
        _state(deal_value="1.00", visible=True, notes="Microsoft note"),
        _state(notes="Microsoft note", visible=False),
        result.merged,
        POLICY,
    )
    assert later.to_partner_center == {"deal_value": "1.00", "visible": True}


def test_first_link_fills_gaps_from_either_side_and_the_owner_decides_the_rest():
    sf = _state(microsoft_crm_id=None, deal_value="1.00", close_date=None)
    pc = _state(microsoft_crm_id="7-MSX", deal_value="2.00", close_date="2025-01-01", name="PC name")
    result = merge(sf, pc, None, POLICY)
    assert result.to_salesforce == {"microsoft_crm_id": "7-MSX", "close_date": "2025-01-01"}
    assert result.to_partner_center == {"deal_value": "1.00", "name": SYNCED["name"]}
    assert result.conflicts == ()


def test_a_snapshot_missing_a_field_treats_that_field_as_first_link():
    snapshot = {k: v for k, v in SYNCED.items() if k != "customer_size"}
    result = merge(_state(customer_size=None), _state(customer_size="1to9employees"), snapshot, POLICY)
    assert result.to_salesforce == {"customer_size": "1to9employees"}


def test_owner_overrides_come_from_settings():
    policy = OwnerPolicy.from_settings(
        a_settings(conflict_owner_overrides=" deal_value = partner_center, substatus=salesforce ")
    )
    assert policy.owner("deal_value") == "partner_center"
    assert (policy.owner("status"), policy.owner("substatus")) == ("salesforce", "salesforce")
    assert policy.owner("name") == "salesforce"
    assert OwnerPolicy.parse("").owners == OwnerPolicy().owners


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ("dealvalue=salesforce", "'dealvalue'"),
        ("deal_value=microsoft", "'microsoft'"),
        ("deal_value", "'deal_value'"),
        ("notes=salesforce", "'notes'"),
        ("opportunity_id=partner_center", "'opportunity_id'"),
    ],
)
def test_a_bad_override_fails_at_start_naming_the_culprit(overrides, named):
    with pytest.raises(OwnerPolicyError, match=named) as caught:
        OwnerPolicy.parse(overrides)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, ConfigError)

"""CUSTOM_MAPPINGS and CREATE_DEFAULTS: checked at start with the reason, merged per mapping as the
direction says, and written in the shape each side takes."""

from __future__ import annotations

import json

import pytest

from shared.core.custom_mappings import parse_custom_mappings
from shared.errors import ConfigError

REGION = {"name": "region", "salesforce": "Account.Region__c", "partner_center": "customerProfile/region"}


@pytest.mark.parametrize(
    ("mappings", "defaults", "reason"),
    [
        ("{", "", "CUSTOM_MAPPINGS is not valid"),
        (json.dumps([{**REGION, "salesforce": "Account.Country__r.Code__c"}]), "", "not written back"),
        (json.dumps([{**REGION, "partner_center": "details/dealValue"}]), "", "already maps"),
        (json.dumps([{**REGION, "direction": "sideways"}]), "", "direction"),
        (json.dumps([REGION, REGION]), "", "unique"),
        ("", json.dumps({"Lead.Source": "x"}), "CREATE_DEFAULTS key"),
        ("", "[]", "JSON object"),
    ],
)
def test_a_bad_setting_is_refused_at_start_with_the_reason(mappings: str, defaults: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_custom_mappings(mappings, defaults)


def test_each_direction_merges_as_it_says() -> None:
    spec = [
        {**REGION, "name": "both"},
        {**REGION, "name": "out", "partner_center": "a", "direction": "to_partner_center"},
        {**REGION, "name": "in", "partner_center": "b", "direction": "to_salesforce"},
    ]
    custom = parse_custom_mappings(json.dumps(spec), "")
    snapshot = {"x:both": "EU", "x:out": "EU", "x:in": "EU"}

    to_sf, to_pc, merged = custom.merge(
        {"x:both": "EU", "x:out": "EU", "x:in": "EU"},
        {"x:both": "US", "x:out": "US", "x:in": "US"},
        snapshot,
        push_to_partner_center=True,
    )

    assert to_sf == {"x:both": "US", "x:in": "US"}
    assert to_pc == {"x:out": "EU"}
    assert merged == {"x:both": "US", "x:out": "EU", "x:in": "US"}


def test_picklist_numbers_and_dates_are_written_in_each_sides_form() -> None:
    spec = [
        {"name": "source", "salesforce": "LeadSource", "partner_center": "qualification",
         "transform": "picklist", "values": {"Web": "MarketingQualified"}},
        {"name": "budget", "salesforce": "Budget__c", "partner_center": "details/budget",
         "transform": "number"},
        {"name": "start", "salesforce": "Start__c", "partner_center": "details/start", "transform": "date"},
    ]  # fmt: skip
    custom = parse_custom_mappings(json.dumps(spec), json.dumps({"Opportunity.Type": "New Customer"}))
    opp = {"LeadSource": "Web", "Budget__c": 1200.5, "Start__c": "2031-02-01"}

    assert custom.create_values_for_partner_center(opp) == {
        ("qualification",): "MarketingQualified",
        ("details", "budget"): 1200.5,
        ("details", "start"): "2031-02-01T00:00:00Z",
    }
    referral = {
        "qualification": "MarketingQualified",
        "details": {"budget": 99, "start": "2031-03-01T00:00:00Z"},
    }
    opportunity, account = custom.create_values_for_salesforce(referral)
    assert opportunity == {
        "Type": "New Customer",
        "LeadSource": "Web",
        "Budget__c": 99.0,
        "Start__c": "2031-03-01",
    }
    assert account == {}

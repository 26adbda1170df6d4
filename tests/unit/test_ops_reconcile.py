"""Drift between a referral and its link snapshot, decided the way the worker's merge would."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shared.config import load_settings
from shared.core.mapping import deal_from_partner_center
from shared.core.merge import OwnerPolicy
from shared.ops.reconcile import drifted_fields
from shared.store.links import Link

SETTINGS = load_settings()
POLICY = OwnerPolicy()


def a_cosell_referral(**changes: Any) -> dict[str, Any]:
    referral = {
        "id": "ref-1",
        "name": "Fabrikam - Azure migration",
        "type": "Shared",
        "qualification": "SalesQualified",
        "status": "Active",
        "substatus": "Accepted",
        "customerProfile": {"name": "Fabrikam", "address": {"country": "IE"}},
        "details": {"dealValue": 1000, "currency": "EUR"},
        "inviteContext": {
            "invitedBy": {"organizationId": "msft"},
            "assistanceRequestCode": "ProofOfConceptOrDemo",
        },
    }
    return {**referral, **changes}


def linked(referral) -> Link:
    snapshot = {
        **deal_from_partner_center(referral).comparable(),
        "referral_id": "ref-1",
        "opportunity_id": "006A",
    }
    return Link(referral_id="ref-1", opportunity_id="006A", snapshot=snapshot)


def test_a_referral_equal_to_its_snapshot_has_not_drifted():
    referral = a_cosell_referral()
    assert drifted_fields(referral, linked(referral), SETTINGS, POLICY) == []


def test_a_partner_center_change_since_the_snapshot_is_drift_naming_the_field():
    link = linked(a_cosell_referral())
    changed = a_cosell_referral(details={"dealValue": 2000, "currency": "EUR"})
    assert drifted_fields(changed, link, SETTINGS, POLICY) == ["deal_value"]


def test_a_sync_interrupted_between_its_writes_and_its_snapshot_save_is_drift_to_finish():
    referral = a_cosell_referral()
    pending = {"salesforce": {"deal_value": "1000.00"}, "partner_center": {"close_date": "2031-01-31"}}
    link = replace(linked(referral), pending=pending)
    assert drifted_fields(referral, link, SETTINGS, POLICY) == ["close_date", "deal_value"]


def test_a_referral_without_link_or_snapshot_has_drifted_entirely():
    referral = a_cosell_referral()
    assert drifted_fields(referral, None, SETTINGS, POLICY) == ["*"]
    assert drifted_fields(referral, Link(referral_id="ref-1"), SETTINGS, POLICY) == ["*"]


def test_an_unlinked_marketplace_lead_is_not_ours_when_syncing_co_sell_only():
    lead = a_cosell_referral(type="Independent", qualification="Direct")
    assert drifted_fields(lead, None, SETTINGS, POLICY) is None

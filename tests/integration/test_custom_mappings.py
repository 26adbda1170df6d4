"""Declarative custom mappings and create defaults, through the engine against both simulators:
an org with a required field can receive Microsoft's referrals once a default is configured, and an
extra mapping flows both ways without echoes. On each org profile."""

from __future__ import annotations

import json

import pytest

from devstack.pc_sim import PartnerCenterSimulator
from devstack.sf_sim import SalesforceSimulator
from shared.config import Settings
from shared.store.audit import Outcome
from tests.integration.sf_fixtures import engine_profiles  # noqa: F401 - each test on each org profile
from tests.integration.sync_fixtures import Sync

pytestmark = pytest.mark.integration

LEAD_SOURCE = {
    "name": "lead_source",
    "salesforce": "LeadSource",
    "partner_center": "qualification",
    "transform": "picklist",
    "values": {"Partner Referral": "SalesQualified", "Web": "MarketingQualified"},
}


def _with(sync: Sync, pc_sim: PartnerCenterSimulator, sf_sim: SalesforceSimulator, **settings: str) -> Sync:
    """A harness whose clients read the settings (the Salesforce query includes mapped fields)."""
    configured: Settings = sync.settings.model_copy(update=settings)
    return Sync(configured, pc_sim, sf_sim)


def test_a_required_field_with_a_default_lets_a_microsoft_referral_create_its_opportunity(
    sync: Sync, pc_sim: PartnerCenterSimulator, sf_sim: SalesforceSimulator
) -> None:
    sync.sfc.add_validation_rule("Opportunity", "Type", None, "Type: You must enter a value")
    referral = sync.pcc.send_referral()

    refused = sync.referral(referral["id"], "referral-created")
    configured = _with(sync, pc_sim, sf_sim, create_defaults=json.dumps({"Opportunity.Type": "New Customer"}))
    created = configured.referral(referral["id"], "referral-created")

    assert refused.outcome is Outcome.FAILED and "You must enter a value" in refused.error
    assert created.action == "opportunity created"
    assert configured.opp(created.opportunity_id)["Type"] == "New Customer"


def test_an_extra_mapping_flows_both_ways_and_its_echo_writes_nothing(
    sync: Sync, pc_sim: PartnerCenterSimulator, sf_sim: SalesforceSimulator
) -> None:
    sync = _with(sync, pc_sim, sf_sim, custom_mappings=json.dumps([LEAD_SOURCE]))
    opp, ref = sync.linked_pair(LeadSource="Partner Referral")
    assert sync.pcc.referral(ref)["qualification"] == "SalesQualified"

    sync.sfc.edit_opportunity(opp, LeadSource="Web")
    sync.opportunity(opp)
    assert sync.pcc.referral(ref)["qualification"] == "MarketingQualified"

    sync.pcc.update_as_microsoft(
        ref, [{"op": "replace", "path": "/qualification", "value": "SalesQualified"}]
    )
    sync.referral(ref)
    assert sync.opp(opp)["LeadSource"] == "Partner Referral"

    before = sync.writes()
    assert sync.opportunity(opp).outcome is Outcome.NOOP
    assert sync.referral(ref).outcome is Outcome.NOOP
    assert sync.writes() == before

"""Partner Center referral <-> canonical deal: reading, classification, create body, JSON Patch."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from shared.core.canonical import Address, CanonicalDeal, Contact, Solution
from shared.core.mapping import (
    ReferralCategory,
    deal_from_partner_center,
    is_incoming_from_microsoft,
    is_marketplace_lead,
    partner_center_create_body,
    partner_center_patch,
    referral_category,
    syncs_to_salesforce,
)
from shared.core.partner_team import TeamMember
from shared.errors import ValidationError
from tests.unit.builders import (
    ENGAGEMENT_ID,
    OPPORTUNITY_ID,
    REFERRAL_ID,
    a_contact_member,
    a_referral,
    a_settings,
    a_solution_item,
)

SETTINGS = a_settings()


def test_a_referral_maps_every_synced_field():
    deal = deal_from_partner_center(a_referral(trackingInfo={"microsoftMsxId": "7-ABC"}))
    assert deal == CanonicalDeal(
        name="Contoso - Data platform modernisation",
        customer_name="Contoso Ltd",
        customer_address=Address(
            street="1 Main St", city="Redmond", state="WA", postal_code="98052", country="US"
        ),
        customer_size="51to250employees",
        contacts=(
            Contact(
                first_name="Sue",
                last_name="Smith",
                email="sue@contoso.example",
                phone="+15550101",
                title="CTO",
            ),
        ),
        deal_value=Decimal("50000.00"),
        currency="USD",
        close_date=date(2025, 11, 14),
        status="Active",
        substatus="Accepted",
        help_requested="CustomerTechnicalArchitecture",
        visible=True,
        solutions=(
            Solution(id="SOL-15974-MQF", name="Contoso App", publisher="Contoso", solution_type="3P"),
        ),
        notes="Customer wants a migration plan",
        microsoft_crm_id="7-ABC",
        partner_team=(TeamMember(email="john@partner.example", first_name="John", last_name="Doe"),),
        referral_id=REFERRAL_ID,
        opportunity_id=OPPORTUNITY_ID,
        engagement_id=ENGAGEMENT_ID,
    )


@pytest.mark.parametrize(
    ("closing", "expected"),
    [
        ("2025-11-14T00:00:00Z", date(2025, 11, 14)),
        ("2025-11-14T00:00:00.000Z", date(2025, 11, 14)),
        ("2025-11-14T23:30:00-02:00", date(2025, 11, 15)),  # UTC date
        ("2025-11-14", date(2025, 11, 14)),
        (None, None),
    ],
)
def test_the_closing_date_time_is_read_as_a_utc_date(closing, expected):
    assert deal_from_partner_center(a_referral(details={"closingDateTime": closing})).close_date == expected


def test_two_address_lines_are_one_multi_line_street():
    referral = a_referral(
        customerProfile={"address": {"addressLine1": "1 Main St ", "addressLine2": "Suite 5"}}
    )
    assert deal_from_partner_center(referral).customer_address.street == "1 Main St\nSuite 5"


@pytest.mark.parametrize(
    ("code", "expected"), [("Unknown", None), ("", None), (None, None), ("GeneralOrOther", "GeneralOrOther")]
)
def test_no_help_codes_mean_no_help(code, expected):
    referral = a_referral(inviteContext={"assistanceRequestCode": code})
    assert deal_from_partner_center(referral).help_requested == expected


def test_missing_nested_objects_map_to_empty_values():
    referral = a_referral(
        customerProfile=None, details=None, consent=None, inviteContext=None, trackingInfo=None
    )
    deal = deal_from_partner_center(referral)
    assert (deal.customer_address, deal.contacts, deal.solutions, deal.visible) == (Address(), (), (), False)
    assert (deal.deal_value, deal.currency, deal.close_date, deal.help_requested) == (None, None, None, None)


@pytest.mark.parametrize(
    ("kind", "qualification", "inviter", "category"),
    [
        ("Independent", "Direct", "msft", ReferralCategory.MARKETPLACE_LEAD),
        ("Independent", "Direct", None, ReferralCategory.MARKETPLACE_LEAD),
        ("Independent", "SalesQualified", "msft", ReferralCategory.QUALIFIED_LEAD),
        ("Independent", "MarketingQualified", "msft", ReferralCategory.QUALIFIED_LEAD),
        ("Independent", "SalesQualified", "own-org", ReferralCategory.CO_SELL),
        ("Shared", "SalesQualified", "msft", ReferralCategory.CO_SELL),
        ("Shared", "None", "partner-org", ReferralCategory.CO_SELL),
    ],
)
def test_referrals_are_classified_by_the_documented_table(kind, qualification, inviter, category):
    referral = a_referral(
        type=kind, qualification=qualification, inviteContext={"invitedBy": {"organizationId": inviter}}
    )
    assert referral_category(referral) is category
    assert is_marketplace_lead(referral) is (category is ReferralCategory.MARKETPLACE_LEAD)
    assert syncs_to_salesforce(referral, a_settings(sync_cosell_only=True)) is (
        category is ReferralCategory.CO_SELL
    )
    assert syncs_to_salesforce(referral, a_settings(sync_cosell_only=False))


@pytest.mark.parametrize(
    ("direction", "inviter", "expected"),
    [
        ("Incoming", "msft", True),
        ("incoming", None, True),
        ("Incoming", "partner-org", False),
        ("Outgoing", "msft", False),
    ],
)
def test_incoming_referrals_from_microsoft(direction, inviter, expected):
    referral = a_referral(direction=direction, inviteContext={"invitedBy": {"organizationId": inviter}})
    assert is_incoming_from_microsoft(referral) is expected


def test_a_deal_asking_for_help_creates_a_shared_co_sell_referral():
    deal = deal_from_partner_center(a_referral())
    body = partner_center_create_body(deal, SETTINGS)
    assert body["type"] == "Shared"
    assert body["qualification"] == "SalesQualified"
    assert body["externalReferenceId"] == OPPORTUNITY_ID
    assert body["inviteContext"]["assistanceRequestCode"] == "CustomerTechnicalArchitecture"
    assert body["consent"]["consentToShareReferralWithMicrosoftSellers"] is True
    assert body["details"]["requirements"]["solutions"][0]["id"] == "SOL-15974-MQF"
    assert body["customerProfile"]["address"]["country"] == "US"
    assert "id" not in body and "status" not in body


def test_a_deal_without_help_creates_a_private_independent_referral():
    deal = deal_from_partner_center(a_referral()).model_copy(
        update={"help_requested": None, "visible": False}
    )
    body = partner_center_create_body(deal, SETTINGS)
    assert body["type"] == "Independent"
    assert "inviteContext" not in body
    assert body["consent"]["consentToShareReferralWithMicrosoftSellers"] is False


def test_unchanged_values_produce_no_operations():
    referral = a_referral()
    assert partner_center_patch(deal_from_partner_center(referral).comparable(), referral) == []


def test_scalar_changes_replace_existing_members():
    ops = partner_center_patch(
        {"deal_value": "30000.00", "close_date": "2025-03-31", "currency": "EUR", "name": "Renamed"},
        a_referral(),
    )
    assert ops == [
        {"op": "replace", "path": "/name", "value": "Renamed"},
        {"op": "replace", "path": "/details/dealValue", "value": 30000},
        {"op": "replace", "path": "/details/currency", "value": "EUR"},
        {"op": "replace", "path": "/details/closingDateTime", "value": "2025-03-31T00:00:00Z"},
    ]


def test_status_and_substatus_are_always_sent_together():
    ops = partner_center_patch({"status": "Closed", "substatus": "Won"}, a_referral())
    assert ops == [
        {"op": "replace", "path": "/status", "value": "Closed"},
        {"op": "replace", "path": "/substatus", "value": "Won"},
    ]
    ops = partner_center_patch({"status": "Active"}, a_referral(status="New", substatus="Accepted"))
    assert [op["path"] for op in ops] == ["/status", "/substatus"]


def test_visibility_is_never_reverted():
    with pytest.raises(ValidationError, match="cannot be reverted"):
        partner_center_patch({"visible": False}, a_referral())


def test_a_private_referral_becomes_co_sell_by_adding_the_missing_invite_context():
    referral = a_referral(consent={"consentToShareReferralWithMicrosoftSellers": False})
    del referral["inviteContext"]
    ops = partner_center_patch({"help_requested": "ProofOfConceptOrDemo", "visible": True}, referral)
    assert ops == [
        {"op": "add", "path": "/inviteContext", "value": {"assistanceRequestCode": "ProofOfConceptOrDemo"}},
        {"op": "replace", "path": "/consent/consentToShareReferralWithMicrosoftSellers", "value": True},
    ]


def test_operations_build_on_each_other_when_a_parent_is_missing():
    referral = a_referral()
    del referral["details"]
    ops = partner_center_patch({"deal_value": "10.00", "currency": "USD"}, referral)
    assert ops == [
        {"op": "add", "path": "/details", "value": {"dealValue": 10}},
        {"op": "add", "path": "/details/currency", "value": "USD"},
    ]


def test_contacts_replace_the_whole_team_and_keep_unmapped_member_data():
    contacts = [
        {
            "first_name": "Sue",
            "last_name": "Smith",
            "email": "SUE@contoso.example",
            "phone": None,
            "title": "CEO",
        },
        {
            "first_name": "Ana",
            "last_name": "Lee",
            "email": "ana@contoso.example",
            "phone": None,
            "title": None,
        },
    ]
    ops = partner_center_patch({"contacts": contacts}, a_referral())
    assert len(ops) == 1
    assert ops[0]["op"] == "replace"
    assert ops[0]["path"] == "/customerProfile/team"
    sue, ana = ops[0]["value"]
    assert sue["contactPreference"] == a_contact_member()["contactPreference"]
    assert (sue["title"], sue["phoneNumber"], sue["email"]) == ("CEO", None, "sue@contoso.example")
    assert "contactPreference" not in ana


def test_solutions_replace_the_whole_list_so_removals_reach_partner_center():
    referral = a_referral(
        details={"requirements": {"solutions": [a_solution_item(price=10), a_solution_item(id="SOL-2")]}}
    )
    ops = partner_center_patch(
        {
            "solutions": [
                {"id": "SOL-15974-MQF", "name": "Contoso App", "publisher": "Contoso", "solution_type": "3P"}
            ]
        },
        referral,
    )
    assert ops == [
        {
            "op": "replace",
            "path": "/details/requirements/solutions",
            "value": [a_solution_item(price=10)],
        }
    ]


def test_an_address_change_replaces_the_address_keeping_unmapped_parts():
    referral = a_referral(customerProfile={"address": {"region": "NA"}})
    ops = partner_center_patch({"customer_street": "2 High St\nFloor 3", "customer_country": "GB"}, referral)
    assert ops == [
        {
            "op": "replace",
            "path": "/customerProfile/address",
            "value": {
                "addressLine1": "2 High St",
                "addressLine2": "Floor 3",
                "city": "Redmond",
                "state": "WA",
                "postalCode": "98052",
                "country": "GB",
                "region": "NA",
            },
        }
    ]


def test_read_only_fields_are_never_written():
    changes = {"microsoft_crm_id": "7-X", "referral_id": "other", "engagement_id": "other"}
    assert partner_center_patch(changes, a_referral()) == []


def test_the_opportunity_id_is_written_as_the_external_reference():
    referral = a_referral()
    del referral["externalReferenceId"]
    assert partner_center_patch({"opportunity_id": "006X"}, referral) == [
        {"op": "add", "path": "/externalReferenceId", "value": "006X"}
    ]


@pytest.mark.parametrize(("value", "wire"), [("12.50", 12.5), ("12.00", 12), ("0.01", 0.01), (None, None)])
def test_deal_values_are_json_numbers(value, wire):
    ops = partner_center_patch({"deal_value": value}, a_referral())
    assert ops[0]["value"] == wire
    assert type(ops[0]["value"]) is type(wire)

"""Referral models: wire names, unknown fields kept, numbers stay numbers."""

from __future__ import annotations

from decimal import Decimal

from shared.core.referral import Referral

WIRE = {
    "id": "5dd4dc44-2c1a-4e16-8478-f783ebe815de",
    "engagementId": "1352e03d-0000-0000-0000-000000000001",
    "name": "Contoso - Data platform",
    "externalReferenceId": "0065g00000AbCdEAAV",
    "status": "New",
    "substatus": "Pending",
    "type": "Shared",
    "qualification": "SalesQualified",
    "direction": "Incoming",
    "customerProfile": {
        "name": "Contoso Ltd",
        "address": {"addressLine1": "1 Main St", "postalCode": "98052", "country": "US"},
        "team": [{"firstName": "Sue", "lastName": "Smith", "email": "sue@contoso.example"}],
        "ids": [{"profileType": "Duns", "id": "123"}],
    },
    "consent": {"consentToToShareInfoWithOthers": True, "consentToShareReferralWithMicrosoftSellers": True},
    "details": {
        "dealValue": 50000.5,
        "currency": "USD",
        "closingDateTime": "2025-11-14T00:00:00Z",
        "requirements": {"solutions": [{"id": "SOL-15974-MQF", "type": "Name", "price": None}], "offers": []},
    },
    "inviteContext": {
        "assistanceRequestCode": "CustomerTechnicalArchitecture",
        "invitedBy": {"organizationId": "msft", "organizationName": "Microsoft"},
    },
    "trackingInfo": {"microsoftMsxId": "7-ABC", "migratedPSCDealId": "x"},
    "eTag": '"8500e212-0000-0100-0000-6225cdc90000"',
    "createdDateTime": "2025-02-17T00:05:39.5485487+00:00",
    "salesStage": "Qualify",
    "registrations": [],
}


def test_reads_wire_names_into_python_names():
    referral = Referral.model_validate(WIRE)
    assert referral.engagement_id == WIRE["engagementId"]
    assert referral.customer_profile and referral.customer_profile.address
    assert referral.customer_profile.address.postal_code == "98052"
    assert referral.details and referral.details.deal_value == Decimal("50000.5")
    assert referral.invite_context and referral.invite_context.assistance_request_code
    assert referral.tracking_info and referral.tracking_info.microsoft_msx_id == "7-ABC"
    assert referral.e_tag == WIRE["eTag"]
    assert referral.is_from_microsoft
    assert referral.is_visible_to_microsoft


def test_unknown_fields_survive_a_round_trip():
    wire = Referral.model_validate(WIRE).to_wire()
    assert wire["salesStage"] == "Qualify"
    assert wire["registrations"] == []
    assert wire["customerProfile"]["ids"] == [{"profileType": "Duns", "id": "123"}]
    assert wire["trackingInfo"]["migratedPSCDealId"] == "x"
    assert wire["details"]["requirements"]["offers"] == []


def test_to_wire_uses_camel_case_numbers_and_omits_nulls():
    referral = Referral(
        name="Deal",
        external_reference_id="006X",
        details={"deal_value": Decimal("30000"), "currency": "EUR", "notes": None},
    )
    wire = referral.to_wire()
    assert wire["externalReferenceId"] == "006X"
    assert wire["details"] == {"dealValue": 30000, "currency": "EUR"}
    assert "id" not in wire and "eTag" not in wire
    assert Referral(details={"deal_value": Decimal("10.25")}).to_wire()["details"]["dealValue"] == 10.25


def test_consent_keeps_partner_centers_doubled_to():
    wire = Referral.model_validate(WIRE).to_wire()
    assert wire["consent"]["consentToToShareInfoWithOthers"] is True


def test_a_partner_referral_is_not_from_microsoft():
    assert not Referral(name="ours").is_from_microsoft
    assert not Referral(name="ours").is_visible_to_microsoft

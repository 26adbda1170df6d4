"""Test builders: a complete, valid record of each side, overridable field by field.

`a_referral(**overrides)` is Partner Center wire JSON as GET returns it; `an_opportunity(**overrides)` is
a Salesforce opportunity record as the client's `get_opportunity` returns it (account, contact roles
and solutions nested). Overrides replace top-level keys; a dict override is merged into a dict value
(`details={"dealValue": 5}` changes only the deal value); `None` sets the key to null.
"""

from __future__ import annotations

import copy
from typing import Any

from shared.config import Settings
from shared.core import salesforce_fields as f

REFERRAL_ID = "5dd4dc44-2c1a-4e16-8478-f783ebe815de"
ENGAGEMENT_ID = "1352e03d-6c2e-4a55-9f3a-2f0c7f4b8a11"
OPPORTUNITY_ID = "0065g00000AbCdEAAV"
ACCOUNT_ID = "0015g00000XyZaBAAV"
CONTACT_ID = "0035g00000QwErTAAV"


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def a_contact_member(**overrides: Any) -> dict[str, Any]:
    """A Partner Center customer team member."""
    return _merge(
        {
            "firstName": "Sue",
            "lastName": "Smith",
            "email": "sue@contoso.example",
            "phoneNumber": "+15550101",
            "title": "CTO",
            "contactPreference": {"locale": "en-US", "disableNotifications": False},
        },
        overrides,
    )


def a_solution_item(**overrides: Any) -> dict[str, Any]:
    """A `details.requirements.solutions[]` item."""
    return _merge(
        {
            "id": "SOL-15974-MQF",
            "name": "Contoso App",
            "type": "Name",
            "publisherName": "Contoso",
            "solutionType": "3P",
            "price": None,
            "quantity": None,
            "currency": None,
            "closingDateTime": None,
        },
        overrides,
    )


def a_referral(**overrides: Any) -> dict[str, Any]:
    """An accepted, visible co-sell referral shared with Microsoft, linked to `OPPORTUNITY_ID`."""
    base: dict[str, Any] = {
        "id": REFERRAL_ID,
        "engagementId": ENGAGEMENT_ID,
        "name": "Contoso - Data platform modernisation",
        "organizationId": "a1b2c3d4-0000-0000-0000-000000000001",
        "organizationName": "Fabrikam Partners",
        "externalReferenceId": OPPORTUNITY_ID,
        "createdDateTime": "2025-01-10T09:00:00Z",
        "updatedDateTime": "2025-01-11T10:30:00Z",
        "status": "Active",
        "substatus": "Accepted",
        "statusReason": None,
        "type": "Shared",
        "qualification": "SalesQualified",
        "direction": "Outgoing",
        "customerProfile": {
            "name": "Contoso Ltd",
            "size": "51to250employees",
            "address": {
                "addressLine1": "1 Main St",
                "addressLine2": None,
                "city": "Redmond",
                "state": "WA",
                "postalCode": "98052",
                "country": "US",
                "region": None,
            },
            "team": [a_contact_member()],
            "ids": [],
        },
        "consent": {
            "consentToToShareInfoWithOthers": True,
            "consentToContact": True,
            "consentToMicrosoftToContactSpecificPartners": None,
            "consentToShareReferralWithMicrosoftSellers": True,
        },
        "details": {
            "notes": "Customer wants a migration plan",
            "dealValue": 50000,
            "currency": "USD",
            "closingDateTime": "2025-11-14T00:00:00Z",
            "customerRequestedContact": None,
            "requirements": {
                "industries": [],
                "products": [],
                "services": [],
                "solutions": [a_solution_item()],
                "offers": [],
                "additionalRequirements": {
                    "iot": {},
                    "attributes": [{"type": "CustomerMarketplaceIntent", "id": "HaveNotDecided"}],
                },
            },
        },
        "team": [{"firstName": "John", "lastName": "Doe", "email": "john@partner.example"}],
        "inviteContext": {
            "notes": "Please help with the architecture",
            "assistanceRequestCode": "CustomerTechnicalArchitecture",
            "invitedBy": {"organizationId": "a1b2c3d4-0000-0000-0000-000000000001"},
        },
        "target": [],
        "trackingInfo": {"microsoftMsxId": None},
        "eTag": '"8500e212-0000-0100-0000-6225cdc90000"',
        "links": {
            "self": {"uri": f"https://api.partner.microsoft.com/v1.0/engagements/referrals/{REFERRAL_ID}"},
        },
    }
    return _merge(base, overrides)


def a_contact_role(**contact: Any) -> dict[str, Any]:
    """An `OpportunityContactRoles` record with its nested Contact."""
    return {
        "attributes": {"type": "OpportunityContactRole"},
        "ContactId": CONTACT_ID,
        "Role": "Decision Maker",
        "IsPrimary": True,
        "Contact": _merge(
            {
                "attributes": {"type": "Contact"},
                "FirstName": "Sue",
                "LastName": "Smith",
                "Email": "sue@contoso.example",
                "Phone": "+15550101",
                "Title": "CTO",
            },
            contact,
        ),
    }


def a_solution_record(**overrides: Any) -> dict[str, Any]:
    """A `Partner_Center_Solutions__r` record."""
    return _merge(
        {
            "attributes": {"type": f.SOLUTION},
            "Id": "a0X5g000001AbCdEAK",
            f.SOLUTION_ID: "SOL-15974-MQF",
            f.SOLUTION_NAME: "Contoso App",
            f.SOLUTION_PUBLISHER: "Contoso",
            f.SOLUTION_TYPE: "3P",
        },
        overrides,
    )


def children(*records: dict[str, Any]) -> dict[str, Any] | None:
    """A child-relationship query result as Salesforce nests it (null when there are none)."""
    if not records:
        return None
    return {"totalSize": len(records), "done": True, "records": list(records)}


def an_opportunity(**overrides: Any) -> dict[str, Any]:
    """The opportunity `a_referral()` describes, synced (✔), in the active stage."""
    base: dict[str, Any] = {
        "attributes": {
            "type": "Opportunity",
            "url": f"/services/data/v59.0/sobjects/Opportunity/{OPPORTUNITY_ID}",
        },
        "Id": OPPORTUNITY_ID,
        "Name": "✔ Contoso - Data platform modernisation",
        "StageName": "Qualification",
        "CloseDate": "2025-11-14",
        "IsClosed": False,
        "IsWon": False,
        "Amount": 50000.0,
        "CurrencyIsoCode": "USD",
        "Description": "Customer wants a migration plan",
        "SystemModstamp": "2025-01-11T10:31:00.000+0000",
        "AccountId": ACCOUNT_ID,
        f.SYNC: True,
        f.REFERRAL_ID: REFERRAL_ID,
        f.REFERRAL_LINK: f"https://partner.microsoft.com/dashboard/referrals/v2/leads/{REFERRAL_ID}/details",
        f.HELP: "CustomerTechnicalArchitecture",
        f.VISIBILITY: f.VISIBLE,
        f.MSFT_CRM_ID: None,
        f.AUDIT: None,
        f.REFERRAL_STATUS: "Active/Accepted",
        "Account": {
            "attributes": {"type": "Account"},
            "Name": "Contoso Ltd",
            "BillingStreet": "1 Main St",
            "BillingCity": "Redmond",
            "BillingState": "WA",
            "BillingPostalCode": "98052",
            "BillingCountry": "US",
            "NumberOfEmployees": 51,
        },
        "OpportunityContactRoles": children(a_contact_role()),
        f.SOLUTIONS_RELATIONSHIP: children(a_solution_record()),
    }
    return _merge(base, overrides)


def a_settings(**overrides: Any) -> Settings:
    """Settings with the connector's customisation values spelled out (not read from the environment)."""
    values: dict[str, Any] = {
        "check_mark_in_name": True,
        "active_stage_name": "Qualification",
        "on_hold_stage_name": "Prospecting",
        "won_stage_name": "Closed Won",
        "lost_stage_name": "Closed Lost",
        "account_country_field": "Account.BillingCountry",
        "deal_value_field": "Amount",
        "deal_currency_field": "CurrencyIsoCode",
        "default_currency": "USD",
        "sync_cosell_only": True,
        "conflict_owner_overrides": "",
        "pc_portal_referral_url": "https://partner.microsoft.com/dashboard/referrals/v2/leads/{id}/details",
    }
    return Settings(**{**values, **overrides})

"""What Microsoft does on its side of a deal, for tests and the demo: send referrals and leads,
accept co-sell referrals (setting Microsoft's CRM id), add notes, open and update the related
referral. Each action goes through the store, so it emits the same webhooks as the service."""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from devstack.pc_sim.store import MICROSOFT_ORG_ID, ApiError, ReferralStore

_MICROSOFT = {"organizationId": MICROSOFT_ORG_ID, "organizationName": "Microsoft"}


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` applied recursively (dicts merged, everything else replaced)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def a_customer(number: int = 1) -> dict[str, Any]:
    return {
        "name": f"Fabrikam {number} Ltd",
        "size": "51to250employees",
        "address": {
            "addressLine1": f"{number} Harbour Road",
            "city": "Dublin",
            "state": "Leinster",
            "postalCode": "D02 X285",
            "country": "IE",
        },
        "team": [
            {
                "firstName": "Aoife",
                "lastName": "Byrne",
                "email": f"aoife.byrne{number}@fabrikam.example",
                "phoneNumber": "+35315550100",
            }
        ],
    }


def a_solution() -> dict[str, Any]:
    return {
        "id": "SOL-15974-MQF",
        "name": "Contoso Data Platform",
        "type": "Name",
        "publisherName": "Contoso",
        "solutionType": "3P",
    }


def microsoft_referral(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A co-sell referral a Microsoft seller sends to the partner (New/Pending, Shared)."""
    number = uuid.uuid4().int % 10000
    closing = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
    base = {
        "name": f"Fabrikam {number} - Azure migration",
        "type": "Shared",
        "qualification": "SalesQualified",
        "status": "New",
        "substatus": "Pending",
        "customerProfile": a_customer(number),
        "consent": {
            "consentToToShareInfoWithOthers": True,
            "consentToContact": True,
            "consentToShareReferralWithMicrosoftSellers": True,
        },
        "details": {
            "notes": "Customer wants to move its data platform to Azure this year.",
            "dealValue": 120000,
            "currency": "EUR",
            "closingDateTime": closing.isoformat().replace("+00:00", "Z"),
            "requirements": {"solutions": [a_solution()]},
        },
        "team": [],
        "inviteContext": {
            "notes": "Please help with the architecture workshop.",
            "assistanceRequestCode": "CustomerTechnicalArchitecture",
            "invitedBy": dict(_MICROSOFT),
        },
    }
    return deep_merge(base, overrides or {})


def marketplace_lead(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A lead from the commercial marketplace (Independent, Direct, invited by Microsoft)."""
    lead = microsoft_referral(
        {
            "type": "Independent",
            "qualification": "Direct",
            "consent": {"consentToShareReferralWithMicrosoftSellers": False},
            "inviteContext": {"assistanceRequestCode": "Unknown", "notes": None},
        }
    )
    lead["name"] = lead["name"].replace("Azure migration", "Trial sign-up")
    return deep_merge(lead, overrides or {})


def partner_cosell_referral(external_reference_id: str, **changes: Any) -> dict[str, Any]:
    """A complete co-sell referral as a partner would POST it (Shared, visible, help requested)."""
    body: dict[str, Any] = {
        "name": "Contoso - Data platform",
        "externalReferenceId": external_reference_id,
        "type": "Shared",
        "qualification": "SalesQualified",
        "customerProfile": a_customer(3),
        "consent": {"consentToShareReferralWithMicrosoftSellers": True, "consentToContact": True},
        "details": {
            "dealValue": 50000,
            "currency": "USD",
            "closingDateTime": "2026-03-31T00:00:00Z",
            "requirements": {"solutions": [a_solution()]},
        },
        "inviteContext": {"notes": "Need help", "assistanceRequestCode": "ProofOfConceptOrDemo"},
        "team": [{"firstName": "John", "lastName": "Doe", "email": "john@partner.example"}],
    }
    return {**body, **changes}


def seed_referrals(count: int, overrides: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Partner referrals for preloading (private deals, so no Microsoft side)."""
    for number in itertools.islice(itertools.count(1), count):
        yield deep_merge(
            {
                "name": f"Seeded deal {number}",
                "type": "Independent",
                "qualification": "SalesQualified",
                "status": "Active",
                "substatus": "Accepted",
                "direction": "Outgoing",
                "customerProfile": a_customer(number),
                "consent": {"consentToShareReferralWithMicrosoftSellers": False},
                "details": {"dealValue": 1000 + number, "currency": "USD"},
                "externalReferenceId": f"SEED{number:08d}",
            },
            overrides or {},
        )


class MicrosoftSeller:
    """The actions a Microsoft seller (or Microsoft's systems) take, applied to the store."""

    def __init__(self, store: ReferralStore) -> None:
        self.store = store

    def send_referral(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.store.insert_from_microsoft(microsoft_referral(overrides), with_microsoft_side=True)

    def send_marketplace_lead(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.store.insert_from_microsoft(marketplace_lead(overrides), with_microsoft_side=False)

    def accept(self, referral_id: str, msx_id: str | None = None) -> dict[str, Any]:
        """Microsoft accepts the co-sell deal: its side goes Active/Accepted and the partner's
        referral gets Microsoft's CRM id."""
        partner_side = self.store.get(referral_id)
        if partner_side.get("organizationId") == MICROSOFT_ORG_ID:
            raise ApiError(400, "accept the partner's referral, not Microsoft's side")
        related = self.store.open_microsoft_side(referral_id)
        if (related.get("status"), related.get("substatus")) != ("Active", "Accepted"):
            self.store.modify_as_microsoft(
                related["id"],
                [
                    {"op": "replace", "path": "/status", "value": "Active"},
                    {"op": "replace", "path": "/substatus", "value": "Accepted"},
                ],
            )
        msx_id = msx_id or f"7-{uuid.uuid4().hex[:10].upper()}"
        return self.store.modify_as_microsoft(
            referral_id, [{"op": "replace", "path": "/trackingInfo/microsoftMsxId", "value": msx_id}]
        )

    def add_note(self, referral_id: str, note: str) -> dict[str, Any]:
        current = self.store.get(referral_id)
        existing = (current.get("details") or {}).get("notes")
        notes = f"{existing}\n{note}" if existing else note
        return self.store.modify_as_microsoft(
            referral_id, [{"op": "replace", "path": "/details/notes", "value": notes}]
        )

    def open_related(self, referral_id: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.store.open_microsoft_side(referral_id, overrides)

    def update(self, referral_id: str, operations: list[Any]) -> dict[str, Any]:
        return self.store.modify_as_microsoft(referral_id, operations)

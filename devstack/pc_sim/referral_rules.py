"""The Referrals API's documented validation, answered as Partner-Center-shaped 400 bodies."""

from __future__ import annotations

import re
from typing import Any

from devstack.pc_sim.odata import value_at

STATUS_SUBSTATUS: dict[str, set[str]] = {
    "New": {"Pending", "Received"},
    "Active": {"Accepted"},
    "Closed": {"Won", "Lost", "Declined", "Expired"},
}
NEXT_STATUS: dict[str, set[str]] = {
    "New": {"New", "Active", "Closed"},
    "Active": {"Active", "Closed"},
    "Closed": {"Closed"},
}
TYPES = {"Independent", "Shared"}
QUALIFICATIONS = {"None", "Direct", "MarketingQualified", "SalesQualified"}
READ_ONLY_PATHS = (
    "/id",
    "/engagementId",
    "/createdDateTime",
    "/updatedDateTime",
    "/eTag",
    "/direction",
    "/organizationId",
    "/organizationName",
    "/trackingInfo",
    "/links",
)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def error_body(code: int, description: str, problems: list[str] | None = None) -> dict[str, Any]:
    """The generic Partner Center REST error shape."""
    return {
        "code": code,
        "description": description,
        "data": problems or [],
        "source": "PartnerCenter.Referrals",
    }


def is_cosell(referral: dict[str, Any]) -> bool:
    """Shared with Microsoft sellers and asking for their help."""
    shared = bool(value_at(referral, "consent/consentToShareReferralWithMicrosoftSellers"))
    help_code = value_at(referral, "inviteContext/assistanceRequestCode")
    return shared and (referral.get("type") == "Shared" or (bool(help_code) and help_code != "Unknown"))


def referral_problems(referral: dict[str, Any]) -> list[str]:
    """Problems with a referral as it would be stored (after a create or a patch)."""
    problems: list[str] = []
    for required in ("name", "type", "customerProfile", "consent", "details"):
        if referral.get(required) in (None, "", {}):
            problems.append(f"{required} is required")
    if referral.get("type") and referral["type"] not in TYPES:
        problems.append(f"type {referral['type']!r} must be one of {sorted(TYPES)}")
    qualification = referral.get("qualification")
    if qualification and qualification not in QUALIFICATIONS:
        problems.append(f"qualification {qualification!r} must be one of {sorted(QUALIFICATIONS)}")
    country = value_at(referral, "customerProfile/address/country")
    if not isinstance(country, str) or not _COUNTRY.match(country):
        problems.append("customerProfile.address.country must be a two-letter ISO 3166 code")
    status, substatus = referral.get("status"), referral.get("substatus")
    if status is not None and substatus not in STATUS_SUBSTATUS.get(status, set()):
        problems.append(f"substatus {substatus!r} is not valid with status {status!r}")
    problems.extend(_details_problems(referral))
    if is_cosell(referral):
        if not value_at(referral, "customerProfile/team"):
            problems.append("a co-sell referral needs at least one customer contact")
        if not value_at(referral, "details/requirements/solutions"):
            problems.append("a co-sell referral needs at least one solution")
    return problems


def _details_problems(referral: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    deal_value = value_at(referral, "details/dealValue")
    if deal_value is not None:
        try:
            positive = float(deal_value) > 0
        except (TypeError, ValueError):
            positive = False
        if not positive:
            problems.append("details.dealValue must be a positive number")
    currency = value_at(referral, "details/currency")
    if currency is not None and (not isinstance(currency, str) or not _CURRENCY.match(currency)):
        problems.append("details.currency must be a three-letter ISO 4217 code")
    return problems


def transition_problems(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Rules about how a stored referral may change."""
    problems: list[str] = []
    old_status, new_status = before.get("status"), after.get("status")
    if old_status in NEXT_STATUS and new_status not in NEXT_STATUS[old_status]:
        problems.append(f"status cannot move from {old_status!r} to {new_status!r}")
    was_visible = value_at(before, "consent/consentToShareReferralWithMicrosoftSellers")
    if was_visible and not value_at(after, "consent/consentToShareReferralWithMicrosoftSellers"):
        problems.append("a referral visible to Microsoft sellers cannot be made private again")
    if before.get("type") == "Shared" and after.get("type") != "Shared":
        problems.append("type cannot change from Shared")
    return problems

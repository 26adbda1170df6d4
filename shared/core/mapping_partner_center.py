"""Partner Center referral (wire JSON) <-> canonical deal (pure).

Reading takes the referral as GET returns it. Writing produces a create body (POST) or JSON Patch
operations (PATCH): Partner Center accepts only `add` and `replace`, so each operation is computed
against the referral as it currently is (`replace` for a member that exists, `add` otherwise), and
arrays (contacts, solutions) are replaced whole.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Final

from shared.config import Settings
from shared.core import help_codes
from shared.core.canonical import Address, CanonicalDeal, Contact, Solution, clean_text, to_money
from shared.core.countries import UnknownCountry, normalise_country
from shared.core.partner_team import team_from_partner_center, team_wire
from shared.errors import ValidationError

MICROSOFT_ORG: Final = "msft"
NO_HELP_CODE: Final = "Unknown"
"""What Partner Center holds when no help is requested."""

_MEMBER_KEYS: Final = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phoneNumber",
    "title": "title",
}
_SOLUTION_KEYS: Final = {
    "id": "id",
    "name": "name",
    "publisher": "publisherName",
    "solution_type": "solutionType",
}


class ReferralCategory(StrEnum):
    """Partner Center's classification of a referral (spec §1.6)."""

    MARKETPLACE_LEAD = "marketplace-lead"
    QUALIFIED_LEAD = "qualified-lead"
    CO_SELL = "co-sell"


def value_at(doc: Mapping[str, Any] | None, path: tuple[str, ...]) -> Any:
    """The value at `path` in a referral (None where any part is missing)."""
    value: Any = doc
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _get(doc: Mapping[str, Any] | None, *path: str) -> Any:
    return value_at(doc, path)


def _list(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _inviter(referral: Mapping[str, Any]) -> str | None:
    org = clean_text(_get(referral, "inviteContext", "invitedBy", "organizationId"))
    return org.lower() if org else None


def referral_category(referral: Mapping[str, Any]) -> ReferralCategory:
    """Marketplace lead, qualified lead from Microsoft, or co-sell opportunity (spec §1.6 table)."""
    kind = (referral.get("type") or "").lower()
    qualification = (referral.get("qualification") or "").lower()
    inviter = _inviter(referral)
    if kind == "independent" and qualification == "direct" and inviter in (MICROSOFT_ORG, None):
        return ReferralCategory.MARKETPLACE_LEAD
    if (
        kind == "independent"
        and qualification in ("salesqualified", "marketingqualified")
        and inviter == MICROSOFT_ORG
    ):
        return ReferralCategory.QUALIFIED_LEAD
    return ReferralCategory.CO_SELL


def is_marketplace_lead(referral: Mapping[str, Any]) -> bool:
    """True for a lead from the commercial marketplace (Independent, Direct, from Microsoft or nobody)."""
    return referral_category(referral) is ReferralCategory.MARKETPLACE_LEAD


def syncs_to_salesforce(referral: Mapping[str, Any], settings: Settings) -> bool:
    """Whether a referral comes to Salesforce: with "co-sell only" on, leads (marketplace and
    Microsoft-qualified) stay in Partner Center."""
    return not settings.sync_cosell_only or referral_category(referral) is ReferralCategory.CO_SELL


def is_incoming_from_microsoft(referral: Mapping[str, Any]) -> bool:
    """True for an incoming referral Microsoft sent (the kind that waits in the on-hold stage)."""
    incoming = (referral.get("direction") or "").lower() == "incoming"
    return incoming and _inviter(referral) in (MICROSOFT_ORG, None)


def _country(raw: object) -> str | None:
    text = clean_text(raw)
    try:
        return normalise_country(text)
    except UnknownCountry:
        return text


def _close_date(raw: object) -> date | None:
    text = clean_text(raw)
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()


def deal_from_partner_center(referral: Mapping[str, Any]) -> CanonicalDeal:
    """The canonical deal a referral describes."""
    profile = referral.get("customerProfile")
    address = _get(profile, "address")
    details = referral.get("details")
    street_lines = [_get(address, "addressLine1"), _get(address, "addressLine2")]
    return CanonicalDeal(
        name=referral.get("name"),
        customer_name=_get(profile, "name"),
        customer_address=Address(
            street="\n".join(line for line in map(clean_text, street_lines) if line),
            city=_get(address, "city"),
            state=_get(address, "state"),
            postal_code=_get(address, "postalCode"),
            country=_country(_get(address, "country")),
        ),
        customer_size=_get(profile, "size"),
        contacts=tuple(
            Contact(**{key: member.get(wire) for key, wire in _MEMBER_KEYS.items()})
            for member in _list(_get(profile, "team"))
        ),
        partner_team=team_from_partner_center(referral.get("team")),
        deal_value=_get(details, "dealValue"),
        currency=_get(details, "currency"),
        close_date=_close_date(_get(details, "closingDateTime")),
        status=referral.get("status"),
        substatus=referral.get("substatus"),
        help_requested=help_codes.from_invite_context(_get(referral, "inviteContext")),
        visible=_get(referral, "consent", "consentToShareReferralWithMicrosoftSellers") is True,
        solutions=tuple(
            Solution(**{key: item.get(wire) for key, wire in _SOLUTION_KEYS.items()})
            for item in _list(_get(details, "requirements", "solutions"))
            if clean_text(item.get("id"))
        ),
        notes=_get(details, "notes"),
        microsoft_crm_id=_get(referral, "trackingInfo", "microsoftMsxId"),
        referral_id=referral.get("id"),
        opportunity_id=referral.get("externalReferenceId"),
        engagement_id=referral.get("engagementId"),
    )


# --- writing -----------------------------------------------------------------------------------------


def _wire_money(value: object) -> int | float | None:
    money = to_money(value)
    if money is None:
        return None
    return int(money) if money == money.to_integral_value() else float(money)


def _wire_date(value: object) -> str | None:
    text = clean_text(value)
    return None if text is None else f"{date.fromisoformat(text).isoformat()}T00:00:00Z"


def _street_lines(street: str | None) -> tuple[str | None, str | None]:
    if not street:
        return None, None
    first, _, rest = street.partition("\n")
    return first or None, rest or None


def _members(contacts: list[Mapping[str, Any]], existing: object = None) -> list[dict[str, Any]]:
    """Customer team members; keys we do not map (e.g. contactPreference) survive, matched by email."""
    by_email = {str(m.get("email")).lower(): m for m in _list(existing) if isinstance(m.get("email"), str)}
    members = []
    for contact in contacts:
        c = Contact(**contact)
        base = {k: v for k, v in by_email.get(c.email or "", {}).items() if k not in _MEMBER_KEYS.values()}
        members.append({**base, **{wire: getattr(c, key) for key, wire in _MEMBER_KEYS.items()}})
    return members


def _solutions(solutions: list[Mapping[str, Any]], existing: object = None) -> list[dict[str, Any]]:
    by_id = {str(s.get("id")): s for s in _list(existing)}
    items = []
    for solution in solutions:
        s = Solution(**solution)
        base = {k: v for k, v in by_id.get(s.id, {}).items() if k not in _SOLUTION_KEYS.values()}
        items.append(
            {"type": "Name", **base, **{wire: getattr(s, key) for key, wire in _SOLUTION_KEYS.items()}}
        )
    return items


def partner_center_create_body(deal: CanonicalDeal, settings: Settings) -> dict[str, Any]:
    """POST body for a new referral from a Salesforce deal: co-sell (`Shared`, help code, shared with
    Microsoft sellers) when help is requested, otherwise a private or partner-led deal."""
    values = deal.comparable()
    line1, line2 = _street_lines(deal.customer_address.street)
    body: dict[str, Any] = {
        "name": deal.name,
        "externalReferenceId": deal.opportunity_id,
        "type": "Shared" if deal.help_requested else "Independent",
        "qualification": "SalesQualified",
        "customerProfile": {
            "name": deal.customer_name,
            "size": deal.customer_size or "",
            "address": {
                "addressLine1": line1,
                "addressLine2": line2,
                "city": deal.customer_address.city,
                "state": deal.customer_address.state,
                "postalCode": deal.customer_address.postal_code,
                "country": deal.customer_address.country,
            },
            "team": _members(values["contacts"]),
        },
        "consent": {
            "consentToToShareInfoWithOthers": True,
            "consentToContact": True,
            "consentToShareReferralWithMicrosoftSellers": deal.visible,
        },
        "details": {
            "notes": deal.notes or "",
            "dealValue": _wire_money(deal.deal_value),
            "currency": deal.currency or settings.default_currency,
            "closingDateTime": _wire_date(values["close_date"]),
            "requirements": {
                "solutions": _solutions(values["solutions"]),
                "additionalRequirements": {
                    "iot": {},
                    "attributes": [{"type": "CustomerMarketplaceIntent", "id": "HaveNotDecided"}],
                },
            },
        },
        "team": team_wire(values["partner_team"]),
        "target": [],
    }
    if deal.help_requested:
        body["inviteContext"] = {
            "notes": help_codes.invite_notes(deal.notes, deal.help_requested),
            "assistanceRequestCode": help_codes.request_code(deal.help_requested),
        }
    return body


class _PatchBuilder:
    """Collects JSON Patch operations while applying them to a copy, so every operation is valid
    against the document the previous ones produced."""

    def __init__(self, referral: Mapping[str, Any]) -> None:
        self.doc: dict[str, Any] = copy.deepcopy(dict(referral))
        self.ops: list[dict[str, Any]] = []

    def set(self, path: tuple[str, ...], value: Any, *, always: bool = False) -> None:
        node = self.doc
        for depth, key in enumerate(path[:-1]):
            child = node.get(key)
            if not isinstance(child, dict):
                nested = value
                for inner in reversed(path[depth + 1 :]):
                    nested = {inner: nested}
                self._emit("replace" if key in node else "add", path[: depth + 1], nested)
                node[key] = copy.deepcopy(nested)
                return
            node = child
        leaf = path[-1]
        if leaf in node and node[leaf] == value and not always:
            return
        self._emit("replace" if leaf in node else "add", path, value)
        node[leaf] = copy.deepcopy(value)

    def _emit(self, op: str, path: tuple[str, ...], value: Any) -> None:
        self.ops.append({"op": op, "path": "/" + "/".join(path), "value": copy.deepcopy(value)})


def _same(value: Any) -> Any:
    return value


def _text_or_empty(value: Any) -> str:
    return clean_text(value) or ""


def _help_code(value: Any) -> str:
    return help_codes.request_code(clean_text(value)) or NO_HELP_CODE


# Canonical field -> (referral path, wire value). Fields not listed are read-only in Partner Center
# (ids, Microsoft's CRM id) or need the current referral (address, arrays, status, visibility).
_SIMPLE_PATHS: Final[dict[str, tuple[tuple[str, ...], Callable[[Any], Any]]]] = {
    "name": (("name",), _same),
    "customer_name": (("customerProfile", "name"), _same),
    "customer_size": (("customerProfile", "size"), _text_or_empty),
    "deal_value": (("details", "dealValue"), _wire_money),
    "currency": (("details", "currency"), _same),
    "close_date": (("details", "closingDateTime"), _wire_date),
    "notes": (("details", "notes"), _text_or_empty),
    "help_requested": (("inviteContext", "assistanceRequestCode"), _help_code),
    "opportunity_id": (("externalReferenceId",), _same),
}
_ADDRESS_CHANGES: Final = frozenset(
    {"customer_street", "customer_city", "customer_state", "customer_postal_code", "customer_country"}
)


def partner_center_patch(changes: Mapping[str, Any], referral: Mapping[str, Any]) -> list[dict[str, Any]]:
    """JSON Patch operations that bring `referral` to the changed canonical values.

    Status and substatus are always sent together; visibility never goes from true to false (that
    raises `ValidationError`); read-only fields (ids, Microsoft's CRM id) are not written.
    """
    patch = _PatchBuilder(referral)
    for name, (path, to_wire) in _SIMPLE_PATHS.items():
        if name in changes:
            patch.set(path, to_wire(changes[name]))
    if "help_requested" in changes:
        notes = help_codes.invite_notes(_get(referral, "inviteContext", "notes"), changes["help_requested"])
        if notes != (_get(referral, "inviteContext", "notes") or ""):
            patch.set(("inviteContext", "notes"), notes)
    if _ADDRESS_CHANGES & changes.keys():
        current = _get(referral, "customerProfile", "address")
        patch.set(("customerProfile", "address"), _address(changes, current))
    if "contacts" in changes:
        team = _get(referral, "customerProfile", "team")
        patch.set(("customerProfile", "team"), _members(changes["contacts"] or [], team))
    if "partner_team" in changes:
        patch.set(("team",), team_wire(changes["partner_team"] or [], referral.get("team")))
    if "solutions" in changes:
        existing = _get(referral, "details", "requirements", "solutions")
        patch.set(("details", "requirements", "solutions"), _solutions(changes["solutions"] or [], existing))
    status = (
        changes.get("status", referral.get("status")),
        changes.get("substatus", referral.get("substatus")),
    )
    if status != (referral.get("status"), referral.get("substatus")):
        patch.set(("status",), status[0], always=True)
        patch.set(("substatus",), status[1], always=True)
    if "visible" in changes:
        currently = _get(referral, "consent", "consentToShareReferralWithMicrosoftSellers") is True
        if currently and not changes["visible"]:
            raise ValidationError(
                ["the referral is visible to Microsoft sellers; visibility cannot be reverted"],
                record_id=referral.get("id"),
            )
        patch.set(("consent", "consentToShareReferralWithMicrosoftSellers"), bool(changes["visible"]))
    return patch.ops


def patch_for_paths(
    referral: Mapping[str, Any], values: Mapping[tuple[str, ...], Any]
) -> list[dict[str, Any]]:
    """JSON Patch setting each path (custom mappings) on the referral, add or replace as needed."""
    patch = _PatchBuilder(referral)
    for path, value in values.items():
        patch.set(path, value)
    return patch.ops


def with_paths(body: dict[str, Any], values: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """A create body with each path set (nested objects made as needed)."""
    for path, value in values.items():
        node = body
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
    return body


def _address(changes: Mapping[str, Any], current: object) -> dict[str, Any]:
    address = dict(current) if isinstance(current, Mapping) else {}
    if "customer_street" in changes:
        address["addressLine1"], address["addressLine2"] = _street_lines(
            clean_text(changes["customer_street"])
        )
    for key, wire in (
        ("customer_city", "city"),
        ("customer_state", "state"),
        ("customer_postal_code", "postalCode"),
        ("customer_country", "country"),
    ):
        if key in changes:
            address[wire] = changes[key]
    return address

"""The canonical deal: the one shape both Partner Center and Salesforce map to.

Values are normalised on construction (stripped text, empty text -> None, lower-cased emails, contacts
and solutions in a canonical order, deal value to two decimal places) so that two deals describing the
same state compare equal, whichever side they came from. `comparable()` flattens a deal into the
JSON-able per-field values the merge works on and the link store keeps as the snapshot.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from shared.core.partner_team import TeamMember, normalise_team

NO_HELP_CODES = frozenset({"", "unknown", "none"})
"""Assistance request codes that mean "no help requested" (real referrals carry `Unknown`)."""

_CENTS = Decimal("0.01")


def clean_text(value: object) -> str | None:
    """Stripped text, with empty or missing text as None (both sides store "nothing" differently)."""
    if value is None:
        return None
    text = str(value).replace("\r\n", "\n").strip()
    return text or None


def to_money(value: object) -> Decimal | None:
    """A deal value as a Decimal with two decimal places (Salesforce currency fields hold scale 2)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("a deal value is a number, not a boolean")
    try:
        # repr() of a float is its shortest round-tripping form: 125000.1 stays 125000.1, not ...0999.
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"deal value {value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"deal value {value!r} is not a finite number")
    return number.quantize(_CENTS, rounding=ROUND_HALF_UP)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(_Frozen):
    """Customer address; `country` is ISO 3166 alpha-2, or the raw text when it could not be
    normalised (validation then reports it by name)."""

    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None

    @field_validator("city", "state", "postal_code", "country", mode="before")
    @classmethod
    def _text(cls, value: object) -> str | None:
        return clean_text(value)

    @field_validator("street", mode="before")
    @classmethod
    def _street(cls, value: object) -> str | None:
        # One line per address line, blank lines dropped: Partner Center has two line fields and
        # Salesforce one multi-line field, and both must describe the same street.
        text = clean_text(value)
        if text is None:
            return None
        return "\n".join(line.strip() for line in text.split("\n") if line.strip())


class Contact(_Frozen):
    """A customer contact (Partner Center customer team member / Salesforce contact role)."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None

    @field_validator("first_name", "last_name", "phone", "title", mode="before")
    @classmethod
    def _text(cls, value: object) -> str | None:
        return clean_text(value)

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: object) -> str | None:
        text = clean_text(value)
        return text.lower() if text else None

    def sort_key(self) -> tuple[str, ...]:
        return tuple(v or "" for v in (self.email, self.last_name, self.first_name, self.phone, self.title))


_NO_CONTACT = Contact()  # built once: validating an empty Contact per comparison showed in profiles


class Solution(_Frozen):
    """A co-sell-ready or Microsoft solution linked to the deal, identified by its Partner Center id."""

    id: str
    name: str | None = None
    publisher: str | None = None
    solution_type: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: object) -> str:
        text = clean_text(value)
        if text is None:
            raise ValueError("a solution needs an id")
        return text

    @field_validator("name", "publisher", "solution_type", mode="before")
    @classmethod
    def _text(cls, value: object) -> str | None:
        return clean_text(value)


class CanonicalDeal(_Frozen):
    """One co-sell deal as both systems describe it. Status vocabulary is Partner Center's."""

    name: str | None = None
    customer_name: str | None = None
    customer_address: Address = Address()
    customer_size: str | None = None
    contacts: tuple[Contact, ...] = ()
    partner_team: tuple[TeamMember, ...] = ()
    deal_value: Decimal | None = None
    currency: str | None = None
    close_date: date | None = None
    status: str | None = None
    substatus: str | None = None
    help_requested: str | None = None
    visible: bool = False
    solutions: tuple[Solution, ...] = ()
    notes: str | None = None
    microsoft_crm_id: str | None = None
    referral_id: str | None = None
    opportunity_id: str | None = None
    engagement_id: str | None = None

    @field_validator(
        "name",
        "customer_name",
        "customer_size",
        "status",
        "substatus",
        "notes",
        "microsoft_crm_id",
        "referral_id",
        "opportunity_id",
        "engagement_id",
        mode="before",
    )
    @classmethod
    def _text(cls, value: object) -> str | None:
        return clean_text(value)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: object) -> str | None:
        text = clean_text(value)
        return text.upper() if text else None

    @field_validator("help_requested", mode="before")
    @classmethod
    def _help(cls, value: object) -> str | None:
        text = clean_text(value)
        return None if text is None or text.lower() in NO_HELP_CODES else text

    @field_validator("deal_value", mode="before")
    @classmethod
    def _money(cls, value: object) -> Decimal | None:
        return to_money(value)

    @field_validator("contacts", mode="after")
    @classmethod
    def _contacts(cls, value: tuple[Contact, ...]) -> tuple[Contact, ...]:
        unique = {c for c in value if c != _NO_CONTACT}
        return tuple(sorted(unique, key=Contact.sort_key))

    @field_validator("partner_team", mode="after")
    @classmethod
    def _partner_team(cls, value: tuple[TeamMember, ...]) -> tuple[TeamMember, ...]:
        return normalise_team(value)

    @field_validator("solutions", mode="after")
    @classmethod
    def _solutions(cls, value: tuple[Solution, ...]) -> tuple[Solution, ...]:
        by_id: dict[str, Solution] = {}
        for solution in value:
            by_id.setdefault(solution.id, solution)
        return tuple(by_id[key] for key in sorted(by_id))

    def comparable(self) -> dict[str, Any]:
        """Flat, JSON-able values of the synced fields (keys = `SYNCED_FIELDS`) plus the links."""
        address = self.customer_address
        return {
            "name": self.name,
            "customer_name": self.customer_name,
            "customer_street": address.street,
            "customer_city": address.city,
            "customer_state": address.state,
            "customer_postal_code": address.postal_code,
            "customer_country": address.country,
            "customer_size": self.customer_size,
            "contacts": [c.model_dump() for c in self.contacts],
            "partner_team": [m.model_dump() for m in self.partner_team],
            "deal_value": None if self.deal_value is None else str(self.deal_value),
            "currency": self.currency,
            "close_date": None if self.close_date is None else self.close_date.isoformat(),
            "status": self.status,
            "substatus": self.substatus,
            "help_requested": self.help_requested,
            "visible": self.visible,
            "solutions": [s.model_dump() for s in self.solutions],
            "notes": self.notes,
            "microsoft_crm_id": self.microsoft_crm_id,
            "referral_id": self.referral_id,
            "opportunity_id": self.opportunity_id,
            "engagement_id": self.engagement_id,
        }

    @classmethod
    def from_comparable(cls, values: dict[str, Any]) -> CanonicalDeal:
        """The deal a `comparable()` dict (e.g. a stored snapshot) describes; missing keys are empty."""
        return cls(
            name=values.get("name"),
            customer_name=values.get("customer_name"),
            customer_address=Address(
                street=values.get("customer_street"),
                city=values.get("customer_city"),
                state=values.get("customer_state"),
                postal_code=values.get("customer_postal_code"),
                country=values.get("customer_country"),
            ),
            customer_size=values.get("customer_size"),
            contacts=tuple(Contact(**c) for c in values.get("contacts") or ()),
            partner_team=tuple(TeamMember(**m) for m in values.get("partner_team") or ()),
            deal_value=values.get("deal_value"),
            currency=values.get("currency"),
            close_date=values.get("close_date"),
            status=values.get("status"),
            substatus=values.get("substatus"),
            help_requested=values.get("help_requested"),
            visible=bool(values.get("visible")),
            solutions=tuple(Solution(**s) for s in values.get("solutions") or ()),
            notes=values.get("notes"),
            microsoft_crm_id=values.get("microsoft_crm_id"),
            referral_id=values.get("referral_id"),
            opportunity_id=values.get("opportunity_id"),
            engagement_id=values.get("engagement_id"),
        )


CUSTOMER_ADDRESS_FIELDS: tuple[str, ...] = (
    "customer_street",
    "customer_city",
    "customer_state",
    "customer_postal_code",
    "customer_country",
)

SYNCED_FIELDS: tuple[str, ...] = (
    "name",
    "customer_name",
    *CUSTOMER_ADDRESS_FIELDS,
    "customer_size",
    "contacts",
    "partner_team",
    "deal_value",
    "currency",
    "close_date",
    "status",
    "substatus",
    "help_requested",
    "visible",
    "solutions",
    "notes",
    "microsoft_crm_id",
    "referral_id",
    "opportunity_id",
)
"""The fields the merge considers. `engagement_id` is not among them: only Partner Center holds it
(the link store keeps it)."""

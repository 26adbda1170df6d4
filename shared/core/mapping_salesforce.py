"""Salesforce opportunity record <-> canonical deal (pure, settings-driven).

Reads the record dict a SOQL query returns (parent `Account`, child `OpportunityContactRoles` and
`Partner_Center_Solutions__r`); writes plain field dicts per object for the client to send. Field names
come from settings (deal value, currency, country path) and `shared.core.salesforce_fields`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from shared.config import Settings
from shared.core import help_codes
from shared.core import salesforce_fields as f
from shared.core.canonical import (
    Address,
    CanonicalDeal,
    Contact,
    Solution,
    clean_text,
    to_money,
)
from shared.core.countries import UnknownCountry, normalise_country
from shared.core.marks import strip_mark, with_mark
from shared.core.partner_team import team_from_salesforce
from shared.core.stages import (
    format_referral_status,
    parse_referral_status,
    stage_for_status,
    stage_matches_status,
    status_for_stage,
)

# Partner Center's current size buckets (lower bound, value); the three older, coarser values are
# still read (see `employees_for_size`) but never produced.
_SIZE_BUCKETS: Final = (
    (1, "1to9employees"),
    (10, "10to50employees"),
    (51, "51to250employees"),
    (251, "251to1000employees"),
    (1001, "1001to5000employees"),
    (5001, "5001to10000employees"),
    (10001, "10001to20000employees"),
    (20001, "Morethan20000employees"),
)
_LEGACY_SIZES: Final = {"1to50employees": 1, "51to500employees": 51, "Morethan500employees": 501}

_ADDRESS_TO_ACCOUNT: Final = {
    "customer_street": "BillingStreet",
    "customer_city": "BillingCity",
    "customer_state": "BillingState",
    "customer_postal_code": "BillingPostalCode",
}


def size_for_employees(employees: object) -> str | None:
    """Partner Center customer size for an employee count (None when unknown or not positive)."""
    if employees is None or isinstance(employees, bool):
        return None
    try:
        count = int(float(str(employees)))
    except ValueError:
        return None
    size = None
    for lower, value in _SIZE_BUCKETS:
        if count >= lower:
            size = value
    return size


def employees_for_size(size: str | None) -> int | None:
    """An employee count inside the size bucket (its lower bound), for writing to the account."""
    if size is None:
        return None
    for lower, value in _SIZE_BUCKETS:
        if value.lower() == size.lower():
            return lower
    return next((n for key, n in _LEGACY_SIZES.items() if key.lower() == size.lower()), None)


def _path(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _children(record: Mapping[str, Any], relationship: str) -> list[Mapping[str, Any]]:
    result = record.get(relationship)
    if not isinstance(result, Mapping):
        return []
    return [r for r in result.get("records") or () if isinstance(r, Mapping)]


def _country(raw: object) -> str | None:
    text = clean_text(raw)
    try:
        return normalise_country(text)
    except UnknownCountry:
        return text  # kept as written, so validation can name it


def deal_from_salesforce(opp: Mapping[str, Any], settings: Settings) -> CanonicalDeal:
    """The canonical deal an opportunity record describes (its name without the ✔/✖ mark)."""
    parent = opp.get("Account")
    account: Mapping[str, Any] = parent if isinstance(parent, Mapping) else {}
    previous = parse_referral_status(opp.get(f.REFERRAL_STATUS))
    status = (
        status_for_stage(
            opp.get("StageName"),
            settings,
            previous_status=previous[0] if previous else None,
            previous_substatus=previous[1] if previous else None,
            is_closed=opp.get("IsClosed"),
            is_won=opp.get("IsWon"),
        )
        or previous
    )
    help_requested = help_codes.joined(help_codes.codes(clean_text(opp.get(f.HELP))))
    visibility = clean_text(opp.get(f.VISIBILITY))
    currency = opp.get(settings.sf_currency_field) if settings.sf_currency_field else None
    return CanonicalDeal(
        name=strip_mark(str(opp.get("Name") or "")),
        customer_name=account.get("Name"),
        customer_address=Address(
            street=account.get("BillingStreet"),
            city=account.get("BillingCity"),
            state=account.get("BillingState"),
            postal_code=account.get("BillingPostalCode"),
            country=_country(_path(opp, settings.sf_country_path)),
        ),
        customer_size=size_for_employees(account.get("NumberOfEmployees")),
        contacts=tuple(
            _contact(role["Contact"])
            for role in _children(opp, "OpportunityContactRoles")
            if isinstance(role.get("Contact"), Mapping)
        ),
        partner_team=team_from_salesforce(opp, settings.sf_username),
        deal_value=opp.get(settings.deal_value_field),
        currency=currency or settings.default_currency,
        close_date=clean_text(opp.get("CloseDate")),
        status=status[0] if status else None,
        substatus=status[1] if status else None,
        help_requested=help_requested,
        # Asking for help makes the referral co-sell, which Microsoft sellers must see (B8).
        visible=visibility == f.VISIBLE or help_requested is not None,
        solutions=tuple(
            Solution(
                id=s.get(f.SOLUTION_ID),
                name=s.get(f.SOLUTION_NAME),
                publisher=s.get(f.SOLUTION_PUBLISHER),
                solution_type=s.get(f.SOLUTION_TYPE),
            )
            for s in _children(opp, f.SOLUTIONS_RELATIONSHIP)
            if clean_text(s.get(f.SOLUTION_ID))
        ),
        notes=opp.get("Description"),
        microsoft_crm_id=opp.get(f.MSFT_CRM_ID),
        referral_id=opp.get(f.REFERRAL_ID),
        opportunity_id=opp.get("Id"),
    )


def _contact(record: Mapping[str, Any]) -> Contact:
    return Contact(
        first_name=record.get("FirstName"),
        last_name=record.get("LastName"),
        email=record.get("Email"),
        phone=record.get("Phone"),
        title=record.get("Title"),
    )


def _money_out(value: object) -> float | None:
    money = to_money(value)
    return None if money is None else float(money)


def _visibility(visible: Any) -> str:
    return f.VISIBLE if visible else f.HIDDEN


def _same(value: Any) -> Any:
    return value


# Canonical field -> (Opportunity field, value); settings-named and derived fields are handled apart.
_SIMPLE_FIELDS: Final[dict[str, tuple[str, Callable[[Any], Any]]]] = {
    "close_date": ("CloseDate", _same),
    "help_requested": (f.HELP, clean_text),
    "visible": (f.VISIBILITY, _visibility),
    "notes": ("Description", _same),
    "microsoft_crm_id": (f.MSFT_CRM_ID, _same),
}


def salesforce_opportunity_fields(
    changes: Mapping[str, Any],
    settings: Settings,
    *,
    current_stage: str | None,
    mark_ok: bool | None = None,
) -> dict[str, Any]:
    """Opportunity field values for changed canonical fields (keys of `CanonicalDeal.comparable()`).

    Status writes `Referral_Status__c` and, unless `current_stage` already represents the status,
    `StageName`. With `mark_ok` set, a changed name is written with its ✔/✖ mark. Account, contact
    and solution changes are not opportunity fields: see `salesforce_account_fields`,
    `salesforce_contact_fields`, `salesforce_solution_fields`.
    """
    out: dict[str, Any] = {
        field: to_field(changes[key]) for key, (field, to_field) in _SIMPLE_FIELDS.items() if key in changes
    }
    if "name" in changes:
        name = changes["name"] or ""
        out["Name"] = strip_mark(name) if mark_ok is None else with_mark(name, mark_ok, settings)
    if "deal_value" in changes:
        out[settings.deal_value_field] = _money_out(changes["deal_value"])
    if "currency" in changes and settings.sf_currency_field:
        out[settings.sf_currency_field] = changes["currency"]
    if "status" in changes or "substatus" in changes:
        out.update(_status_fields(changes, settings, current_stage))
    if "referral_id" in changes:
        referral_id = changes["referral_id"]
        out[f.REFERRAL_ID] = referral_id
        out[f.REFERRAL_LINK] = settings.pc_portal_referral_url.format(id=referral_id) if referral_id else None
    country_path = settings.sf_country_path
    if "customer_country" in changes and len(country_path) == 1:
        out[country_path[0]] = changes["customer_country"]
    return out


def _status_fields(
    changes: Mapping[str, Any], settings: Settings, current_stage: str | None
) -> dict[str, Any]:
    if "status" not in changes or "substatus" not in changes:
        raise ValueError("status and substatus change together")
    status, substatus = changes["status"], changes["substatus"]
    out = {f.REFERRAL_STATUS: format_referral_status(status, substatus)}
    if status and not stage_matches_status(current_stage, status, substatus, settings):
        stage = stage_for_status(status, substatus, settings)
        if stage is not None:
            out["StageName"] = stage
    return out


def salesforce_account_fields(changes: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Account field values for changed customer fields (name, billing address, size, and the
    country when the country field is `Account.<field>`)."""
    out: dict[str, Any] = {}
    if "customer_name" in changes:
        out["Name"] = changes["customer_name"]
    for key, field in _ADDRESS_TO_ACCOUNT.items():
        if key in changes:
            out[field] = changes[key]
    if "customer_size" in changes:
        out["NumberOfEmployees"] = employees_for_size(changes["customer_size"])
    country_path = settings.sf_country_path
    if "customer_country" in changes and len(country_path) == 2 and country_path[0] == "Account":
        out[country_path[1]] = changes["customer_country"]
    return out


def salesforce_contact_fields(contact: Contact | Mapping[str, Any]) -> dict[str, Any]:
    """Contact field values for one canonical contact (for find-or-create by email)."""
    c = contact if isinstance(contact, Contact) else Contact(**contact)
    return {
        "FirstName": c.first_name,
        "LastName": c.last_name,
        "Email": c.email,
        "Phone": c.phone,
        "Title": c.title,
    }


def salesforce_solution_fields(solution: Solution | Mapping[str, Any]) -> dict[str, Any]:
    """`Partner_Center_Solution__c` field values for one solution (the caller adds the opportunity)."""
    s = solution if isinstance(solution, Solution) else Solution(**solution)
    return {
        f.SOLUTION_ID: s.id,
        f.SOLUTION_NAME: s.name,
        f.SOLUTION_PUBLISHER: s.publisher,
        f.SOLUTION_TYPE: s.solution_type,
    }

"""Applying canonical changes to Salesforce: the opportunity's fields, its account, contact roles,
solution records and notes. Only what changed is written; every step is safe to repeat."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.config import Settings
from shared.partner_center.models import Referral
from shared.salesforce import fields as F
from shared.salesforce.client import SalesforceClient
from shared.salesforce.new_opportunity import NewContact, NewOpportunity, create_with_children
from shared.sync.canonical import CanonicalDeal, Contact, Solution
from shared.sync.mapping import (
    salesforce_account_fields,
    salesforce_contact_fields,
    salesforce_opportunity_fields,
    salesforce_solution_fields,
    stage_for_status,
    with_mark,
)

NOTE_TITLE = "Partner Center note"
_DEFAULT_CLOSE_DAYS = 90  # Salesforce requires a close date; incoming leads may carry none


def note_digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


def note_title(text: str) -> str:
    """The note's title carries its digest, so a repeat can tell the note is already there."""
    return f"{NOTE_TITLE} [{note_digest(text)[:8]}]"


def _children(opp: Mapping[str, Any], relationship: str) -> list[Mapping[str, Any]]:
    result = opp.get(relationship)
    return list(result.get("records") or []) if isinstance(result, Mapping) else []


def _sync_contacts(sf: SalesforceClient, opp: Mapping[str, Any], wanted: list[dict[str, Any]]) -> None:
    """Make the opportunity's contact roles hold exactly the wanted contacts (matched by email)."""
    opportunity_id = str(opp["Id"])
    account_id = opp.get("AccountId")
    roles = _children(opp, "OpportunityContactRoles")
    have = {
        str((r.get("Contact") or {}).get("Email") or "").lower(): r for r in roles if isinstance(r, Mapping)
    }
    want = {str(c.get("email") or "").lower(): Contact(**c) for c in wanted}
    for email, contact in want.items():
        if email and email in have:
            continue
        contact_id = sf.find_or_create_contact(
            account_id, contact.first_name, contact.last_name or contact.email or "Unknown", contact.email,
            salesforce_contact_fields(contact),
        )  # fmt: skip
        sf.add_contact_role(opportunity_id, contact_id, primary=not roles and email == next(iter(want)))
    for email, role in have.items():
        if email not in want and role.get("Id"):
            sf.delete_contact_role(str(role["Id"]))


def _sync_solutions(sf: SalesforceClient, opp: Mapping[str, Any], wanted: list[dict[str, Any]]) -> None:
    """Make the opportunity's solution records hold exactly the wanted solutions (by solution id)."""
    opportunity_id = str(opp["Id"])
    have = {str(r.get(F.SOLUTION_ID)): r for r in _children(opp, F.SOLUTIONS_RELATIONSHIP)}
    want = {str(s["id"]): Solution(**s) for s in wanted}
    for solution_id, solution in want.items():
        if solution_id not in have:
            sf.create_solution(opportunity_id, salesforce_solution_fields(solution))
    for solution_id, record in have.items():
        if solution_id not in want and record.get("Id"):
            sf.delete_solution(str(record["Id"]))


def apply_salesforce_changes(
    sf: SalesforceClient,
    opp: Mapping[str, Any],
    changes: Mapping[str, Any],
    settings: Settings,
    *,
    known_note_digests: tuple[str, ...] = (),
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Write account, contacts, solutions and notes now; return the opportunity fields still to
    write (the caller writes them with the mark and the Audit field in one call) and the digests of
    the notes attached."""
    account_changes = salesforce_account_fields(changes, settings)
    if account_changes and opp.get("AccountId"):
        sf.update_account(str(opp["AccountId"]), account_changes)
    if "contacts" in changes:
        _sync_contacts(sf, opp, list(changes["contacts"] or []))
    if "solutions" in changes:
        _sync_solutions(sf, opp, list(changes["solutions"] or []))
    digests: tuple[str, ...] = ()
    notes = changes.get("notes")
    if notes and note_digest(notes) not in known_note_digests:
        sf.attach_note(str(opp["Id"]), note_title(notes), notes)
        digests = (note_digest(notes),)
    fields = salesforce_opportunity_fields(changes, settings, current_stage=opp.get("StageName"))
    return fields, digests


def _by_key(items: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    """One item per key, the first kept (as the stepwise path matches contacts by email and
    solutions by id)."""
    first: dict[str, dict[str, Any]] = {}
    for item in items:
        first.setdefault(key(item), item)
    return list(first.values())


def create_opportunity(
    sf: SalesforceClient, deal: CanonicalDeal, referral: Referral, settings: Settings
) -> tuple[str, str]:
    """B5: the opportunity with its account, contact roles, solutions and first note: in two API
    calls (`create_with_children`) when it is new, else stepwise by upsert on Referral Id
    (idempotent): a repeat after a crash finds the opportunity and fills in the rest.
    Returns the opportunity id and the close date written (Salesforce requires one; a referral may
    have none)."""
    assert referral.id
    values = deal.comparable()
    fields = salesforce_opportunity_fields(
        {k: v for k, v in values.items() if k not in ("contacts", "solutions", "referral_id")},
        settings,
        current_stage=None,
    )
    fields["StageName"] = stage_for_status(deal.status, deal.substatus, settings)
    fields["Name"] = with_mark(deal.name or deal.customer_name or f"Referral {referral.id}", True, settings)
    fields["CloseDate"] = (
        fields.get("CloseDate")
        or (datetime.now(UTC).date() + timedelta(days=_DEFAULT_CLOSE_DAYS)).isoformat()
    )
    fields[F.SYNC] = True
    fields[F.REFERRAL_LINK] = settings.pc_portal_referral_url.format(id=referral.id)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    fields[F.AUDIT] = f"{stamp} ✔ opportunity created from referral {referral.id}"
    fields = {k: v for k, v in fields.items() if v is not None}
    new = NewOpportunity(
        referral_id=referral.id,
        fields=fields,
        account_name=deal.customer_name,
        account_fields=salesforce_account_fields(values, settings),
        contacts=tuple(
            NewContact(c["email"], salesforce_contact_fields(c), primary=n == 0)
            for n, c in enumerate(_by_key(values["contacts"], lambda c: str(c.get("email") or "").lower()))
        ),
        solutions=tuple(
            salesforce_solution_fields(s) for s in _by_key(values["solutions"], lambda s: str(s["id"]))
        ),
        note=(note_title(deal.notes), deal.notes) if deal.notes else None,
    )
    created_id = create_with_children(sf, new)
    if created_id is not None:
        return created_id, str(fields["CloseDate"])
    # Stepwise: the opportunity exists already (a repeat) or the graph is too big for one call.
    account_id = None
    if deal.customer_name:
        account_id = sf.find_or_create_account(deal.customer_name, new.account_fields)
    if account_id:
        fields["AccountId"] = account_id
    opportunity_id, created = sf.upsert_opportunity_by_referral_id(referral.id, fields)
    current: Mapping[str, Any] = {"Id": opportunity_id, "AccountId": account_id}
    if not created:
        current = sf.get_opportunity(opportunity_id) or current
    _sync_contacts(sf, current, values["contacts"])
    _sync_solutions(sf, current, values["solutions"])
    if deal.notes and (created or note_title(deal.notes) not in sf.get_note_titles(opportunity_id)):
        sf.attach_note(opportunity_id, note_title(deal.notes), deal.notes)
    return opportunity_id, str(fields["CloseDate"])


__all__ = ["NOTE_TITLE", "apply_salesforce_changes", "create_opportunity", "note_digest", "note_title"]

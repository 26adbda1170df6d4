"""Applying canonical changes to Salesforce: the opportunity's fields, its account, contact roles,
solution records and notes. Only what changed is written; every step is safe to repeat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.config import Settings
from shared.core import salesforce_fields as F
from shared.core.canonical import Contact, Solution
from shared.core.custom_mappings import custom_mappings
from shared.core.mapping import (
    salesforce_account_fields,
    salesforce_contact_fields,
    salesforce_opportunity_fields,
    salesforce_solution_fields,
    size_for_employees,
)
from shared.core.notes import note_digest, note_title
from shared.sync.ports import SalesforcePort
from shared.sync.team_writes import sync_partner_team


def _children(opp: Mapping[str, Any], relationship: str) -> list[Mapping[str, Any]]:
    result = opp.get(relationship)
    return list(result.get("records") or []) if isinstance(result, Mapping) else []


def sync_contacts(sf: SalesforcePort, opp: Mapping[str, Any], wanted: list[dict[str, Any]]) -> None:
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


def sync_solutions(sf: SalesforcePort, opp: Mapping[str, Any], wanted: list[dict[str, Any]]) -> None:
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
    sf: SalesforcePort, opp: Mapping[str, Any], changes: Mapping[str, Any], settings: Settings
) -> dict[str, Any]:
    """Write account, contacts and solutions now; return the opportunity fields still to write (the
    caller writes them with the mark and the Audit field in one call)."""
    custom_opportunity, custom_account = custom_mappings(settings).salesforce_writes(changes)
    account_changes = {**salesforce_account_fields(changes, settings), **custom_account}
    current = opp.get("Account") if isinstance(opp.get("Account"), Mapping) else None
    if current and size_for_employees(current.get("NumberOfEmployees")) == changes.get("customer_size"):
        # A size bucket never overwrites a real employee count that lies inside it.
        account_changes.pop("NumberOfEmployees", None)
    if account_changes and opp.get("AccountId"):
        sf.update_account(str(opp["AccountId"]), account_changes)
    if "contacts" in changes:
        sync_contacts(sf, opp, list(changes["contacts"] or []))
    if "solutions" in changes:
        sync_solutions(sf, opp, list(changes["solutions"] or []))
    if "partner_team" in changes:
        sync_partner_team(sf, opp, list(changes["partner_team"] or []), settings)
    scalar = {key: value for key, value in changes.items() if key != "notes"}
    fields = salesforce_opportunity_fields(scalar, settings, current_stage=opp.get("StageName"))
    return {**fields, **custom_opportunity}


def attach_partner_center_notes(
    sf: SalesforcePort, opportunity_id: str, additions: tuple[str, ...], known_digests: tuple[str, ...]
) -> tuple[str, ...]:
    """One Salesforce note per Partner Center addition not attached before; their digests."""
    attached = []
    for text in additions:
        digest = note_digest(text)
        if digest not in known_digests:
            sf.attach_note(opportunity_id, note_title(text), text)
            attached.append(digest)
    return tuple(attached)

"""The create paths, both directions, in one place: a flagged opportunity without a referral becomes
a co-sell referral (behaviour B3), and a referral without an opportunity becomes one with its
account, contact roles, solutions and first note (B5). Each is idempotent: a repeat after a crash
finds what the first attempt made (externalReferenceId lookup, Referral Id upsert)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.config import Settings
from shared.core import salesforce_fields as F
from shared.core.audit_field import audit_line
from shared.core.canonical import CanonicalDeal
from shared.core.custom_mappings import custom_mappings
from shared.core.mapping import (
    deal_from_partner_center,
    deal_from_salesforce,
    partner_center_create_body,
    partner_center_patch,
    salesforce_account_fields,
    salesforce_contact_fields,
    salesforce_opportunity_fields,
    salesforce_solution_fields,
    stage_for_status,
    syncs_to_salesforce,
    with_mark,
)
from shared.core.mapping_partner_center import with_paths
from shared.core.notes import note_digest, note_title
from shared.core.referral import Referral
from shared.core.validation import validate_for_create
from shared.errors import PermanentError
from shared.salesforce.new_opportunity import NewContact, NewOpportunity
from shared.store.audit import Direction, Outcome
from shared.store.links import Link
from shared.sync.context import SyncContext, SyncResult
from shared.sync.opportunity_report import anchor_fields, fail, finish_salesforce, own_stamp
from shared.sync.pair_sync import sync_pair
from shared.sync.salesforce_writes import sync_contacts, sync_solutions
from shared.sync.team_writes import add_team_after_create

_DEFAULT_CLOSE_DAYS = 90  # Salesforce requires a close date; incoming leads may carry none


@dataclass(frozen=True)
class ReferralCreate:
    """The referral an opportunity would become, or why it cannot (`problems`)."""

    deal: CanonicalDeal
    body: dict[str, Any]
    problems: tuple[str, ...]


def referral_create(settings: Settings, opp: Mapping[str, Any]) -> ReferralCreate:
    deal = deal_from_salesforce(opp, settings)
    problems = tuple(validate_for_create(deal))
    body: dict[str, Any] = {}
    if not problems:
        custom = custom_mappings(settings).create_values_for_partner_center(opp)
        body = with_paths(partner_center_create_body(deal, settings), custom)
    return ReferralCreate(deal, body, problems)


def create_referral(ctx: SyncContext, opp: dict[str, Any]) -> SyncResult:
    """B3: a flagged opportunity without a referral becomes a co-sell referral."""
    opportunity_id = str(opp["Id"])
    planned = referral_create(ctx.settings, opp)
    if planned.problems:
        reason = "cannot create the referral: " + "; ".join(planned.problems)
        return fail(ctx, opp, reason, Direction.SF_TO_PC)
    with ctx.hold(f"opp-{opportunity_id}"):
        # Re-check under the claim: another worker may have created it a moment ago.
        existing = ctx.pc.find_by_external_reference(opportunity_id)
        if existing is not None and existing.id:
            with ctx.hold(f"ref-{existing.id}"):
                link = ctx.store.get(existing.id)
                return sync_pair(ctx, existing, opp, origin="salesforce", link=link)
        try:
            ctx.check_claim()
            referral = ctx.pc.create_referral(planned.body)
        except PermanentError as exc:
            reason = f"Partner Center refused the referral: {exc.message}"
            return fail(ctx, opp, reason, Direction.SF_TO_PC)
        _link_created_referral(ctx, opp, planned.deal, referral)
    assert referral.id
    return SyncResult(Outcome.OK, Direction.SF_TO_PC, "referral created", referral.id, opportunity_id, ("*",))


def _link_created_referral(
    ctx: SyncContext, opp: dict[str, Any], deal: CanonicalDeal, referral: Referral
) -> None:
    """Anchor the new referral on the opportunity (✔, Referral Id/Link, its status), then save the
    link. A crash before the link is saved is recovered by the externalReferenceId lookup."""
    assert referral.id
    opportunity_id = str(opp["Id"])
    wire = referral.to_wire()
    snapshot = _snapshot_after_create(deal, deal_from_partner_center(wire), opportunity_id)
    custom = custom_mappings(ctx.settings)
    snapshot.update(_filled(custom.from_partner_center(wire), custom.from_salesforce(opp)))
    pc_deal = deal_from_partner_center(wire)
    line = audit_line(True, f"referral {referral.id} created in Partner Center")
    link = Link(
        referral_id=referral.id, opportunity_id=opportunity_id, snapshot=snapshot, pc_state=referral.to_wire()
    ).with_audit(line)
    status = {"status": pc_deal.status, "substatus": pc_deal.substatus}
    fields = {
        **anchor_fields(ctx.settings, opp, referral.id),
        **salesforce_opportunity_fields(status, ctx.settings, current_stage=opp.get("StageName")),
    }
    fields.pop("StageName", None)  # the seller's stage stays as it is on create
    fresh = finish_salesforce(ctx, opp, fields, link, ok=True)
    ctx.store.save(replace(link, sf_stamp=own_stamp(ctx.settings, fresh, link)))


def _filled(first: dict[str, Any], fallback: dict[str, Any]) -> dict[str, Any]:
    return {key: value if value is not None else fallback.get(key) for key, value in first.items()}


def _snapshot_after_create(
    sf_deal: CanonicalDeal, pc_deal: CanonicalDeal, opportunity_id: str
) -> dict[str, Any]:
    """What both sides agree on right after a create: Partner Center's echo of what we sent, with
    the Salesforce-only values where Partner Center holds nothing of its own."""
    values = pc_deal.comparable()
    for key, value in sf_deal.comparable().items():
        if values.get(key) in (None, [], "") and value not in (None, [], ""):
            values[key] = value
    values["opportunity_id"] = opportunity_id
    return values


def create_opportunity(ctx: SyncContext, referral: Referral, link: Link | None) -> SyncResult:
    """B5: a referral with no opportunity becomes one. The caller holds the referral's claim."""
    assert referral.id
    referral_id = referral.id
    wire = referral.to_wire()
    if not syncs_to_salesforce(wire, ctx.settings):
        action = "lead, not co-sell (SYNC_COSELL_ONLY=Yes)"
        return SyncResult(Outcome.SKIPPED, Direction.PC_TO_SF, action, referral_id)
    deal = deal_from_partner_center(wire)
    ctx.check_claim()
    opportunity_id, close_date = write_new_opportunity(ctx, deal, referral)
    digests = (note_digest(deal.notes),) if deal.notes else ()
    custom = custom_mappings(ctx.settings).from_partner_center(wire)
    snapshot = {**deal.comparable(), **custom, "opportunity_id": opportunity_id}
    snapshot["partner_team"] = add_team_after_create(ctx.sf, opportunity_id, deal.partner_team, ctx.settings)
    if deal.close_date is None:
        # Salesforce needed a close date the referral lacks: give Partner Center the same one now,
        # rather than through a round of echoes.
        operations = partner_center_patch({"close_date": close_date}, wire)
        referral = ctx.pc.update_referral(referral_id, operations, etag=referral.e_tag)
        snapshot["close_date"] = close_date
    line = audit_line(True, f"opportunity created from referral {referral_id}")
    base = replace(link, pending=None, last_outcome="ok") if link else Link(referral_id=referral_id)
    saved = replace(base, opportunity_id=opportunity_id, snapshot=snapshot, pc_state=referral.to_wire())
    ctx.store.save(saved.with_audit(line).with_notes(digests))
    return SyncResult(
        Outcome.OK, Direction.PC_TO_SF, "opportunity created", referral_id, opportunity_id, ("*",)
    )


def new_opportunity(settings: Settings, deal: CanonicalDeal, referral: Mapping[str, Any]) -> NewOpportunity:
    """The opportunity a referral (wire form) becomes, with its account, contacts, solutions and
    first note, the custom mappings' values and CREATE_DEFAULTS. Only a referral received from
    Microsoft (direction Incoming) waits in the on-hold stage."""
    referral_id, direction = str(referral["id"]), referral.get("direction")
    custom = custom_mappings(settings)
    custom_opportunity, custom_account = custom.create_values_for_salesforce(referral)
    values = deal.comparable()
    skipped = ("contacts", "solutions", "referral_id", *(() if settings.notes_to_description else ("notes",)))
    scalar = {k: v for k, v in values.items() if k not in skipped}
    fields = {**custom_opportunity, **salesforce_opportunity_fields(scalar, settings, current_stage=None)}
    received = direction != "Outgoing"
    stage = stage_for_status(deal.status, deal.substatus, settings, received=received)
    fields["StageName"] = stage or settings.on_hold_stage_name  # an unknown status: the seller decides
    fields["Name"] = with_mark(deal.name or deal.customer_name or f"Referral {referral_id}", True, settings)
    default_close = datetime.now(UTC).date() + timedelta(days=_DEFAULT_CLOSE_DAYS)
    fields["CloseDate"] = fields.get("CloseDate") or default_close.isoformat()
    fields[F.SYNC] = True
    fields[F.REFERRAL_LINK] = settings.pc_portal_referral_url.format(id=referral_id)
    fields[F.AUDIT] = audit_line(True, f"opportunity created from referral {referral_id}")
    contacts = _first_per_key(values["contacts"], lambda c: str(c.get("email") or "").lower())
    contact_defaults = custom.create_defaults.get("Contact", {})
    return NewOpportunity(
        referral_id=referral_id,
        fields={k: v for k, v in fields.items() if v is not None},
        account_name=deal.customer_name,
        account_fields={**custom_account, **salesforce_account_fields(values, settings)},
        contacts=tuple(
            NewContact(c["email"], {**contact_defaults, **salesforce_contact_fields(c)}, primary=n == 0)
            for n, c in enumerate(contacts)
        ),
        solutions=tuple(
            salesforce_solution_fields(s) for s in _first_per_key(values["solutions"], lambda s: str(s["id"]))
        ),
        note=(note_title(deal.notes), deal.notes) if deal.notes else None,
    )


def write_new_opportunity(ctx: SyncContext, deal: CanonicalDeal, referral: Referral) -> tuple[str, str]:
    """Write the opportunity with its children: in two API calls (`create_with_children`) when it is
    new, else stepwise by upsert on Referral Id (idempotent): a repeat after a crash finds the
    opportunity and fills in the rest. Returns the opportunity id and the close date written."""
    assert referral.id
    new = new_opportunity(ctx.settings, deal, referral.to_wire())
    close_date = str(new.fields["CloseDate"])
    created_id = ctx.sf.create_with_children(new)
    if created_id is not None:
        return created_id, close_date
    # Stepwise: the opportunity exists already (a repeat) or the graph is too big for one call.
    sf, values, fields = ctx.sf, deal.comparable(), dict(new.fields)
    account_id = (
        sf.find_or_create_account(deal.customer_name, new.account_fields) if deal.customer_name else None
    )
    if account_id:
        fields["AccountId"] = account_id
    opportunity_id, created = sf.upsert_opportunity_by_referral_id(referral.id, fields)
    current: Mapping[str, Any] = {"Id": opportunity_id, "AccountId": account_id}
    if not created:
        current = sf.get_opportunity(opportunity_id) or current
    sync_contacts(sf, current, values["contacts"])
    sync_solutions(sf, current, values["solutions"])
    if deal.notes and (created or note_title(deal.notes) not in sf.get_note_titles(opportunity_id)):
        sf.attach_note(opportunity_id, note_title(deal.notes), deal.notes)
    return opportunity_id, close_date


def _first_per_key(items: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    """One item per key, the first kept (as the stepwise path matches contacts by email and
    solutions by id)."""
    first: dict[str, dict[str, Any]] = {}
    for item in items:
        first.setdefault(key(item), item)
    return list(first.values())

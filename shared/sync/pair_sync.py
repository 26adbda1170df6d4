"""The steady state: a linked pair is planned (merge against the last snapshot), then written in
phases — the write-ahead intent, Partner Center, Salesforce (children, then fields + mark + Audit
in one call), and the new snapshot last. The caller holds the deal's claim (Salesforce child
records have no ETag, so two workers must not write them for one deal at once)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shared.core.audit_field import audit_line
from shared.core.merge import MergeResult
from shared.core.notes import SELLER_NOTE_PREFIX, new_seller_note_ids
from shared.core.plan import Origin, PairPlan, plan_pair
from shared.core.referral import Referral
from shared.errors import PermanentError
from shared.store.audit import Direction, Outcome
from shared.store.links import Link
from shared.sync.context import SyncContext, SyncResult
from shared.sync.opportunity_report import anchor_fields, fail, finish_salesforce, mark_needs, own_stamp
from shared.sync.salesforce_writes import apply_salesforce_changes, attach_partner_center_notes
from shared.sync.team_writes import partner_team_view


def plan_for(
    ctx: SyncContext, referral: Referral, opp: dict[str, Any], origin: Origin, link: Link | None
) -> PairPlan:
    """The plan the engine executes and the dry run prints. Reads the text of seller notes not yet
    appended to the referral (a note's text is not on the opportunity record)."""
    new_notes = new_seller_note_ids(opp, link.note_digests if link else ())
    seller_notes = ctx.sf.get_seller_notes(new_notes) if new_notes else []
    team = partner_team_view(ctx.sf, ctx.settings, referral, opp, link.pc_state if link else None)
    return team.finish(plan_pair(
        ctx.settings, ctx.policy, team.referral, opp, link.snapshot if link else None,
        origin=origin, pending=link.pending if link else None, seller_notes=seller_notes,
    ))  # fmt: skip


def sync_pair(
    ctx: SyncContext, referral: Referral, opp: dict[str, Any], *, origin: Origin, link: Link | None
) -> SyncResult:
    assert referral.id
    opportunity_id = str(opp["Id"])
    plan = plan_for(ctx, referral, opp, origin, link)
    link = link or Link(referral_id=referral.id, opportunity_id=opportunity_id)
    if plan.problems:
        # Nothing is written until the seller fixes the record (e.g. hiding a visible referral).
        return fail(ctx, opp, "; ".join(plan.problems), Direction.SF_TO_PC, link=link)
    anchor = anchor_fields(ctx.settings, opp, referral.id)
    if _direction(plan) is Direction.NONE:
        return _settle(ctx, plan, opp, link, anchor=anchor, pc_state=referral.to_wire())
    link = _write_ahead(ctx, plan, link, opportunity_id)
    if plan.operations:
        try:
            ctx.check_claim()
            referral = ctx.pc.update_referral(referral.id, list(plan.operations), etag=referral.e_tag)
        except PermanentError as exc:
            reason = f"Partner Center refused the update: {exc.message}"
            return fail(ctx, opp, reason, Direction.SF_TO_PC, link=link)
    return _write_salesforce(ctx, plan, opp, replace(link, pc_state=referral.to_wire()), anchor)


def _settle(
    ctx: SyncContext,
    plan: PairPlan,
    opp: dict[str, Any],
    link: Link,
    *,
    anchor: dict[str, Any],
    pc_state: dict[str, Any],
) -> SyncResult:
    """Nothing to merge: save a changed snapshot, and fix the anchor or the mark if needed (e.g. a ✖
    left from a failure the seller has since fixed)."""
    opportunity_id = str(opp["Id"])
    refresh = bool(anchor) or mark_needs(ctx.settings, opp, ok=True)
    merged = plan.result.merged
    changed_link = (
        link.snapshot != merged
        or link.opportunity_id != opportunity_id
        or bool(link.pending)
        or link.pc_state != pc_state
    )
    link = replace(link, snapshot=merged, opportunity_id=opportunity_id, pending=None, pc_state=pc_state)
    if refresh:
        fresh = finish_salesforce(ctx, opp, anchor, link, ok=True)
        link = replace(link, sf_stamp=own_stamp(ctx.settings, fresh, link))
    if refresh or changed_link:
        ctx.store.save(link)
    if refresh:
        return SyncResult(
            Outcome.OK, Direction.PC_TO_SF, "link and mark refreshed", link.referral_id, opportunity_id
        )
    return SyncResult(Outcome.NOOP, Direction.NONE, "in sync", link.referral_id, opportunity_id)


def _write_ahead(ctx: SyncContext, plan: PairPlan, link: Link, opportunity_id: str) -> Link:
    """Should this job die between its writes and the snapshot save, the next sync still tells the
    writes that landed (our echoes) from edits made since."""
    intent = {"salesforce": plan.result.to_salesforce, "partner_center": plan.result.to_partner_center}
    return ctx.store.save(
        replace(link, snapshot=dict(plan.snapshot), pending=intent, opportunity_id=opportunity_id)
    )


def _write_salesforce(
    ctx: SyncContext, plan: PairPlan, opp: dict[str, Any], link: Link, anchor: dict[str, Any]
) -> SyncResult:
    result = plan.result
    direction = _direction(plan)
    notes_in = ("notes",) if plan.notes.to_salesforce else ()
    changed = tuple(sorted({*result.to_partner_center, *result.to_salesforce, *notes_in}))
    sf_fields: dict[str, Any] = dict(anchor)
    audit_before = link.audit_lines
    try:
        ctx.check_claim()
        if result.to_salesforce:
            sf_fields.update(apply_salesforce_changes(ctx.sf, opp, result.to_salesforce, ctx.settings))
        new_digests = (
            *attach_partner_center_notes(ctx.sf, str(opp["Id"]), plan.notes.to_salesforce, link.note_digests),
            *(SELLER_NOTE_PREFIX + note_id for note_id in plan.notes.seller_note_ids),
        )
        if ctx.settings.notes_to_description and (plan.notes.to_salesforce or plan.notes.seller_note_ids):
            sf_fields["Description"] = plan.notes.text
        link = replace(link, snapshot=result.merged, pending=None, last_outcome="ok")
        text = describe(direction, changed, result) + _adoption_note(plan)
        text += "".join(f"; {notice}" for notice in plan.notices)
        link = link.with_notes(new_digests).with_audit(audit_line(True, text))
        # Salesforce first, the link last: a worker that read the opportunity before this write
        # sees the link saved after its read, and reads again (see routing.route_linked_opportunity).
        # An update that only went to Partner Center writes nothing to Salesforce: its audit line
        # reaches the Audit field with the opportunity's next write (the audit table has it now).
        outgoing_only = (
            direction is Direction.SF_TO_PC
            and not sf_fields
            and not result.conflicts
            and not plan.adopted_from
        )
        fresh = finish_salesforce(ctx, opp, sf_fields, None if outgoing_only else link, ok=True)
        link = ctx.store.save(replace(link, sf_stamp=own_stamp(ctx.settings, fresh, link)))
    except PermanentError as exc:
        # E.g. a validation rule of the partner's org. Partner Center's side stays written (the
        # next sync finds both sides equal there); the fields meant for Salesforce keep their
        # base value, so they are still pending and the next sync tries them again, rather
        # than the snapshot claiming they landed (a later poll would then push Salesforce's
        # old value over Partner Center's: a lost update).
        pending = {key: plan.snapshot.get(key) for key in result.to_salesforce}
        link = replace(link, snapshot={**result.merged, **pending}, audit_lines=audit_before)
        reason = f"Salesforce refused the update: {exc.message}"
        return fail(ctx, opp, reason, Direction.PC_TO_SF, link=link)
    conflicts = tuple(f"{c.field}: {c.winner} won" for c in result.conflicts)
    action = "synced" + _adoption_note(plan)
    return SyncResult(Outcome.OK, direction, action, link.referral_id, str(opp["Id"]), changed, conflicts)


def _adoption_note(plan: PairPlan) -> str:
    """Without a snapshot the newer record's values won: say so (X2)."""
    if plan.adopted_from is None:
        return ""
    return f" (no snapshot: the {plan.adopted_from.replace('_', ' ')} record was newer and won)"


def _direction(plan: PairPlan) -> Direction:
    """Where the plan writes; notes from Partner Center count as a write to Salesforce."""
    direction = direction_of(plan.result)
    if plan.notes.to_salesforce and direction is Direction.NONE:
        return Direction.PC_TO_SF
    if plan.notes.to_salesforce and direction is Direction.SF_TO_PC:
        return Direction.BOTH
    return direction


def direction_of(result: MergeResult) -> Direction:
    if result.to_partner_center and result.to_salesforce:
        return Direction.BOTH
    if result.to_partner_center:
        return Direction.SF_TO_PC
    if result.to_salesforce:
        return Direction.PC_TO_SF
    return Direction.NONE


_ARROWS = {Direction.SF_TO_PC: "SF→PC", Direction.PC_TO_SF: "PC→SF", Direction.BOTH: "SF⇄PC"}


def describe(direction: Direction, changed: tuple[str, ...], result: MergeResult) -> str:
    text = f"{_ARROWS.get(direction, '')} {', '.join(changed)}"
    if result.conflicts:
        text += " (conflict: " + ", ".join(f"{c.field} → {c.winner}" for c in result.conflicts) + ")"
    return text

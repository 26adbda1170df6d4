"""What the opportunity shows of its sync: the Referral Id/Link anchor, the ✔/✖ mark in its name,
the Audit field, and a failure reported on it. Also the checks that tell our own echo (the
opportunity still holds exactly what was synced) from a seller's edit."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from typing import Any

from shared.config import Settings
from shared.core import salesforce_fields as F
from shared.core.audit_field import audit_line, audit_text, line_body
from shared.core.canonical import SYNCED_FIELDS
from shared.core.custom_mappings import PREFIX as CUSTOM_PREFIX
from shared.core.custom_mappings import custom_mappings
from shared.core.mapping import deal_from_partner_center, deal_from_salesforce, strip_mark, with_mark
from shared.core.notes import new_seller_note_ids
from shared.core.referral import Referral
from shared.errors import ConflictError, PermanentError
from shared.store.audit import Direction, Outcome
from shared.store.links import Link
from shared.sync.context import SyncContext, SyncResult

log = logging.getLogger("cosell_sync.engine")


def anchor_fields(settings: Settings, opp: dict[str, Any], referral_id: str) -> dict[str, Any]:
    """The Referral Id is the link's anchor in Salesforce: a crash after creating the referral can
    leave it unwritten, and the merge never reverts Salesforce-side edits of it."""
    if opp.get(F.REFERRAL_ID) == referral_id:
        return {}
    return {
        F.REFERRAL_ID: referral_id,
        F.REFERRAL_LINK: settings.pc_portal_referral_url.format(id=referral_id),
    }


def mark_needs(settings: Settings, opp: dict[str, Any], *, ok: bool) -> bool:
    if not settings.check_mark_in_name:
        return False
    name = str(opp.get("Name") or "")
    return name != with_mark(strip_mark(name), ok, settings)


def unchanged(values: dict[str, Any], link: Link) -> bool:
    """One side's values equal the last synced snapshot in every synced field (custom ones too)."""
    keys = (*SYNCED_FIELDS, *(k for k in values if k.startswith(CUSTOM_PREFIX)))
    return bool(link.snapshot) and all(values.get(key) == link.snapshot.get(key) for key in keys)


def partner_center_unchanged(settings: Settings, referral: Referral, link: Link) -> bool:
    wire = referral.to_wire()
    values = {
        **deal_from_partner_center(wire).comparable(),
        **custom_mappings(settings).from_partner_center(wire),
        "referral_id": link.referral_id,
        "opportunity_id": link.opportunity_id,
    }
    return unchanged(values, link)


def salesforce_unchanged(settings: Settings, opp: dict[str, Any], link: Link, referral_id: str) -> bool:
    """The opportunity still holds what was last synced (so only Partner Center could be ahead),
    carries no seller note not yet sent, its Referral Id anchor is in place and its mark is ✔."""
    values = {
        **deal_from_salesforce(opp, settings).comparable(),
        **custom_mappings(settings).from_salesforce(opp),
        "referral_id": referral_id,
        "opportunity_id": str(opp["Id"]),
        # Notes are not a field of the opportunity (its Description is the seller's; see
        # shared.core.notes): new seller notes are checked below instead.
        "notes": link.snapshot.get("notes"),
    }
    return (
        unchanged(values, link)
        and not new_seller_note_ids(opp, link.note_digests)
        and not anchor_fields(settings, opp, referral_id)
        and not mark_needs(settings, opp, ok=True)
    )


def own_stamp(settings: Settings, fresh: dict[str, Any] | None, link: Link) -> str | None:
    """The SystemModstamp of the version we just wrote, if it holds exactly what was synced
    (then its echo in the next poll can be skipped); None when someone else's edit is in it too."""
    if fresh is None:
        return link.sf_stamp
    if salesforce_unchanged(settings, fresh, link, link.referral_id):
        return str(fresh.get("SystemModstamp") or "") or None
    return None


def finish_salesforce(
    ctx: SyncContext, opp: dict[str, Any], fields: dict[str, Any], link: Link | None, *, ok: bool
) -> dict[str, Any] | None:
    """One opportunity write: the changed fields, the ✔/✖ mark and the Audit field. Returns the
    opportunity as written (read back in the same API call), or None when nothing changed."""
    settings = ctx.settings
    fields = dict(fields)
    name = str(fields.get("Name") or strip_mark(str(opp.get("Name") or "")))
    if settings.check_mark_in_name:
        fields["Name"] = with_mark(strip_mark(name), ok, settings)
    elif "Name" in fields:
        fields["Name"] = strip_mark(name)
    if link is not None:
        fields[F.AUDIT] = audit_text(link.audit_lines, settings.audit_field_max_chars)
    fields = {k: v for k, v in fields.items() if opp.get(k) != v}
    if not fields:
        return None
    ctx.check_claim()
    return ctx.sf.update_opportunity_and_read(str(opp["Id"]), fields)


def fail(
    ctx: SyncContext, opp: dict[str, Any], reason: str, direction: Direction, *, link: Link | None = None
) -> SyncResult:
    """A permanent problem: ✖ and the reason on the opportunity, then the job completes."""
    opportunity_id = str(opp["Id"])
    referral_id = str(opp.get(F.REFERRAL_ID) or "")
    line = audit_line(False, reason)
    current = str(opp.get(F.AUDIT) or "")
    first = current.splitlines()[0] if current else ""
    if line_body(first) != line_body(line) or mark_needs(ctx.settings, opp, ok=False):
        # Written only when the failure is new: rewriting the same failure would echo back as a
        # change on the next poll and loop forever.
        lines = (line, *(current.splitlines() if link is None else link.audit_lines))
        _report_failure(ctx, opp, lines)
        if link is not None:
            with contextlib.suppress(ConflictError):
                ctx.store.save(replace(link.with_audit(line), last_outcome="failed", pending=None))
    return SyncResult(Outcome.FAILED, direction, "sync failed", referral_id, opportunity_id, error=reason)


def _report_failure(ctx: SyncContext, opp: dict[str, Any], lines: tuple[str, ...]) -> None:
    settings = ctx.settings
    fields: dict[str, Any] = {F.AUDIT: audit_text(lines, settings.audit_field_max_chars)}
    if settings.check_mark_in_name:
        fields["Name"] = with_mark(strip_mark(str(opp.get("Name") or "")), False, settings)
    try:
        ctx.sf.update_opportunity(str(opp["Id"]), {k: v for k, v in fields.items() if opp.get(k) != v})
    except PermanentError as exc:
        log.error("could not even report the failure on %s: %s", opp["Id"], exc)

"""What sellers do to a linked deal besides editing it: turn Sync off (the pair pauses both ways),
turn it on again (the pair resumes with a three-way merge against the snapshot kept while paused),
delete the opportunity (the pair is unlinked; Partner Center is left as it is) and restore it from the
recycle bin (the pair is linked again). Each change of state is one line in the link's audit and
one audit row; repeats change nothing."""

from __future__ import annotations

from dataclasses import replace

from shared.core.audit_field import audit_line
from shared.store.audit import Direction, Outcome
from shared.store.links import Link
from shared.sync.context import SyncContext, SyncResult
from shared.sync.routing import DELETED, PAUSED, Pause, Unlink


def pause(ctx: SyncContext, step: Pause) -> SyncResult:
    link = step.link
    if link.last_outcome != PAUSED:
        line = audit_line(
            True, "paused: Sync with Partner Center turned off; nothing syncs until it is on again"
        )
        ctx.store.save(replace(link.with_audit(line), last_outcome=PAUSED))
        action = "paused"
    else:
        action = "paused: Sync with Partner Center is off"
    return SyncResult(Outcome.SKIPPED, Direction.NONE, action, link.referral_id, step.opportunity_id)


def unlink(ctx: SyncContext, step: Unlink) -> SyncResult:
    line = audit_line(
        False,
        f"opportunity {step.opportunity_id} deleted in Salesforce: unlinked, Partner Center left as it is"
        + (
            " (re-created on the referral's next change)"
            if ctx.settings.on_opportunity_deleted == "recreate"
            else ""
        ),
    )
    ctx.store.save(replace(step.link.with_audit(line), last_outcome=DELETED, pending=None))
    return SyncResult(
        Outcome.SKIPPED,
        Direction.NONE,
        "opportunity deleted: unlinked",
        step.link.referral_id,
        step.opportunity_id,
    )


def resume(ctx: SyncContext, link: Link | None) -> Link | None:
    """A paused pair whose Sync is on again, or a deleted opportunity restored: back to syncing.
    The snapshot is the one from before, so the merge that follows sees both sides' edits."""
    if link is None or link.last_outcome not in (PAUSED, DELETED):
        return link
    text = (
        "resumed: Sync with Partner Center on again"
        if link.last_outcome == PAUSED
        else "opportunity restored: linked again"
    )
    return ctx.store.save(replace(link.with_audit(audit_line(True, text)), last_outcome="ok"))

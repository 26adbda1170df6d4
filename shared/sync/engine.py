"""Runs one sync job: read both sides fresh, merge against the last synced snapshot, write only the
differences, save the snapshot with its ETag, audit, and mark the opportunity ✔/✖.

Loop-free by construction: our own writes come back as webhooks and polls, but the merge then finds
both sides equal to the snapshot and writes nothing (not even the audit field or the mark).

The decision tree is `routing`; this module executes its steps (`creates`, `pair_sync`).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from shared.errors import ConflictError, PermanentError, TransientError
from shared.jobs import RecordKind, SyncJob
from shared.store.audit import Direction, Outcome
from shared.sync.context import SyncContext, SyncResult
from shared.sync.creates import create_opportunity, create_referral
from shared.sync.lifecycle import pause, resume, unlink
from shared.sync.opportunity_report import fail
from shared.sync.pair_sync import sync_pair
from shared.sync.routing import (
    BadAnchor,
    Broken,
    CreateOpportunity,
    CreateReferral,
    Done,
    Linked,
    Pause,
    Step,
    Unlink,
    own_echo,
    precheck_referral,
    route_linked_opportunity,
    route_opportunity,
    route_referral,
)

log = logging.getLogger("cosell_sync.engine")

_RACE_ATTEMPTS = 4
_RELATED_EVENTS = ("related-referral-created", "related-referral-updated")


class SyncEngine:
    """One job's logic over the ports in `ctx` (the queue worker, tests and ops all use it)."""

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx

    def run(self, job: SyncJob) -> SyncResult:
        if (echo := own_echo(self.ctx, job)) is not None:
            return echo.result
        for attempt in range(1, _RACE_ATTEMPTS + 1):
            try:
                if job.kind is RecordKind.OPPORTUNITY:
                    return self.from_opportunity(job.record_id)
                if job.event in _RELATED_EVENTS:
                    return self.from_related_referral(job.record_id)
                return self.from_referral(job.record_id)
            except ConflictError as exc:
                log.info("job %s lost a race (%s), re-reading (attempt %s)", job.trace_id, exc, attempt)
                self.ctx.cached_referrals = False
            except PermanentError as exc:
                # Refused for good with no opportunity to mark (e.g. creating one from a referral).
                return SyncResult(
                    Outcome.FAILED, Direction.NONE, "sync failed", job.record_id, error=str(exc)
                )
        raise TransientError(
            f"record kept changing during {_RACE_ATTEMPTS} sync attempts", record_id=job.record_id
        )

    def from_opportunity(self, opportunity_id: str) -> SyncResult:
        routed = route_opportunity(self.ctx, opportunity_id)
        if isinstance(routed, Linked):
            with self.ctx.hold(f"ref-{routed.referral_id}"):
                return self.execute(route_linked_opportunity(self.ctx, routed))
        if isinstance(routed, Unlink):
            with self.ctx.hold(f"ref-{routed.link.referral_id}"):
                return self.execute(routed)
        return self.execute(routed)

    def from_referral(self, referral_id: str) -> SyncResult:
        # Answers that write nothing need no claim (most webhooks are echoes of our own writes);
        # anything else is routed under the claim, with what was read reused only while still fresh.
        seen = precheck_referral(self.ctx, referral_id)
        if isinstance(seen, Done):
            return seen.result
        with self.ctx.hold(f"ref-{referral_id}"):
            return self.execute(route_referral(self.ctx, referral_id, seen))

    def execute(self, step: Step) -> SyncResult:
        if isinstance(step, Done):
            return step.result
        if isinstance(step, Broken):
            return fail(self.ctx, step.opp, step.reason, Direction.SF_TO_PC, link=step.link)
        if isinstance(step, BadAnchor):
            return fail(self.ctx, step.opp, step.reason, Direction.SF_TO_PC)
        if isinstance(step, CreateReferral):
            return create_referral(self.ctx, step.opp)
        if isinstance(step, CreateOpportunity):
            return create_opportunity(self.ctx, step.referral, step.link)
        if isinstance(step, Pause):
            return pause(self.ctx, step)
        if isinstance(step, Unlink):
            return unlink(self.ctx, step)
        link = resume(self.ctx, step.link)
        return sync_pair(self.ctx, step.referral, step.opp, origin=step.origin, link=link)

    def from_related_referral(self, related_id: str) -> SyncResult:
        """Microsoft's side of a co-sell deal changed: sync our referral(s) in the same engagement.
        Microsoft's side may be one we are not allowed to read (403): then there is nothing to do."""
        try:
            related = self.ctx.pc.get_referral(related_id)
        except PermanentError as exc:
            if exc.status in (403, 404):
                return SyncResult(
                    Outcome.SKIPPED,
                    Direction.NONE,
                    f"related referral not readable ({exc.status})",
                    related_id,
                )
            raise
        if self.ctx.store.get(related_id) is not None or not related.engagement_id:
            return self.from_referral(related_id)
        results = [
            self.from_referral(sibling.id)
            for sibling in self.ctx.pc.related_referrals(related.engagement_id)
            if sibling.id
            and sibling.id != related_id
            and (self.ctx.store.get(sibling.id) or sibling.external_reference_id)
        ]
        if not results:
            return SyncResult(
                Outcome.SKIPPED, Direction.NONE, "related referral of no linked deal", related_id
            )
        changed = tuple(f for r in results for f in r.changed_fields)
        worst = next((r for r in results if r.outcome is Outcome.FAILED), results[0])
        return replace(worst, changed_fields=changed, action=f"related referral: {worst.action}")

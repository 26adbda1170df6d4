"""Runs one sync job: read both sides fresh, merge against the last synced snapshot, write only the
differences, save the snapshot with its ETag, audit, and mark the opportunity ✔/✖.

Loop-free by construction: our own writes come back as webhooks and polls, but the merge then finds
both sides equal to the snapshot and writes nothing (not even the audit field or the mark).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import clients
from shared.config import Settings
from shared.errors import ConfigError, ConflictError, PermanentError, TransientError
from shared.partner_center.client import PartnerCenterClient
from shared.partner_center.models import Referral
from shared.salesforce import fields as F
from shared.salesforce.client import SalesforceClient, looks_like_opportunity_id
from shared.store import audit, claims, job_queue, links
from shared.store.audit import AuditEntry, Direction, Outcome
from shared.store.links import Link
from shared.sync.canonical import SYNCED_FIELDS, CanonicalDeal
from shared.sync.jobs import JobSource, RecordKind, SyncJob
from shared.sync.mapping import (
    deal_from_partner_center,
    deal_from_salesforce,
    partner_center_create_body,
    partner_center_patch,
    salesforce_opportunity_fields,
    strip_mark,
    syncs_to_salesforce,
    with_mark,
)
from shared.sync.merge import MergeResult, OwnerPolicy
from shared.sync.plan import Origin, plan_pair
from shared.sync.salesforce_writes import apply_salesforce_changes, create_opportunity, note_digest
from shared.sync.validation import validate_for_create
from shared.telemetry import record_sync

log = logging.getLogger("cosell_sync.engine")

_RACE_ATTEMPTS = 4
_RELATED_EVENTS = ("related-referral-created", "related-referral-updated")
_QUEUE_RETRY_THRESHOLD_S = 10.0  # longer waits are re-enqueued instead of holding a worker
_CLAIM_TTL_S = 60  # each API write retries inline for well under half of this
_STALE_MARGIN = timedelta(seconds=1)  # clock skew between instances (NTP keeps it far below)


@dataclass(frozen=True)
class SyncResult:
    outcome: Outcome
    direction: Direction
    action: str
    referral_id: str = ""
    opportunity_id: str = ""
    changed_fields: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    error: str = ""


def run_job(
    job: SyncJob,
    *,
    settings: Settings,
    dequeue_count: int = 1,
    pc: PartnerCenterClient | None = None,
    sf: SalesforceClient | None = None,
) -> SyncResult:
    """The worker's entry point. Returns normally when the job is done (synced, skipped, or failed
    permanently and reported); raises to let the queue retry (and finally poison) the message."""
    engine = SyncEngine(settings, pc or clients.partner_center(settings), sf or clients.salesforce(settings))
    started = time.monotonic()
    try:
        result = engine.run(job)
    except TransientError as exc:
        return _retry_later(job, exc, settings, dequeue_count, started)
    except ConfigError as exc:
        _audit(settings, job, SyncResult(Outcome.RETRYING, Direction.NONE, "sync", error=str(exc)), started)
        log.error("configuration problem, job %s will be retried: %s", job.trace_id, exc)
        raise
    _audit(settings, job, result, started)
    return result


def _retry_later(
    job: SyncJob, exc: TransientError, settings: Settings, dequeue_count: int, started: float
) -> SyncResult:
    result = SyncResult(Outcome.RETRYING, Direction.NONE, "sync", job.record_id, error=str(exc))
    _audit(settings, job, result, started)
    wait = exc.retry_after or 0.0
    if wait > _QUEUE_RETRY_THRESHOLD_S and job.attempt < 20:
        # A long Retry-After: park the job on the queue instead of holding a worker or burning a dequeue.
        delay = int(min(wait, settings.retry_delay_max_seconds))
        retry = job.model_copy(update={"attempt": job.attempt + 1, "source": JobSource.RETRY})
        job_queue.enqueue(settings, [retry], delay_seconds=delay)
        log.warning("job %s throttled; re-enqueued to run in %ss", job.trace_id, delay)
        return result
    log.warning(
        "job %s failed transiently (dequeue %s), the queue retries it: %s", job.trace_id, dequeue_count, exc
    )
    raise exc


def _audit(settings: Settings, job: SyncJob, result: SyncResult, started: float) -> None:
    latency_ms = (datetime.now(UTC) - job.observed_at).total_seconds() * 1000
    try:
        audit.write(
            settings,
            AuditEntry(
                trace_id=job.trace_id,
                action=result.action,
                outcome=result.outcome,
                direction=result.direction,
                record_kind=job.kind.value,
                record_id=job.record_id,
                referral_id=result.referral_id,
                opportunity_id=result.opportunity_id,
                source=job.source.value,
                changed_fields=result.changed_fields,
                conflicts=result.conflicts,
                error=result.error,
                latency_ms=latency_ms,
            ),
        )
    except Exception:  # an audit write must never turn a finished sync into a retry
        log.exception("could not write the audit entry for job %s", job.trace_id)
    record_sync(result.direction.value, result.outcome.value, latency_ms, job.kind.value)
    log.info(
        "job %s %s %s: %s %s in %.0f ms%s",
        job.trace_id, job.kind.value, job.record_id, result.action, result.outcome.value,
        (time.monotonic() - started) * 1000, f" ({result.error})" if result.error else "",
    )  # fmt: skip


def _audit_line(ok: bool, text: str, at: datetime | None = None) -> str:
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{stamp} {'✔' if ok else '✖'} {text}"


def _line_body(line: str) -> str:
    """An audit line without its timestamp (to tell a repeated failure from a new one)."""
    parts = line.split(" ", 2)
    return parts[2] if len(parts) == 3 else line


class SyncEngine:
    """One job's logic, over injected clients (the queue worker, tests and ops all use it)."""

    def __init__(self, settings: Settings, pc: PartnerCenterClient, sf: SalesforceClient) -> None:
        self.settings = settings
        self.pc = pc
        self.sf = sf
        self.policy = OwnerPolicy.from_settings(settings)
        self._write_deadlines: list[float] = []

    @contextmanager
    def _hold(self, key: str) -> Iterator[None]:
        """Hold the deal's claim. A claim expires (so a dead worker cannot block a deal forever);
        writes are only started while it is young enough to outlive them (`_check_claim`)."""
        with claims.claim(self.settings, key, ttl_seconds=_CLAIM_TTL_S):
            self._write_deadlines.append(time.monotonic() + _CLAIM_TTL_S / 2)
            try:
                yield
            finally:
                self._write_deadlines.pop()

    def _check_claim(self) -> None:
        """Refuse to start a write once the claim is half-way to expiry: another worker may take it
        over at expiry, and a write started later could land after that worker's (a lost update)."""
        if self._write_deadlines and time.monotonic() > min(self._write_deadlines):
            raise TransientError("the sync took too long to write safely; it runs again with fresh reads")

    # ------------------------------------------------------------------ dispatch
    def run(self, job: SyncJob) -> SyncResult:
        for attempt in range(1, _RACE_ATTEMPTS + 1):
            try:
                if job.kind is RecordKind.OPPORTUNITY:
                    return self._from_opportunity(job.record_id)
                if job.event in _RELATED_EVENTS:
                    return self._from_related_referral(job.record_id)
                return self._from_referral(job.record_id)
            except ConflictError as exc:
                log.info("job %s lost a race (%s), re-reading (attempt %s)", job.trace_id, exc, attempt)
            except PermanentError as exc:
                # Refused for good with no opportunity to mark (e.g. creating one from a referral).
                return SyncResult(
                    Outcome.FAILED, Direction.NONE, "sync failed", job.record_id, error=str(exc)
                )
        raise TransientError(
            f"record kept changing during {_RACE_ATTEMPTS} sync attempts", record_id=job.record_id
        )

    def _from_opportunity(self, opportunity_id: str) -> SyncResult:
        opp, read_at = self._read_opportunity(opportunity_id)
        if opp is None:
            return SyncResult(
                Outcome.SKIPPED, Direction.NONE, "opportunity not found", opportunity_id=opportunity_id
            )
        referral_id = opp.get(F.REFERRAL_ID)
        if not referral_id:
            if not opp.get(F.SYNC):
                return SyncResult(
                    Outcome.SKIPPED, Direction.NONE, "not flagged for sync", opportunity_id=opportunity_id
                )
            existing = self.pc.find_by_external_reference(opportunity_id)
            if existing is None:
                return self._create_referral(opp)
            # A referral we created before crashing (or before the Referral Id write landed): adopt it.
            assert existing.id
            referral_id = existing.id
        with self._hold(f"ref-{referral_id}"):
            link = links.get(self.settings, referral_id)
            if not opp.get(F.SYNC) and link is None:
                return SyncResult(
                    Outcome.SKIPPED, Direction.NONE, "not flagged for sync", referral_id, opportunity_id
                )
            if link is not None and link.synced_at and link.synced_at >= read_at - _STALE_MARGIN:
                # The link is saved after every write, so a link saved after our read means another
                # worker may have changed the opportunity since: read it again.
                opp, _ = self._read_opportunity(opportunity_id)
                if opp is None:
                    return SyncResult(Outcome.SKIPPED, Direction.NONE, "opportunity not found", referral_id)
            if link is not None and not link.pending and self._salesforce_unchanged(opp, link, referral_id):
                # Typically the echo of our own write. Partner Center's changes reach us by webhook
                # (and reconcile), so there is nothing to push and no need to read the referral.
                return SyncResult(Outcome.NOOP, Direction.NONE, "in sync", referral_id, opportunity_id)
            try:
                referral = self.pc.get_referral(referral_id)
            except PermanentError as exc:
                if exc.status == 404:
                    return self._fail(
                        opp,
                        f"referral {referral_id} not found in Partner Center",
                        Direction.SF_TO_PC,
                        link=link,
                    )
                raise
            return self._sync_pair(referral, opp, origin="salesforce", link=link)

    def _salesforce_unchanged(self, opp: dict[str, Any], link: Link, referral_id: str) -> bool:
        """The opportunity still holds what was last synced (so only Partner Center could be ahead),
        its Referral Id anchor is in place and its mark is ✔."""
        values = {
            **deal_from_salesforce(opp, self.settings).comparable(),
            "referral_id": referral_id,
            "opportunity_id": str(opp["Id"]),
        }
        return (
            _unchanged(values, link)
            and not self._anchor_fields(opp, referral_id)
            and not self._mark_needs(opp, ok=True)
        )

    def _read_opportunity(self, opportunity_id: str) -> tuple[dict[str, Any] | None, datetime]:
        read_at = datetime.now(UTC)
        return self.sf.get_opportunity(opportunity_id), read_at

    def _from_referral(self, referral_id: str) -> SyncResult:
        # The claim comes first, so everything read below is fresh for the writes that follow.
        with self._hold(f"ref-{referral_id}"):
            try:
                referral = self.pc.get_referral(referral_id)
            except PermanentError as exc:
                if exc.status == 404:
                    return SyncResult(
                        Outcome.SKIPPED, Direction.NONE, "referral not found", referral_id=referral_id
                    )
                raise
            link = links.get(self.settings, referral_id)
            if (
                link is not None
                and link.opportunity_id
                and not link.pending
                and _unchanged(_pc_values(referral, link), link)
            ):
                # The echo of our own write, or a change of nothing we sync: Salesforce's changes reach
                # us through the poll, so there is no need to read the opportunity.
                return SyncResult(Outcome.NOOP, Direction.NONE, "in sync", referral_id, link.opportunity_id)
            opp = None
            if link and link.opportunity_id:
                opp = self.sf.get_opportunity(link.opportunity_id)
            if opp is None:
                opp = self.sf.get_opportunity_by_referral_id(referral_id)
            if opp is None and looks_like_opportunity_id(referral.external_reference_id or ""):
                candidate = self.sf.get_opportunity(str(referral.external_reference_id))
                if candidate is not None and candidate.get(F.REFERRAL_ID) in (None, "", referral_id):
                    opp = candidate
            if opp is None:
                return self._create_opportunity(referral, link)
            return self._sync_pair(referral, opp, origin="partner_center", link=link)

    def _from_related_referral(self, related_id: str) -> SyncResult:
        """Microsoft's side of a co-sell deal changed: sync our referral(s) in the same engagement."""
        related = self.pc.get_referral(related_id)
        if links.get(self.settings, related_id) is not None or not related.engagement_id:
            return self._from_referral(related_id)
        results = []
        for sibling in self.pc.related_referrals(related.engagement_id):
            if (
                sibling.id
                and sibling.id != related_id
                and (links.get(self.settings, sibling.id) or sibling.external_reference_id)
            ):
                results.append(self._from_referral(sibling.id))
        if not results:
            return SyncResult(
                Outcome.SKIPPED, Direction.NONE, "related referral of no linked deal", related_id
            )
        changed = tuple(f for r in results for f in r.changed_fields)
        worst = next((r for r in results if r.outcome is Outcome.FAILED), results[0])
        return replace(worst, changed_fields=changed, action=f"related referral: {worst.action}")

    # ------------------------------------------------------------------ creates
    def _create_referral(self, opp: dict[str, Any]) -> SyncResult:
        """B3: a flagged opportunity without a referral becomes a co-sell referral."""
        opportunity_id = str(opp["Id"])
        deal = deal_from_salesforce(opp, self.settings)
        problems = validate_for_create(deal)
        if problems:
            return self._fail(opp, "cannot create the referral: " + "; ".join(problems), Direction.SF_TO_PC)
        with self._hold(f"opp-{opportunity_id}"):
            # Re-check under the claim: another worker may have created it a moment ago.
            existing = self.pc.find_by_external_reference(opportunity_id)
            if existing is not None and existing.id:
                with self._hold(f"ref-{existing.id}"):
                    link = links.get(self.settings, existing.id)
                    return self._sync_pair(existing, opp, origin="salesforce", link=link)
            try:
                self._check_claim()
                referral = self.pc.create_referral(partner_center_create_body(deal, self.settings))
            except PermanentError as exc:
                return self._fail(
                    opp, f"Partner Center refused the referral: {exc.message}", Direction.SF_TO_PC
                )
            assert referral.id
            pc_deal = deal_from_partner_center(referral.to_wire())
            snapshot = _snapshot_after_create(deal, pc_deal, opportunity_id)
            line = _audit_line(True, f"referral {referral.id} created in Partner Center")
            link = Link(referral_id=referral.id, opportunity_id=opportunity_id, snapshot=snapshot).with_audit(
                line
            )
            fields = {
                **self._anchor_fields(opp, referral.id),
                **salesforce_opportunity_fields(
                    {"status": pc_deal.status, "substatus": pc_deal.substatus},
                    self.settings,
                    current_stage=opp.get("StageName"),
                ),
            }
            fields.pop("StageName", None)  # the seller's stage stays as it is on create
            # A crash before the link is saved is recovered by the externalReferenceId lookup above.
            fresh = self._finish_salesforce(opp, fields, link, ok=True)
            links.save(self.settings, replace(link, sf_stamp=self._own_stamp(fresh, link)))
        return SyncResult(
            Outcome.OK,
            Direction.SF_TO_PC,
            "referral created",
            referral.id,
            opportunity_id,
            changed_fields=("*",),
        )

    def _create_opportunity(self, referral: Referral, link: Link | None) -> SyncResult:
        """B5: a referral with no opportunity becomes one (account, contact, roles, solutions, notes).
        The caller holds the referral's claim."""
        assert referral.id
        wire = referral.to_wire()
        if not syncs_to_salesforce(wire, self.settings):
            return SyncResult(
                Outcome.SKIPPED, Direction.PC_TO_SF, "lead, not co-sell (SYNC_COSELL_ONLY=Yes)", referral.id
            )
        deal = deal_from_partner_center(wire)
        self._check_claim()
        opportunity_id, close_date = create_opportunity(self.sf, deal, referral, self.settings)
        digests = (note_digest(deal.notes),) if deal.notes else ()
        snapshot = {**deal.comparable(), "opportunity_id": opportunity_id}
        if deal.close_date is None:
            # Salesforce needed a close date the referral lacks: give Partner Center the same one now,
            # rather than through a round of echoes.
            operations = partner_center_patch({"close_date": close_date}, wire)
            self.pc.update_referral(referral.id, operations, etag=referral.e_tag)
            snapshot["close_date"] = close_date
        line = _audit_line(True, f"opportunity created from referral {referral.id}")
        base = replace(link, pending=None) if link else Link(referral_id=referral.id)
        links.save(
            self.settings,
            replace(base, opportunity_id=opportunity_id, snapshot=snapshot)
            .with_audit(line)
            .with_notes(digests),
        )
        return SyncResult(
            Outcome.OK, Direction.PC_TO_SF, "opportunity created", referral.id, opportunity_id, ("*",)
        )

    # ------------------------------------------------------------------ the steady state
    def _sync_pair(
        self, referral: Referral, opp: dict[str, Any], *, origin: Origin, link: Link | None
    ) -> SyncResult:
        """Merge and write; the caller holds the deal's claim (Salesforce child records have no ETag,
        so two workers must not write them for one deal at once)."""
        assert referral.id
        opportunity_id = str(opp["Id"])
        plan = plan_pair(
            self.settings, self.policy, referral, opp, link.snapshot if link else None,
            origin=origin, pending=link.pending if link else None,
        )  # fmt: skip
        link = link or Link(referral_id=referral.id, opportunity_id=opportunity_id)
        result = plan.result
        if plan.problems:
            # Nothing is written until the seller fixes the record (e.g. hiding a visible referral).
            return self._fail(opp, "; ".join(plan.problems), Direction.SF_TO_PC, link=link)

        direction = _direction(result)
        # The Referral Id is the link's anchor in Salesforce: a crash after creating the referral can
        # leave it unwritten, and the merge never reverts Salesforce-side edits of it.
        anchor = self._anchor_fields(opp, referral.id)
        if direction is Direction.NONE:
            # The mark may still need fixing (e.g. a ✖ left from a failure the seller has since fixed).
            refresh = bool(anchor) or self._mark_needs(opp, ok=True)
            changed_link = (
                link.snapshot != result.merged or link.opportunity_id != opportunity_id or bool(link.pending)
            )
            link = replace(link, snapshot=result.merged, opportunity_id=opportunity_id, pending=None)
            if refresh:
                fresh = self._finish_salesforce(opp, anchor, link, ok=True)
                link = replace(link, sf_stamp=self._own_stamp(fresh, link))
            if refresh or changed_link:
                links.save(self.settings, link)
            if refresh:
                return SyncResult(
                    Outcome.OK, Direction.PC_TO_SF, "link and mark refreshed", referral.id, opportunity_id
                )
            return SyncResult(Outcome.NOOP, Direction.NONE, "in sync", referral.id, opportunity_id)

        # Write-ahead: should this job die between its writes and the snapshot save below, the next
        # sync still tells the writes that landed (our echoes) from edits made since.
        intent = {"salesforce": result.to_salesforce, "partner_center": result.to_partner_center}
        link = links.save(
            self.settings,
            replace(link, snapshot=dict(plan.snapshot), pending=intent, opportunity_id=opportunity_id),
        )
        if plan.operations:
            try:
                self._check_claim()
                referral = self.pc.update_referral(referral.id, list(plan.operations), etag=referral.e_tag)
            except PermanentError as exc:
                return self._fail(
                    opp, f"Partner Center refused the update: {exc.message}", Direction.SF_TO_PC, link=link
                )
        sf_fields: dict[str, Any] = dict(anchor)
        new_digests: tuple[str, ...] = ()
        changed = tuple(sorted({*result.to_partner_center, *result.to_salesforce}))
        audit_before = link.audit_lines
        try:
            self._check_claim()
            if result.to_salesforce:
                changed_fields, new_digests = apply_salesforce_changes(
                    self.sf, opp, result.to_salesforce, self.settings, known_note_digests=link.note_digests
                )
                sf_fields.update(changed_fields)
            text = _describe(direction, changed, result)
            link = replace(link, snapshot=result.merged, pending=None, last_outcome="ok")
            link = link.with_notes(new_digests).with_audit(_audit_line(True, text))
            # Salesforce first, the link last: a worker that read the opportunity before this write
            # sees the link saved after its read, and reads again (see _from_opportunity).
            fresh = self._finish_salesforce(opp, sf_fields, link, ok=True)
            link = links.save(self.settings, replace(link, sf_stamp=self._own_stamp(fresh, link)))
        except PermanentError as exc:
            # E.g. a validation rule of the partner's org. Partner Center's side stays written (the
            # next sync finds both sides equal there); the fields meant for Salesforce keep their
            # base value, so they are still pending and the next sync tries them again, rather
            # than the snapshot claiming they landed (a later poll would then push Salesforce's
            # old value over Partner Center's: a lost update).
            pending = {key: plan.snapshot.get(key) for key in result.to_salesforce}
            link = replace(link, snapshot={**result.merged, **pending}, audit_lines=audit_before)
            return self._fail(
                opp, f"Salesforce refused the update: {exc.message}", Direction.PC_TO_SF, link=link
            )
        return SyncResult(
            Outcome.OK, direction, "synced", str(referral.id), opportunity_id, changed,
            tuple(f"{c.field}: {c.winner} won" for c in result.conflicts),
        )  # fmt: skip

    # ------------------------------------------------------------------ marks, audit field, failures
    def _anchor_fields(self, opp: dict[str, Any], referral_id: str) -> dict[str, Any]:
        if opp.get(F.REFERRAL_ID) == referral_id:
            return {}
        return {
            F.REFERRAL_ID: referral_id,
            F.REFERRAL_LINK: self.settings.pc_portal_referral_url.format(id=referral_id),
        }

    def _mark_needs(self, opp: dict[str, Any], *, ok: bool) -> bool:
        if not self.settings.check_mark_in_name:
            return False
        name = str(opp.get("Name") or "")
        return name != with_mark(strip_mark(name), ok, self.settings)

    def _own_stamp(self, fresh: dict[str, Any] | None, link: Link) -> str | None:
        """The SystemModstamp of the version we just wrote, if it holds exactly what was synced
        (then its echo in the next poll can be skipped); None when someone else's edit is in it too."""
        if fresh is None:
            return link.sf_stamp
        if self._salesforce_unchanged(fresh, link, link.referral_id):
            return str(fresh.get("SystemModstamp") or "") or None
        return None

    def _finish_salesforce(
        self, opp: dict[str, Any], fields: dict[str, Any], link: Link | None, *, ok: bool
    ) -> dict[str, Any] | None:
        """One opportunity write: the changed fields, the ✔/✖ mark and the Audit field. Returns the
        opportunity as written (read back in the same API call), or None when nothing changed."""
        fields = dict(fields)
        name = str(fields.get("Name") or strip_mark(str(opp.get("Name") or "")))
        if self.settings.check_mark_in_name:
            fields["Name"] = with_mark(strip_mark(name), ok, self.settings)
        elif "Name" in fields:
            fields["Name"] = strip_mark(name)
        if link is not None:
            fields[F.AUDIT] = _audit_text(link.audit_lines, self.settings.audit_field_max_chars)
        fields = {k: v for k, v in fields.items() if opp.get(k) != v}
        if not fields:
            return None
        self._check_claim()
        return self.sf.update_opportunity_and_read(str(opp["Id"]), fields)

    def _fail(
        self, opp: dict[str, Any], reason: str, direction: Direction, *, link: Link | None = None
    ) -> SyncResult:
        """A permanent problem: ✖ and the reason on the opportunity, then the job completes."""
        opportunity_id = str(opp["Id"])
        referral_id = str(opp.get(F.REFERRAL_ID) or "")
        line = _audit_line(False, reason)
        current = str(opp.get(F.AUDIT) or "")
        first = current.splitlines()[0] if current else ""
        if _line_body(first) != _line_body(line) or self._mark_needs(opp, ok=False):
            # Written only when the failure is new: rewriting the same failure would echo back as a
            # change on the next poll and loop forever.
            lines = (line, *(current.splitlines() if link is None else link.audit_lines))
            fields: dict[str, Any] = {F.AUDIT: _audit_text(lines, self.settings.audit_field_max_chars)}
            if self.settings.check_mark_in_name:
                fields["Name"] = with_mark(strip_mark(str(opp.get("Name") or "")), False, self.settings)
            try:
                self.sf.update_opportunity(
                    opportunity_id, {k: v for k, v in fields.items() if opp.get(k) != v}
                )
            except PermanentError as exc:
                log.error("could not even report the failure on %s: %s", opportunity_id, exc)
            if link is not None:
                with contextlib.suppress(ConflictError):
                    links.save(
                        self.settings, replace(link.with_audit(line), last_outcome="failed", pending=None)
                    )
        return SyncResult(Outcome.FAILED, direction, "sync failed", referral_id, opportunity_id, error=reason)


def _pc_values(referral: Referral, link: Link) -> dict[str, Any]:
    return {
        **deal_from_partner_center(referral.to_wire()).comparable(),
        "referral_id": link.referral_id,
        "opportunity_id": link.opportunity_id,
    }


def _unchanged(values: dict[str, Any], link: Link) -> bool:
    """One side's values equal the last synced snapshot in every synced field."""
    return bool(link.snapshot) and all(values.get(key) == link.snapshot.get(key) for key in SYNCED_FIELDS)


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


def _direction(result: MergeResult) -> Direction:
    if result.to_partner_center and result.to_salesforce:
        return Direction.BOTH
    if result.to_partner_center:
        return Direction.SF_TO_PC
    if result.to_salesforce:
        return Direction.PC_TO_SF
    return Direction.NONE


_ARROWS = {Direction.SF_TO_PC: "SF→PC", Direction.PC_TO_SF: "PC→SF", Direction.BOTH: "SF⇄PC"}


def _describe(direction: Direction, changed: tuple[str, ...], result: MergeResult) -> str:
    text = f"{_ARROWS.get(direction, '')} {', '.join(changed)}"
    if result.conflicts:
        text += " (conflict: " + ", ".join(f"{c.field} → {c.winner}" for c in result.conflicts) + ")"
    return text


def _audit_text(lines: tuple[str, ...] | list[str], limit: int) -> str:
    out: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > limit:
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)

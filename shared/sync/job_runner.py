"""A job's life in the worker: run it through the engine, then account for it (audit row, metrics,
log line). Transient failures are retried by the queue, or parked on it with a delay when the
server asked for a long wait; configuration errors are audited and raised."""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime

from shared import api_clients
from shared.config import Settings
from shared.core.rate_budget import background
from shared.errors import ConfigError, TransientError
from shared.jobs import JobSource, SyncJob
from shared.partner_center.referral_client import PartnerCenterClient
from shared.salesforce.org_checks import require_ready_org
from shared.salesforce.salesforce_client import SalesforceClient
from shared.store import audit, job_queue
from shared.store.audit import AuditEntry, Direction, Outcome
from shared.store.link_store import TableLinkStore
from shared.sync.context import SyncContext, SyncResult
from shared.sync.engine import SyncEngine
from shared.telemetry import record_sync

log = logging.getLogger("cosell_sync.engine")

_BACKGROUND_SOURCES = frozenset({JobSource.BACKFILL, JobSource.RECONCILE})
_REPEATS = frozenset({JobSource.REPLAY, JobSource.RETRY, JobSource.MANUAL})
_QUEUE_RETRY_THRESHOLD_S = 10.0  # longer waits are re-enqueued instead of holding a worker


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
    pc = pc or api_clients.partner_center(settings)
    sf = sf or api_clients.salesforce(settings)
    engine = SyncEngine(SyncContext.build(settings, pc, sf, TableLinkStore(settings)))
    started = time.monotonic()
    sf.take_adaptations()  # what earlier work on this thread adapted is not this job's
    try:
        require_ready_org(sf)  # an org failing a required check: refused, said once (issue #14)
        # Backfill and reconcile jobs yield to live traffic in the API budgets (issue #19).
        with background() if job.source in _BACKGROUND_SOURCES else nullcontext():
            result = engine.run(job)
    except TransientError as exc:
        return _retry_later(job, exc, settings, dequeue_count, started)
    except ConfigError as exc:
        _account(settings, job, SyncResult(Outcome.RETRYING, Direction.NONE, "sync", error=str(exc)), started)
        log.error("configuration problem, job %s will be retried: %s", job.trace_id, exc)
        raise
    if adapted := sf.take_adaptations():
        # A duplicate linked, text cut to a field's length, a country moved to its code field: said in
        # the job's audit row beside any conflicts.
        result = replace(result, conflicts=(*result.conflicts, *(f"adapted: {a}" for a in adapted)))
    # Bookkeeping results (our own echo) leave no row, unless an earlier try of this job left one
    # (`retrying`) that must not stay its newest word.
    first_try = dequeue_count <= 1 and job.attempt == 0 and job.source not in _REPEATS
    _account(settings, job, result, started, row=result.audited or not first_try)
    return result


def _retry_later(
    job: SyncJob, exc: TransientError, settings: Settings, dequeue_count: int, started: float
) -> SyncResult:
    result = SyncResult(Outcome.RETRYING, Direction.NONE, "sync", job.record_id, error=str(exc))
    _account(settings, job, result, started)
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


def _account(
    settings: Settings, job: SyncJob, result: SyncResult, started: float, *, row: bool = True
) -> None:
    latency_ms = (datetime.now(UTC) - job.observed_at).total_seconds() * 1000
    try:
        if row:
            audit.write(settings, _audit_entry(job, result, latency_ms))
    except Exception:  # an audit write must never turn a finished sync into a retry
        log.exception("could not write the audit entry for job %s", job.trace_id)
    record_sync(result.direction.value, result.outcome.value, latency_ms, job.kind.value)
    log.info(
        "job %s %s %s: %s %s in %.0f ms%s",
        job.trace_id, job.kind.value, job.record_id, result.action, result.outcome.value,
        (time.monotonic() - started) * 1000, f" ({result.error})" if result.error else "",
    )  # fmt: skip


def _audit_entry(job: SyncJob, result: SyncResult, latency_ms: float) -> AuditEntry:
    return AuditEntry(
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
    )

"""Runs one sync job (foundation: records receipt; the sync itself plugs in here)."""

from __future__ import annotations

from shared.config import Settings
from shared.store import audit
from shared.store.audit import AuditEntry, Outcome
from shared.sync.jobs import SyncJob


def run_job(job: SyncJob, *, settings: Settings, dequeue_count: int = 1) -> None:
    audit.write(
        settings,
        AuditEntry(
            trace_id=job.trace_id,
            action="job received",
            outcome=Outcome.RECEIVED,
            record_kind=job.kind.value,
            record_id=job.record_id,
            source=job.source.value,
        ),
    )

"""What the queue-triggered worker does with one message: parse the job, run it, account for it."""

from __future__ import annotations

import logging

from shared.config import Settings
from shared.jobs import InvalidJob, SyncJob
from shared.store import audit, job_queue
from shared.store.audit import AuditEntry, Outcome

log = logging.getLogger("cosell_sync.worker")


def handle_message(body: str, *, dequeue_count: int, message_id: str, settings: Settings) -> None:
    """Run the job in `body`. Raises to make the host retry (and finally poison) the message.

    A body that is not a job can never succeed, so it goes to the poison queue at once, unchanged,
    and the call returns normally (the host then deletes the original)."""
    try:
        job = SyncJob.from_message(body)
    except InvalidJob as exc:
        log.error("message %s is not a sync job, poisoned at once: %s", message_id, exc)
        job_queue.poison_raw(settings, body)
        audit.write(
            settings,
            AuditEntry(trace_id=message_id, action="parse job", outcome=Outcome.POISONED, error=str(exc)),
        )
        return
    from shared.sync import job_runner  # noqa: PLC0415 - pulls in both API clients; loaded on the first job

    job_runner.run_job(job, settings=settings, dequeue_count=dequeue_count)

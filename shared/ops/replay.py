"""Poison messages back to work: list them with the job and its last error from the audit table,
and move the chosen ones to `sync-jobs` as replay jobs (same trace id).

Each message is sent to the work queue first and deleted from the poison queue after, so an
interruption can duplicate a job (harmless: jobs are idempotent) but never lose one. Messages that
are not jobs cannot be replayed: they are shown and left in place unless discarded explicitly.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueMessage

from shared.config import POISON_QUEUE, Settings
from shared.jobs import InvalidJob, JobSource, SyncJob
from shared.ops.backfill import Enqueue
from shared.store import job_queue, tables
from shared.store.audit import AuditEntry
from shared.store.storage_clients import queue_client

log = logging.getLogger("cosell_sync.ops.replay")

AUDIT_DAYS = 7  # poison messages older than the audit retention we read show no last error
_LEASE_SECONDS = 120
_TRACE_IDS_PER_QUERY = 10


@dataclass(frozen=True)
class PoisonMessage:
    """One poison message: the job it holds (or why it holds none) and its last recorded error."""

    message_id: str
    inserted_on: datetime | None
    body: str
    job: SyncJob | None
    invalid_reason: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "inserted_on": self.inserted_on.isoformat() if self.inserted_on else None,
            "job": self.job.model_dump(mode="json") if self.job else None,
            "invalid_reason": self.invalid_reason,
            "body": None if self.job else self.body[:500],
            "last_error": self.last_error,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
        }


@dataclass
class ReplayReport:
    messages: list[PoisonMessage]
    replayed: list[str]
    discarded: list[str]
    left: list[str]
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "messages": [m.to_json() for m in self.messages],
            "replayed": self.replayed,
            "discarded": self.discarded,
            "left": self.left,
        }


def decode_body(raw: str) -> str:
    """The text of a poison message: base64 as the Functions host writes it, else the raw text."""
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return raw


def parse(message_id: str, raw: str, inserted_on: datetime | None) -> PoisonMessage:
    body = decode_body(raw)
    try:
        return PoisonMessage(message_id, inserted_on, body, SyncJob.from_message(body))
    except InvalidJob as exc:
        return PoisonMessage(message_id, inserted_on, body, None, invalid_reason=str(exc))


def replay_job(job: SyncJob) -> SyncJob:
    """The job to send again: same record and trace id, source replay, a fresh attempt count."""
    return job.with_source(JobSource.REPLAY).model_copy(update={"attempt": 0})


def last_errors(
    settings: Settings, trace_ids: Sequence[str], *, days: int = AUDIT_DAYS, now: datetime | None = None
) -> dict[str, AuditEntry]:
    """The newest audit entry with an error for each trace id (day partitions, newest first)."""
    wanted = list(dict.fromkeys(t for t in trace_ids if t))
    found: dict[str, AuditEntry] = {}
    if not wanted:
        return found
    today = (now or datetime.now(UTC)).date()
    for back in range(days):
        day = (today - timedelta(days=back)).isoformat()
        pending = [t for t in wanted if t not in found]
        if not pending:
            break
        for start in range(0, len(pending), _TRACE_IDS_PER_QUERY):
            chunk = pending[start : start + _TRACE_IDS_PER_QUERY]
            params: dict[str, Any] = {"pk": day, **{f"t{i}": t for i, t in enumerate(chunk)}}
            # The SDK substitutes @names split on whitespace, hence the spaced parentheses.
            traces = " or ".join(f"TraceId eq @t{i}" for i in range(len(chunk)))
            query = f"PartitionKey eq @pk and ( {traces} )"
            for entity in tables.query(settings, settings.audit_table, query, params):
                entry = AuditEntry.from_entity(dict(entity))
                if entry.error and entry.trace_id not in found:
                    found[entry.trace_id] = entry  # rows sort newest first within a day
    return found


def _with_error(message: PoisonMessage, errors: dict[str, AuditEntry]) -> PoisonMessage:
    entry = errors.get(message.job.trace_id) if message.job else None
    return replace(message, last_error=entry.error, last_error_at=entry.at) if entry else message


def _receive_all(queue: QueueClient, limit: int) -> Iterator[QueueMessage]:
    """Every poison message, each leased (invisible) for the run so it is seen once."""
    received = 0
    while received < limit:
        page = list(queue.receive_messages(max_messages=32, visibility_timeout=_LEASE_SECONDS))
        if not page:
            return
        for message in page:
            received += 1
            yield message


def replay(
    settings: Settings,
    *,
    message_ids: Sequence[str] = (),
    replay_all: bool = False,
    dry_run: bool = False,
    discard_invalid: bool = False,
    limit: int = 1000,
    enqueue: Enqueue = job_queue.enqueue,
) -> ReplayReport:
    """List poison messages; with `replay_all` or `message_ids`, move those jobs back to work.
    Without either (or with `dry_run`) nothing moves: every message is only shown."""
    poison = queue_client(settings, POISON_QUEUE, base64=False)
    try:
        leased = [(m, parse(m.id, m.content, m.inserted_on)) for m in _receive_all(poison, limit)]
    except ResourceNotFoundError:
        return ReplayReport([], [], [], [], dry_run)
    report = ReplayReport([], [], [], [], dry_run)
    selected = set(message_ids)
    done = 0
    try:
        errors = last_errors(settings, [p.job.trace_id for _, p in leased if p.job])
        report.messages = [_with_error(p, errors) for _, p in leased]
        for (raw, _), message in zip(leased, report.messages, strict=True):
            chosen = replay_all or message.message_id in selected
            if message.job is not None and chosen and not dry_run:
                enqueue(settings, [replay_job(message.job)])
                poison.delete_message(raw.id, raw.pop_receipt)
                report.replayed.append(message.message_id)
                log.info("replayed poison message %s (trace %s)", message.message_id, message.job.trace_id)
            elif message.job is None and discard_invalid and chosen and not dry_run:
                poison.delete_message(raw.id, raw.pop_receipt)
                report.discarded.append(message.message_id)
                log.warning(
                    "discarded invalid poison message %s: %s", message.message_id, message.invalid_reason
                )
            else:
                poison.update_message(raw.id, raw.pop_receipt, visibility_timeout=0)
                report.left.append(message.message_id)
            done += 1
    finally:
        # Interrupted: give the messages not handled yet back at once instead of after the lease.
        for raw, _ in leased[done:]:
            with contextlib.suppress(AzureError):
                poison.update_message(raw.id, raw.pop_receipt, visibility_timeout=0)
    return report

"""A Partner Center webhook POST becomes a job on the queue, with the HTTP answer to give."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import Settings
from shared.errors import CosellSyncError
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.partner_center.webhook_events import ReferralEvent, receive_event
from shared.store import job_queue
from shared.telemetry import record_webhook

log = logging.getLogger("cosell_sync.webhook")


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: str


def job_for(event: ReferralEvent) -> SyncJob:
    """The job a referral event asks for: sync that referral (its data is read fresh by the worker)."""
    return SyncJob(
        kind=RecordKind.REFERRAL,
        record_id=event.referral_id,
        source=JobSource.WEBHOOK,
        observed_at=event.changed_at,
        event=event.name,
    )


def accept_webhook(body: bytes, headers: Mapping[str, str], settings: Settings) -> Reply:
    """Verify and parse the event, enqueue its job; 503 when storage refuses so Partner Center
    delivers the event again instead of it being lost."""
    outcome = receive_event(body, headers, settings)
    record_webhook(outcome.event.name if outcome.event else "unknown", accepted=outcome.event is not None)
    if outcome.event is None:
        # Refusals are logged (sampled, with counts) where they are judged: webhook_events._refuse.
        level = logging.INFO if outcome.status_code < 400 else logging.DEBUG
        log.log(level, "webhook answered %s: %s", outcome.status_code, outcome.message)
        return Reply(outcome.status_code, json.dumps({"message": outcome.message}))
    job = job_for(outcome.event)
    try:
        job_queue.enqueue(settings, [job])
    except CosellSyncError as exc:
        log.error("webhook accepted but not enqueued, asking Partner Center to retry: %s", exc)
        return Reply(503, json.dumps({"error": "temporarily unavailable, retry"}))
    log.info("webhook %s queued job for referral %s (trace %s)", job.event, job.record_id, job.trace_id)
    return Reply(outcome.status_code, json.dumps({"accepted": True, "traceId": job.trace_id}))

"""One Salesforce poll: Sync-flagged opportunities saved since the watermark become queue jobs,
then the watermark advances — only after the jobs are on the queue."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from shared import api_clients
from shared.config import POISON_QUEUE, SYNC_QUEUE, Settings
from shared.core import salesforce_fields as f
from shared.core.poll_window import parse_stamp, plan, window_start
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.salesforce.salesforce_client import SalesforceClient
from shared.store import job_queue, links, watermarks
from shared.store.storage_clients import queue_client
from shared.telemetry import record_poll, record_queue_depths

log = logging.getLogger(__name__)
WATERMARK = "salesforce-opportunities"


@dataclass
class PollResult:
    queried: int
    enqueued: int
    watermark_before: datetime | None
    watermark_after: datetime | None
    calls: int


def _api_calls(client: SalesforceClient) -> int:
    return sum(count for kind, count in client.call_counts.items() if kind != "token")


def _own_write(settings: Settings, referral_id: str | None, stamp: datetime) -> bool:
    """This version of the opportunity is the one our last sync wrote and left exactly as synced."""
    if not referral_id:
        return False
    link = links.get(settings, referral_id)
    return bool(link and link.sf_stamp and parse_stamp(link.sf_stamp) == stamp)


def poll_once(
    settings: Settings,
    *,
    client: SalesforceClient | None = None,
    now: datetime | None = None,
    enqueue: Callable[[Settings, Iterable[SyncJob]], int] = job_queue.enqueue,
) -> PollResult:
    """Query changes since the watermark (minus the overlap), enqueue one job per new save,
    then advance the watermark. With nothing changed: one API call, no job, no write."""
    now = now or datetime.now(UTC)
    client = client or SalesforceClient(settings)
    calls_before = _api_calls(client)
    mark = watermarks.read(settings, WATERMARK)
    since = window_start(
        mark.value,
        now,
        overlap_seconds=settings.sf_poll_overlap_seconds,
        lookback_hours=settings.sf_poll_lookback_hours,
    )
    rows = list(client.changed_opportunities(since))
    decided = plan(rows, mark.value, mark.seen, overlap_seconds=settings.sf_poll_overlap_seconds)
    referral_ids = {str(row["Id"]): row.get(f.REFERRAL_ID) for row in rows}
    jobs = [
        SyncJob(kind=RecordKind.OPPORTUNITY, record_id=rid, source=JobSource.POLL, observed_at=stamp)
        for rid, stamp in decided.to_enqueue.items()
        if not _own_write(settings, referral_ids.get(rid), stamp)
    ]
    enqueued = enqueue(settings, jobs) if jobs else 0
    after = mark.value
    if decided.watermark is not None and (decided.watermark != mark.value or decided.seen != mark.seen):
        after = watermarks.advance(settings, WATERMARK, decided.watermark, seen=decided.seen)
    result = PollResult(len(rows), enqueued, mark.value, after, _api_calls(client) - calls_before)
    log.info("salesforce poll: %s", result)
    return result


def run_scheduled_poll(settings: Settings) -> PollResult:
    """What the timer runs: one poll with the process's client, then the figures the alerts read
    (poll lag, jobs enqueued, queue depths)."""
    result = poll_once(settings, client=api_clients.salesforce(settings))
    mark = result.watermark_after or result.watermark_before
    lag = (datetime.now(UTC) - mark).total_seconds() if mark else 0.0
    record_poll(lag, result.enqueued)
    try:
        depths = [
            queue_client(settings, q).get_queue_properties().approximate_message_count or 0
            for q in (SYNC_QUEUE, POISON_QUEUE)
        ]
        record_queue_depths(depths[0], depths[1])
    except Exception:
        log.warning("could not read queue depths for telemetry", exc_info=True)
    return result

"""One Salesforce poll: flagged opportunities — and the contact roles, solutions, accounts and
notes of flagged opportunities, whose saves leave the opportunity's own SystemModstamp alone —
saved since each stream's watermark become queue jobs (one per opportunity), then the watermarks
advance, only after the jobs are on the queue. All streams are read in one composite call
(`shared.salesforce.change_queries`), so an idle poll costs one API call."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared import api_clients
from shared.config import POISON_QUEUE, SYNC_QUEUE, Settings
from shared.core import salesforce_fields as f
from shared.core.poll_window import PollPlan, parse_stamp, plan, window_start
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.salesforce.change_queries import (
    NOTES,
    OPPORTUNITIES,
    STREAMS,
    note_links_query,
    opportunities_of,
    opportunities_of_note_links,
)
from shared.salesforce.salesforce_client import SalesforceClient
from shared.store import job_queue, links, watermarks
from shared.store.storage_clients import queue_client
from shared.telemetry import record_poll, record_queue_depths

log = logging.getLogger(__name__)
WATERMARK = OPPORTUNITIES.name


@dataclass
class PollResult:
    queried: int
    enqueued: int
    watermark_before: datetime | None
    watermark_after: datetime | None
    calls: int
    changed_by_stream: dict[str, int] = field(default_factory=dict)


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
    """Query every stream since its watermark (minus the overlap), enqueue one job per changed
    opportunity, then advance the watermarks. With nothing changed: one API call, no job, no write."""
    now = now or datetime.now(UTC)
    client = client or SalesforceClient(settings)
    calls_before = _api_calls(client)
    marks = {stream.name: watermarks.read(settings, stream.name) for stream in STREAMS}
    queries = {
        stream.name: (stream.query(_since(settings, marks[stream.name].value, now)), stream.include_deleted)
        for stream in STREAMS
    }
    rows = client.query_many(queries)
    plans = {
        s.name: plan(
            rows[s.name],
            marks[s.name].value,
            marks[s.name].seen,
            overlap_seconds=settings.sf_poll_overlap_seconds,
        )
        for s in STREAMS
    }
    changed = _changed_opportunities(settings, client, rows, plans)
    jobs = [
        SyncJob(kind=RecordKind.OPPORTUNITY, record_id=rid, source=JobSource.POLL, observed_at=stamp)
        for rid, stamp in changed.items()
    ]
    enqueued = enqueue(settings, jobs) if jobs else 0
    for stream in STREAMS:
        decided, mark = plans[stream.name], marks[stream.name]
        if decided.watermark is not None and (decided.watermark != mark.value or decided.seen != mark.seen):
            watermarks.advance(settings, stream.name, decided.watermark, seen=decided.seen)
    opportunities = plans[OPPORTUNITIES.name]
    before = marks[OPPORTUNITIES.name].value
    result = PollResult(
        sum(len(r) for r in rows.values()), enqueued, before, opportunities.watermark or before,
        _api_calls(client) - calls_before, {name: len(p.to_enqueue) for name, p in plans.items()},
    )  # fmt: skip
    log.info("salesforce poll: %s", result)
    return result


def _since(settings: Settings, mark: datetime | None, now: datetime) -> datetime:
    return window_start(
        mark,
        now,
        overlap_seconds=settings.sf_poll_overlap_seconds,
        lookback_hours=settings.sf_poll_lookback_hours,
    )


def _changed_opportunities(
    settings: Settings,
    client: SalesforceClient,
    rows: dict[str, list[dict[str, object]]],
    plans: dict[str, PollPlan],
) -> dict[str, datetime]:
    """Opportunity id -> the latest change seen for it, over every stream; our own writes' echoes
    (the opportunity version our last sync left exactly as synced) are left out."""
    changed: dict[str, datetime] = {}

    def note(opportunity_id: str, stamp: datetime) -> None:
        if opportunity_id not in changed or stamp > changed[opportunity_id]:
            changed[opportunity_id] = stamp

    referral_ids = {str(row["Id"]): row.get(f.REFERRAL_ID) for row in rows[OPPORTUNITIES.name]}
    for rid, stamp in plans[OPPORTUNITIES.name].to_enqueue.items():
        referral_id = referral_ids.get(rid)
        if not _own_write(settings, str(referral_id) if referral_id else None, stamp):
            note(rid, stamp)
    for stream in STREAMS:
        if stream in (OPPORTUNITIES, NOTES):
            continue
        by_id = {str(row["Id"]): row for row in rows[stream.name]}
        for rid, stamp in plans[stream.name].to_enqueue.items():
            for opportunity_id in opportunities_of(stream, by_id[rid]):
                note(opportunity_id, stamp)
    note_changes = plans[NOTES.name].to_enqueue
    if note_changes:
        linked = opportunities_of_note_links(client.query(note_links_query(sorted(note_changes))))
        for note_id, stamp in note_changes.items():
            for opportunity_id in linked.get(note_id, []):
                note(opportunity_id, stamp)
    return changed


def run_scheduled_poll(settings: Settings) -> PollResult:
    """What the timer runs: one poll with the process's client, then the figures the alerts read
    (poll lag, jobs enqueued, queue depths)."""
    try:
        result = poll_once(settings, client=api_clients.salesforce(settings))
    except watermarks.WatermarkUnavailable as exc:
        # Never a guess at the window: this poll does nothing, says so in one line, and the next
        # poll tries again (the lag alert fires if it keeps failing).
        log.error("salesforce poll skipped: its watermark cannot be read or saved (%s)", exc)
        raise
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

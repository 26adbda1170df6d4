"""One Salesforce poll: flagged opportunities — and the contact roles, solutions, accounts and
notes of flagged opportunities, whose saves leave the opportunity's own SystemModstamp alone —
saved since each stream's watermark become queue jobs (one per opportunity), then the watermarks
advance, only after the jobs are on the queue. All streams are read in one composite call
(`shared.salesforce.change_queries`), so an idle poll costs one API call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shared import api_clients
from shared.config import POISON_QUEUE, SYNC_QUEUE, Settings
from shared.core import salesforce_fields as f
from shared.core.poll_window import PollPlan, parse_stamp, plan, window_start
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.salesforce.change_queries import (
    NOTES,
    OPPORTUNITIES,
    STREAMS,
    modified_by,
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
OWN_WRITE_SETTLE_SECONDS = 30
"""How long the job for an opportunity our own user saved waits: a sync saves its link within a
second of its write, a backfill page (up to 200 creates, close dates sent to Partner Center at its
rate limit) within seconds."""


OWN_WRITE_RECHECK_SECONDS = 2.0
"""Before delaying those jobs, the poll waits this long once and reads their links again: a sync
or a backfill page in flight has usually saved them by then (one Table read or query, instead of a
job per opportunity)."""


class Enqueue(Protocol):
    def __call__(self, settings: Settings, jobs: Iterable[SyncJob], /, *, delay_seconds: int = 0) -> int: ...


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


class _OwnWrites:
    """Is this opportunity version the one our last sync wrote and left exactly as synced (the
    link's SystemModstamp)? One link read per row; after a burst (a backfill page, a reconcile),
    one query for the stamps of every link saved in the window instead."""

    def __init__(self, settings: Settings, rows: int, since: datetime | None) -> None:
        self.settings = settings
        self.stamps: dict[str, str] | None = None
        if rows > _BULK_ROWS and since is not None:
            self.stamps = links.sf_stamps_saved_since(settings, since - _CLOCK_MARGIN)

    def __call__(self, referral_id: str | None, stamp: datetime) -> bool:
        if not referral_id:
            return False
        if self.stamps is not None:
            saved = self.stamps.get(referral_id)
        else:
            link = links.get(self.settings, referral_id)
            saved = link.sf_stamp if link else None
        return bool(saved) and parse_stamp(str(saved)) == stamp


_BULK_ROWS = 20
_CLOCK_MARGIN = timedelta(seconds=5)
"""Links are stamped with this app's clock, opportunities with Salesforce's: a link saved for one of
the versions a poll checks was saved after the oldest of them (we save it once Salesforce answered
the write, so after its commit; a SystemModstamp may be older than its commit, never newer:
../shared/spec/salesforce.md §5.2, late commits — the simulator makes both), give or take the
clocks' skew — both NTP-synchronised, well under a second; 5 s covers that many times over. A link
the query misses only costs a job that finds nothing to write (or a delayed one, `changes.ours`),
never an echo taken for an edit: so the query reads the links of the last moments, not of the whole
poll window. (With 2 minutes, each poll of a 10,000 referral backfill re-read every link saved in
those minutes: 10 % of the app's CPU.)"""


def poll_once(
    settings: Settings,
    *,
    client: SalesforceClient | None = None,
    now: datetime | None = None,
    enqueue: Enqueue = job_queue.enqueue,
    pause: Callable[[float], object] = time.sleep,
) -> PollResult:
    """Query every stream since its watermark (minus the overlap), enqueue one job per changed
    opportunity, then advance the watermarks. With nothing changed: one API call, no job, no write."""
    now = now or datetime.now(UTC)
    client = client or SalesforceClient(settings)
    calls_before = _api_calls(client)
    marks = {stream.name: watermarks.read(settings, stream.name) for stream in STREAMS}
    starts = {stream.name: _since(settings, marks[stream.name], now) for stream in STREAMS}
    queries = {stream.name: (stream.query(starts[stream.name]), stream.include_deleted) for stream in STREAMS}
    rows = client.query_many(queries)
    plans = {
        s.name: plan(
            rows[s.name],
            marks[s.name].value,
            marks[s.name].seen,
            overlap_seconds=settings.sf_poll_overlap_seconds,
            seen_from=marks[s.name].seen_from,
            max_seen_chars=watermarks.MAX_SEEN_CHARS,
        )
        for s in STREAMS
    }
    changes = _changed_opportunities(settings, client, rows, plans, starts[OPPORTUNITIES.name])
    if changes.ours:
        pause(OWN_WRITE_RECHECK_SECONDS)
        _drop_saved_since(settings, changes)
    jobs = [
        SyncJob(kind=RecordKind.OPPORTUNITY, record_id=rid, source=JobSource.POLL, observed_at=stamp)
        for rid, stamp in changes.changed.items()
    ]
    enqueued = enqueue(settings, jobs) if jobs else 0
    if changes.ours:
        # Our integration user's save whose link is not saved yet: the job waits until it is, then
        # recognises the echo from the link alone (`routing.own_echo`); anything else (a flow running
        # as our user after our write) is synced then as usual.
        own = [
            SyncJob(
                kind=RecordKind.OPPORTUNITY, record_id=rid, source=JobSource.POLL, observed_at=stamp,
                referral_id=referral_id,
            )
            for rid, (stamp, referral_id) in changes.ours.items()
        ]  # fmt: skip
        enqueued += enqueue(settings, own, delay_seconds=OWN_WRITE_SETTLE_SECONDS)
    _advance_marks(settings, plans, marks)
    opportunities = plans[OPPORTUNITIES.name]
    before = marks[OPPORTUNITIES.name].value
    result = PollResult(
        sum(len(r) for r in rows.values()), enqueued, before, opportunities.watermark or before,
        _api_calls(client) - calls_before, {name: len(p.to_enqueue) for name, p in plans.items()},
    )  # fmt: skip
    log.info("salesforce poll: %s", result)
    return result


def _advance_marks(
    settings: Settings, plans: dict[str, PollPlan], marks: dict[str, watermarks.Watermark]
) -> None:
    """Each stream's mark, keys and window start, where this poll moved them (after enqueueing)."""
    for stream in STREAMS:
        decided, mark = plans[stream.name], marks[stream.name]
        stored = (mark.value, mark.seen, mark.seen_from)
        moved = (decided.watermark, decided.seen, decided.seen_from) != stored
        if decided.watermark is not None and moved:
            watermarks.advance(
                settings, stream.name, decided.watermark, seen=decided.seen, seen_from=decided.seen_from
            )


def _since(settings: Settings, mark: watermarks.Watermark, now: datetime) -> datetime:
    start = window_start(
        mark.value,
        now,
        overlap_seconds=settings.sf_poll_overlap_seconds,
        lookback_hours=settings.sf_poll_lookback_hours,
    )
    # After a burst bigger than the keys a mark can remember, the window starts after the rows
    # whose keys were let go (they were handled; re-reading them would enqueue them again).
    return max(start, mark.seen_from) if mark.value is not None and mark.seen_from is not None else start


@dataclass
class _Changes:
    """Opportunity id -> the latest change seen for it, over every stream; `ours` the opportunities
    whose latest version our integration user saved but whose link does not hold that version (yet):
    typically a write whose link is about to be saved (a backfill page, a sync in flight)."""

    changed: dict[str, datetime] = field(default_factory=dict)
    ours: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def note(self, opportunity_id: str, stamp: datetime) -> None:
        if opportunity_id not in self.changed or stamp > self.changed[opportunity_id]:
            self.changed[opportunity_id] = stamp


def _changed_opportunities(
    settings: Settings,
    client: SalesforceClient,
    rows: dict[str, list[dict[str, object]]],
    plans: dict[str, PollPlan],
    since: datetime,
) -> _Changes:
    """What changed, with our own writes' echoes left out: the opportunity version our last sync left
    exactly as synced (the link's SystemModstamp), and — with a dedicated integration user — the
    child records that user saved last (../shared/spec/salesforce.md §5.2, echo suppression by
    LastModifiedById: their state is what a sync of ours wrote)."""
    found = _Changes()
    me = client.user_id()
    changed = plans[OPPORTUNITIES.name].to_enqueue
    own_write = _OwnWrites(settings, len(changed), min(changed.values(), default=since))
    opportunities = {str(row["Id"]): row for row in rows[OPPORTUNITIES.name]}
    for rid, stamp in changed.items():
        row = opportunities[rid]
        referral_id = str(row.get(f.REFERRAL_ID) or "") or None
        # Saved by somebody else is never our echo, even in the second of our write (SystemModstamp
        # may hold whole seconds only: two saves can share it).
        ours = modified_by(row, me) if me else True
        if ours and own_write(referral_id, stamp):
            continue
        if ours and me and referral_id and settings.sf_integration_user_dedicated:
            found.ours[rid] = (stamp, referral_id)
        else:
            found.note(rid, stamp)
    _children_changed(client, rows, plans, me if settings.sf_integration_user_dedicated else "", found)
    for opportunity_id in found.changed:
        found.ours.pop(opportunity_id, None)  # someone else's change too: an ordinary job
    return found


def _drop_saved_since(settings: Settings, changes: _Changes) -> None:
    """Our own writes whose links were saved meanwhile (holding the version the poll saw)."""
    own_write = _OwnWrites(settings, len(changes.ours), min(stamp for stamp, _ in changes.ours.values()))
    for rid, (stamp, referral_id) in list(changes.ours.items()):
        if own_write(referral_id, stamp):
            del changes.ours[rid]


def _children_changed(
    client: SalesforceClient,
    rows: dict[str, list[dict[str, object]]],
    plans: dict[str, PollPlan],
    user: str,
    found: _Changes,
) -> None:
    """Contact roles, solutions, accounts and notes changed by someone else than `user`."""
    for stream in STREAMS:
        if stream in (OPPORTUNITIES, NOTES):
            continue
        by_id = {str(row["Id"]): row for row in rows[stream.name]}
        for rid, stamp in plans[stream.name].to_enqueue.items():
            if not modified_by(by_id[rid], user):
                for opportunity_id in opportunities_of(stream, by_id[rid]):
                    found.note(opportunity_id, stamp)
    notes = {str(row["Id"]): row for row in rows[NOTES.name]}
    note_changes = {
        rid: stamp for rid, stamp in plans[NOTES.name].to_enqueue.items() if not modified_by(notes[rid], user)
    }
    if note_changes:
        linked = opportunities_of_note_links(client.query(note_links_query(sorted(note_changes))))
        for note_id, stamp in note_changes.items():
            for opportunity_id in linked.get(note_id, []):
                found.note(opportunity_id, stamp)


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

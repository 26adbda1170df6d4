"""Bulk import: every referral changed since a date and every Sync = Yes opportunity become jobs.

Semantics (per source, each with its own checkpoint in the watermarks table):
- The run reads records changed in [start, run start], oldest first, where start is the later of
  `--since` and the source's checkpoint (`--restart` ignores the checkpoint). Records are streamed
  page by page and enqueued in batches; memory does not grow with the number of records.
- After each batch is on the queue the checkpoint moves to the last record's change time, with the
  ids seen at exactly that instant (so a `ge` query that re-reads that instant skips them). An
  interrupted run therefore resumes after the last enqueued batch; at worst one batch is enqueued
  twice, which the idempotent worker absorbs.
- Running it again enqueues only records changed since the checkpoint: 0 when nothing changed, and
  never new links, because the worker finds the existing link or opportunity for each record.

Partner Center referrals are handled in batch mode by default (`backfill_batch`): the list pages
carry whole referrals, so no referral is read again; a page's missing opportunities are written in
composite graphs and only referrals whose opportunity exists and differs become jobs.
`per_record=True` keeps the earlier way (one job per referral; each worker reads its referral), and a
dry run always counts that way. The checkpoint moves after each handled batch in both modes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from itertools import islice

from shared.config import Settings
from shared.core.poll_window import parse_stamp
from shared.core.rate_budget import background
from shared.core.referral import Referral
from shared.errors import PermanentError
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.ops import backfill_batch
from shared.ops.ops_clients import OpsClients
from shared.store import job_queue, watermarks
from shared.store.watermarks import Watermark

log = logging.getLogger("cosell_sync.ops.backfill")

PC_CHECKPOINT = "backfill-partner-center"
SF_CHECKPOINT = "backfill-salesforce"
DEFAULT_BATCH = 200
# Jobs a backfill keeps waiting on the queue at most: live webhook and poll jobs then never queue
# behind a backlog of thousands, and the run's checkpoint stays close to what is really synced.
DEFAULT_MAX_QUEUED = 1000
_ROOM_POLL_SECONDS = 1.0
_PC_PAGE = 100
BATCH_PAGE = 200
"""Batch mode: referrals handled (and checkpointed) together at most: one query of 200 Referral Ids."""

Enqueue = Callable[[Settings, Iterable[SyncJob]], int]


@dataclass(frozen=True)
class ProgressEvent:
    """What a backfill run reports as it goes (the CLI draws a bar from it)."""

    label: str
    handled: int
    """Records handled since the last event."""
    covered: float
    """Share of the time window done (0..1): both sources list oldest change first, so the last
    handled change's time tells how far the run is — a percentage and an ETA without a count."""
    waiting: bool = False
    """The queue is full (`--max-queued`): the run waits for the workers."""


Progress = Callable[[ProgressEvent], None]


class Source(StrEnum):
    PC = "pc"
    SF = "sf"
    BOTH = "both"


@dataclass(frozen=True)
class RunOptions:
    """How a backfill run reads and enqueues (shared by both sources)."""

    since: datetime
    until: datetime
    dry_run: bool = False
    restart: bool = False
    batch_size: int = DEFAULT_BATCH
    enqueue: Enqueue = job_queue.enqueue
    progress: Progress | None = None
    max_queued: int = DEFAULT_MAX_QUEUED
    """0 = no limit."""
    queue_depth: Callable[[Settings], int] = job_queue.depth
    sleep: Callable[[float], None] = time.sleep


@dataclass
class SourceReport:
    """What one source's run did."""

    source: str
    checkpoint_name: str
    started_from: datetime
    scanned: int = 0
    already_done: int = 0
    enqueued: int = 0
    checkpoint: datetime | None = None
    waited_seconds: float = 0.0
    """Time spent waiting for the workers to drain the queue below `max_queued`."""
    created: int = 0
    """Batch mode: opportunities written by the backfill itself (their links saved)."""
    in_sync: int = 0
    """Batch mode: referrals whose opportunity exists and agrees with them (nothing written)."""
    skipped: int = 0
    """Batch mode: leads that do not come to Salesforce (SYNC_COSELL_ONLY=Yes)."""
    close_dates_sent: int = 0
    """Batch mode: close dates sent to Partner Center (referrals that had none)."""


@dataclass
class BackfillReport:
    sources: list[SourceReport] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def enqueued(self) -> int:
        return sum(s.enqueued for s in self.sources)

    @property
    def scanned(self) -> int:
        return sum(s.scanned for s in self.sources)


def odata_datetime(value: datetime) -> str:
    """An unquoted OData datetime literal in UTC (`2025-01-31T00:00:00.000000Z`)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def stamp_key(record_id: str, stamp: datetime) -> str:
    return f"{record_id}@{stamp.astimezone(UTC).isoformat(timespec='microseconds')}"


class Cursor:
    """Pure bookkeeping of one source's stream: which records still need a job, and the checkpoint
    (last change time plus the ids at exactly that time) once the jobs before it are enqueued."""

    def __init__(self, resume: Watermark) -> None:
        self._resume = resume
        self.value: datetime | None = resume.value
        self.seen_at_value: set[str] = set(resume.seen) if resume.value is not None else set()

    def offer(self, record_id: str, stamp: datetime) -> bool:
        """True when the record needs a job; records are offered in change-time order."""
        key = stamp_key(record_id, stamp)
        resumed = self._resume.value
        # Older than the checkpoint: enqueued by the run that set it (a query can return such rows
        # when its datetime literal is coarser than the stamps, as SOQL's whole seconds are).
        if resumed is not None and (stamp < resumed or (stamp == resumed and key in self._resume.seen)):
            return False
        if self.value is None or stamp > self.value:
            self.value = stamp
            self.seen_at_value = set()
        self.seen_at_value.add(key)
        return True

    def checkpoint(self) -> tuple[datetime | None, frozenset[str]]:
        return self.value, frozenset(self.seen_at_value)


def start_point(since: datetime, mark: Watermark, *, restart: bool) -> tuple[datetime, Watermark]:
    """Where a run starts reading, and the checkpoint it resumes from (empty when not resuming)."""
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    if restart or mark.value is None or mark.value < since:
        return since, Watermark(None)
    return mark.value, mark


Change = tuple[str, datetime, Referral | None]
"""(record id, change time, the referral as listed when the stream has it)."""


def _referral_changes(clients: OpsClients, start: datetime, until: datetime) -> Iterator[Change]:
    """Keyset paging: each page is a fresh query from the last `updatedDateTime` seen. Following
    `$skiptoken` offsets instead would skip referrals whenever the syncs this backfill starts update
    referrals behind the cursor (they move out of the window and everything after them shifts).

    The `updatedDateTime ge/le` filter is not documented
    (https://learn.microsoft.com/partner-center/developer/get-a-list-of-referrals): when the tenant
    refuses it (400) or ignores it (a result outside the window), the run falls back to
    `_scan_window`, which pages the whole collection and filters on our side."""
    lower = start
    seen_at_lower: set[str] = set()
    yielded: set[str] = set()
    while True:
        query = f"updatedDateTime ge {odata_datetime(lower)} and updatedDateTime le {odata_datetime(until)}"
        pages = clients.pc.iter_referrals(filter=query, orderby="updatedDateTime asc", top=_PC_PAGE)
        try:
            page = [
                (r.id, r.updated_date_time.astimezone(UTC), r)
                for r in islice(pages, _PC_PAGE)
                if r.id and r.updated_date_time is not None
            ]
        except PermanentError as exc:
            if exc.status != 400:
                raise
            log.warning("partner center refused the updatedDateTime filter (%s); scanning all referrals", exc)
            yield from _scan_window(clients, start, until, skip=yielded)
            return
        if any(not lower <= stamp <= until for _, stamp, _ in page):
            log.warning("partner center ignored the updatedDateTime filter; scanning all referrals")
            yield from _scan_window(clients, start, until, skip=yielded)
            return
        fresh = [item for item in page if not (item[1] == lower and item[0] in seen_at_lower)]
        yielded.update(rid for rid, _, _ in fresh)
        yield from fresh
        if len(page) < _PC_PAGE:
            return
        last = page[-1][1]
        if last == lower and not fresh:
            # A whole page changed at one instant and was seen: only the offset gets past it.
            yield from _rest_by_offset(pages, seen_at_lower)
            return
        seen_at_lower = {rid for rid, stamp, _ in page if stamp == last} | (
            seen_at_lower if last == lower else set()
        )
        lower = last


def _scan_window(
    clients: OpsClients, start: datetime, until: datetime, *, skip: set[str]
) -> Iterator[Change]:
    """Every referral changed in [start, until], read by paging the whole unfiltered collection and
    yielded oldest first (the run's checkpoint needs change-time order). Only ids and stamps are
    held, not referrals (so batch mode makes these jobs, and the workers read each referral)."""
    window = sorted(
        (r.updated_date_time.astimezone(UTC), r.id)
        for r in clients.pc.iter_referrals(orderby="updatedDateTime asc", top=_PC_PAGE)
        if r.id
        and r.updated_date_time is not None
        and r.id not in skip
        and start <= r.updated_date_time.astimezone(UTC) <= until
    )
    for stamp, rid in window:
        yield rid, stamp, None


def _rest_by_offset(pages: Iterator[Referral], seen: set[str]) -> Iterator[Change]:
    for referral in pages:
        if referral.id and referral.updated_date_time is not None and referral.id not in seen:
            yield referral.id, referral.updated_date_time.astimezone(UTC), referral


def _opportunity_changes(clients: OpsClients, start: datetime, until: datetime) -> Iterator[Change]:
    # No `until` in the query: SOQL datetime literals carry whole seconds, which would drop saves
    # made in the run's first second. The rows come oldest first, so stop at the first newer one.
    for row in clients.sf.changed_opportunities(start):
        stamp = parse_stamp(str(row["SystemModstamp"]))
        if stamp > until:
            return
        yield str(row["Id"]), stamp, None


def run_source(
    settings: Settings,
    *,
    label: str,
    checkpoint_name: str,
    kind: RecordKind,
    changes: Callable[[datetime, datetime], Iterator[Change]],
    options: RunOptions,
    clients: OpsClients | None = None,
) -> SourceReport:
    """Stream one source's changes into jobs (or, given `clients`, handle Partner Center referrals in
    batch mode: `backfill_batch`), checkpointing after every handled batch."""
    start, resume = start_point(
        options.since, watermarks.read(settings, checkpoint_name), restart=options.restart
    )
    run = _SourceRun(settings, options, clients, label, checkpoint_name, Cursor(resume))
    run.report = SourceReport(label, checkpoint_name, start, checkpoint=resume.value)
    limit = min(options.batch_size, BATCH_PAGE) if clients is not None else options.batch_size
    for record_id, stamp, referral in changes(start, options.until):
        run.report.scanned += 1
        if not run.cursor.offer(record_id, stamp):
            run.report.already_done += 1
            continue
        run.batch.append(
            SyncJob(kind=kind, record_id=record_id, source=JobSource.BACKFILL, observed_at=stamp)
        )
        if referral is not None and clients is not None:
            run.listed[record_id] = referral
        if len(run.batch) >= limit:
            run.flush()
    run.flush()
    run.report_progress(0, finished=True)
    return run.report


@dataclass
class _SourceRun:
    """One source's batches: handled in batch mode or enqueued, then checkpointed."""

    settings: Settings
    options: RunOptions
    clients: OpsClients | None
    label: str
    checkpoint_name: str
    cursor: Cursor
    report: SourceReport = field(init=False)
    batch: list[SyncJob] = field(default_factory=list)
    listed: dict[str, Referral] = field(default_factory=dict)

    def flush(self) -> None:
        if not self.batch:
            return
        handled = len(self.batch)
        if self.options.dry_run:
            self.report.enqueued += handled
        else:
            if self.clients is not None:
                self._handle_in_batch(self.clients)
            if self.batch:
                waiting = partial(self.report_progress, 0, waiting=True)
                self.report.waited_seconds += wait_for_room(
                    self.settings, self.options, len(self.batch), on_wait=waiting
                )
                self.report.enqueued += self.options.enqueue(self.settings, self.batch)
            value, seen = self.cursor.checkpoint()
            if value is not None:
                self.report.checkpoint = watermarks.advance(
                    self.settings, self.checkpoint_name, value, seen=seen
                )
        self.report_progress(handled)
        self.batch.clear()

    def report_progress(self, handled: int, *, waiting: bool = False, finished: bool = False) -> None:
        if self.options.progress is None:
            return
        since, until = self.report.started_from, self.options.until
        done = self.cursor.value or since
        span = (until - since).total_seconds()
        covered = 1.0 if span <= 0 or finished else min(max((done - since).total_seconds() / span, 0.0), 1.0)
        self.options.progress(ProgressEvent(self.label, handled, covered, waiting))

    def _handle_in_batch(self, clients: OpsClients) -> None:
        """Referrals listed with their data are handled here; only what needs the engine stays a job."""
        stamps = {job.record_id: job.observed_at for job in self.batch if job.observed_at is not None}
        outcome = backfill_batch.handle_page(self.settings, clients, list(self.listed.values()), stamps)
        self.report.created += outcome.created
        self.report.in_sync += outcome.in_sync
        self.report.skipped += outcome.skipped
        self.report.close_dates_sent += outcome.patched
        self.batch[:] = [job for job in self.batch if job.record_id not in self.listed] + outcome.jobs
        self.listed.clear()


def wait_for_room(
    settings: Settings, options: RunOptions, jobs: int, *, on_wait: Callable[[], None] | None = None
) -> float:
    """Hold the next batch back while the queue holds `max_queued` jobs or more (saying so once
    through `on_wait`); returns the wait."""
    if options.max_queued <= 0:
        return 0.0
    started = time.monotonic()
    said = False
    while options.queue_depth(settings) + jobs > max(options.max_queued, jobs):
        if on_wait is not None and not said:
            on_wait()
            said = True
        options.sleep(_ROOM_POLL_SECONDS)
    return time.monotonic() - started


def backfill(
    settings: Settings,
    clients: OpsClients,
    *,
    since: datetime,
    source: Source = Source.BOTH,
    dry_run: bool = False,
    restart: bool = False,
    batch_size: int = DEFAULT_BATCH,
    enqueue: Enqueue = job_queue.enqueue,
    progress: Progress | None = None,
    now: datetime | None = None,
    max_queued: int = DEFAULT_MAX_QUEUED,
    per_record: bool = False,
) -> BackfillReport:
    """Backfill every referral (Partner Center; batch mode unless `per_record`) and enqueue a job for
    every Sync = Yes opportunity (Salesforce) changed since `since`; see the module docstring for
    checkpoint and rerun semantics."""
    with background():  # the run's own reads yield to live traffic (issue #19)
        return _backfill(
            settings, clients, since=since, source=source, dry_run=dry_run, restart=restart,
            batch_size=batch_size, enqueue=enqueue, progress=progress, now=now, max_queued=max_queued,
            per_record=per_record,
        )  # fmt: skip


def _backfill(
    settings: Settings,
    clients: OpsClients,
    *,
    since: datetime,
    source: Source,
    dry_run: bool,
    restart: bool,
    batch_size: int,
    enqueue: Enqueue,
    progress: Progress | None,
    now: datetime | None,
    max_queued: int,
    per_record: bool,
) -> BackfillReport:
    started = time.monotonic()
    until = now or datetime.now(UTC)
    report = BackfillReport(dry_run=dry_run)
    options = RunOptions(since, until, dry_run, restart, batch_size, enqueue, progress, max_queued=max_queued)
    if source in (Source.PC, Source.BOTH):
        report.sources.append(
            run_source(
                settings,
                label="partner center referrals",
                checkpoint_name=PC_CHECKPOINT,
                kind=RecordKind.REFERRAL,
                changes=lambda start, end: _referral_changes(clients, start, end),
                options=options,
                clients=None if per_record else clients,
            )
        )
    if source in (Source.SF, Source.BOTH):
        report.sources.append(
            run_source(
                settings,
                label="salesforce opportunities",
                checkpoint_name=SF_CHECKPOINT,
                kind=RecordKind.OPPORTUNITY,
                changes=lambda start, end: _opportunity_changes(clients, start, end),
                options=options,
            )
        )
    report.seconds = time.monotonic() - started
    return report

"""Pure arithmetic of one Salesforce poll: where the query starts, which rows are new, and what the
next watermark and overlap keys are. `SystemModstamp` can be older than the mark for a transaction
that committed late, so the query re-reads an overlap window and skips (Id, SystemModstamp) pairs
already handled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


def parse_stamp(text: str) -> datetime:
    """Salesforce datetimes look like 2024-01-01T12:00:00.000+0000."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def window_start(
    watermark: datetime | None, now: datetime, *, overlap_seconds: int, lookback_hours: int
) -> datetime:
    """The first poll looks back `lookback_hours`; later polls start `overlap_seconds` before the mark."""
    if watermark is None:
        return now - timedelta(hours=lookback_hours)
    return watermark - timedelta(seconds=overlap_seconds)


def row_key(record_id: str, stamp: datetime) -> str:
    return f"{record_id[:15]}@{stamp.astimezone(UTC).isoformat(timespec='milliseconds')}"


@dataclass(frozen=True)
class PollPlan:
    """Which opportunities to enqueue (id -> SystemModstamp), the next mark and the keys to remember."""

    to_enqueue: dict[str, datetime]
    watermark: datetime | None
    seen: frozenset[str]
    seen_from: datetime | None = None
    """When the overlap window held more keys than can be remembered: the next window starts here,
    after the rows whose keys were let go; whole seconds, as a SOQL datetime literal carries them
    (`YYYY-MM-DDThh:mm:ss±hh:mm`, ../shared/spec/salesforce.md; `change_queries` formats so).
    Without it those rows would be re-read and re-enqueued by every poll until a newer row moved
    the mark."""


def plan(
    rows: Iterable[Mapping[str, Any]],
    watermark: datetime | None,
    seen: frozenset[str],
    *,
    overlap_seconds: int,
    seen_from: datetime | None = None,
    max_seen_chars: int | None = None,
) -> PollPlan:
    """Deduplicate within the poll (latest save per id) and against what earlier polls handled."""
    latest: dict[str, datetime] = {}
    keys: set[str] = set()
    for row in rows:
        rid = str(row["Id"])
        stamp = parse_stamp(str(row["SystemModstamp"]))
        keys.add(row_key(rid, stamp))
        if rid not in latest or stamp > latest[rid]:
            latest[rid] = stamp
    fresh = {rid: stamp for rid, stamp in latest.items() if row_key(rid, stamp) not in seen}
    newest = max([watermark, *latest.values()], key=lambda d: d or datetime.min.replace(tzinfo=UTC))
    if newest is None:
        return PollPlan(fresh, None, frozenset())
    floor = newest - timedelta(seconds=overlap_seconds + 1)
    remembered = {k for k in keys | seen if _stamp_of(k) >= floor}
    cut = _cut(remembered, max_seen_chars, newest) if max_seen_chars is not None else None
    starts = [start for start in (seen_from, cut) if start is not None]
    start = max(starts) if starts else None
    if start is not None and start <= newest - timedelta(seconds=overlap_seconds):
        start = None  # the next window begins after it anyway
    if start is not None:
        remembered = {k for k in remembered if _stamp_of(k) >= start}
    return PollPlan(fresh, newest, frozenset(remembered), start)


def _stamp_of(key: str) -> datetime:
    return parse_stamp(key.rsplit("@", 1)[1])


def _cut(keys: set[str], max_chars: int, newest: datetime) -> datetime | None:
    """The start of the next window that keeps the remembered keys within `max_chars` (a JSON list):
    the second after the newest key that does not fit. None when they all fit; the newest row's
    second when even that second alone does not (the mark then re-reads it until it moves on)."""
    size = 2
    for key in sorted(keys, key=_stamp_of, reverse=True):
        size += len(key) + 4
        if size > max_chars:
            start = _second(_stamp_of(key)) + timedelta(seconds=1)
            return start if start <= newest else _second(newest)
    return None


def _second(value: datetime) -> datetime:
    return value.replace(microsecond=0)

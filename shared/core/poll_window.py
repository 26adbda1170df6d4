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


def plan(
    rows: Iterable[Mapping[str, Any]],
    watermark: datetime | None,
    seen: frozenset[str],
    *,
    overlap_seconds: int,
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
    remembered = {k for k in keys | seen if parse_stamp(k.rsplit("@", 1)[1]) >= floor}
    return PollPlan(fresh, newest, frozenset(remembered))

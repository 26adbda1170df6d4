"""The audit table: one row per sync action, newest first within a day's partition."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableClient

from shared.config import Settings
from shared.errors import redact
from shared.store import insert_batches, tables

_MAX_TICKS = 10**19
_ERROR_CHARS = 4000


class Outcome(StrEnum):
    OK = "ok"  # something was written
    NOOP = "noop"  # both sides already equal
    SKIPPED = "skipped"  # deliberately not synced (e.g. a marketplace lead with co-sell only)
    FAILED = "failed"  # permanent: the record needs a fix (✖)
    RETRYING = "retrying"  # transient: the job will run again
    POISONED = "poisoned"  # gave up after maxDequeueCount, or not a job at all
    RECEIVED = "received"  # the worker got the job (foundation trace)


class Direction(StrEnum):
    SF_TO_PC = "sf_to_pc"
    PC_TO_SF = "pc_to_sf"
    BOTH = "both"
    NONE = "none"


@dataclass(frozen=True)
class AuditEntry:
    trace_id: str
    action: str
    outcome: Outcome
    direction: Direction = Direction.NONE
    record_kind: str = ""
    record_id: str = ""
    referral_id: str = ""
    opportunity_id: str = ""
    source: str = ""
    changed_fields: Sequence[str] = ()
    conflicts: Sequence[str] = ()
    error: str = ""
    latency_ms: float | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_entity(self) -> dict[str, Any]:
        ticks = int(self.at.timestamp() * 1_000_000)
        entity: dict[str, Any] = {
            "PartitionKey": self.at.strftime("%Y-%m-%d"),
            "RowKey": f"{_MAX_TICKS - ticks:020d}-{uuid.uuid4().hex[:8]}",
            "At": self.at,
            "TraceId": self.trace_id,
            "Action": self.action,
            "Outcome": self.outcome.value,
            "Direction": self.direction.value,
            "RecordKind": self.record_kind,
            "RecordId": self.record_id,
            "ReferralId": self.referral_id,
            "OpportunityId": self.opportunity_id,
            "Source": self.source,
            "ChangedFields": json.dumps(list(self.changed_fields)),
            "Conflicts": json.dumps(list(self.conflicts)),
            "Error": redact(self.error)[:_ERROR_CHARS],
        }
        if self.latency_ms is not None:
            entity["LatencyMs"] = float(self.latency_ms)
        return entity

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> AuditEntry:
        latency = entity.get("LatencyMs")
        return cls(
            at=entity["At"],
            trace_id=entity.get("TraceId", ""),
            action=entity.get("Action", ""),
            outcome=Outcome(entity.get("Outcome", "ok")),
            direction=Direction(entity.get("Direction", "none")),
            record_kind=entity.get("RecordKind", ""),
            record_id=entity.get("RecordId", ""),
            referral_id=entity.get("ReferralId", ""),
            opportunity_id=entity.get("OpportunityId", ""),
            source=entity.get("Source", ""),
            changed_fields=tuple(json.loads(entity.get("ChangedFields") or "[]")),
            conflicts=tuple(json.loads(entity.get("Conflicts") or "[]")),
            error=entity.get("Error", ""),
            latency_ms=float(latency) if latency is not None else None,
        )


def write(settings: Settings, entry: AuditEntry) -> None:
    entity = entry.to_entity()
    tables.call(settings, settings.audit_table, lambda client: client.create_entity(entity, **tables.NO_ECHO))


_BATCH = insert_batches.MAX_ROWS


def write_many(settings: Settings, entries: Sequence[AuditEntry]) -> None:
    """Many rows in few calls: one entity group transaction per day partition and 100 rows (a batch
    backfill's page). A refused batch is written row by row, so one bad row costs only itself."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        entity = entry.to_entity()
        by_day.setdefault(entity["PartitionKey"], []).append(entity)
    for rows in by_day.values():
        for start in range(0, len(rows), _BATCH):
            _write_chunk(settings, rows[start : start + _BATCH])


def _write_chunk(settings: Settings, chunk: list[dict[str, Any]]) -> None:
    try:
        tables.call(settings, settings.audit_table, partial(insert_batches.insert_all, entities=chunk))
    except insert_batches.TransactionRefused:
        for entity in chunk:
            with contextlib.suppress(HttpResponseError):
                tables.call(settings, settings.audit_table, partial(_create, entity=entity))


def _create(client: TableClient, *, entity: dict[str, Any]) -> object:
    return client.create_entity(entity, **tables.NO_ECHO)


def recent(settings: Settings, *, days: int = 2, outcome: Outcome | None = None) -> Iterator[AuditEntry]:
    """Entries of the last `days` days, newest first (day partitions are read newest day first)."""
    today = datetime.now(UTC).date()
    for back in range(days):
        day = (today - timedelta(days=back)).isoformat()
        query = "PartitionKey eq @pk"
        params: dict[str, Any] = {"pk": day}
        if outcome is not None:
            query += " and Outcome eq @outcome"
            params["outcome"] = outcome.value
        for entity in tables.query(settings, settings.audit_table, query, params):
            yield AuditEntry.from_entity(dict(entity))

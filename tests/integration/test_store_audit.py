"""The audit table on Azurite: rows written in batches (one transaction per 100 rows of a day) read
back like single writes; a batch the service refuses is written row by row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.store import audit, insert_batches
from shared.store.audit import AuditEntry, Outcome

pytestmark = pytest.mark.integration


def _entry(n: int, at: datetime, **kw: object) -> AuditEntry:
    return AuditEntry(
        trace_id=uuid.uuid4().hex, action="opportunity created", outcome=Outcome.OK,
        record_id=f"rec-{n}", at=at, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_many_rows_over_two_days_are_all_written_in_few_calls(settings, monkeypatch):
    now = datetime.now(UTC)
    entries = [_entry(n, now - timedelta(days=n % 2, seconds=n)) for n in range(230)]
    transactions: list[int] = []
    insert_all = insert_batches.insert_all

    def counted(client, entities):
        transactions.append(len(entities))
        return insert_all(client, entities)

    monkeypatch.setattr(insert_batches, "insert_all", counted)
    audit.write_many(settings, entries)

    written = {e.record_id for e in audit.recent(settings, days=2) if e.record_id.startswith("rec-")}
    assert written == {f"rec-{n}" for n in range(230)}
    assert sorted(transactions) == [15, 15, 100, 100]  # 115 rows a day: 100 + 15 each


def test_a_refused_batch_is_written_row_by_row_and_a_bad_row_costs_only_itself(settings):
    now = datetime.now(UTC)
    good = [_entry(n, now) for n in range(1000, 1005)]
    bad = _entry(1005, now, error="x")
    entries = [*good[:2], bad, *good[2:]]
    original = AuditEntry.to_entity

    def oversized(self: AuditEntry) -> dict[str, object]:
        entity = original(self)
        if self.record_id == "rec-1005":
            entity["Huge"] = "x" * 40_000  # over the 32K characters a string property may hold
        return entity

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AuditEntry, "to_entity", oversized)
        audit.write_many(settings, entries)

    written = {e.record_id for e in audit.recent(settings, days=1)}
    assert {f"rec-{n}" for n in range(1000, 1005)} <= written
    assert "rec-1005" not in written

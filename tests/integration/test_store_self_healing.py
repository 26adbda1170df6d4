"""Storage that loses a table or a queue under a running process (deleted, or an emulator restarted
without its data): the next operation creates it again and succeeds, and a watermark is never
mistaken for "none yet" (which would widen a poll's window to a day)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from shared.config import POISON_QUEUE, SYNC_QUEUE, Settings
from shared.intake.salesforce_poll import WATERMARK as POLL_WATERMARK
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.store import audit, job_queue, links, tables, watermarks
from shared.store.audit import AuditEntry, Outcome
from shared.store.claims import claim
from shared.store.links import Link
from shared.store.storage_clients import queue_client, table_service

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_queues")]


def drop_tables(settings: Settings) -> None:
    service = table_service(settings)
    for name in (settings.links_table, settings.audit_table, settings.watermarks_table):
        service.delete_table(name)


def test_links_audit_and_claims_recreate_their_table_after_it_was_deleted(settings):
    links.save(settings, Link("ref-1", "006-1"))
    audit.write(settings, AuditEntry("t0", "synced", Outcome.OK))
    drop_tables(settings)

    assert links.get(settings, "ref-1") is None  # the table is back, the link with it is gone
    saved = links.save(settings, Link("ref-2", "006-2"))
    assert links.get(settings, "ref-2") == saved
    audit.write(settings, AuditEntry("t1", "synced", Outcome.OK))
    assert [e.trace_id for e in audit.recent(settings, days=1)] == ["t1"]
    service = table_service(settings)
    service.delete_table(settings.links_table)
    with claim(settings, "ref-3"):
        pass
    service.delete_table(settings.audit_table)
    assert list(audit.recent(settings, days=1)) == []


def test_a_link_saved_over_a_lost_table_is_a_conflict_to_re_read_not_a_crash(settings):
    from shared.errors import ConflictError

    link = links.save(settings, Link("ref-9", "006-9"))
    table_service(settings).delete_table(settings.links_table)
    with pytest.raises(ConflictError):
        links.save(settings, link)


def test_jobs_and_poison_messages_recreate_their_queue_after_it_was_deleted(settings):
    job = SyncJob(kind=RecordKind.REFERRAL, record_id="ref-q", source=JobSource.WEBHOOK)
    job_queue.enqueue(settings, [job])
    job_queue.poison_raw(settings, "not a job")
    for name in (SYNC_QUEUE, POISON_QUEUE):
        queue_client(settings, name).delete_queue()

    assert job_queue.enqueue(settings, [job, job]) == 2
    job_queue.poison_raw(settings, "still not a job")
    assert job_queue.depth(settings) == 2
    assert job_queue.depth(settings, POISON_QUEUE) == 1


def test_a_watermark_lost_with_its_table_is_restored_from_what_the_process_last_knew(settings):
    mark = datetime.now(UTC) - timedelta(minutes=3)
    watermarks.advance(settings, POLL_WATERMARK, mark, seen=["006A@1"])
    table_service(settings).delete_table(settings.watermarks_table)

    restored = watermarks.read(settings, POLL_WATERMARK)
    assert restored.value == mark
    assert restored.seen == frozenset({"006A@1"})


def test_a_watermark_whose_table_another_writer_re_created_first_is_restored_too(settings):
    """The API usage counters share the table: their flush may re-create it before a read here
    notices it was lost; the mark is still written back, never taken for "none yet"."""
    mark = datetime.now(UTC) - timedelta(minutes=3)
    watermarks.advance(settings, POLL_WATERMARK, mark, seen=["006A@1"])
    table_service(settings).delete_table(settings.watermarks_table)
    tables.recreate(settings, settings.watermarks_table)

    restored = watermarks.read(settings, POLL_WATERMARK)
    assert (restored.value, restored.seen) == (mark, frozenset({"006A@1"}))


def test_a_watermark_lost_without_a_memory_of_it_is_unavailable_until_set_again(settings):
    name = "never-read-here"
    assert watermarks.get(settings, "another-mark") is None  # the process has used the table
    table_service(settings).delete_table(settings.watermarks_table)

    with pytest.raises(watermarks.WatermarkUnavailable, match="unavailable"):
        watermarks.read(settings, name)
    with pytest.raises(watermarks.WatermarkUnavailable):  # still, on the next run: never "none yet"
        watermarks.read(settings, name)
    with pytest.raises(watermarks.WatermarkUnavailable):
        watermarks.advance(settings, name, datetime.now(UTC))
    at = datetime.now(UTC) - timedelta(hours=1)
    watermarks.restore(settings, name, at)
    assert watermarks.get(settings, name) == at


def test_a_poll_whose_watermark_table_is_gone_enqueues_nothing_and_says_why(settings):
    from shared.intake.salesforce_poll import poll_once

    assert watermarks.get(settings, "another-mark") is None
    table_service(settings).delete_table(settings.watermarks_table)
    sent: list[SyncJob] = []

    class NoQuery:
        call_counts: dict[str, int] = {}  # noqa: RUF012

        def changed_opportunities(self, since: datetime) -> list[dict[str, object]]:
            raise AssertionError(f"queried Salesforce since {since}")

    def enqueue(_settings: Settings, jobs: Iterable[SyncJob], *, delay_seconds: int = 0) -> int:
        sent.extend(jobs)
        return len(sent)

    for _ in range(2):
        with pytest.raises(watermarks.WatermarkUnavailable, match=POLL_WATERMARK):
            poll_once(settings, client=NoQuery(), enqueue=enqueue)  # type: ignore[arg-type]
    assert sent == []

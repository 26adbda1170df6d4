"""The work queue on Azurite: a batch is sent over several connections and arrives whole."""

from __future__ import annotations

import pytest

from shared.config import SYNC_QUEUE
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.store import job_queue
from shared.store.storage_clients import queue_client

pytestmark = pytest.mark.integration


def test_a_batch_of_jobs_arrives_once_each_with_its_body_intact(settings):
    jobs = [
        SyncJob(kind=RecordKind.REFERRAL, record_id=f"ref-{n}-ÄÖ✔", source=JobSource.BACKFILL)
        for n in range(40)
    ]
    assert job_queue.enqueue(settings, jobs) == 40

    client = queue_client(settings, SYNC_QUEUE)
    received = [SyncJob.from_message(m.content) for m in client.receive_messages(max_messages=32)]
    received += [SyncJob.from_message(m.content) for m in client.receive_messages(max_messages=32)]
    assert sorted(j.record_id for j in received) == sorted(j.record_id for j in jobs)
    assert {j.trace_id for j in received} == {j.trace_id for j in jobs}


def test_a_delayed_job_is_invisible_until_its_time(settings):
    job = SyncJob(kind=RecordKind.OPPORTUNITY, record_id="006x", source=JobSource.RETRY)
    job_queue.enqueue(settings, [job], delay_seconds=30)
    assert list(queue_client(settings, SYNC_QUEUE).receive_messages()) == []

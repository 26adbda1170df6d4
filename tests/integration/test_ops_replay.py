"""replay: poison messages back to work with their last error; nothing lost when interrupted."""

from __future__ import annotations

import json

import pytest

from shared.config import POISON_QUEUE, SYNC_QUEUE, Settings
from shared.errors import TransientError
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.ops.replay import replay
from shared.store import audit, job_queue
from shared.store.audit import AuditEntry, Outcome
from shared.store.storage_clients import queue_client
from tests.integration.ops_fixtures import drain_jobs

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_queues")]


def poisoned(settings: Settings, record_id: str, error: str) -> SyncJob:
    """A job that failed until the host poisoned it, with its failures in the audit table."""
    job = SyncJob(kind=RecordKind.REFERRAL, record_id=record_id, source=JobSource.WEBHOOK, attempt=3)
    for text in ("Partner Center 503: first failure", error):
        audit.write(
            settings, AuditEntry(job.trace_id, "sync", Outcome.RETRYING, record_id=record_id, error=text)
        )
    job_queue.poison_raw(settings, job.to_message())
    return job


def poison_depth(settings: Settings) -> int:
    return len(list(queue_client(settings, POISON_QUEUE).peek_messages(max_messages=32)))


def test_replay_lists_messages_with_their_last_error_and_moves_nothing_without_a_choice(ops_settings, cli):
    job = poisoned(ops_settings, "ref-1", "Partner Center 503: still down")
    job_queue.poison_raw(ops_settings, "not a job at all")

    result = cli("replay", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_trace = {m["job"]["trace_id"]: m for m in report["messages"] if m["job"]}
    assert by_trace[job.trace_id]["last_error"] == "Partner Center 503: still down"
    assert next(m["invalid_reason"] for m in report["messages"] if not m["job"]).startswith("not JSON")
    assert report["replayed"] == []
    assert poison_depth(ops_settings) == 2


def test_replay_all_restores_poisoned_jobs_as_replay_jobs_with_their_trace_ids(ops_settings, cli):
    jobs = [poisoned(ops_settings, f"ref-{n}", "boom") for n in range(3)]
    job_queue.poison_raw(ops_settings, '{"kind": "nonsense"}')

    result = cli("replay", "--all")

    assert result.exit_code == 0, result.output
    assert "3 replayed, 0 discarded, 1 left" in result.stdout
    restored = drain_jobs(ops_settings)
    assert sorted(j.trace_id for j in restored) == sorted(j.trace_id for j in jobs)
    assert {j.source for j in restored} == {JobSource.REPLAY}
    assert {j.attempt for j in restored} == {0}
    assert poison_depth(ops_settings) == 1  # the invalid message stays


def test_replay_by_id_moves_only_that_message_and_discard_invalid_removes_non_jobs(ops_settings, cli):
    first = poisoned(ops_settings, "ref-a", "boom")
    poisoned(ops_settings, "ref-b", "boom")
    job_queue.poison_raw(ops_settings, "garbage")
    listed = json.loads(cli("replay", "--json").stdout)["messages"]
    chosen = next(m["message_id"] for m in listed if m["job"] and m["job"]["trace_id"] == first.trace_id)
    invalid = next(m["message_id"] for m in listed if not m["job"])

    moved = cli("replay", "--id", chosen, "--id", invalid, "--discard-invalid")

    assert moved.exit_code == 0, moved.output
    assert [j.trace_id for j in drain_jobs(ops_settings)] == [first.trace_id]
    assert poison_depth(ops_settings) == 1


def test_replay_dry_run_moves_nothing(ops_settings, cli):
    poisoned(ops_settings, "ref-1", "boom")

    result = cli("replay", "--all", "--dry-run")

    assert result.exit_code == 0, result.output
    assert drain_jobs(ops_settings) == []
    assert poison_depth(ops_settings) == 1


def test_an_interrupted_replay_loses_nothing(ops_settings):
    jobs = [poisoned(ops_settings, f"ref-{n}", "boom") for n in range(3)]
    sent = 0

    def storage_fails_on_the_second_send(settings, batch):
        nonlocal sent
        if sent == 1:
            raise TransientError("storage unavailable", provider="storage")
        sent += 1
        return job_queue.enqueue(settings, batch)

    with pytest.raises(TransientError):
        replay(ops_settings, replay_all=True, enqueue=storage_fails_on_the_second_send)

    on_work_queue = {j.trace_id for j in drain_jobs(ops_settings)}
    still_poisoned = {
        SyncJob.from_message(m.content).trace_id
        for m in queue_client(ops_settings, POISON_QUEUE).peek_messages(max_messages=32)
    }
    assert len(on_work_queue) == 1
    assert on_work_queue | still_poisoned == {j.trace_id for j in jobs}


def test_replay_of_an_unknown_id_fails_in_one_line(ops_settings, cli):
    result = cli("replay", "--id", "no-such-message")

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no poison message with id no-such-message"
    assert queue_client(ops_settings, SYNC_QUEUE).get_queue_properties().approximate_message_count == 0

"""Reading poison messages and the job a replay sends."""

from __future__ import annotations

import base64

from shared.jobs import JobSource, RecordKind, SyncJob
from shared.ops.replay import decode_body, parse, replay_job

JOB = SyncJob(kind=RecordKind.OPPORTUNITY, record_id="006A", source=JobSource.POLL, attempt=4, trace_id="t-1")


def test_poison_bodies_are_base64_as_the_host_writes_them_or_raw_text():
    assert decode_body(base64.b64encode(JOB.to_message().encode()).decode()) == JOB.to_message()
    assert decode_body("plain {text}") == "plain {text}"


def test_a_job_message_parses_and_a_non_job_keeps_its_reason():
    assert parse("m1", JOB.to_message(), None).job == JOB
    invalid = parse("m2", '{"kind": "nope"}', None)
    assert invalid.job is None and invalid.invalid_reason and "not a sync job" in invalid.invalid_reason


def test_a_replayed_job_keeps_record_and_trace_with_source_replay_and_a_fresh_attempt_count():
    again = replay_job(JOB)
    assert (again.kind, again.record_id, again.trace_id) == (JOB.kind, JOB.record_id, JOB.trace_id)
    assert (again.source, again.attempt) == (JobSource.REPLAY, 0)

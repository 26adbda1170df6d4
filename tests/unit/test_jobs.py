"""The queue contract: ids and provenance only, strict parsing, nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.jobs import InvalidJob, JobSource, RecordKind, SyncJob


def test_a_job_round_trips_through_its_queue_message():
    job = SyncJob(
        kind=RecordKind.REFERRAL, record_id="5dd4dc44", source=JobSource.WEBHOOK, event="referral-updated"
    )
    again = SyncJob.from_message(job.to_message())
    assert again == job
    assert set(json.loads(job.to_message())) <= {
        "kind", "record_id", "source", "observed_at", "trace_id", "event", "attempt", "traceparent"
    }  # fmt: skip


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "not a sync job"),
        (b'{"kind": "referral", "source": "webhook"}', "record_id"),
        (b'{"kind": "lead", "record_id": "x", "source": "webhook"}', "kind"),
        (b'{"kind": "referral", "record_id": "a/b", "source": "webhook"}', "record_id"),
        (b'{"kind": "referral", "record_id": "x", "source": "poll", "data": {"Name": "x"}}', "data"),
    ],
)
def test_messages_that_are_not_jobs_are_refused_with_the_reason(body, reason):
    with pytest.raises(InvalidJob, match=reason):
        SyncJob.from_message(body)


def test_naive_observed_times_are_taken_as_utc():
    job = SyncJob(kind="opportunity", record_id="006x", source="poll", observed_at=datetime(2026, 1, 1))
    assert job.observed_at.tzinfo == UTC


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="/\\#?"),
        min_size=1,
        max_size=50,
    ).filter(str.strip)
)
def test_any_plausible_id_round_trips(record_id):
    job = SyncJob(kind=RecordKind.OPPORTUNITY, record_id=record_id, source=JobSource.BACKFILL)
    assert SyncJob.from_message(job.to_message()).record_id == record_id.strip()

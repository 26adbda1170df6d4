"""The custom metrics the infra alerts read: names, values and dimensions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader

from shared import telemetry
from shared.config import load_settings


@pytest.fixture(scope="module")
def reader() -> InMemoryMetricReader:
    # Delta, as the Azure Monitor exporter uses: each collection holds only what was recorded since.
    delta = AggregationTemporality.DELTA
    reader = InMemoryMetricReader(preferred_temporality={Counter: delta, Histogram: delta})
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    assert isinstance(metrics.get_meter_provider(), MeterProvider), "another test installed a provider"
    return reader


@pytest.fixture
def points(reader: InMemoryMetricReader) -> Iterator[Any]:
    reader.get_metrics_data()  # drop what earlier tests recorded

    def collect() -> dict[str, list[tuple[dict[str, Any], Any]]]:
        data = reader.get_metrics_data()
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                if scope.scope.name != telemetry.METER_NAME:
                    continue
                for metric in scope.metrics:
                    found[metric.name] = [(dict(p.attributes or {}), p) for p in metric.data.data_points]
        return found

    yield collect


def test_a_finished_sync_counts_once_and_records_its_latency_by_direction_and_outcome(points):
    telemetry.record_sync("pc_to_sf", "ok", 120.0, "referral")
    telemetry.record_sync("pc_to_sf", "ok", 80.0, "referral")
    telemetry.record_sync("sf_to_pc", "failed", 40.0, "opportunity")

    found = points()
    counts = {(a["direction"], a["outcome"], a["record_kind"]): p.value for a, p in found["sync_operations"]}
    assert counts == {("pc_to_sf", "ok", "referral"): 2, ("sf_to_pc", "failed", "opportunity"): 1}
    latency = {a["direction"]: p for a, p in found["sync_latency_ms"]}
    assert latency["pc_to_sf"].count == 2
    assert latency["pc_to_sf"].sum == pytest.approx(200.0)
    assert latency["sf_to_pc"].max == pytest.approx(40.0)


def test_a_poll_reports_its_lag_and_the_jobs_it_enqueued(points):
    telemetry.record_poll(lag_seconds=75.5, enqueued=3)

    found = points()
    [(_, lag)] = found["poll_lag_seconds"]
    [(_, enqueued)] = found["poll_enqueued"]
    assert lag.value == pytest.approx(75.5)
    assert enqueued.value == 3


def test_webhook_verdicts_are_the_strings_the_silence_alert_filters_on(points):
    telemetry.record_webhook("referral-updated", accepted=True)
    telemetry.record_webhook("referral-updated", accepted=False)

    found = points()
    verdicts = {(a["event"], a["accepted"]): p.value for a, p in found["webhook_events"]}
    assert verdicts == {("referral-updated", "true"): 1, ("referral-updated", "false"): 1}


def test_queue_depths_are_reported_per_queue_for_the_poison_alert(points):
    telemetry.record_queue_depths(sync_jobs=12, poison=2)

    found = points()
    assert found["sync_queue_depth"][0][1].value == 12
    assert found["poison_depth"][0][1].value == 2


def test_an_oversized_dimension_is_clipped_so_cardinality_stays_bounded(points):
    telemetry.record_webhook("x" * 500, accepted=True)

    found = points()
    [(attributes, _)] = found["webhook_events"]
    assert len(attributes["event"]) == 64


def test_configure_is_a_no_op_without_a_connection_string(reader):
    provider = metrics.get_meter_provider()

    telemetry.configure_telemetry(load_settings(applicationinsights_connection_string=""))

    assert metrics.get_meter_provider() is provider
    assert telemetry._configured is False


def test_a_job_message_without_trace_context_still_parses_and_gains_one():
    import json as _json

    from shared.jobs import TRACEPARENT, SyncJob

    old = '{"kind": "referral", "record_id": "r-1", "source": "webhook", "trace_id": "' + "a" * 32 + '"}'
    job = SyncJob.from_message(old)
    assert job.traceparent is not None and TRACEPARENT.match(job.traceparent)
    assert job.traceparent.split("-")[1] == "a" * 32
    assert SyncJob.from_message(job.to_message()) == job
    legacy = SyncJob.from_message(_json.dumps({"kind": "referral", "record_id": "r", "source": "poll",
                                               "trace_id": "not-hex"}))  # fmt: skip
    assert legacy.traceparent is None


def test_json_log_lines_carry_the_trace_and_job_fields_and_redact_secrets():
    import io
    import json as _json
    import logging

    stream = io.StringIO()
    handler = telemetry.configure_logging(load_settings(), stream=stream)
    try:
        parent = "00-" + "b" * 32 + "-" + "c" * 16 + "-01"
        with telemetry.continue_trace(parent, "sync job", job="j-1", record_id="r-9", kind="referral"):
            logging.getLogger("cosell_sync.engine").warning(
                "token refused: refresh_token=SECRETVALUE123", extra={"outcome": "retrying"}
            )
    finally:
        logging.getLogger().removeHandler(handler)
    [line] = [_json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["trace_id"] == "b" * 32
    assert (line["job"], line["record_id"], line["kind"], line["outcome"]) == (
        "j-1",
        "r-9",
        "referral",
        "retrying",
    )
    assert "SECRETVALUE123" not in stream.getvalue()


def test_storage_calls_get_no_requests_span_but_salesforce_calls_do():
    from opentelemetry.util.http import parse_excluded_urls

    azurite = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
    )
    untraced = parse_excluded_urls(telemetry.untraced_urls(load_settings(storage_connection=azurite)))
    for url in (
        "https://contoso.table.core.windows.net/SyncLinks(PartitionKey='a',RowKey='link')",
        "https://contoso.queue.core.usgovcloudapi.net/sync-jobs/messages",
        "http://127.0.0.1:10002/devstoreaccount1/SyncLinks()",
        "http://127.0.0.1:10001/devstoreaccount1/sync-jobs/messages?numofmessages=32",
    ):
        assert untraced.url_disabled(url), url
    for url in (
        "https://contoso.my.salesforce.com/services/data/v62.0/composite",
        "https://api.partner.microsoft.com/v1.0/engagements/referrals",
        "http://127.0.0.1:10003/devstoreaccount2/other",
        "https://table.core.windows.net.evil.example/x",
    ):
        assert not untraced.url_disabled(url), url

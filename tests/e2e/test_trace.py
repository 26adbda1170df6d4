"""One transaction is one distributed trace: the webhook request, the queue hop, the sync and its
HTTP calls to both APIs share the trace id (W3C trace context in the job message), every log line
is JSON with that trace id, and no secret appears in any log line."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devstack.azurite import DEV_KEY
from devstack.stack import LocalStack
from shared.core import salesforce_fields as F
from shared.telemetry import configure_logging

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        pytest.skip("another test installed a tracer provider")
    return exporter


@pytest.fixture(scope="module")
def traced(spans: InMemorySpanExporter) -> Iterator[tuple[LocalStack, io.StringIO]]:
    with LocalStack(only=["partner_center_events", "sync_worker"]) as stack:
        logs = io.StringIO()
        configure_logging(stack.settings, stream=logs)
        yield stack, logs


def _lines(logs: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]


def test_a_webhook_its_queue_hop_its_sync_and_its_api_calls_share_one_trace(traced, spans):
    stack, logs = traced
    referral = stack.pc.send_referral()
    rid = referral["id"]
    deadline = time.monotonic() + 30
    while not stack.sf.query(f"SELECT Id FROM Opportunity WHERE {F.REFERRAL_ID} = '{rid}'"):
        assert time.monotonic() < deadline, "no opportunity"
        time.sleep(0.1)
    time.sleep(0.5)
    lines = _lines(logs)
    [webhook] = [x for x in lines if "queued job for referral " + rid in x["message"]]
    trace_id = webhook["trace_id"]
    synced = [x for x in lines if x.get("record_id") == rid and x["message"].startswith("job ")]
    assert synced and {x["trace_id"] for x in synced} == {trace_id}
    assert synced[-1]["job"] == trace_id and synced[-1]["kind"] == "referral"

    mine = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
    names = {s.name for s in mine}
    assert {"partner-center webhook", "sync job"} <= names
    urls = [
        str((s.attributes or {}).get("http.url") or (s.attributes or {}).get("url.full") or "") for s in mine
    ]
    assert any(rid in url for url in urls), urls  # the Partner Center read (httpx)
    assert any("/services/data/" in url for url in urls), urls  # the Salesforce writes (requests)


def test_no_secret_appears_in_any_log_line(traced):
    stack, logs = traced
    s = stack.settings
    secrets = [
        s.pc_client_secret.get_secret_value(), s.pc_refresh_token.get_secret_value(),
        s.sf_client_secret.get_secret_value(), s.sf_password.get_secret_value(),
        s.sf_security_token.get_secret_value(), DEV_KEY,
    ]  # fmt: skip
    key_lines = [ln for ln in s.sf_private_key.get_secret_value().splitlines() if len(ln) > 20]
    text = logs.getvalue()
    assert text, "nothing was logged"
    for secret in [x for x in secrets + key_lines if len(x) >= 6]:
        assert secret not in text

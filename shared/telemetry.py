"""Custom metrics the alerts and the workbook in `infra/` read, and the one-time exporter set-up.

Metric names and dimensions are a contract with `infra/monitoring/*.kql` and `workbook.json`:

    sync_operations   counter    direction, outcome, record_kind   one per finished sync job
    sync_latency_ms   histogram  direction, outcome, record_kind   job duration
    poll_lag_seconds  gauge      -                                 how far the Salesforce poll is behind
    poll_enqueued     counter    -                                 jobs one poll enqueued
    webhook_events    counter    event, accepted ("true"/"false")  Partner Center webhook calls
    sync_queue_depth  gauge      -                                 approximate messages in sync-jobs
    poison_depth      gauge      -                                 approximate messages in sync-jobs-poison

Dimensions are small closed vocabularies (directions, outcomes, event names): never record ids,
names, e-mail addresses or secrets. Until `configure_telemetry` installs an exporter, the
OpenTelemetry API hands out no-op instruments, so recording costs next to nothing in tests and locally.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.errors import redact

if TYPE_CHECKING:
    from shared.config import Settings

log = logging.getLogger(__name__)

METER_NAME = "cosell_sync"
_LABEL_MAX_CHARS = 64

_configured = False
_configure_lock = threading.Lock()


class _Instruments:
    """The process's instruments. Made before an exporter exists, they come from the API's proxy
    meter and start recording once a meter provider is installed."""

    def __init__(self) -> None:
        meter = metrics.get_meter(METER_NAME)
        self.sync_operations = meter.create_counter(
            "sync_operations", unit="1", description="Finished sync jobs by direction and outcome."
        )
        self.sync_latency = meter.create_histogram(
            "sync_latency_ms", unit="ms", description="Duration of one sync job."
        )
        self.poll_lag = meter.create_gauge(
            "poll_lag_seconds", unit="s", description="Age of the Salesforce poll watermark after a poll."
        )
        self.poll_enqueued = meter.create_counter(
            "poll_enqueued", unit="1", description="Jobs enqueued by the Salesforce poll."
        )
        self.webhook_events = meter.create_counter(
            "webhook_events", unit="1", description="Partner Center webhook calls by event and verdict."
        )
        self.sync_queue_depth = meter.create_gauge(
            "sync_queue_depth", unit="1", description="Approximate messages waiting in sync-jobs."
        )
        self.poison_depth = meter.create_gauge(
            "poison_depth", unit="1", description="Approximate messages in sync-jobs-poison."
        )


_instruments: _Instruments | None = None


def _get() -> _Instruments:
    global _instruments  # noqa: PLW0603 - one lazily built set of instruments per process
    if _instruments is None:
        _instruments = _Instruments()
    return _instruments


def _label(value: str) -> str:
    """Dimensions are closed vocabularies; clip anything longer so a bug cannot flood cardinality."""
    return str(value)[:_LABEL_MAX_CHARS]


TRACER_NAME = "cosell_sync"
_NO_FIELDS: Mapping[str, str] = MappingProxyType({})
_log_fields: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "cosell_log_fields", default=_NO_FIELDS
)
_LOG_FIELDS = ("trace_id", "span_id", "job", "kind", "record_id", "source", "outcome")
_instrumented = False


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (secrets redacted), the trace id and
    span id of the active span (or of the job being run), the job and record ids, the outcome."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        entry.update(_log_fields.get())
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        for name in _LOG_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = str(value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


_handler: logging.Handler | None = None


def configure_logging(
    settings: Settings, *, stream: IO[str] | None = None, handler_level: int = logging.NOTSET
) -> logging.Handler:
    """JSON lines on stderr (or `stream`) for the whole process, at LOG_LEVEL for the app's loggers
    (`handler_level` can quiet this output further, e.g. a benchmark's worker processes).
    Idempotent: a second call replaces the handler of the first."""
    global _handler  # noqa: PLW0603 - one handler per process
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = logging.StreamHandler(stream or sys.stderr)
    _handler.setFormatter(JsonLogFormatter())
    _handler.setLevel(handler_level)
    root.addHandler(_handler)
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)
    apply_log_level(settings)
    return _handler


@contextmanager
def log_fields(**fields: str | None) -> Iterator[None]:
    """Add fields (job, record_id, …) to every log line written inside the block."""
    token = _log_fields.set({**_log_fields.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _log_fields.reset(token)


@contextmanager
def continue_trace(traceparent: str | None, name: str, **fields: str | None) -> Iterator[None]:
    """Run the block as a span continuing the W3C trace context `traceparent` (a job's producer:
    the webhook request, the poll, a replay), with `fields` on every log line. Without an exporter
    the span does not record, but the context still flows into the HTTP calls' headers and the logs."""
    parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent} if traceparent else {})
    span_context = trace.get_current_span(parent).get_span_context()
    trace_fields = {"trace_id": format(span_context.trace_id, "032x")} if span_context.is_valid else {}
    tracer = trace.get_tracer(TRACER_NAME)
    with (
        tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.CONSUMER) as span,
        log_fields(**trace_fields, **fields),
    ):
        for key, value in fields.items():
            if value is not None:
                span.set_attribute(f"cosell.{key}", value)
        yield


# Azure Storage calls are traced by the Azure SDK's own tracing (the Application Insights distro turns
# it on): a `requests` span under each would only double them, and cost CPU on every Table and Queue
# call (issue #19). Azure's endpoints in every cloud (`<account>.<service>.core.<cloud suffix>`,
# https://learn.microsoft.com/azure/storage/common/storage-account-overview#standard-endpoints),
# plus this app's own (Azurite locally).
_AZURE_STORAGE_URLS = r"https?://[^/]+\.(table|queue|blob)\.core\.[^/]+/"


def instrument_http(settings: Settings | None = None) -> None:
    """OpenTelemetry spans (and W3C headers) for every httpx (Partner Center) and requests
    (Salesforce) call, children of the job's span; not for Azure Storage. Once per process."""
    global _instrumented  # noqa: PLW0603 - process-wide, idempotent
    if _instrumented:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor  # noqa: PLC0415
    from opentelemetry.instrumentation.requests import RequestsInstrumentor  # noqa: PLC0415

    HTTPXClientInstrumentor().instrument()
    RequestsInstrumentor().instrument(excluded_urls=untraced_urls(settings))
    _instrumented = True


def untraced_urls(settings: Settings | None) -> str:
    """The `excluded_urls` of the requests instrumentation: Azure Storage's endpoints, those a
    connection string names (Azurite's) included."""
    endpoints: list[str] = []
    if settings is not None and settings.storage_connection:
        parts = dict(part.split("=", 1) for part in settings.storage_connection.split(";") if "=" in part)
        endpoints = [
            parts[k].rstrip("/") for k in ("BlobEndpoint", "QueueEndpoint", "TableEndpoint") if k in parts
        ]
        if parts.get("UseDevelopmentStorage", "").lower() == "true":
            endpoints += [f"http://127.0.0.1:{port}/devstoreaccount1" for port in (10000, 10001, 10002)]
    return ",".join([_AZURE_STORAGE_URLS, *(re.escape(url) for url in endpoints)])


def apply_log_level(settings: Settings) -> None:
    """LOG_LEVEL for the app's own loggers (the host's and libraries' levels are host.json's)."""
    for name in ("cosell_sync", "shared"):
        logging.getLogger(name).setLevel(settings.log_level)


def configure_telemetry(settings: Settings) -> None:
    """Send traces and custom metrics to Application Insights, once per process.

    A no-op when APPLICATIONINSIGHTS_CONNECTION_STRING is empty (tests, the devstack). In Azure,
    App Insights has local auth off, so the exporter authenticates as the app's user-assigned
    identity (AzureWebJobsStorage__clientId). Python log records are not exported here: the
    Functions host already forwards them, and exporting them again would duplicate every trace.
    """
    global _configured  # noqa: PLW0603 - process-wide, idempotent set-up
    apply_log_level(settings)
    instrument_http(settings)
    connection_string = settings.applicationinsights_connection_string.get_secret_value()
    if not connection_string:
        return
    with _configure_lock:
        if _configured:
            return
        # Imported here: the distro is heavy and only needed when exporting.
        from azure.monitor.opentelemetry import configure_azure_monitor  # noqa: PLC0415

        credential = None
        if settings.storage_client_id:
            from azure.identity import ManagedIdentityCredential  # noqa: PLC0415

            credential = ManagedIdentityCredential(client_id=settings.storage_client_id)
        configure_azure_monitor(
            connection_string=connection_string,
            credential=credential,
            disable_logging=True,
            enable_live_metrics=False,
        )
        _configured = True
        log.info("telemetry export to Application Insights configured")


def record_sync(direction: str, outcome: str, latency_ms: float, record_kind: str) -> None:
    """One finished sync job: `direction` and `outcome` are the audit vocabulary
    (`shared.store.audit.Direction` / `Outcome` values), `record_kind` is referral or opportunity."""
    attributes = {
        "direction": _label(direction),
        "outcome": _label(outcome),
        "record_kind": _label(record_kind),
    }
    instruments = _get()
    instruments.sync_operations.add(1, attributes)
    instruments.sync_latency.record(max(latency_ms, 0.0), attributes)


def record_poll(lag_seconds: float, enqueued: int) -> None:
    """After each Salesforce poll: how old the watermark is now, and how many jobs it enqueued."""
    instruments = _get()
    instruments.poll_lag.set(max(lag_seconds, 0.0))
    if enqueued:
        instruments.poll_enqueued.add(enqueued)


def record_webhook(event: str, accepted: bool) -> None:
    """One Partner Center webhook call; `event` is the event name (e.g. referral-updated)."""
    _get().webhook_events.add(1, {"event": _label(event), "accepted": "true" if accepted else "false"})


def record_queue_depths(sync_jobs: int, poison: int) -> None:
    """Approximate depths of the work and poison queues (the poison-queue alert reads `poison_depth`).

    Storage's own queue metric counts the whole account, so the app reports per-queue depths,
    e.g. from `QueueClient.get_queue_properties().approximate_message_count` once per poll.
    """
    instruments = _get()
    instruments.sync_queue_depth.set(max(sync_jobs, 0))
    instruments.poison_depth.set(max(poison, 0))

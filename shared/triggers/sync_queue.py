"""Queue trigger: one sync job per message; host.json decides retries and the poison queue.

The run continues the job's W3C trace context (`traceparent`, set where the job was made: the
webhook request, the poll, a replay), so the sync and its API calls join the producer's trace."""

from __future__ import annotations

import json

import azure.functions as func

from shared.config import SYNC_QUEUE, get_settings
from shared.sync.queue_worker import handle_message
from shared.telemetry import continue_trace

bp = func.Blueprint()


def _job_fields(body: str) -> dict[str, str | None]:
    """traceparent and ids of the job in `body`, for the span and log lines (nothing if not a job)."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    fields = {key: data.get(key) for key in ("traceparent", "trace_id", "kind", "record_id", "source")}
    return {key: value if isinstance(value, str) else None for key, value in fields.items()}


@bp.function_name("sync_worker")
@bp.queue_trigger(arg_name="msg", queue_name=SYNC_QUEUE, connection="AzureWebJobsStorage")
def sync_worker(msg: func.QueueMessage) -> None:
    body = msg.get_body().decode("utf-8", errors="replace")
    fields = _job_fields(body)
    traceparent = fields.pop("traceparent", None)
    fields["job"] = fields.pop("trace_id", None)
    with continue_trace(traceparent, "sync job", **fields):
        handle_message(
            body, dequeue_count=msg.dequeue_count or 1, message_id=msg.id or "", settings=get_settings()
        )

"""The queue contract: a job names a record that may have changed, never its data.

The worker always reads both sides fresh, so duplicated or re-ordered jobs are harmless.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _current_span() -> tuple[str, str] | None:
    """(trace id, span id) of the active OpenTelemetry span, when there is one (e.g. the webhook's
    request span): the job then continues that trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


class RecordKind(StrEnum):
    REFERRAL = "referral"
    OPPORTUNITY = "opportunity"


class JobSource(StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"
    BACKFILL = "backfill"
    RECONCILE = "reconcile"
    REPLAY = "replay"
    RETRY = "retry"
    MANUAL = "manual"


class InvalidJob(ValueError):
    """A queue message that is not a job: poisoned at once, never retried."""


class SyncJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RecordKind
    record_id: str = Field(min_length=1, max_length=200)
    source: JobSource
    observed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    trace_id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=64)
    event: str | None = Field(default=None, max_length=100, description="e.g. referral-updated")
    attempt: int = Field(default=0, ge=0, le=1000, description="Re-enqueues after throttling so far.")
    referral_id: str | None = Field(
        default=None,
        max_length=200,
        description="Opportunity jobs from the poll: the Referral Id the poll saw on it, so that the echo"
        " of our own write is recognised from the link alone (no Salesforce read).",
    )
    traceparent: str | None = Field(
        default=None,
        pattern=TRACEPARENT.pattern,
        description="W3C trace context of the producer (webhook request, poll, replay…): the queue hop and"
        " the sync continue its distributed trace. Absent in older messages (then derived from trace_id).",
    )

    @model_validator(mode="before")
    @classmethod
    def _trace_context(cls, data: Any) -> Any:
        """A new job joins the active span's trace (trace_id = its W3C trace id); every job whose
        trace id is a W3C one carries a traceparent, so older messages gain one when read."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        current = _current_span()
        if "trace_id" not in data:
            data["trace_id"] = current[0] if current else uuid.uuid4().hex
        if data.get("traceparent") is None and _HEX32.match(str(data["trace_id"])):
            parent = current[1] if current and current[0] == data["trace_id"] else secrets.token_hex(8)
            data["traceparent"] = f"00-{data['trace_id']}-{parent}-01"
        return data

    @field_validator("record_id", "referral_id")
    @classmethod
    def _no_control_chars(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value or any(ord(c) < 32 or c in "/\\#?" for c in value):
            raise ValueError("record id is empty or holds characters ids never contain")
        return value

    @field_validator("observed_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def to_message(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_message(cls, body: str | bytes) -> SyncJob:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidJob(f"not JSON: {exc}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidJob(f"not a sync job: {problems}") from None

    def with_source(self, source: JobSource) -> SyncJob:
        return self.model_copy(update={"source": source, "observed_at": datetime.now(UTC)})

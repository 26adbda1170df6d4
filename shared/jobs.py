"""The queue contract: a job names a record that may have changed, never its data.

The worker always reads both sides fresh, so duplicated or re-ordered jobs are harmless.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


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

    @field_validator("record_id")
    @classmethod
    def _no_control_chars(cls, value: str) -> str:
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

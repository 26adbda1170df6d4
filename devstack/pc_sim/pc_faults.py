"""Injected faults: throttling, outages and latency on the API; lost, repeated, re-ordered and
late webhook deliveries. Random choices come from one seeded generator, so runs repeat."""

from __future__ import annotations

import random
import threading
from typing import Any

from pydantic import BaseModel, Field


class ApiFault(BaseModel):
    """Answer `status` for the next `count` matching requests, or for a `rate` of them."""

    status: int = Field(default=429, ge=400, le=599)
    count: int | None = Field(default=None, ge=0)
    rate: float | None = Field(default=None, ge=0, le=1)
    retry_after: float | None = Field(default=None, ge=0)
    endpoint: str | None = Field(default=None, description='e.g. "GET /referrals/{id}"; None: referral calls')


class WebhookFaults(BaseModel):
    drop_count: int = Field(default=0, ge=0, description="drop the next N events")
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    duplicate_count: int = Field(default=0, ge=0, description="deliver the next N events twice or more")
    duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    duplicate_times: int = Field(default=2, ge=2, description="copies of a duplicated event")
    reorder_batch: int = Field(default=0, ge=0, description="hold events in batches of N, send shuffled")
    delay_seconds: float = Field(default=0.0, ge=0)


class FaultSettings(BaseModel):
    seed: int | None = None
    latency_ms: float = Field(default=0.0, ge=0)
    api: list[ApiFault] = Field(default_factory=list)
    webhooks: WebhookFaults = Field(default_factory=WebhookFaults)


class Faults:
    """The current fault settings plus the seeded generator that decides random ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.settings = FaultSettings()
        self.rng = random.Random(0)

    def configure(self, data: dict[str, Any]) -> FaultSettings:
        settings = FaultSettings.model_validate(data)
        with self._lock:
            self.settings = settings
            self.rng = random.Random(settings.seed)
        return settings

    def reset(self) -> None:
        self.configure({})

    def api_fault(self, endpoint: str) -> ApiFault | None:
        """The fault to answer this request with, consuming one from a counted rule."""
        with self._lock:
            for fault in self.settings.api:
                if fault.endpoint is None and "/referrals" not in endpoint:
                    continue
                if fault.endpoint is not None and fault.endpoint != endpoint:
                    continue
                if fault.count is not None:
                    if fault.count > 0:
                        fault.count -= 1
                        return fault
                    continue
                if fault.rate is not None and self.rng.random() < fault.rate:
                    return fault
        return None

    def copies_of_event(self) -> int:
        """How many times to deliver the next event: 0 dropped, 1 normal, more duplicated."""
        with self._lock:
            hooks = self.settings.webhooks
            if hooks.drop_count > 0:
                hooks.drop_count -= 1
                return 0
            if hooks.drop_rate and self.rng.random() < hooks.drop_rate:
                return 0
            if hooks.duplicate_count > 0:
                hooks.duplicate_count -= 1
                return hooks.duplicate_times
            if hooks.duplicate_rate and self.rng.random() < hooks.duplicate_rate:
                return hooks.duplicate_times
            return 1

    def shuffle(self, items: list[Any]) -> None:
        with self._lock:
            self.rng.shuffle(items)

"""Signed webhook deliveries from a background thread, with retries and injected faults.

Events are never posted inside the API request that caused them: the request only schedules a
delivery, as Partner Center's own event pipeline does.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from devstack.pc_sim.pc_cert_chain import SigningIdentity
from devstack.pc_sim.pc_faults import Faults

log = logging.getLogger(__name__)

RESOURCE_URI = "https://api.partnercenter.microsoft.com/engagements/v1/referrals/{id}"
MAX_ATTEMPTS = 10
"""Partner Center tries each event ten times before parking it."""


@dataclass
class Registration:
    url: str
    events: list[str]
    subscriber_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Delivery:
    delivery_id: str
    event_name: str
    referral_id: str | None
    body: bytes
    correlation_id: str | None = None
    attempts: int = 0
    status: str = "pending"
    results: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "deliveryId": self.delivery_id,
            "eventName": self.event_name,
            "referralId": self.referral_id,
            "correlationId": self.correlation_id,
            "attempts": self.attempts,
            "status": self.status,
            "results": list(self.results),
        }


class WebhookDispatcher:
    """Schedules, signs, posts and retries webhook deliveries on one worker thread."""

    def __init__(
        self,
        *,
        signing: SigningIdentity,
        registration: Callable[[], Registration | None],
        faults: Faults,
        signed: bool = True,
        retry_base_seconds: float = 0.2,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._signing, self._registration, self._faults = signing, registration, faults
        self.signed = signed
        """Whether deliveries carry the signature headers (`PUT /_sim/webhooks/signing`)."""
        self._retry_base, self._timeout = retry_base_seconds, timeout_seconds
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._held: list[Delivery] = []
        self._sequence = itertools.count()
        self._in_flight = 0
        self._log: list[Delivery] = []
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="pc-sim-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread:
            self._thread.join(timeout=self._timeout + 1)

    def publish(self, event_name: str, referral_id: str) -> None:
        """Queue the event for the registered URL (if it registered that event), applying faults."""
        registration = self._registration()
        if registration is None or event_name not in registration.events:
            return
        body = _event_body(event_name, RESOURCE_URI.format(id=referral_id))
        copies = self._faults.copies_of_event()
        with self._cv:
            if copies == 0:
                self._log.append(Delivery(str(uuid.uuid4()), event_name, referral_id, body, status="dropped"))
                return
            deliveries = [Delivery(str(uuid.uuid4()), event_name, referral_id, body) for _ in range(copies)]
            self._log.extend(deliveries)
            hooks = self._faults.settings.webhooks
            if hooks.reorder_batch > 1:
                self._held.extend(deliveries)
                if len(self._held) >= hooks.reorder_batch:
                    self._release_held()
                return
            for delivery in deliveries:
                self._schedule(delivery, hooks.delay_seconds)

    def publish_test(self) -> str:
        """Queue a `test-created` event (no faults) and return its correlation id."""
        correlation_id = str(uuid.uuid4())
        body = _event_body(
            "test-created", f"https://api.partnercenter.microsoft.com/webhooks/v1/{correlation_id}"
        )
        delivery = Delivery(str(uuid.uuid4()), "test-created", None, body, correlation_id=correlation_id)
        with self._cv:
            self._log.append(delivery)
            self._schedule(delivery, 0.0)
        return correlation_id

    def flush(self) -> int:
        """Release events held for re-ordering now (shuffled)."""
        with self._cv:
            released = len(self._held)
            self._release_held()
            return released

    def pending(self) -> int:
        with self._cv:
            return len(self._heap) + len(self._held) + self._in_flight

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cv:
            return [d.summary() for d in self._log]

    def test_event(self, correlation_id: str) -> Delivery | None:
        with self._cv:
            return next((d for d in self._log if d.correlation_id == correlation_id), None)

    def reset(self) -> None:
        with self._cv:
            self._heap.clear()
            self._held.clear()
            self._log.clear()

    # --- worker --------------------------------------------------------------------------------
    def _release_held(self) -> None:
        held, self._held = self._held, []
        self._faults.shuffle(held)
        for delivery in held:
            self._schedule(delivery, self._faults.settings.webhooks.delay_seconds)

    def _schedule(self, delivery: Delivery, delay: float) -> None:
        heapq.heappush(self._heap, (time.monotonic() + delay, next(self._sequence), delivery))
        self._cv.notify_all()

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout) as http:
            while True:
                with self._cv:
                    delivery = self._next_due()
                    if delivery is None:
                        return
                    self._in_flight += 1
                try:
                    self._attempt(http, delivery)
                finally:
                    with self._cv:
                        self._in_flight -= 1
                        self._cv.notify_all()

    def _next_due(self) -> Delivery | None:
        """Wait (holding the condition) for the earliest due delivery; None when stopping."""
        while not self._stopping:
            if self._heap and self._heap[0][0] <= time.monotonic():
                return heapq.heappop(self._heap)[2]
            timeout = max(0.0, self._heap[0][0] - time.monotonic()) if self._heap else None
            self._cv.wait(timeout)
        return None

    def _attempt(self, http: httpx.Client, delivery: Delivery) -> None:
        registration = self._registration()
        if registration is None:
            delivery.status = "unregistered"
            return
        delivery.attempts += 1
        headers = {"Content-Type": "application/json"}
        if self.signed:
            headers.update(
                {
                    "Authorization": f"Signature {self._signing.signer.sign(delivery.body)}",
                    "x-ms-certificate-url": self._signing.certificate_url(),
                    "x-ms-signature-algorithm": "rsa-sha256",
                }
            )
        try:
            response = http.post(registration.url, content=delivery.body, headers=headers)
            code: int | None = response.status_code
        except httpx.HTTPError as exc:
            log.info("webhook %s to %s failed: %r", delivery.event_name, registration.url, exc)
            code = None
        delivery.results.append(
            {
                "responseCode": code,
                "responseMessage": "" if code else "unreachable",
                "systemError": code is None,
                "dateTimeUtc": datetime.now(UTC).isoformat(),
            }
        )
        if code is not None and 200 <= code < 300:
            delivery.status = "delivered"
            return
        with self._cv:
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = "failed"
                return
            self._schedule(delivery, min(5.0, self._retry_base * 2 ** (delivery.attempts - 1)))


def _event_body(event_name: str, resource_uri: str) -> bytes:
    return json.dumps(
        {
            "EventName": event_name,
            "ResourceUri": resource_uri,
            "ResourceName": "referral" if event_name != "test-created" else "test",
            "AuditUri": None,
            "ResourceChangeUtcDate": datetime.now(UTC).isoformat(),
        }
    ).encode("utf-8")

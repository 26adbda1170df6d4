"""Registering our webhook callback with Partner Center, proving it works with a test event, healing a
registration that went missing or still points at a former URL of ours, and removing ours (B1).

Partner Center keeps one registration per tenant and has no sandbox, so a staging and a production
deployment (or Microsoft's connector) share it. The heal therefore takes over only what is provably ours:
no registration, our own URL with events missing, or one of `PC_WEBHOOK_OWN_URLS` (this deployment's
former URLs). Any other URL is left alone, reported (state "elsewhere", `foreign_url`), audited and
logged as an error; `register-webhooks` is the deliberate way to take it over."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.config import Settings
from shared.partner_center.registration import (
    REFERRAL_EVENTS,
    TEST_EVENT,
    Registration,
    WebhookRegistrationClient,
)
from shared.store import audit
from shared.store.audit import AuditEntry, Outcome

log = logging.getLogger("cosell_sync.ops.webhooks")

WANTED_EVENTS: tuple[str, ...] = (*REFERRAL_EVENTS, TEST_EVENT)
"""What we register: the four referral events, plus test-created so a test event can prove the path."""
HEALED_ACTION = "webhook healed"
FOREIGN_ACTION = "webhook foreign"
UNREGISTERED_ACTION = "webhook unregistered"


class RegistrationState(StrEnum):
    OK = "ok"  # our URL receives every referral event
    MISSING = "missing"  # no registration at all
    ELSEWHERE = "elsewhere"  # the events go to a URL that is not ours: another tool or deployment
    FORMER = "former"  # the events go to a former URL of this deployment (PC_WEBHOOK_OWN_URLS)
    INCOMPLETE = "incomplete"  # our URL, but some referral events are not registered

    @property
    def healable(self) -> bool:
        """Whether the heal may (re-)register: never over a URL that is not ours."""
        return self in (RegistrationState.MISSING, RegistrationState.FORMER, RegistrationState.INCOMPLETE)


@dataclass(frozen=True)
class EventRow:
    """One wanted event and where Partner Center sends it now."""

    event: str
    url: str | None
    ours: bool


@dataclass(frozen=True)
class WebhookState:
    """The registration compared with `PC_WEBHOOK_CALLBACK_URL`, `PC_WEBHOOK_OWN_URLS` and the referral
    events."""

    state: RegistrationState
    expected_url: str
    registered_url: str | None
    registered_events: tuple[str, ...]
    missing_events: tuple[str, ...]

    @property
    def points_at_us(self) -> bool:
        return self.registered_url == self.expected_url

    @property
    def foreign_url(self) -> str | None:
        """The URL holding the events when it is not ours (never taken over by the heal)."""
        return self.registered_url if self.state is RegistrationState.ELSEWHERE else None

    def rows(self, events: tuple[str, ...] = WANTED_EVENTS) -> list[EventRow]:
        return [
            EventRow(
                event,
                self.registered_url if event in self.registered_events else None,
                self.points_at_us and event in self.registered_events,
            )
            for event in events
        ]

    def describe(self) -> str:
        if self.state is RegistrationState.MISSING:
            return "no webhook registration"
        if self.state is RegistrationState.ELSEWHERE:
            return (
                f"referral events are registered to {self.registered_url}, not {self.expected_url}; that URL"
                " is not ours (nor in PC_WEBHOOK_OWN_URLS), so it is not taken over: another tool or"
                " deployment on this tenant owns it (register-webhooks takes it over deliberately)"
            )
        if self.state is RegistrationState.FORMER:
            return (
                f"referral events are registered to {self.registered_url}, a former URL of this deployment"
                f" (PC_WEBHOOK_OWN_URLS), not {self.expected_url}"
            )
        if self.state is RegistrationState.INCOMPLETE:
            return f"events not registered: {', '.join(self.missing_events)}"
        return f"all referral events go to {self.expected_url}"

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "expected_url": self.expected_url,
            "registered_url": self.registered_url,
            "registered_events": list(self.registered_events),
            "missing_events": list(self.missing_events),
            "points_at_us": self.points_at_us,
            "foreign_url": self.foreign_url,
            "heal": "re-register" if self.state.healable else "leave" if self.foreign_url else "none",
        }


def compare_registration(
    registration: Registration | None, expected_url: str, own_urls: Iterable[str] = ()
) -> WebhookState:
    """Pure: how `registration` stands against our callback URL, our former URLs and the referral
    events."""
    if registration is None:
        return WebhookState(RegistrationState.MISSING, expected_url, None, (), REFERRAL_EVENTS)
    events = tuple(registration.webhook_events)
    missing = tuple(e for e in REFERRAL_EVENTS if e not in events)
    if registration.webhook_url != expected_url:
        former = _normalised(registration.webhook_url) in {_normalised(u) for u in own_urls}
        state = RegistrationState.FORMER if former else RegistrationState.ELSEWHERE
    elif missing:
        state = RegistrationState.INCOMPLETE
    else:
        state = RegistrationState.OK
    return WebhookState(state, expected_url, registration.webhook_url, events, missing)


def _normalised(url: str) -> str:
    return url.strip().rstrip("/").lower()


def own_urls(settings: Settings) -> tuple[str, ...]:
    """Every URL of this deployment: the callback and its former URLs."""
    return (settings.pc_webhook_callback_url, *settings.pc_webhook_own_urls)


def read_state(settings: Settings, client: WebhookRegistrationClient) -> WebhookState:
    return compare_registration(client.get(), settings.pc_webhook_callback_url, settings.pc_webhook_own_urls)


@dataclass(frozen=True)
class ProbeResult:
    """What Partner Center reported for the test event it posted to our callback."""

    correlation_id: str
    status: str
    answered: bool
    response_code: str | None
    waited_seconds: float


@dataclass(frozen=True)
class RegisterResult:
    state: WebhookState
    test: ProbeResult | None = None

    @property
    def ok(self) -> bool:
        return self.state.state is RegistrationState.OK and (self.test is None or self.test.answered)


def _answered(results: object) -> tuple[bool, str | None]:
    """Whether a delivery result shows our function answering with success (2xx or "OK")."""
    if not isinstance(results, list) or not results:
        return False, None
    last = results[-1] if isinstance(results[-1], dict) else {}
    code = last.get("responseCode")
    text = str(code) if code is not None else None
    success = text is not None and (text.upper() == "OK" or (text.isdigit() and 200 <= int(text) < 300))
    return success and not last.get("systemError", False), text


def send_test_event(
    client: WebhookRegistrationClient,
    *,
    timeout: float,
    poll_interval: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ProbeResult:
    """Ask Partner Center to post a test event and poll its status until delivered or `timeout`."""
    started = clock()
    correlation_id = client.send_test_event()
    while True:
        status = client.test_event_status(correlation_id)
        answered, code = _answered(status.get("results"))
        completed = str(status.get("status", "")).lower() == "completed"
        waited = clock() - started
        if completed or answered or waited >= timeout:
            return ProbeResult(
                correlation_id, str(status.get("status") or "unknown"), answered, code, round(waited, 2)
            )
        sleep(poll_interval)


def register_webhooks(
    settings: Settings,
    client: WebhookRegistrationClient,
    *,
    test_event: bool = True,
    timeout: float = 30.0,
    poll_interval: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> RegisterResult:
    """Overwrite the registration so `PC_WEBHOOK_CALLBACK_URL` receives the referral events and
    test-created, read it back, then (optionally) prove delivery with a test event."""
    client.register(settings.pc_webhook_callback_url, WANTED_EVENTS, overwrite=True)
    state = read_state(settings, client)
    log.info("webhook registration: %s", state.describe())
    if not test_event or state.state is not RegistrationState.OK:
        return RegisterResult(state)
    return RegisterResult(
        state, send_test_event(client, timeout=timeout, poll_interval=poll_interval, sleep=sleep)
    )


@dataclass(frozen=True)
class CheckResult:
    before: WebhookState
    after: WebhookState
    healed: bool
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def check_webhooks(
    settings: Settings, client: WebhookRegistrationClient, *, heal: bool = True
) -> CheckResult:
    """Detect a missing, incomplete, former or foreign registration. With `heal`, re-register ours over
    a missing, incomplete or former one (audit "webhook healed"); a foreign one is never taken over: it is
    logged as an error and audited ("webhook foreign", failed) with the URL that holds the events."""
    before = read_state(settings, client)
    if before.state is RegistrationState.ELSEWHERE and heal:
        log.error("webhook registration not ours, left alone: %s", before.describe())
        audit.write(
            settings,
            AuditEntry(
                trace_id=uuid.uuid4().hex,
                action=FOREIGN_ACTION,
                outcome=Outcome.FAILED,
                record_kind="webhook",
                record_id=str(before.registered_url),
                source="webhook-check",
                changed_fields=(),
                error=before.describe(),
            ),
        )
    if not before.state.healable or not heal:
        return CheckResult(before, before, healed=False)
    log.warning("webhook registration needs healing: %s", before.describe())
    client.register(settings.pc_webhook_callback_url, WANTED_EVENTS, overwrite=True)
    after = read_state(settings, client)
    result = CheckResult(before, after, healed=after.state is RegistrationState.OK)
    audit.write(
        settings,
        AuditEntry(
            trace_id=result.trace_id,
            action=HEALED_ACTION,
            outcome=Outcome.OK if result.healed else Outcome.FAILED,
            record_kind="webhook",
            record_id=settings.pc_webhook_callback_url,
            source="webhook-check",
            changed_fields=WANTED_EVENTS,
            error=before.describe(),
        ),
    )
    return result


@dataclass(frozen=True)
class UnregisterResult:
    before: WebhookState
    after: WebhookState
    deleted: bool

    @property
    def ours_left(self) -> bool:
        """Whether a registration of ours (current or former URL) is still there."""
        return self.after.state not in (RegistrationState.MISSING, RegistrationState.ELSEWHERE)


def unregister_webhooks(settings: Settings, client: WebhookRegistrationClient) -> UnregisterResult:
    """Delete the tenant's registration when it is ours (PC_WEBHOOK_CALLBACK_URL or one of
    PC_WEBHOOK_OWN_URLS), read it back, and audit it. Another tool's or deployment's registration is left
    alone (`deleted` False, `before.foreign_url` names it)."""
    before = read_state(settings, client)
    if before.state in (RegistrationState.MISSING, RegistrationState.ELSEWHERE):
        return UnregisterResult(before, before, deleted=False)
    client.delete()
    after = read_state(settings, client)
    result = UnregisterResult(before, after, deleted=after.state is RegistrationState.MISSING)
    audit.write(
        settings,
        AuditEntry(
            trace_id=uuid.uuid4().hex,
            action=UNREGISTERED_ACTION,
            outcome=Outcome.OK if not result.ours_left else Outcome.FAILED,
            record_kind="webhook",
            record_id=str(before.registered_url),
            source="unregister-webhooks",
            changed_fields=before.registered_events,
            error="" if not result.ours_left else f"still registered after DELETE: {after.describe()}",
        ),
    )
    return result

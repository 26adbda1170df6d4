"""How a Partner Center call is sent, judged and retried.

Three separate pieces, each testable alone:

    classify(status, exc)    the one table: response status / transport exception -> Action
    RetryPolicy              jittered exponential backoff; the server's Retry-After wins
    ApiCaller                sends a request with a bearer token and tracing ids, logs it,
                             applies the table and the policy, raises our error families
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx

from shared.core.rate_budget import JITTER_HEADROOM, Priority, TokenBucket, current_priority
from shared.errors import ConfigError, ConflictError, CosellSyncError, PermanentError, TransientError, redact
from shared.partner_center.tokens import TokenProvider

log = logging.getLogger(__name__)


class Action(StrEnum):
    OK = "ok"
    RETRY = "retry"
    REAUTHENTICATE = "reauthenticate"
    CONFIG = "config"
    CONFLICT = "conflict"
    FAIL = "fail"


_BY_STATUS: dict[int, Action] = {
    401: Action.REAUTHENTICATE,
    403: Action.CONFIG,
    408: Action.RETRY,
    409: Action.CONFLICT,
    412: Action.CONFLICT,
    429: Action.RETRY,
}


_TRANSIENT_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def classify(status: int | None, exc: BaseException | None = None) -> Action:
    """The single classification table for Partner Center responses and transport failures."""
    if exc is not None:
        return Action.RETRY if isinstance(exc, _TRANSIENT_EXCEPTIONS) else Action.FAIL
    if status is None:
        return Action.FAIL
    if 200 <= status < 300:
        return Action.OK
    return _BY_STATUS.get(status, Action.RETRY if status >= 500 else Action.FAIL)


def not_yet_processed(status: int | None, exc: BaseException | None) -> bool:
    """True when the server certainly did not act on the request, so even a POST may be resent."""
    if exc is not None:
        return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    return status in (429, 503)


def parse_retry_after(
    value: str | None, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or junk."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


@dataclass
class RetryPolicy:
    """Full-jitter exponential backoff; a server-sent Retry-After is honoured (up to `max_delay`)."""

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 60.0
    max_inline_wait: float = 5.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return self.rng.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class ProviderError:
    """What Partner Center said about a failed call, parsed defensively."""

    code: str | None
    description: str

    @classmethod
    def from_response(cls, response: httpx.Response) -> ProviderError:
        try:
            body = response.json()
        except ValueError:
            return cls(code=None, description=response.text[:500] or response.reason_phrase)
        if not isinstance(body, dict):
            return cls(code=None, description=str(body)[:500])
        error = body.get("error")
        inner: dict[str, Any] = error if isinstance(error, dict) else body
        code = inner.get("code")
        description = inner.get("description") or inner.get("message") or response.reason_phrase
        data = inner.get("data")
        if isinstance(data, list) and data:
            description = f"{description}: {'; '.join(str(item) for item in data)}"
        return cls(code=str(code) if code is not None else None, description=str(description)[:1000])


def response_request_id(response: httpx.Response) -> str | None:
    for name in ("Request-ID", "MS-RequestId", "x-ms-request-id", "MS-CV"):
        if value := response.headers.get(name):
            return str(value)
    return None


PC_RATE = TokenBucket(rate=0)
"""This process's Partner Center request rate (PC_MAX_REQUESTS_PER_SECOND; 0 = unlimited), shared by
live sync, backfill and reconcile; background callers (`rate_budget.background()`) yield to live ones."""


def limit_requests_per_second(rate: float) -> None:
    """Set the process's Partner Center rate: one request every `1.05/rate` s and no burst, so fewer
    than `rate` requests leave the process in any second (N processes: N times that). Partner Center
    counts arrivals, not departures: the 5 % headroom (`JITTER_HEADROOM`) absorbs the few ms of
    transport or thread delay that could bring two turns closer in a window it counts. Background
    calls take only turns no live call is waiting for."""
    PC_RATE.configure(rate, burst=1.0, reserve=0.0, headroom=JITTER_HEADROOM)


def wait_for_turn(
    priority: Priority,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait until this process's Partner Center rate lets one more request go (issue #19): a live
    call's turn is booked and waited for; a background call asks again until a turn is free."""
    while (pause := PC_RATE.acquire(clock(), priority)) > 0:
        sleep(pause)
        if priority is Priority.LIVE:
            return


class ApiCaller:
    """Sends one logical API call: token, tracing ids, retries, logging, error translation."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        tokens: TokenProvider,
        resource: str,
        provider: str,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._resource = resource
        self._provider = provider
        self._policy = policy
        self._sleep = sleep
        self.call_counts: Counter[str] = Counter()
        """HTTP requests sent (retries included), keyed by "METHOD path-template"."""

    def request(
        self,
        method: str,
        url: str,
        *,
        template: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        record_id: str | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send until success or a final verdict. Statuses in `accept` are returned, not raised."""
        correlation_id = str(uuid.uuid4())
        label = f"{method} {template}"
        refreshed = False
        attempt = 0
        while True:
            response, error, request_id = self._send_once(
                method, url, label=label, params=params, json=json, headers=headers,
                correlation_id=correlation_id, attempt=attempt,
            )  # fmt: skip
            status = response.status_code if response is not None else None
            if response is not None and status in accept:
                return response
            action = _for_record(classify(status, error), record_id)
            if action is Action.OK and response is not None:
                return response
            context: dict[str, Any] = {
                "provider": self._provider,
                "status": status,
                "request_id": request_id,
                "record_id": record_id,
            }
            if action is Action.REAUTHENTICATE and not refreshed:
                self._tokens.invalidate(self._resource)
                refreshed = True
                continue
            if action is Action.RETRY and (idempotent or not_yet_processed(status, error)):
                retry_after = parse_retry_after(response.headers.get("Retry-After")) if response else None
                wait = self._inline_wait(attempt, retry_after)
                if wait is not None:
                    log.warning(
                        "%s %s: retrying in %.2fs (request %s)", self._provider, label, wait, request_id
                    )
                    self._sleep(wait)
                    attempt += 1
                    continue
                raise TransientError(
                    f"{label} still failing after {attempt + 1} attempts: {_describe(response, error)}",
                    retry_after=retry_after,
                    **context,
                )
            raise _final_error(action, label, response, error, context)

    def _inline_wait(self, attempt: int, retry_after: float | None) -> float | None:
        """How long to wait before the next attempt here, or None to give up (and let the queue retry).
        A long Retry-After is not slept through: the job is parked on the queue with that delay instead,
        so a worker (and the deal's claim) is not held for minutes."""
        if attempt < self._policy.max_retries and (retry_after or 0) <= self._policy.max_inline_wait:
            return self._policy.delay(attempt, retry_after)
        return None

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        label: str,
        params: Mapping[str, str] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        correlation_id: str,
        attempt: int,
    ) -> tuple[httpx.Response | None, httpx.HTTPError | None, str]:
        """One attempt, logged; returns the response or the transport error, and the request id."""
        request_id = str(uuid.uuid4())
        sent_headers = {
            "Authorization": f"Bearer {self._tokens.token(self._resource)}",
            "Accept": "application/json",
            "MS-CorrelationId": correlation_id,
            "MS-RequestId": request_id,
            **(headers or {}),
        }
        # Every attempt (a retry after 429 too) takes a turn, right before it leaves (the token is
        # fetched first); paced on the real clock, whatever `sleep` the retry policy is given.
        wait_for_turn(current_priority())
        self.call_counts[label] += 1
        started = time.perf_counter()
        response: httpx.Response | None = None
        error: httpx.HTTPError | None = None
        try:
            response = self._http.request(method, url, params=params, json=json, headers=sent_headers)
        except httpx.HTTPError as exc:
            error = exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response is not None:
            request_id = response_request_id(response) or request_id
        outcome = response.status_code if response is not None else type(error).__name__
        log.info(
            "%s %s -> %s in %.0fms (attempt %d, request %s, correlation %s)",
            self._provider, label, outcome, elapsed_ms, attempt + 1, request_id, correlation_id,
        )  # fmt: skip
        return response, error, request_id


def _for_record(action: Action, record_id: str | None) -> Action:
    """A 403 on one referral means this user may not read that record (e.g. Microsoft's side of an
    engagement: "Access is denied to the requested resource. The user might not have enough
    permission.", https://learn.microsoft.com/partner-center/developer/referrals-api-response-codes);
    the credentials are fine, so the record fails, not the configuration."""
    return Action.FAIL if action is Action.CONFIG and record_id is not None else action


def _describe(response: httpx.Response | None, error: BaseException | None) -> str:
    if response is not None:
        problem = ProviderError.from_response(response)
        return redact(f"{problem.code + ' ' if problem.code else ''}{problem.description}")
    return redact(repr(error))


def _final_error(
    action: Action,
    label: str,
    response: httpx.Response | None,
    error: BaseException | None,
    context: dict[str, Any],
) -> CosellSyncError:
    detail = _describe(response, error)
    code = ProviderError.from_response(response).code if response is not None else None
    if action is Action.CONFLICT:
        return ConflictError(f"{label}: eTag no longer current ({detail})", code=code, **context)
    if action in (Action.CONFIG, Action.REAUTHENTICATE):
        return ConfigError(f"{label}: not authorised ({detail})", code=code, **context)
    if action is Action.RETRY:
        # Not resent because the server may already have acted (a POST that timed out).
        return TransientError(f"{label}: outcome unknown, not resent ({detail})", **context)
    return PermanentError(f"{label}: {detail}", code=code, **context)

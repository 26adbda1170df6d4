"""The Partner Center classification table, retry policy and call mechanics (MockTransport)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from shared.errors import ConfigError, ConflictError, PermanentError, TransientError
from shared.partner_center.http_policy import (
    Action,
    ApiCaller,
    RetryPolicy,
    classify,
    not_yet_processed,
    parse_retry_after,
)

_REQUEST = httpx.Request("GET", "https://api.partner.microsoft.com/v1.0/engagements/referrals")


@pytest.mark.parametrize(
    ("status", "exc", "expected"),
    [
        (200, None, Action.OK),
        (201, None, Action.OK),
        (204, None, Action.OK),
        (400, None, Action.FAIL),
        (401, None, Action.REAUTHENTICATE),
        (403, None, Action.CONFIG),
        (404, None, Action.FAIL),
        (408, None, Action.RETRY),
        (409, None, Action.CONFLICT),
        (412, None, Action.CONFLICT),
        (422, None, Action.FAIL),
        (429, None, Action.RETRY),
        (500, None, Action.RETRY),
        (502, None, Action.RETRY),
        (503, None, Action.RETRY),
        (504, None, Action.RETRY),
        (None, httpx.ConnectError("refused", request=_REQUEST), Action.RETRY),
        (None, httpx.ReadTimeout("slow", request=_REQUEST), Action.RETRY),
        (None, httpx.RemoteProtocolError("cut", request=_REQUEST), Action.RETRY),
        (None, httpx.UnsupportedProtocol("ftp", request=_REQUEST), Action.FAIL),
        (None, None, Action.FAIL),
    ],
)
def test_classification_table(status, exc, expected):
    assert classify(status, exc) is expected


@pytest.mark.parametrize(
    ("status", "exc", "expected"),
    [
        (429, None, True),
        (503, None, True),
        (500, None, False),
        (None, httpx.ConnectError("refused", request=_REQUEST), True),
        (None, httpx.ReadTimeout("slow", request=_REQUEST), False),
    ],
)
def test_only_requests_the_server_never_acted_on_count_as_unprocessed(status, exc, expected):
    assert not_yet_processed(status, exc) is expected


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=lambda: now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=lambda: now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_honours_retry_after_and_caps_it():
    policy = RetryPolicy(max_delay=10)
    assert policy.delay(0, retry_after=3) == 3
    assert policy.delay(0, retry_after=300) == 10


def test_backoff_grows_exponentially_with_jitter():
    policy = RetryPolicy(base_delay=1, max_delay=100, rng=random.Random(1))
    for attempt in range(5):
        ceiling = 2**attempt
        delays = [policy.delay(attempt) for _ in range(20)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


class FakeTokens:
    def __init__(self) -> None:
        self.issued = 0
        self.invalidated = 0

    def token(self, resource: str) -> str:
        return f"token-{self.issued}"

    def invalidate(self, resource: str) -> None:
        self.invalidated += 1
        self.issued += 1


def caller(
    handler: Callable[[httpx.Request], httpx.Response], *, max_retries: int = 3
) -> tuple[ApiCaller, list[float], FakeTokens]:
    sleeps: list[float] = []
    tokens = FakeTokens()
    api = ApiCaller(
        httpx.Client(transport=httpx.MockTransport(handler)),
        tokens=tokens,
        resource="https://api.partner.microsoft.com",
        provider="partner-center",
        policy=RetryPolicy(max_retries=max_retries, rng=random.Random(0)),
        sleep=sleeps.append,
    )
    return api, sleeps, tokens


def responses(
    *items: httpx.Response,
) -> tuple[Callable[[httpx.Request], httpx.Response], list[httpx.Request]]:
    queue = list(items)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler, seen


def test_throttled_call_waits_as_told_then_succeeds():
    handler, seen = responses(
        httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json={"ok": True})
    )
    api, sleeps, _ = caller(handler)
    response = api.request("GET", "https://pc.example/referrals", template="/referrals")
    assert response.json() == {"ok": True}
    assert sleeps == [2.0]
    assert api.call_counts["GET /referrals"] == 2
    assert seen[0].headers["MS-CorrelationId"] == seen[1].headers["MS-CorrelationId"]
    assert seen[0].headers["MS-RequestId"] != seen[1].headers["MS-RequestId"]


def test_persistent_outage_becomes_transient_error_with_request_id():
    handler, _ = responses(httpx.Response(503, headers={"Request-ID": "req-42", "Retry-After": "5"}))
    api, sleeps, _ = caller(handler, max_retries=2)
    with pytest.raises(TransientError) as raised:
        api.request("GET", "https://pc.example/referrals/1", template="/referrals/{id}", record_id="1")
    assert len(sleeps) == 2
    assert raised.value.retry_after == 5.0
    assert raised.value.request_id == "req-42"
    assert str(raised.value).startswith("[request req-42]")


def test_rejected_token_is_refreshed_once():
    handler, seen = responses(httpx.Response(401), httpx.Response(200, json={}))
    api, sleeps, tokens = caller(handler)
    api.request("GET", "https://pc.example/referrals", template="/referrals")
    assert tokens.invalidated == 1
    assert seen[0].headers["Authorization"] == "Bearer token-0"
    assert seen[1].headers["Authorization"] == "Bearer token-1"
    assert sleeps == []


def test_token_rejected_twice_is_a_config_error():
    handler, seen = responses(httpx.Response(401, json={"code": 401, "description": "bad audience"}))
    api, _, tokens = caller(handler)
    with pytest.raises(ConfigError, match="bad audience"):
        api.request("GET", "https://pc.example/referrals", template="/referrals")
    assert len(seen) == 2
    assert tokens.invalidated == 1


def test_stale_etag_is_a_conflict():
    handler, _ = responses(httpx.Response(412, json={"code": 412, "description": "eTag mismatch"}))
    api, _, _ = caller(handler)
    with pytest.raises(ConflictError):
        api.request("PATCH", "https://pc.example/referrals/1", template="/referrals/{id}")


def test_validation_refusal_is_permanent_and_carries_the_providers_problems():
    body = {"code": 400, "description": "The referral is not valid.", "data": ["country must be ISO"]}
    handler, _ = responses(httpx.Response(400, json=body))
    api, _, _ = caller(handler)
    with pytest.raises(PermanentError, match="country must be ISO") as raised:
        api.request("POST", "https://pc.example/referrals", template="/referrals", idempotent=False)
    assert raised.value.status == 400
    assert raised.value.code == "400"


def test_create_is_not_resent_after_an_ambiguous_server_error():
    handler, seen = responses(httpx.Response(500), httpx.Response(201, json={}))
    api, _, _ = caller(handler)
    with pytest.raises(TransientError, match="not resent"):
        api.request("POST", "https://pc.example/referrals", template="/referrals", idempotent=False)
    assert len(seen) == 1


def test_create_is_resent_after_throttling():
    handler, seen = responses(httpx.Response(429), httpx.Response(201, json={"id": "1"}))
    api, _, _ = caller(handler)
    api.request("POST", "https://pc.example/referrals", template="/referrals", idempotent=False)
    assert len(seen) == 2


def test_transport_failures_are_retried():
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={})

    api, sleeps, _ = caller(handler)
    api.request("GET", "https://pc.example/referrals", template="/referrals")
    assert calls["n"] == 2
    assert len(sleeps) == 1


def test_logs_carry_request_ids_but_never_the_token(caplog):
    handler, _ = responses(httpx.Response(200, json={}, headers={"Request-ID": "req-7"}))
    api, _, _ = caller(handler)
    with caplog.at_level(logging.INFO, logger="shared.partner_center.http_policy"):
        api.request("GET", "https://pc.example/referrals", template="/referrals")
    text = caplog.text
    assert "req-7" in text
    assert "correlation" in text
    assert "token-0" not in text

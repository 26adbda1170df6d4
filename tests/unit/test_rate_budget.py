"""The API budgets' arithmetic (issue #19): token bucket pacing with live priority, the daily
Salesforce budget, and the transport that charges it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from shared.core.rate_budget import (
    DailyBudget,
    Priority,
    TokenBucket,
    background,
    current_priority,
    seconds_to_midnight,
    share,
)
from shared.errors import TransientError
from shared.salesforce import transport

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_unlimited_bucket_never_waits() -> None:
    bucket = TokenBucket(rate=0)
    assert all(bucket.acquire(0.0) == 0 for _ in range(1000))


def test_bucket_spaces_calls_at_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=1)
    waits = [bucket.acquire(0.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_bucket_never_exceeds_the_rate_in_any_second() -> None:
    bucket = TokenBucket(rate=20, burst=2)
    sent: list[float] = []
    now = 0.0
    for _ in range(200):
        now += 0.001  # callers arrive far faster than the rate
        sent.append(now + bucket.acquire(now))
    for start in sent:
        in_window = sum(1 for t in sent if start <= t < start + 1.0)
        assert in_window <= 20 + 2  # the rate plus the burst


def test_background_yields_to_live() -> None:
    bucket = TokenBucket(rate=10, burst=2, reserve=1)
    assert bucket.acquire(0.0, Priority.BACKGROUND) == 0.0  # two tokens there, one reserved
    assert bucket.acquire(0.0, Priority.BACKGROUND) > bucket.acquire(10.0, Priority.LIVE)


def test_priority_context() -> None:
    assert current_priority() is Priority.LIVE
    with background():
        assert current_priority() is Priority.BACKGROUND
    assert current_priority() is Priority.LIVE


def test_daily_budget_stops_background_first_then_live() -> None:
    budget = DailyBudget(percent=1)  # 1 % of 1,000 = 10 calls
    assert budget.verdict(NOON) == 0  # allocation unknown yet: go
    budget.observe(100, 1000)
    for _ in range(9):
        budget.charge(NOON)
    assert budget.verdict(NOON, Priority.BACKGROUND) == seconds_to_midnight(NOON)
    assert budget.verdict(NOON, Priority.LIVE) == 0
    budget.charge(NOON)
    assert budget.verdict(NOON, Priority.LIVE) == 12 * 3600
    tomorrow = NOON + timedelta(days=1)
    assert budget.verdict(tomorrow, Priority.BACKGROUND) == 0  # a new day, a new budget


def test_org_allocation_spent_stops_everything() -> None:
    budget = DailyBudget(percent=50)
    budget.observe(1000, 1000)
    assert budget.verdict(NOON) > 0
    assert DailyBudget(percent=100, allocated=1000, org_used=1000).verdict(NOON) == 0  # 100 %: off


def test_share() -> None:
    assert share(500, 100_000) == 0.5
    assert share(5, None) is None


class _Answer(requests.adapters.BaseAdapter):
    def send(self, request: requests.PreparedRequest, *args: object, **kwargs: object) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.headers["Sforce-Limit-Info"] = "api-usage=900/1000"
        response.request = request
        return response

    def close(self) -> None:
        pass


class _Adapter(transport.TimeoutAdapter):
    def __init__(self, budget: DailyBudget) -> None:
        super().__init__(5.0, budget)
        self._inner = _Answer()

    def send(self, request: requests.PreparedRequest, *args: object, **kwargs: object) -> requests.Response:
        transport.charge_budget(self.budget)
        response = self._inner.send(request)
        transport.observe_response(self.budget, response)
        return response


def test_transport_charges_the_budget_and_reads_the_header() -> None:
    budget = DailyBudget(percent=1)
    session = requests.Session()
    session.mount("https://", _Adapter(budget))
    session.get("https://example.my.salesforce.com/services/data")
    assert (budget.org_used, budget.allocated, budget.spent) == (900, 1000, 1)
    budget.spent = 10
    with pytest.raises(TransientError) as raised:
        session.get("https://example.my.salesforce.com/services/data")
    assert raised.value.retry_after and raised.value.retry_after > 0


def test_default_session_reads_proxies_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:8080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = transport.default_session(5.0)
    assert session.trust_env is False
    assert session.proxies["https"] == "http://proxy.example:8080"
    monkeypatch.setenv("NO_PROXY", "localhost")
    assert transport.default_session(5.0).trust_env is True  # requests must judge NO_PROXY per URL

"""The API budgets' arithmetic (issue #19): token bucket pacing with live priority, the daily
Salesforce budget, and the transport that charges it."""

from __future__ import annotations

import heapq
import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
import requests

from shared.core.rate_budget import (
    JITTER_HEADROOM,
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


def _send_times(bucket: TokenBucket, callers: list[Priority], *, until: float, think: float) -> list[float]:
    """When callers that each send again `think` s after their last request send, following the
    `acquire` contract (a live turn is booked; a background caller told to wait asks again)."""
    asks = [(0.0, n) for n in range(len(callers))]
    sent: list[float] = []
    while asks:
        now, n = heapq.heappop(asks)
        if now >= until:
            continue
        wait = bucket.acquire(now, callers[n])
        if wait > 0 and callers[n] is Priority.BACKGROUND:
            heapq.heappush(asks, (now + wait, n))
            continue
        sent.append(now + wait)
        heapq.heappush(asks, (now + wait + think, n))
    return sorted(sent)


def _busiest_second(sent: list[float]) -> int:
    """The most sends in a half-open second (less a hair: sums of 1/rate drift by float rounding)."""
    return max(sum(1 for t in sent if start <= t < start + 1.0 - 1e-9) for start in sent)


@pytest.mark.parametrize("rate", [10.0, 20.0, 7.5])
def test_live_and_background_together_never_exceed_the_rate_in_any_second(rate: float) -> None:
    bucket = TokenBucket(rate=rate)  # no burst: PC_MAX_REQUESTS_PER_SECOND's bucket
    callers = [Priority.LIVE] * 6 + [Priority.BACKGROUND] * 6
    sent = _send_times(bucket, callers, until=5.0, think=0.013)
    assert _busiest_second(sent) <= math.ceil(rate)
    assert min(b - a for a, b in itertools.pairwise(sent)) >= 1 / rate - 1e-9
    assert len(sent) >= 5 * rate - 1  # and the rate is used, not wasted


def test_a_background_turn_moves_the_schedule_for_live_calls() -> None:
    bucket = TokenBucket(rate=10)
    assert bucket.acquire(0.0, Priority.BACKGROUND) == 0.0
    assert bucket.acquire(0.0, Priority.LIVE) == pytest.approx(0.1)  # not squeezed in beside it


def test_background_takes_only_turns_no_live_call_waits_for() -> None:
    bucket = TokenBucket(rate=10)
    live = [bucket.acquire(0.0) for _ in range(5)]  # turns at 0.0 .. 0.4
    background = bucket.acquire(0.05, Priority.BACKGROUND)
    assert background == pytest.approx(0.45)  # ask again once the live queue has gone
    assert bucket.acquire(0.06) == pytest.approx(0.44)  # booked nothing: the next live turn is 0.5
    assert live == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert bucket.acquire(0.5, Priority.BACKGROUND) > 0  # 0.5 went to the live call
    assert bucket.acquire(0.6, Priority.BACKGROUND) == 0.0


def test_background_alone_gets_the_whole_rate() -> None:
    sent = _send_times(TokenBucket(rate=10), [Priority.BACKGROUND] * 4, until=3.0, think=0.0)
    assert len(sent) == 30


def test_reconfiguring_keeps_the_turns_given() -> None:
    bucket = TokenBucket(rate=10)
    assert [bucket.acquire(0.0) for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2])
    bucket.configure(10)
    assert bucket.acquire(0.0) == pytest.approx(0.3)
    bucket.configure(0)
    assert bucket.acquire(0.0) == 0.0


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


def test_with_headroom_no_window_of_a_second_holds_as_many_turns_as_the_rate_even_with_jitter() -> None:
    bucket = TokenBucket(rate=10)
    bucket.configure(10, headroom=JITTER_HEADROOM)
    turns = [bucket.acquire(0.0) for _ in range(40)]
    arrivals = sorted(t + (0.004 if n % 2 else -0.004) for n, t in enumerate(turns))  # +-4 ms in transit
    busiest = max(sum(1 for a in arrivals if start <= a < start + 1.0) for start in arrivals)
    assert busiest <= 10

"""Pacing arithmetic: the usage header, the slow-down curve and the jittered backoff."""

from __future__ import annotations

import itertools

import pytest

from shared.salesforce.throttle import (
    BACKOFF_CAP_SECONDS,
    SLOWDOWN_MAX_SECONDS,
    backoff_delay,
    parse_limit_info,
    slowdown_delay,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("api-usage=10018/100000", (10018, 100000)),
        ("api-usage=5/15000; per-app-api-usage=17/250(appName=x)", (5, 15000)),
        ("per-app-api-usage=17/250(appName=x)", None),
        (None, None),
    ],
)
def test_parse_limit_info(header, expected):
    assert parse_limit_info(header) == expected


def test_no_slowdown_below_the_threshold_then_growing_to_the_cap():
    assert slowdown_delay((79, 100), 80) == 0.0
    assert slowdown_delay(None, 80) == 0.0
    delays = [slowdown_delay((used, 100), 80) for used in (80, 90, 100, 130)]
    assert 0 < delays[0] < delays[1] < delays[2] == delays[3] == SLOWDOWN_MAX_SECONDS


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    low = [backoff_delay(n, lambda: 0.0) for n in range(8)]
    high = [backoff_delay(n, lambda: 1.0) for n in range(8)]
    assert low[0] == 0.25 and high[0] == 0.5
    assert all(a < b for a, b in itertools.pairwise(high[:6]))
    assert max(high) == BACKOFF_CAP_SECONDS


def test_a_server_hint_is_a_floor():
    assert backoff_delay(0, lambda: 0.0, hint=5.0) == 5.0

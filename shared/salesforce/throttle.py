"""Pure pacing arithmetic: the API-usage header, the slow-down above the daily threshold, and the
jittered exponential backoff between retries."""

from __future__ import annotations

import re
from collections.abc import Callable

_USAGE = re.compile(r"(?:^|[;\s])api-usage=(\d+)/(\d+)")
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 20.0
# Waits longer than this are not slept inside one call; the job is handed back with the delay instead.
MAX_INLINE_WAIT_SECONDS = 5.0
SLOWDOWN_MIN_SECONDS = 0.25
SLOWDOWN_MAX_SECONDS = 5.0


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """`Sforce-Limit-Info: api-usage=10018/100000[; ...]` -> (used, allocated)."""
    if not header:
        return None
    match = _USAGE.search(header)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2))


def slowdown_delay(usage: tuple[int, int] | None, threshold_pct: int) -> float:
    """Seconds to pause before a call: none below the threshold, then growing linearly to the cap
    as the daily allocation runs out."""
    if usage is None or usage[1] <= 0:
        return 0.0
    pct = 100.0 * usage[0] / usage[1]
    if pct < threshold_pct:
        return 0.0
    span = max(100.0 - threshold_pct, 1.0)
    fraction = min((pct - threshold_pct) / span, 1.0)
    return SLOWDOWN_MIN_SECONDS + fraction * (SLOWDOWN_MAX_SECONDS - SLOWDOWN_MIN_SECONDS)


def backoff_delay(attempt: int, random: Callable[[], float], *, hint: float | None = None) -> float:
    """Full-jitter exponential backoff for retry `attempt` (0-based); a server hint is a floor."""
    ceiling: float = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0**attempt)
    delay = ceiling * (0.5 + random() / 2)
    return max(delay, hint or 0.0)

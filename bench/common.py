"""Small pieces every measurement uses: percentiles, waiting for a condition, waiting for the stack
to go quiet, and reading simulator counters."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from devstack.pc_sim.control import PartnerCenterSimControl
from devstack.sf_sim import SalesforceSimControl
from shared.config import Settings
from shared.store.job_queue import depth as queue_depth

T = TypeVar("T")
SF_WRITE_KINDS = ("create", "update", "upsert", "delete", "composite")


class BenchTimeout(RuntimeError):
    """A stage did not reach its expected state in time (the figures would be meaningless)."""


def percentiles(samples: Sequence[float]) -> dict[str, float | int]:
    """p50/p95/p99 (nearest rank) and n, in the samples' unit, rounded to 0.1."""
    if not samples:
        return {"p50": math.nan, "p95": math.nan, "p99": math.nan, "n": 0}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {
        "p50": round(rank(50), 1),
        "p95": round(rank(95), 1),
        "p99": round(rank(99), 1),
        "n": len(ordered),
    }


def wait_until(what: str, probe: Callable[[], T | None], *, timeout: float, interval: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def pc_calls(counters: dict[str, int]) -> int:
    """Partner Center API calls in the simulator's counters, token calls excluded."""
    return sum(n for key, n in counters.items() if key != "POST /token")


def sf_calls(counters: dict[str, int]) -> int:
    """Salesforce REST calls in the simulator's counters (api_total minus token calls)."""
    return sum(n for key, n in counters.items() if key not in ("api_total", "token"))


def sf_writes(counters: dict[str, int]) -> int:
    return sum(counters.get(kind, 0) for kind in SF_WRITE_KINDS)


def wait_quiet(
    settings: Settings,
    pc: PartnerCenterSimControl,
    sf: SalesforceSimControl,
    *,
    quiet_seconds: float,
    timeout: float,
) -> float:
    """Wait until the work queue is empty, no webhook is pending and neither simulator saw a write for
    `quiet_seconds` (longer than a poll interval, so poll echoes count). Returns the seconds waited."""
    started = time.monotonic()
    deadline = started + timeout
    last = (-1, -1)
    since = time.monotonic()
    while time.monotonic() < deadline:
        writes = (sf_writes(sf.counters()), _pc_writes(pc.counters()))
        busy = queue_depth(settings) > 0 or pc.webhooks()["pending"] > 0
        if writes != last or busy:
            last, since = writes, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return time.monotonic() - started
        time.sleep(0.25)
    raise BenchTimeout(f"the stack did not go quiet within {timeout:.0f}s")


def _pc_writes(counters: dict[str, int]) -> int:
    return sum(
        n for key, n in counters.items() if key.split(" ")[0] in ("POST", "PATCH") and key != "POST /token"
    )


def parse_sf_stamp(value: str) -> datetime:
    """Salesforce `2026-01-02T03:04:05.678+0000` -> aware datetime."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)

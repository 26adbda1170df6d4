"""Pure API-budget arithmetic shared by live sync, backfill and reconcile (issue #19).

Two budgets, one per API, each a small state machine driven by a clock the caller passes in:

    TokenBucket     Partner Center's per-tenant throttling: at most `rate` requests a second, with
                    a burst of `burst`. Background callers (backfill, reconcile) only take turns no
                    live call is waiting for, so live jobs never queue behind a backfill.
    DailyBudget     Salesforce's daily request allocation, shared with every other integration of
                    the org: we may spend `percent` % of it a UTC day. Background callers stop at
                    `background_share` of our budget; live traffic may spend the rest.

`Priority` says which kind of caller is asking; `current_priority()` reads it from a context
variable that `background()` sets (a thread or task inherits nothing: each job sets its own).
No I/O here: the wiring (sleeping, counting, reading `Sforce-Limit-Info`) lives in the clients.
"""

from __future__ import annotations

import contextvars
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum


class Priority(StrEnum):
    LIVE = "live"
    BACKGROUND = "background"


_PRIORITY: contextvars.ContextVar[Priority] = contextvars.ContextVar("api_priority", default=Priority.LIVE)


def current_priority() -> Priority:
    return _PRIORITY.get()


@contextmanager
def background() -> Iterator[None]:
    """Calls made inside this block yield to live traffic (backfill, reconcile, backfilled jobs)."""
    token = _PRIORITY.set(Priority.BACKGROUND)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


JITTER_HEADROOM = 1.05
"""For a limit a server enforces: turns spaced 5 % wider than `1/rate`, because the server counts
arrivals in windows of its own and a few ms of network jitter between two turns must not put a
(rate+1)-th request into one of them."""


@dataclass
class TokenBucket:
    """At most `rate` requests a second, `burst` of them at once; `rate <= 0`: no limit.

    Kept as a schedule (`next_at`, the generic cell rate algorithm) rather than a balance of tokens:
    every turn handed out moves `next_at` on by `1/rate`, whoever took it, so turns are never closer
    than `1/rate` once the burst is spent. A half-open window of one second therefore holds at most
    `ceil(rate) + burst - 1` turns (with `burst` 1, at most `ceil(rate)`).

    `acquire(now, priority)` asks for one request's turn and returns how long to wait (0: go now):
      LIVE        the turn is booked, in arrival order; wait that long, then send (no second ask).
      BACKGROUND  only a turn free right now is booked (0), and only when `reserve` more turns' time
                  is free too; otherwise nothing is booked and the answer is how long to wait before
                  asking again. A backfill thus never holds turns ahead of live traffic: a live call
                  waits at most for the background turns taken just before it arrived."""

    rate: float
    burst: float = 1.0
    reserve: float = 0.0
    headroom: float = 1.0
    """Turns are `headroom / rate` apart (`JITTER_HEADROOM` for a server-enforced limit)."""
    next_at: float | None = field(default=None, init=False)
    """When the next turn is free once the burst is spent (None: never used, the burst is there)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.burst = max(self.burst, 1.0)

    @property
    def limited(self) -> bool:
        return self.rate > 0

    def configure(
        self, rate: float, *, burst: float = 1.0, reserve: float = 0.0, headroom: float = 1.0
    ) -> None:
        """A new rate; turns already handed out stay where they are."""
        with self._lock:
            self.rate, self.burst, self.reserve = rate, max(burst, 1.0), reserve
            self.headroom = max(headroom, 1.0)

    def acquire(self, now: float, priority: Priority = Priority.LIVE) -> float:
        if not self.limited:
            return 0.0
        with self._lock:
            interval = self.headroom / self.rate
            free = -math.inf if self.next_at is None else self.next_at
            earliest = free - (self.burst - 1.0) * interval
            if priority is Priority.BACKGROUND:
                earliest += self.reserve * interval
                if now < earliest:
                    return earliest - now  # not booked: ask again then
            turn = max(now, earliest)
            self.next_at = max(free, turn) + interval
            return turn - now


def seconds_to_midnight(now: datetime) -> float:
    now = now.astimezone(UTC)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return (tomorrow - now).total_seconds()


@dataclass
class DailyBudget:
    """Our share of Salesforce's daily API allocation (`percent` % of it) and what we spent of it.

    Salesforce counts requests over a rolling 24 h and reports the org's total in every response
    (`Sforce-Limit-Info: api-usage=used/allocated`); our own count is per UTC day and per process
    (`spent`). `observe` records the header, `charge` one call of ours; `verdict` says whether a
    call may go now."""

    percent: float
    background_share: float = 0.9
    allocated: int | None = None
    org_used: int | None = None
    day: date | None = None
    spent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def limited(self) -> bool:
        return 0 < self.percent < 100

    def budget(self) -> int | None:
        """Calls a day we may make, once the org's allocation is known."""
        if self.allocated is None:
            return None
        return int(self.allocated * self.percent / 100)

    def observe(self, used: int, allocated: int) -> None:
        with self._lock:
            self.org_used, self.allocated = used, allocated

    def charge(self, now: datetime) -> None:
        with self._lock:
            self._roll(now)
            self.spent += 1

    def _roll(self, now: datetime) -> None:
        today = now.astimezone(UTC).date()
        if self.day != today:
            self.day, self.spent = today, 0

    def verdict(self, now: datetime, priority: Priority = Priority.LIVE) -> float:
        """0 when the call may go; otherwise the seconds until tomorrow's budget (UTC midnight)."""
        if not self.limited:
            return 0.0
        with self._lock:
            self._roll(now)
            budget = self.budget()
            if budget is None:
                return 0.0
            cap = budget * (self.background_share if priority is Priority.BACKGROUND else 1.0)
            # The org's whole allocation spent: Salesforce refuses every call anyway.
            if self.spent < cap and (
                self.org_used is None or self.allocated is None or self.org_used < self.allocated
            ):
                return 0.0
            return seconds_to_midnight(now)


def share(spent: int, allocated: int | None) -> float | None:
    """Our calls as a percentage of the org's daily allocation."""
    if not allocated:
        return None
    return 100.0 * spent / allocated

"""The production HTTP session for Salesforce: pooled, with a default timeout (simple-salesforce's
create/update/upsert/delete accept no timeout argument, so the adapter supplies it), no proxy
scanning per request, and the process's share of the org's daily API budget.

`trust_env` is off: `requests` otherwise reads every environment variable for proxy settings on
each request (~14 % of the app's CPU per record in the backfill profile, issue #19). A proxy, when
one is needed, comes from the standard variables read once when the session is built.

`BUDGET` is this process's `DailyBudget` (SF_DAILY_BUDGET_PERCENT of the org's daily allocation,
read from `Sforce-Limit-Info` on every response). Every request through a session of this module
is charged to it; a request over the budget is not sent and raises a TransientError whose
retry_after is the time to the next UTC day (the queue parks the job). Backfill and reconcile
(`rate_budget.background()`) stop at 90 % of the budget, leaving the rest to live sync.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from shared.core.rate_budget import DailyBudget, current_priority
from shared.errors import TransientError
from shared.salesforce.throttle import parse_limit_info

CALL_OPTIONS = "client=cosell-sync"
BUDGET = DailyBudget(percent=100)
"""The process's Salesforce daily budget; `configure_budget` sets its percentage."""
UsageSink = Callable[[date, int], None]
"""(UTC day, calls since the last report) -> None: where the process's own count is kept."""
_FLUSH_CALLS = 50
_FLUSH_SECONDS = 60.0


def configure_budget(percent: float) -> None:
    BUDGET.percent = percent


class UsageReporter:
    """Hands the process's call count to a sink every `_FLUSH_CALLS` calls or `_FLUSH_SECONDS`, on a
    thread of its own: an API call never waits on the sink's storage (slow, retrying or gone)."""

    def __init__(self) -> None:
        self.sink: UsageSink | None = None
        self._flushing: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._day: date | None = None
        self._last = time.monotonic()

    def count(self, now: datetime) -> None:
        day = now.astimezone(UTC).date()
        with self._lock:
            if self._day is not None and day != self._day:
                self._flush_locked()
            self._day = day
            self._pending += 1
            if self._pending >= _FLUSH_CALLS or time.monotonic() - self._last >= _FLUSH_SECONDS:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        sink, pending, day = self.sink, self._pending, self._day
        if sink is None or not pending or day is None:
            return
        if self._flushing is not None and self._flushing.is_alive():
            return  # one flush at a time; the count keeps growing until it is done
        self._pending, self._last = 0, time.monotonic()
        self._flushing = threading.Thread(
            target=self._send, args=(sink, day, pending), name="sf-usage-flush", daemon=True
        )
        self._flushing.start()

    def _send(self, sink: UsageSink, day: date, pending: int) -> None:
        try:
            sink(day, pending)
        except Exception:  # noqa: BLE001 - usage bookkeeping never fails a call
            with self._lock:
                self._pending += pending


USAGE = UsageReporter()


def install_usage_sink(sink: UsageSink | None) -> None:
    USAGE.sink = sink


class TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout: float, budget: DailyBudget | None = BUDGET) -> None:
        # As many pooled connections as the host runs jobs at once (host.json batchSize + newBatchThreshold).
        super().__init__(pool_connections=4, pool_maxsize=16)
        self.timeout = timeout
        self.budget = budget

    def send(  # noqa: PLR0917 - requests' adapter signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        charge_budget(self.budget)
        response = super().send(
            request, stream=stream, timeout=timeout or self.timeout, verify=verify, cert=cert, proxies=proxies
        )
        observe_response(self.budget, response)
        return response


def charge_budget(budget: DailyBudget | None) -> None:
    """Book one call against the budget, or raise when the day's share is spent."""
    now = datetime.now(UTC)
    if budget is not None:
        wait = budget.verdict(now, current_priority())
        if wait > 0:
            raise TransientError(
                f"Salesforce daily API budget spent ({budget.spent} calls, "
                f"{budget.percent:g}% of {budget.allocated}); next call in {wait:.0f}s",
                provider="salesforce",
                retry_after=wait,
            )
        budget.charge(now)
    USAGE.count(now)


def observe_response(budget: DailyBudget | None, response: requests.Response) -> None:
    if budget is None:
        return
    usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
    if usage is not None:
        budget.observe(*usage)


class LoopbackAdapter(TimeoutAdapter):
    """Sends https://<any host>/path?query to http://127.0.0.1:<port>/path?query (the local
    simulator; simple-salesforce always builds https URLs). The local stack only: SF_LOOPBACK_PORT."""

    def __init__(self, port: int, timeout: float, budget: DailyBudget | None = BUDGET) -> None:
        super().__init__(timeout, budget)
        self.port = port

    def send(  # type: ignore[override]  # noqa: PLR0917 - requests' adapter signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))
        return super().send(
            request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )


def loopback_session(port: int, timeout: float, *, budget: DailyBudget | None = BUDGET) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies for loopback traffic
    session.mount("https://", LoopbackAdapter(port, timeout, budget))
    return session


def default_session(timeout: float, *, budget: DailyBudget | None = BUDGET) -> requests.Session:
    session = requests.Session()
    proxies = urllib.request.getproxies()
    # The proxy settings the environment gives, read once (trust_env would read them per request);
    # with a NO_PROXY list requests must keep judging each URL itself, so trust_env stays on.
    if "no" not in proxies:
        session.trust_env = False
        session.proxies.update(proxies)
    session.mount("https://", TimeoutAdapter(timeout, budget))
    return session

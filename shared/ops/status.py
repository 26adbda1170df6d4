"""One look at the connector's health: queue depths, watermarks and their lag, the last successful
sync per direction, the latest failures and the webhook registration."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from shared import api_clients
from shared.config import POISON_QUEUE, SYNC_QUEUE, Settings
from shared.core import rate_budget
from shared.errors import CosellSyncError
from shared.intake.salesforce_poll import WATERMARK as POLL_WATERMARK
from shared.ops import backfill, reconcile
from shared.ops.ops_clients import OpsClients
from shared.ops.replay import PoisonMessage
from shared.ops.replay import replay as list_poison
from shared.ops.webhook_health import WebhookState, read_state
from shared.partner_center.token_health import TokenHealth, read_health
from shared.store import api_usage, audit, watermarks
from shared.store.audit import AuditEntry, Direction, Outcome
from shared.store.storage_clients import queue_client

WATERMARKS: tuple[tuple[str, str], ...] = (
    ("salesforce poll", POLL_WATERMARK),
    ("partner center reconcile", reconcile.WATERMARK),
    ("backfill partner center", backfill.PC_CHECKPOINT),
    ("backfill salesforce", backfill.SF_CHECKPOINT),
)
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.POISONED, Outcome.RETRYING)
RETRY_WINDOW = timedelta(minutes=15)
"""A job whose newest audit row is `retrying` and younger than this is counted as still retrying."""
_RETRY_SCAN_ROWS = 20_000


class Verdict(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    FAILING = "failing"


@dataclass(frozen=True)
class Cause:
    """Why a job failed, from its error text: the fix, and whether settings must change."""

    name: str
    configuration: bool
    fix: str
    patterns: tuple[str, ...]


CAUSES: tuple[Cause, ...] = (
    Cause("partner-center credentials", True,
          "check PC_CLIENT_ID, PC_CLIENT_SECRET and PC_REFRESH_TOKEN (a Referrals admin), then "
          "`python -m shared.ops replay --all`",
          ("partner-center-auth", "aadsts", "refresh token")),
    Cause("salesforce credentials", True,
          "check SF_LOGIN_URL, SF_CLIENT_ID, SF_USERNAME and the integration user's permission set, then "
          "`python -m shared.ops replay --all`",
          ("salesforce-auth", "invalid_login", "invalid_grant", "invalid_session")),
    Cause("permission", True,
          "give the integration user (Partner Center: Referrals admin; Salesforce: the "
          "Partner_Center_Sync permission set) access to the record, then "
          "`python -m shared.ops replay --all`",
          (" 403", "forbidden", "insufficient_access")),
    Cause("storage", False, "check AzureWebJobsStorage and the storage account", ("storage",)),
    Cause("throttled", False, "none: retried with the provider's Retry-After",
          (" 429", "throttl", "too many", "request_limit")),
    Cause("unavailable", False, "none: retried; replay what was poisoned once the service is back",
          (" 500", " 502", " 503", " 504", "unavailable", "timed out", "timeout", "connection")),
    Cause("invalid message", False, "`python -m shared.ops replay --all --discard-invalid`",
          ("not a sync job", "not json")),
)  # fmt: skip
OTHER = Cause("other", False, "read the error; `python -m shared.ops replay --id ...` once fixed", ())


def cause_of(error: str | None) -> Cause:
    text = (error or "").lower()
    return next((c for c in CAUSES if any(p in text for p in c.patterns)), OTHER)


@dataclass(frozen=True)
class ConfigProblem:
    at: datetime | None
    cause: str
    error: str
    fix: str


@dataclass
class Health:
    """The verdict and why: jobs still retrying and poisoned, by cause; the newest configuration error."""

    verdict: Verdict
    reasons: list[str]
    retrying: dict[str, int]
    poisoned: dict[str, int]
    config_error: ConfigProblem | None

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reasons": self.reasons,
            "retrying_by_cause": self.retrying,
            "poisoned_by_cause": self.poisoned,
            "config_error": None
            if self.config_error is None
            else asdict(self.config_error) | {"at": _iso(self.config_error.at)},
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class MarkState:
    label: str
    name: str
    value: datetime | None
    lag_seconds: float | None


@dataclass(frozen=True)
class Failure:
    at: datetime
    outcome: str
    record: str
    trace_id: str
    error: str


@dataclass(frozen=True)
class ApiUse:
    """Today's Salesforce API use: the org's (Sforce-Limit-Info / limits) and this connector's."""

    org_used: int | None
    allocated: int | None
    ours: int | None
    budget_percent: float
    error: str | None = None

    @property
    def our_share_percent(self) -> float | None:
        return rate_budget.share(self.ours, self.allocated) if self.ours is not None else None

    def describe(self) -> str:
        if self.error:
            return f"Salesforce API use: unknown ({self.error})"
        org = f"{self.org_used:,}/{self.allocated:,}" if self.org_used is not None and self.allocated else "?"
        share = self.our_share_percent
        ours = "?" if self.ours is None else f"{self.ours:,}"
        mine = f"{share:.1f} %" if share is not None else "?"
        budget = f"budget {self.budget_percent:g} %"
        return f"Salesforce API use today: org {org}; cosell-sync {ours} ({mine}, {budget})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"our_share_percent": self.our_share_percent}


def api_use(settings: Settings, clients: OpsClients, now: datetime) -> ApiUse:
    """The org's use from Salesforce (one call) and ours from the per-process counts in storage."""
    ours: int | None = None
    try:
        ours = api_usage.calls_on(settings, now.astimezone(UTC).date())
        usage = clients.sf.daily_api_usage()
    except (CosellSyncError, AzureError) as exc:
        return ApiUse(None, None, ours, settings.sf_daily_budget_percent, error=str(exc))
    used, allocated = usage if usage is not None else (None, None)
    return ApiUse(used, allocated, ours, settings.sf_daily_budget_percent)


@dataclass
class StatusReport:
    queue_depth: int | None
    poison_depth: int | None
    marks: list[MarkState]
    last_success: dict[str, datetime | None]
    failures: list[Failure]
    webhook: WebhookState | None
    webhook_error: str | None = None
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    refresh_token: TokenHealth | None = None
    """Partner Center refresh token: issue time, days left, last renewal error (issue #15)."""
    api_use: ApiUse | None = None
    """Today's Salesforce API use and our share of it (issue #19)."""
    health: Health | None = None
    """The verdict first: healthy / degraded / failing, with the causes (issue #18)."""
    poll_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "health": self.health.to_json() if self.health else None,
            "generated_at": iso(self.generated_at),
            "queues": {SYNC_QUEUE: self.queue_depth, POISON_QUEUE: self.poison_depth},
            "watermarks": {m.name: {"value": iso(m.value), "lag_seconds": m.lag_seconds} for m in self.marks},
            "last_success": {k: iso(v) for k, v in self.last_success.items()},
            "failures": [asdict(f) | {"at": iso(f.at)} for f in self.failures],
            "webhook": self.webhook.to_json() if self.webhook else {"error": self.webhook_error},
            "refresh_token": self.refresh_token.to_json() if self.refresh_token else None,
            "salesforce_api_use": self.api_use.to_json() if self.api_use else None,
            "poll_error": self.poll_error,
        }


def queue_depth(settings: Settings, name: str) -> int | None:
    """Approximate message count; None when the queue does not exist yet."""
    try:
        return int(queue_client(settings, name).get_queue_properties().approximate_message_count or 0)
    except ResourceNotFoundError:
        return None


def watermark_states(
    settings: Settings, now: datetime, errors: dict[str, str] | None = None
) -> list[MarkState]:
    states = []
    for label, name in WATERMARKS:
        try:
            value = watermarks.get(settings, name)
        except watermarks.WatermarkUnavailable as exc:
            if errors is not None:
                errors[name] = str(exc)
            value = None
        lag = round((now - value).total_seconds(), 1) if value else None
        states.append(MarkState(label, name, value, lag))
    return states


def last_success(settings: Settings, *, days: int) -> dict[str, datetime | None]:
    """When each direction last wrote something (a two-way write counts for both)."""
    found: dict[str, datetime | None] = {Direction.SF_TO_PC.value: None, Direction.PC_TO_SF.value: None}
    for entry in audit.recent(settings, days=days, outcome=Outcome.OK):
        directions = list(found) if entry.direction is Direction.BOTH else [entry.direction.value]
        for direction in directions:
            if direction in found and found[direction] is None:
                found[direction] = entry.at
        if all(found.values()):
            break
    return found


def latest_failures(settings: Settings, *, days: int, limit: int) -> list[Failure]:
    entries: list[AuditEntry] = []
    for outcome in FAILED_OUTCOMES:
        entries.extend(itertools.islice(audit.recent(settings, days=days, outcome=outcome), limit))
    entries.sort(key=lambda e: e.at, reverse=True)
    return [
        Failure(
            e.at,
            e.outcome.value,
            e.opportunity_id or e.referral_id or e.record_id or "-",
            e.trace_id,
            e.error,
        )
        for e in entries[:limit]
    ]


def retrying_jobs(settings: Settings, now: datetime, poisoned_traces: set[str]) -> dict[str, AuditEntry]:
    """Jobs (by trace id) whose newest audit row in the last RETRY_WINDOW says `retrying`."""
    newest: dict[str, AuditEntry] = {}
    cutoff = now - RETRY_WINDOW
    days = 2 if cutoff.date() != now.date() else 1
    for n, entry in enumerate(audit.recent(settings, days=days)):
        if n >= _RETRY_SCAN_ROWS:
            break
        if entry.at < cutoff:
            if days == 1 or entry.at.date() != now.date():
                break
            continue
        if entry.outcome is Outcome.RECEIVED or entry.trace_id in newest:
            continue
        newest[entry.trace_id] = entry
    return {t: e for t, e in newest.items() if e.outcome is Outcome.RETRYING and t not in poisoned_traces}


def assess(  # noqa: PLR0917 - the inputs of the verdict, each from its own source
    retrying: dict[str, AuditEntry],
    poison: list[PoisonMessage],
    webhook: WebhookState | None,
    webhook_error: str | None,
    poll_error: str | None,
    token_warnings: list[str],
) -> Health:
    """healthy: nothing waits on anyone; degraded: jobs retrying or poisoned, or a warning; failing: a
    configuration problem (credentials, permissions, settings) stops syncs, or the poll cannot run."""
    retry_causes = Counter(cause_of(e.error).name for e in retrying.values())
    poison_causes = Counter(cause_of(m.last_error or m.invalid_reason).name for m in poison)
    problems: list[tuple[datetime | None, Cause, str]] = [
        (e.at, cause_of(e.error), e.error) for e in retrying.values()
    ] + [(m.last_error_at or m.inserted_on, cause_of(m.last_error), m.last_error or "") for m in poison]
    if webhook_error:
        problems.append((None, cause_of(webhook_error), webhook_error))
    configs = [p for p in problems if p[1].configuration]
    configs.sort(key=lambda p: p[0] or datetime.min.replace(tzinfo=UTC), reverse=True)
    config_error = (
        ConfigProblem(configs[0][0], configs[0][1].name, configs[0][2], configs[0][1].fix)
        if configs
        else None
    )
    failing: list[str] = []
    degraded: list[str] = []
    if config_error:
        failing.append(f"configuration: {config_error.cause} ({config_error.fix})")
    if poll_error:
        failing.append(f"the Salesforce poll cannot run: {poll_error}")
    if poison:
        degraded.append(f"{len(poison)} job(s) poisoned")
    if retrying:
        degraded.append(f"{len(retrying)} job(s) retrying")
    if webhook is not None and webhook.state.value != "ok":
        degraded.append(f"webhooks: {webhook.describe()}")
    elif webhook is None and not config_error:
        degraded.append(f"webhook registration unreadable: {webhook_error}")
    degraded += token_warnings
    verdict = Verdict.FAILING if failing else Verdict.DEGRADED if degraded else Verdict.HEALTHY
    return Health(verdict, failing + degraded, dict(retry_causes), dict(poison_causes), config_error)


def _newest_per_trace(failures: list[Failure]) -> list[Failure]:
    """One line per job, the first given (poisoned before its audit rows; each retry would repeat it)."""
    seen: set[str] = set()
    kept = []
    for f in failures:
        if f.trace_id in seen:
            continue
        seen.add(f.trace_id)
        kept.append(f)
    return kept


def collect_status(
    settings: Settings,
    clients: OpsClients,
    *,
    days: int = 7,
    failures: int = 10,
    now: datetime | None = None,
) -> StatusReport:
    """Everything `status` shows. A webhook API problem is reported, not raised: the rest of the
    status is still worth seeing when Partner Center credentials are the problem."""
    now = now or datetime.now(UTC)
    # Read before the webhook check below, whose token request renews (and rewrites) the token.
    refresh_token = read_health(api_clients.refresh_token_store(settings), now=now)
    webhook: WebhookState | None = None
    webhook_error: str | None = None
    try:
        webhook = read_state(settings, clients.webhooks)
    except CosellSyncError as exc:
        webhook_error = str(exc)
    mark_errors: dict[str, str] = {}
    marks = watermark_states(settings, now, mark_errors)
    poison = list_poison(settings, dry_run=True).messages
    retrying = retrying_jobs(settings, now, {m.job.trace_id for m in poison if m.job})
    poll_error = mark_errors.get(POLL_WATERMARK)
    tokens = refresh_token.warnings if refresh_token is not None else []
    health = assess(retrying, poison, webhook, webhook_error, poll_error, tokens)
    listed = [
        Failure(
            m.inserted_on or now, "poisoned", m.job.record_id if m.job else "-",
            m.job.trace_id if m.job else m.message_id, m.last_error or m.invalid_reason or "",
        )
        for m in poison
    ]  # fmt: skip
    listed = _newest_per_trace(listed + latest_failures(settings, days=days, limit=failures))
    listed.sort(key=lambda f: f.at, reverse=True)
    return StatusReport(
        queue_depth=queue_depth(settings, SYNC_QUEUE),
        poison_depth=queue_depth(settings, POISON_QUEUE),
        marks=marks,
        last_success=last_success(settings, days=days),
        failures=listed[:failures],
        health=health,
        poll_error=poll_error,
        webhook=webhook,
        webhook_error=webhook_error,
        generated_at=now,
        refresh_token=refresh_token,
        api_use=api_use(settings, clients, now),
    )

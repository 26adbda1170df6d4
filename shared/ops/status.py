"""One look at the connector's health: queue depths, watermarks and their lag, the last successful
sync per direction, the latest failures and the webhook registration."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from shared import api_clients
from shared.config import POISON_QUEUE, SYNC_QUEUE, Settings
from shared.core import rate_budget
from shared.errors import CosellSyncError
from shared.intake.salesforce_poll import WATERMARK as POLL_WATERMARK
from shared.ops import backfill, reconcile
from shared.ops.ops_clients import OpsClients
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
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.POISONED)


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

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "generated_at": iso(self.generated_at),
            "queues": {SYNC_QUEUE: self.queue_depth, POISON_QUEUE: self.poison_depth},
            "watermarks": {m.name: {"value": iso(m.value), "lag_seconds": m.lag_seconds} for m in self.marks},
            "last_success": {k: iso(v) for k, v in self.last_success.items()},
            "failures": [asdict(f) | {"at": iso(f.at)} for f in self.failures],
            "webhook": self.webhook.to_json() if self.webhook else {"error": self.webhook_error},
            "refresh_token": self.refresh_token.to_json() if self.refresh_token else None,
            "salesforce_api_use": self.api_use.to_json() if self.api_use else None,
        }


def queue_depth(settings: Settings, name: str) -> int | None:
    """Approximate message count; None when the queue does not exist yet."""
    try:
        return int(queue_client(settings, name).get_queue_properties().approximate_message_count or 0)
    except ResourceNotFoundError:
        return None


def watermark_states(settings: Settings, now: datetime) -> list[MarkState]:
    states = []
    for label, name in WATERMARKS:
        value = watermarks.get(settings, name)
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
    return StatusReport(
        queue_depth=queue_depth(settings, SYNC_QUEUE),
        poison_depth=queue_depth(settings, POISON_QUEUE),
        marks=watermark_states(settings, now),
        last_success=last_success(settings, days=days),
        failures=latest_failures(settings, days=days, limit=failures),
        webhook=webhook,
        webhook_error=webhook_error,
        generated_at=now,
        refresh_token=refresh_token,
        api_use=api_use(settings, clients, now),
    )

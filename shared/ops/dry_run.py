"""What a sync of one opportunity would send to Partner Center, with reads only: the opportunity,
its link and referral. Nothing is written anywhere.

It routes the job with the engine's own decision tree (`shared.sync.routing`), plans with the
engine's planner and builds the request with the client's own request builder; only the last
step, executing, is left out. `tests/integration/test_sync_engine.py` checks on every engine
scenario that the request printed here is the one the engine then sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from shared.config import Settings
from shared.ops.ops_clients import OpsClients
from shared.partner_center.referral_client import ReferralRequest
from shared.store.audit import Outcome
from shared.store.link_store import TableLinkStore
from shared.store.links import Link
from shared.sync.context import SyncContext
from shared.sync.creates import referral_create
from shared.sync.pair_sync import plan_for
from shared.sync.ports import LinkStore
from shared.sync.routing import (
    BadAnchor,
    Broken,
    CreateOpportunity,
    CreateReferral,
    Done,
    Linked,
    Pause,
    Step,
    SyncPair,
    Unlink,
    route_linked_opportunity,
    route_opportunity,
)


@dataclass(frozen=True)
class DryRunResult:
    opportunity_id: str
    action: str
    """create referral | update referral | nothing to send | skipped | invalid | paused | deleted"""
    referral_id: str | None = None
    request: ReferralRequest | None = None
    problems: tuple[str, ...] = ()
    to_salesforce: dict[str, Any] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "opportunity_id": self.opportunity_id,
            "referral_id": self.referral_id,
            "action": self.action,
            "reason": self.reason,
            "request": self.request.to_json() if self.request else None,
            "problems": list(self.problems),
            "to_salesforce": self.to_salesforce,
            "conflicts": list(self.conflicts),
        }


class ReadOnlyLinks:
    """A link store that reads; never claims (a dry run must not block a worker) and never saves."""

    def __init__(self, store: LinkStore) -> None:
        self._store = store

    def get(self, referral_id: str) -> Link | None:
        return self._store.get(referral_id)

    def save(self, link: Link) -> Link:
        raise AssertionError("a dry run never writes")

    @contextmanager
    def claim(self, key: str, *, ttl_seconds: int) -> Iterator[None]:
        yield


def plan_opportunity_sync(settings: Settings, clients: OpsClients, opportunity_id: str) -> DryRunResult:
    """The Partner Center request a sync job for this opportunity would send, or why none."""
    ctx = SyncContext.build(settings, clients.pc, clients.sf, TableLinkStore(settings))
    return dry_run_opportunity(ctx, opportunity_id)


def dry_run_opportunity(ctx: SyncContext, opportunity_id: str) -> DryRunResult:
    """As `plan_opportunity_sync`, over any ports (the link store is only read)."""
    ctx = replace(ctx, store=ReadOnlyLinks(ctx.store))
    routed = route_opportunity(ctx, opportunity_id)
    step = route_linked_opportunity(ctx, routed) if isinstance(routed, Linked) else routed
    return _describe(ctx, step, opportunity_id)


def _describe(ctx: SyncContext, step: Step, opportunity_id: str) -> DryRunResult:
    if isinstance(step, Done):
        result = step.result
        referral_id = result.referral_id or None
        if result.outcome is Outcome.NOOP:
            return DryRunResult(opportunity_id, "nothing to send", referral_id, reason="in sync")
        return DryRunResult(opportunity_id, "skipped", referral_id, reason=result.action)
    if isinstance(step, BadAnchor):
        return DryRunResult(str(step.opp["Id"]), "invalid", problems=(step.reason,))
    if isinstance(step, Broken):
        referral_id = str(step.link.referral_id) if step.link else None
        return DryRunResult(str(step.opp["Id"]), "invalid", referral_id, problems=(step.reason,))
    if isinstance(step, CreateReferral):
        return _describe_create(ctx, step.opp)
    if isinstance(step, Pause):
        reason = "Sync with Partner Center is off: the pair is paused, nothing syncs either way"
        return DryRunResult(step.opportunity_id, "paused", step.link.referral_id, reason=reason)
    if isinstance(step, Unlink):
        reason = "deleted in Salesforce: the pair would be unlinked, Partner Center left as it is"
        return DryRunResult(step.opportunity_id, "deleted", step.link.referral_id, reason=reason)
    assert not isinstance(step, CreateOpportunity), "an opportunity job never creates an opportunity"
    return _describe_pair(ctx, step)


def _describe_create(ctx: SyncContext, opp: dict[str, Any]) -> DryRunResult:
    opportunity_id = str(opp["Id"])
    planned = referral_create(ctx.settings, opp)
    if planned.problems:
        return DryRunResult(opportunity_id, "invalid", problems=planned.problems)
    return DryRunResult(opportunity_id, "create referral", request=ctx.pc.create_request(planned.body))


def _describe_pair(ctx: SyncContext, step: SyncPair) -> DryRunResult:
    referral, opp = step.referral, step.opp
    assert referral.id
    opportunity_id = str(opp["Id"])
    plan = plan_for(ctx, referral, opp, step.origin, step.link)
    common: dict[str, Any] = {
        "referral_id": referral.id,
        "to_salesforce": plan.result.to_salesforce,
        "conflicts": tuple(f"{c.field}: {c.winner} won" for c in plan.result.conflicts),
    }
    if plan.problems:
        return DryRunResult(opportunity_id, "invalid", problems=plan.problems, **common)
    if plan.operations:
        request = ctx.pc.update_request(referral.id, list(plan.operations), etag=referral.e_tag)
        return DryRunResult(opportunity_id, "update referral", request=request, **common)
    reason = (
        "on hold: edits wait until the opportunity leaves the on-hold stage" if plan.on_hold else "in sync"
    )
    return DryRunResult(opportunity_id, "nothing to send", reason=reason, **common)

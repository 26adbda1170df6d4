"""The decision tree of a sync: from the record a job names to what must happen to it. The engine
executes the step it returns; the dry run reports the same step without executing it, so the two
cannot drift apart.

A job for an opportunity is routed in two stages: `route_opportunity` reads the opportunity and
finds its referral, then `route_linked_opportunity` runs under the referral's claim (everything it
reads is fresh for the writes that follow). A referral job is routed under its claim at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core import salesforce_fields as F
from shared.core.plan import Origin
from shared.core.referral import Referral
from shared.errors import PermanentError
from shared.salesforce.salesforce_client import looks_like_opportunity_id
from shared.store.audit import Direction, Outcome
from shared.store.links import Link
from shared.sync.context import SyncContext, SyncResult
from shared.sync.opportunity_report import partner_center_unchanged, salesforce_unchanged

_STALE_MARGIN = timedelta(seconds=1)  # clock skew between instances (NTP keeps it far below)


@dataclass(frozen=True)
class Done:
    """Nothing to do (skipped, or already in sync): `result` says why."""

    result: SyncResult


@dataclass(frozen=True)
class Broken:
    """The pair cannot sync until someone fixes it: reported on the opportunity with ✖."""

    opp: dict[str, Any]
    reason: str
    link: Link | None


@dataclass(frozen=True)
class CreateReferral:
    opp: dict[str, Any]


@dataclass(frozen=True)
class CreateOpportunity:
    referral: Referral
    link: Link | None


@dataclass(frozen=True)
class SyncPair:
    referral: Referral
    opp: dict[str, Any]
    origin: Origin
    link: Link | None


@dataclass(frozen=True)
class Linked:
    """An opportunity with its referral id, to be routed further under that referral's claim."""

    opp: dict[str, Any]
    referral_id: str
    read_at: datetime


Step = Done | Broken | CreateReferral | CreateOpportunity | SyncPair


def _skip(action: str, referral_id: str = "", opportunity_id: str = "") -> Done:
    return Done(SyncResult(Outcome.SKIPPED, Direction.NONE, action, referral_id, opportunity_id))


def _in_sync(referral_id: str, opportunity_id: str) -> Done:
    return Done(SyncResult(Outcome.NOOP, Direction.NONE, "in sync", referral_id, opportunity_id))


def route_opportunity(ctx: SyncContext, opportunity_id: str) -> Done | CreateReferral | Linked:
    read_at = datetime.now(UTC)
    opp = ctx.sf.get_opportunity(opportunity_id)
    if opp is None:
        return _skip("opportunity not found", opportunity_id=opportunity_id)
    referral_id = opp.get(F.REFERRAL_ID)
    if not referral_id:
        if not opp.get(F.SYNC):
            return _skip("not flagged for sync", opportunity_id=opportunity_id)
        existing = ctx.pc.find_by_external_reference(opportunity_id)
        if existing is None or not existing.id:
            return CreateReferral(opp)
        # A referral we created before crashing (or before the Referral Id write landed): adopt it.
        referral_id = existing.id
    return Linked(opp, str(referral_id), read_at)


def route_linked_opportunity(ctx: SyncContext, linked: Linked) -> Step:
    """The caller holds the referral's claim."""
    opp, referral_id = linked.opp, linked.referral_id
    opportunity_id = str(opp["Id"])
    link = ctx.store.get(referral_id)
    if not opp.get(F.SYNC) and link is None:
        return _skip("not flagged for sync", referral_id, opportunity_id)
    if link is not None and link.synced_at and link.synced_at >= linked.read_at - _STALE_MARGIN:
        # The link is saved after every write, so a link saved after our read means another
        # worker may have changed the opportunity since: read it again.
        fresh = ctx.sf.get_opportunity(opportunity_id)
        if fresh is None:
            return _skip("opportunity not found", referral_id)
        opp = fresh
    if link is not None and not link.pending and salesforce_unchanged(ctx.settings, opp, link, referral_id):
        # Typically the echo of our own write. Partner Center's changes reach us by webhook
        # (and reconcile), so there is nothing to push and no need to read the referral.
        return _in_sync(referral_id, opportunity_id)
    try:
        referral = ctx.pc.get_referral(referral_id)
    except PermanentError as exc:
        if exc.status == 404:
            return Broken(opp, f"referral {referral_id} not found in Partner Center", link)
        raise
    return SyncPair(referral, opp, "salesforce", link)


def route_referral(ctx: SyncContext, referral_id: str) -> Done | CreateOpportunity | SyncPair:
    """The caller holds the referral's claim."""
    try:
        referral = ctx.pc.get_referral(referral_id)
    except PermanentError as exc:
        if exc.status == 404:
            return _skip("referral not found", referral_id)
        raise
    link = ctx.store.get(referral_id)
    if (
        link is not None
        and link.opportunity_id
        and not link.pending
        and partner_center_unchanged(referral, link)
    ):
        # The echo of our own write, or a change of nothing we sync: Salesforce's changes reach
        # us through the poll, so there is no need to read the opportunity.
        return _in_sync(referral_id, link.opportunity_id)
    opp = _opportunity_of(ctx, referral, link)
    if opp is None:
        return CreateOpportunity(referral, link)
    return SyncPair(referral, opp, "partner_center", link)


def _opportunity_of(ctx: SyncContext, referral: Referral, link: Link | None) -> dict[str, Any] | None:
    """The referral's opportunity: by the link, else by its Referral Id, else the opportunity a
    referral created from Salesforce names in externalReferenceId (if it is not another's)."""
    opp = ctx.sf.get_opportunity(link.opportunity_id) if link and link.opportunity_id else None
    if opp is None:
        opp = ctx.sf.get_opportunity_by_referral_id(str(referral.id))
    if opp is None and looks_like_opportunity_id(referral.external_reference_id or ""):
        candidate = ctx.sf.get_opportunity(str(referral.external_reference_id))
        if candidate is not None and candidate.get(F.REFERRAL_ID) in (None, "", referral.id):
            opp = candidate
    return opp

"""The decision tree of a sync: from the record a job names to what must happen to it. The engine
executes the step it returns; the dry run reports the same step without executing it, so the two
cannot drift apart.

A job for an opportunity is routed in two stages: `route_opportunity` reads the opportunity and
finds its referral, then `route_linked_opportunity` runs under the referral's claim (everything it
reads is fresh for the writes that follow). A referral job is routed under its claim at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core import salesforce_fields as F
from shared.core.plan import Origin
from shared.core.poll_window import parse_stamp
from shared.core.referral import Referral
from shared.core.referral_ids import referral_id_problem
from shared.errors import PermanentError
from shared.jobs import JobSource, RecordKind, SyncJob
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
class BadAnchor:
    """The opportunity's Referral Id is not a referral id (it is editable in Salesforce): ✖ with the
    reason, nothing read from or sent to Partner Center."""

    opp: dict[str, Any]
    reason: str


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
class Pause:
    """Sync turned off on a linked opportunity: the pair pauses both ways (nothing is written on
    either side; the link and its snapshot are kept, so resuming merges both sides' edits)."""

    link: Link
    opportunity_id: str


@dataclass(frozen=True)
class Unlink:
    """The linked opportunity was deleted in Salesforce: the link is marked, Partner Center is left
    as it is, and (with ON_OPPORTUNITY_DELETED=unlink) later referral changes do not re-create it."""

    link: Link
    opportunity_id: str


@dataclass(frozen=True)
class Linked:
    """An opportunity with its referral id, to be routed further under that referral's claim."""

    opp: dict[str, Any]
    referral_id: str
    read_at: datetime


Step = Done | Broken | BadAnchor | CreateReferral | CreateOpportunity | SyncPair | Pause | Unlink

PAUSED = "paused"
DELETED = "deleted"
_UNREADABLE = (403, 404)  # this referral only: gone, or not ours to read (never a credentials problem)


def _skip(action: str, referral_id: str = "", opportunity_id: str = "") -> Done:
    return Done(SyncResult(Outcome.SKIPPED, Direction.NONE, action, referral_id, opportunity_id))


def _in_sync(referral_id: str, opportunity_id: str) -> Done:
    return Done(SyncResult(Outcome.NOOP, Direction.NONE, "in sync", referral_id, opportunity_id))


def _our_own_write(referral_id: str, opportunity_id: str) -> Done:
    """The very version our last write left coming back: bookkeeping, no audit row."""
    return Done(
        SyncResult(Outcome.NOOP, Direction.NONE, "our own write", referral_id, opportunity_id, audited=False)
    )


def own_echo(ctx: SyncContext, job: SyncJob) -> Done | None:
    """A poll job for an opportunity version our integration user saved (the poll then names its
    Referral Id): when the link holds exactly that version (the SystemModstamp our write left, saved
    only when it held what was synced), it is our own echo and nothing needs reading."""
    referral_id = job.referral_id
    if job.kind is not RecordKind.OPPORTUNITY or job.source is not JobSource.POLL or not referral_id:
        return None
    if referral_id_problem(referral_id):
        return None
    link = ctx.store.get(referral_id)
    if (
        link is None
        or link.pending
        or link.last_outcome in (PAUSED, DELETED)
        or not link.sf_stamp
        or (link.opportunity_id or "")[:15] != job.record_id[:15]
        or parse_stamp(link.sf_stamp) != job.observed_at
    ):
        return None
    return _our_own_write(referral_id, job.record_id)


def route_opportunity(
    ctx: SyncContext, opportunity_id: str
) -> Done | Unlink | BadAnchor | CreateReferral | Linked:
    read_at = datetime.now(UTC)
    opp = ctx.sf.get_opportunity(opportunity_id)
    if opp is None:
        return _deleted_or_missing(ctx, opportunity_id)
    referral_id = opp.get(F.REFERRAL_ID)
    if not referral_id:
        if not opp.get(F.SYNC):
            return _skip("not flagged for sync", opportunity_id=opportunity_id)
        existing = ctx.pc.find_by_external_reference(opportunity_id)
        if existing is None or not existing.id:
            return CreateReferral(opp)
        # A referral we created before crashing (or before the Referral Id write landed): adopt it.
        referral_id = existing.id
    if problem := referral_id_problem(referral_id):
        # Referral_Id__c is editable in Salesforce: a bad value never reaches a URL or a claim key.
        return BadAnchor(opp, f"Referral Id is not valid: {problem}")
    return Linked(opp, str(referral_id), read_at)


def route_linked_opportunity(ctx: SyncContext, linked: Linked) -> Step:
    """The caller holds the referral's claim."""
    opp, referral_id = linked.opp, linked.referral_id
    opportunity_id = str(opp["Id"])
    link = ctx.store.get(referral_id)
    if not opp.get(F.SYNC):
        if link is None:
            return _skip("not flagged for sync", referral_id, opportunity_id)
        return Pause(link, opportunity_id)
    if link is not None and link.synced_at and link.synced_at >= linked.read_at - _STALE_MARGIN:
        # The link is saved after every write, so a link saved after our read means another
        # worker may have changed the opportunity since: read it again.
        fresh = ctx.sf.get_opportunity(opportunity_id)
        if fresh is None:
            return _skip("opportunity not found", referral_id)
        opp = fresh
    resuming = link is not None and link.last_outcome in (PAUSED, DELETED)
    if (
        link is not None
        and not link.pending
        and not resuming
        and salesforce_unchanged(ctx.settings, opp, link, referral_id)
    ):
        # Typically the echo of our own write. Partner Center's changes reach us by webhook
        # (and reconcile), so there is nothing to push and no need to read the referral.
        return _in_sync(referral_id, opportunity_id)
    if link is not None and not resuming and (cached := _as_last_seen(ctx, link)) is not None:
        # Salesforce changed: push with If-Match on the eTag we last saw, without reading the
        # referral; a 412 means it changed since, and the retry reads it (SyncContext.cached_referrals).
        return SyncPair(cached, opp, "salesforce", link)
    try:
        referral = ctx.pc.get_referral(referral_id)
    except PermanentError as exc:
        if exc.status in _UNREADABLE:
            return Broken(opp, _unreadable(referral_id, exc.status), link)
        raise
    if gone := _gone_reason(referral):
        return Broken(opp, gone, link)
    return SyncPair(referral, opp, "salesforce", link)


def _as_last_seen(ctx: SyncContext, link: Link) -> Referral | None:
    if not ctx.cached_referrals or link.pending or not link.pc_state or not link.snapshot:
        return None
    referral = Referral.model_validate(link.pc_state)
    return (
        referral
        if referral.e_tag and referral.id == link.referral_id and not _gone_reason(referral)
        else None
    )


@dataclass(frozen=True)
class SeenBeforeClaim:
    """The referral read before its claim was taken, and the link's ETag then."""

    referral: Referral
    link_etag: str | None
    read_at: float

    def still_fresh(self, link: Link | None) -> bool:
        """Usable under the claim: no sync saved the link since (every sync saves it after writing,
        before releasing the claim) and the read is younger than any claim a crashed worker could
        have left behind (a claim outlives its holder by at most CLAIM_TTL_S)."""
        young = time.monotonic() - self.read_at < _SEEN_MAX_AGE_S
        if link is None:
            return young and self.link_etag is None
        # A claim held on the link changes its ETag; `claimed_over` is the ETag it was taken over.
        return young and self.link_etag is not None and self.link_etag in (link.etag, link.claimed_over)


_SEEN_MAX_AGE_S = 10.0


def precheck_referral(ctx: SyncContext, referral_id: str) -> Done | SeenBeforeClaim:
    """Before the claim: a referral job whose answer writes nothing (the echo of our own write, a
    held-back pair, a referral we may not read) needs no claim; otherwise what was read goes on to
    `route_referral`, which reuses it when it is still fresh under the claim."""
    referral = _read_referral(ctx, referral_id)
    if isinstance(referral, Done):
        return referral
    read_at = time.monotonic()
    link = ctx.store.get(referral_id)
    if (nothing := _nothing_to_write(ctx, referral, link)) is not None:
        return nothing
    return SeenBeforeClaim(referral, link.etag if link else None, read_at)


def _read_referral(ctx: SyncContext, referral_id: str) -> Referral | Done:
    try:
        return ctx.pc.get_referral(referral_id)
    except PermanentError as exc:
        if exc.status in _UNREADABLE:
            return _skip(_unreadable(referral_id, exc.status), referral_id)
        raise


def _nothing_to_write(ctx: SyncContext, referral: Referral, link: Link | None) -> Done | None:
    """A held-back pair, or the referral as the link last synced it."""
    if link is None:
        return None
    return _held_back(ctx, link) or _echo(ctx, referral, link)


def _echo(ctx: SyncContext, referral: Referral, link: Link) -> Done | None:
    if link.opportunity_id and not link.pending and partner_center_unchanged(ctx.settings, referral, link):
        # The echo of our own write, or a change of nothing we sync: Salesforce's changes reach
        # us through the poll, so there is no need to read the opportunity.
        if referral.e_tag and referral.e_tag == (link.pc_state or {}).get("eTag"):
            return _our_own_write(link.referral_id, link.opportunity_id)
        return _in_sync(link.referral_id, link.opportunity_id)
    return None


def route_referral(ctx: SyncContext, referral_id: str, seen: SeenBeforeClaim | None = None) -> Step:
    """The caller holds the referral's claim."""
    link = ctx.store.get(referral_id)
    referral = (
        seen.referral if seen is not None and seen.still_fresh(link) else _read_referral(ctx, referral_id)
    )
    if isinstance(referral, Done):
        return referral
    if (nothing := _nothing_to_write(ctx, referral, link)) is not None:
        return nothing
    opp = _opportunity_of(ctx, referral, link)
    if opp is None:
        if link and link.opportunity_id and ctx.settings.on_opportunity_deleted == "unlink":
            # Linked, and gone from Salesforce before the poll saw its delete.
            return Unlink(link, link.opportunity_id)
        return CreateOpportunity(referral, link)
    if not opp.get(F.SYNC) and link is not None:
        return Pause(link, str(opp["Id"]))
    if gone := _gone_reason(referral):
        return Broken(opp, gone, link)
    return SyncPair(referral, opp, "partner_center", link)


def _held_back(ctx: SyncContext, link: Link) -> Done | None:
    """A paused pair, or one whose opportunity was deleted (unlink): Partner Center's edits stay in
    Partner Center, nothing is read from or written to Salesforce."""
    opportunity_id = link.opportunity_id or ""
    if link.last_outcome == PAUSED:
        return _skip("paused: Sync with Partner Center is off", link.referral_id, opportunity_id)
    if link.last_outcome == DELETED and ctx.settings.on_opportunity_deleted == "unlink":
        reason = "opportunity deleted in Salesforce; not re-created (ON_OPPORTUNITY_DELETED=unlink)"
        return _skip(reason, link.referral_id, opportunity_id)
    return None


def _deleted_or_missing(ctx: SyncContext, opportunity_id: str) -> Done | Unlink:
    deleted = ctx.sf.find_deleted_opportunity(opportunity_id)
    referral_id = str((deleted or {}).get(F.REFERRAL_ID) or "")
    link = ctx.store.get(referral_id) if referral_id else None
    if link is None or link.opportunity_id not in (None, "", opportunity_id):
        return _skip("opportunity not found", opportunity_id=opportunity_id)
    if link.last_outcome == DELETED:
        return _skip("opportunity deleted in Salesforce (already unlinked)", referral_id, opportunity_id)
    return Unlink(link, opportunity_id)


def _unreadable(referral_id: str, status: int | None) -> str:
    if status == 404:
        return f"referral {referral_id} not found in Partner Center"
    return f"referral {referral_id} cannot be read in Partner Center ({status}: not shared with this partner)"


_GONE_STATUSES = ("Archived", "Deleted")  # not documented values; kept as text, never a crash


def _gone_reason(referral: Referral) -> str | None:
    """A referral archived (or otherwise retired) in Partner Center: the pair stops, with a ✖."""
    if referral.status in _GONE_STATUSES:
        return f"referral {referral.id} is {referral.status} in Partner Center; the pair no longer syncs"
    return None


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

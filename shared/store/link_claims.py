"""A deal's claim held on its own link entity (issue #19): one worker at a time syncs a referral.

The claim is two properties of the link (`ClaimOwner`, `ClaimExpires`) set with an If-Match write, so
taking it also proves the link has not changed since it was read, and the sync's last link save can
release it in the same write. A referral with no link yet gets a claim-only entity (a placeholder:
no `Snapshot`), which `links.get` reads as "no link" and the first save replaces. A claim expires, so
a worker that died holding it blocks the deal for at most its TTL; every write under a claim is
If-Match on the ETag of the claim's last write, so a holder whose claim was taken over after expiry
cannot write over the new holder (its save is a ConflictError, its release a no-op).

Storage facts relied on (Azure Table Storage, "Insert Entity" / "Update Entity" / "Merge Entity"
REST pages; ../shared/spec/azure-functions.md, the azure-data-tables error table, checked on Azurite):
an insert of an existing entity is 409 (`ResourceExistsError`); an If-Match write whose ETag is stale
is 412 (`ResourceModifiedError`); each successful write returns the entity's new ETag.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.data.tables import TableClient

from shared.config import Settings
from shared.errors import ConflictError, TransientError
from shared.store import entity_requests, links, tables
from shared.store.links import CLAIM_EXPIRES, CLAIM_OWNER, Link, claim_live

log = logging.getLogger("cosell_sync.store")
_ROW = links.ROW
UNSEEN: Any = object()
"""`take(seen=UNSEEN)`: the caller did not read the link first."""


@dataclass(frozen=True)
class LinkClaim:
    referral_id: str
    owner: str
    expires: datetime
    etag: str
    """The entity's ETag after our latest write: every write under the claim is If-Match on it."""
    over: str | None
    """The ETag of the link the claim was taken over, until our first save: a link read before the
    claim with that ETag is still current (nothing saved it in between)."""
    placeholder: bool
    """No link saved yet: the entity holds only the claim (released by deleting it)."""


def _busy(referral_id: str, retry_after: float) -> TransientError:
    return TransientError(f"ref-{referral_id} is being synced by another worker", retry_after=retry_after)


def take(
    settings: Settings, referral_id: str, *, ttl_seconds: int, wait_seconds: float = 5.0, seen: Any = UNSEEN
) -> tuple[LinkClaim, Link | None]:
    """Claim the referral's link and return the link as claimed (None: no link yet). `seen` is the
    link as read just before (None: there was none): then one write takes the claim if it is
    unchanged. Waits up to `wait_seconds` for another holder, then raises TransientError."""
    deadline = time.monotonic() + wait_seconds
    first: Any = seen
    while True:

        def attempt(client: TableClient, seen_now: Any = first) -> tuple[LinkClaim, Link | None]:
            return _take(client, referral_id, ttl_seconds, seen_now)

        try:
            return tables.call(settings, settings.links_table, attempt)
        except TransientError:
            if time.monotonic() >= deadline:
                raise
            first = UNSEEN  # what was read before is no help any more
            time.sleep(0.05)


def try_take_new(settings: Settings, referral_id: str, *, ttl_seconds: int) -> LinkClaim | Link | None:
    """For a batch: claim a referral that has no link yet, in one write. Returns the claim; or the
    link if there is one (not claimed: the caller only reads it); or None when another worker holds
    the referral or only a claim-only entity exists (the caller leaves it to a job)."""

    def attempt(client: TableClient) -> LinkClaim | Link | None:
        owner, expires = _new_claim(ttl_seconds)
        try:
            etag = _insert(client, referral_id, owner, expires)
        except ResourceExistsError:
            try:
                return links.from_entity_or_none(*entity_requests.get(client, referral_id, _ROW))
            except ResourceNotFoundError:
                return None
        except ServiceResponseError:
            try:
                return _settle(client, referral_id, owner, expires)[0]
            except TransientError:
                return None
        return LinkClaim(referral_id, owner, expires, etag, over=None, placeholder=True)

    return tables.call(settings, settings.links_table, attempt)


def _new_claim(ttl_seconds: int) -> tuple[str, datetime]:
    return uuid.uuid4().hex, datetime.now(UTC) + timedelta(seconds=ttl_seconds)


def _insert(client: TableClient, referral_id: str, owner: str, expires: datetime) -> str:
    entity = {"PartitionKey": referral_id, "RowKey": _ROW, CLAIM_OWNER: owner, CLAIM_EXPIRES: expires}
    return entity_requests.insert(client, entity)


def _merge_claim(client: TableClient, referral_id: str, owner: str, expires: datetime, etag: str) -> str:
    entity = {"PartitionKey": referral_id, "RowKey": _ROW, CLAIM_OWNER: owner, CLAIM_EXPIRES: expires}
    return entity_requests.merge(client, entity, etag)


def _take(
    client: TableClient, referral_id: str, ttl_seconds: int, seen: Any
) -> tuple[LinkClaim, Link | None]:
    owner, expires = _new_claim(ttl_seconds)
    now = datetime.now(UTC)
    try:
        if isinstance(seen, Link) and seen.etag and not claim_live(seen.claim_owner, seen.claim_expires, now):
            try:  # the link as just read, unchanged: one write
                etag = _merge_claim(client, referral_id, owner, expires, seen.etag)
                claim = LinkClaim(referral_id, owner, expires, etag, over=seen.etag, placeholder=False)
                return claim, _claimed(seen, claim)
            except (ResourceModifiedError, ResourceNotFoundError):
                pass
        if seen is UNSEEN or seen is None:
            try:
                etag = _insert(client, referral_id, owner, expires)
                return LinkClaim(referral_id, owner, expires, etag, over=None, placeholder=True), None
            except ResourceExistsError:
                pass
        try:
            entity, previous = entity_requests.get(client, referral_id, _ROW)
        except ResourceNotFoundError:
            raise _busy(referral_id, 0.2) from None  # deleted between our insert and read: try again
        if claim_live(entity.get(CLAIM_OWNER), entity.get(CLAIM_EXPIRES), now):
            raise _busy(referral_id, 2.0)
        try:
            etag = _merge_claim(client, referral_id, owner, expires, previous)
        except (ResourceModifiedError, ResourceNotFoundError):
            raise _busy(referral_id, 1.0) from None
    except ServiceResponseError:
        # The connection broke after a write was sent: it may have landed. Ours if it carries our
        # owner token (else we would wait out our own claim as if another worker held it).
        claim, entity = _settle(client, referral_id, owner, expires)
        return claim, _claimed(links.from_entity_or_none(entity, claim.etag), claim)
    link = links.from_entity_or_none(entity, previous)
    claim = LinkClaim(referral_id, owner, expires, etag, over=previous, placeholder=link is None)
    return claim, _claimed(link, claim)


def _claimed(link: Link | None, claim: LinkClaim) -> Link | None:
    if link is None:
        return None
    return replace(
        link, etag=claim.etag, claim_owner=claim.owner, claim_expires=claim.expires, claimed_over=claim.over
    )


def _settle(client: TableClient, referral_id: str, owner: str, expires: datetime) -> tuple[LinkClaim, Any]:
    """After a broken connection: the claim, if the entity carries our owner token."""
    try:
        entity, etag = entity_requests.get(client, referral_id, _ROW)
    except ResourceNotFoundError:
        broken = f"claiming ref-{referral_id} failed on a broken connection"
        raise TransientError(broken, retry_after=0.5) from None
    if entity.get(CLAIM_OWNER) != owner:
        raise _busy(referral_id, 1.0)
    placeholder = links.from_entity_or_none(entity, etag) is None
    return LinkClaim(referral_id, owner, expires, etag, over=None, placeholder=placeholder), entity


def save(
    settings: Settings, link: Link, claim: LinkClaim, *, release: bool = False
) -> tuple[Link, LinkClaim]:
    """Save `link` under `claim` (If-Match on the claim's last write), keeping the claim, or
    releasing it in the same write (`release`). A link read before the claim was taken, or one
    made new while a link exists, is a ConflictError, as is a claim another worker took over."""
    current = link.etag in (claim.etag, claim.over) if link.etag else claim.placeholder
    if not current or link.referral_id != claim.referral_id:
        raise ConflictError(
            "link changed before its claim was taken", provider="storage", record_id=link.referral_id
        )
    entity = links.to_entity(link)
    if not release:
        entity.update({CLAIM_OWNER: claim.owner, CLAIM_EXPIRES: claim.expires})

    def write(client: TableClient) -> str:
        return entity_requests.replace(client, entity, claim.etag)

    try:
        etag = tables.call(settings, settings.links_table, write)
    except (ResourceModifiedError, ResourceNotFoundError) as exc:
        raise ConflictError(
            "the claim on this link was taken over", provider="storage", record_id=link.referral_id
        ) from exc
    held = replace(claim, etag=etag, over=None, placeholder=False)
    saved = replace(link, etag=etag, synced_at=entity["SyncedAt"], claimed_over=None)
    if release:
        return replace(saved, claim_owner="", claim_expires=None), held
    return replace(saved, claim_owner=claim.owner, claim_expires=claim.expires), held


def release(settings: Settings, claim: LinkClaim) -> None:
    """Give the claim up: delete a claim-only entity, clear the claim on a link. A claim another
    worker took over after expiry (a different ETag) is left alone. A storage failure here is logged,
    not raised: the claim then expires by itself."""

    def write(client: TableClient) -> None:
        if claim.placeholder:
            client.delete_entity(
                claim.referral_id, _ROW, etag=claim.etag, match_condition=MatchConditions.IfNotModified
            )
        else:
            _merge_claim(client, claim.referral_id, "", datetime.now(UTC), claim.etag)

    try:
        tables.call(settings, settings.links_table, write)
    except (ResourceModifiedError, ResourceNotFoundError):
        pass
    except AzureError as exc:
        log.warning(
            "could not release the claim on referral %s (it expires by itself): %s", claim.referral_id, exc
        )

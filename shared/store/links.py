"""Link state: one entity per Partner Center referral, holding its Salesforce opportunity id, the last
synced snapshot (canonical field values both sides agreed on) and the record's recent audit lines.

Keyed by referral id only: the opportunity → referral direction is stored in Salesforce itself
(the Referral Id external-id field), and a referral created from Salesforce carries the opportunity
id as `externalReferenceId`, so either side leads back to the link. Saves use the entity ETag, so
two workers on one record cannot both win.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient

from shared.config import Settings
from shared.errors import ConflictError
from shared.store import entity_requests, tables

ROW = "link"
CLAIM_OWNER = "ClaimOwner"
CLAIM_EXPIRES = "ClaimExpires"
"""The deal's claim, held on its link entity (`link_claims`)."""


def claim_live(owner: str | None, expires: datetime | None, now: datetime) -> bool:
    """A claim somebody holds now (an empty owner is a released claim)."""
    return bool(owner) and expires is not None and expires > now


_MAX_AUDIT_LINES = 50
_MAX_NOTE_DIGESTS = 500


@dataclass(frozen=True)
class Link:
    referral_id: str
    opportunity_id: str | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)
    audit_lines: tuple[str, ...] = ()
    note_digests: tuple[str, ...] = ()
    last_outcome: str = ""
    synced_at: datetime | None = None
    sf_stamp: str | None = None
    """SystemModstamp our last write gave the opportunity, when it left it exactly as synced: the
    poller skips that version (the echo of our own write) without an API call."""
    pending: dict[str, dict[str, Any]] | None = None
    """The writes a sync is about to make ({"salesforce": {...}, "partner_center": {...}}, canonical
    values), saved before it makes them and cleared with the snapshot after. A job that died in
    between leaves it here, so the next sync can tell its landed writes (echoes) from new edits."""
    pc_state: dict[str, Any] | None = None
    """The referral as Partner Center last showed it to us (wire form, with its eTag): an update from
    Salesforce is sent with If-Match on that eTag without reading the referral first; a 412 means it
    changed since, and the sync reads it fresh."""
    etag: str | None = None
    claim_owner: str = field(default="", compare=False)
    claim_expires: datetime | None = field(default=None, compare=False)
    """The claim on the link as read (`link_claims`): a save outside that claim refuses a live one."""
    claimed_over: str | None = field(default=None, compare=False)
    """Read under a claim: the ETag the claim was taken over (the link was unchanged since then)."""

    def with_audit(self, line: str) -> Link:
        return replace(self, audit_lines=(line, *self.audit_lines)[:_MAX_AUDIT_LINES])

    def with_notes(self, digests: tuple[str, ...]) -> Link:
        merged = tuple(dict.fromkeys((*digests, *self.note_digests)))
        return replace(self, note_digests=merged[:_MAX_NOTE_DIGESTS])


def to_entity(link: Link) -> dict[str, Any]:
    return {
        "PartitionKey": link.referral_id,
        "RowKey": ROW,
        "OpportunityId": link.opportunity_id or "",
        "Snapshot": json.dumps(link.snapshot, sort_keys=True, ensure_ascii=False),
        "AuditLines": json.dumps(list(link.audit_lines), ensure_ascii=False),
        "NoteDigests": json.dumps(list(link.note_digests)),
        "LastOutcome": link.last_outcome,
        "SfStamp": link.sf_stamp or "",
        "Pending": json.dumps(link.pending, sort_keys=True, ensure_ascii=False) if link.pending else "",
        "PcState": _pack(link.pc_state),
        # Always the time of this save: the engine compares it with when it read the opportunity.
        "SyncedAt": datetime.now(UTC),
    }


_MAX_PACKED = 30_000  # a string property holds 64 KiB of UTF-16 (32K characters); bigger: read each time


def _pack(state: dict[str, Any] | None) -> str:
    if not state:
        return ""
    raw = json.dumps(state, ensure_ascii=False).encode()
    # A window just over the text's size finds every match a 32 KiB one would, and zlib sets up a
    # small window and hash table 4-5x faster (setting up 32 KiB + 128 KiB cost more than compressing
    # a 2 KB referral). `zlib.decompress` reads any window size from the stream's header.
    wbits = min(15, max(9, (len(raw) - 1).bit_length()))
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits, 4)
    packed = base64.b64encode(compressor.compress(raw) + compressor.flush()).decode()
    return packed if len(packed) <= _MAX_PACKED else ""


def _unpack(packed: str) -> dict[str, Any] | None:
    if not packed:
        return None
    try:
        state = json.loads(zlib.decompress(base64.b64decode(packed)))
    except (ValueError, zlib.error):
        return None
    return state if isinstance(state, dict) else None


def from_entity_or_none(entity: Any, etag: str | None = None) -> Link | None:
    """The link an entity holds; None for a claim-only entity (a referral claimed before its first
    link was saved). `etag`: the entity's, when read as plain properties (`entity_requests.get`);
    otherwise an SDK entity's metadata holds it."""
    return _from_entity(entity, etag) if "Snapshot" in entity else None


def _from_entity(entity: Any, etag: str | None) -> Link:
    return Link(
        referral_id=entity["PartitionKey"],
        opportunity_id=entity.get("OpportunityId") or None,
        snapshot=json.loads(entity.get("Snapshot") or "{}"),
        audit_lines=tuple(json.loads(entity.get("AuditLines") or "[]")),
        note_digests=tuple(json.loads(entity.get("NoteDigests") or "[]")),
        last_outcome=entity.get("LastOutcome", ""),
        sf_stamp=entity.get("SfStamp") or None,
        synced_at=entity.get("SyncedAt"),
        pending=json.loads(entity["Pending"]) if entity.get("Pending") else None,
        pc_state=_unpack(entity.get("PcState") or ""),
        etag=etag if etag is not None else entity.metadata.get("etag"),
        claim_owner=entity.get(CLAIM_OWNER) or "",
        claim_expires=entity.get(CLAIM_EXPIRES),
    )


def get(settings: Settings, referral_id: str) -> Link | None:
    try:
        entity, etag = tables.call(
            settings, settings.links_table, lambda c: entity_requests.get(c, referral_id, ROW)
        )
    except ResourceNotFoundError:
        return None
    return from_entity_or_none(entity, etag)


def save(settings: Settings, link: Link) -> Link:
    """Insert a new link (fails if another worker inserted one first) or replace it if its ETag
    still matches, outside any claim (a claim's holder saves through `link_claims.save`). Either
    race raises ConflictError, as does a link read while another worker held its claim: the
    caller re-reads and merges again."""
    now = datetime.now(UTC)
    if claim_live(link.claim_owner, link.claim_expires, now):
        raise ConflictError(
            "link is being synced by another worker", provider="storage", record_id=link.referral_id
        )
    entity = to_entity(link)

    def write(client: TableClient) -> str:
        if link.etag is not None:
            return entity_requests.replace(client, entity, link.etag)
        try:
            return entity_requests.insert(client, entity)
        except ResourceExistsError:
            # A claim-only entity whose claim is over (its holder saved nothing) is no link: replace it.
            current, etag = entity_requests.get(client, link.referral_id, ROW)
            held = claim_live(current.get(CLAIM_OWNER), current.get(CLAIM_EXPIRES), now)
            if from_entity_or_none(current, etag) is not None or held:
                raise
            return entity_requests.replace(client, entity, etag)

    try:
        etag = tables.call(settings, settings.links_table, write)
    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError) as exc:
        # ResourceNotFound: the link we read is gone (its table was re-created); re-read and merge.
        raise ConflictError(
            "link changed by another worker", provider="storage", record_id=link.referral_id
        ) from exc
    saved = replace(link, etag=etag, synced_at=entity["SyncedAt"])
    return replace(saved, claim_owner="", claim_expires=None)


def sf_stamps_saved_since(settings: Settings, since: datetime) -> dict[str, str]:
    """Referral id -> the Salesforce stamp of every link saved since `since` (by this app's clock):
    one query for many links (the poll after a burst of our own writes), two properties each."""
    rows = tables.query(
        settings, settings.links_table, "RowKey eq @row and SyncedAt ge @since",
        {"row": ROW, "since": since}, select=["PartitionKey", "SfStamp"],
    )  # fmt: skip
    return {str(row["PartitionKey"]): str(row.get("SfStamp") or "") for row in rows}


def iter_links(settings: Settings) -> Any:
    """Every link (for reconcile and status); streamed page by page."""
    for entity in tables.query(settings, settings.links_table, "RowKey eq @row", {"row": ROW}):
        if (link := from_entity_or_none(entity)) is not None:
            yield link

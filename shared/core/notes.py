"""Notes, note by note, both ways.

Partner Center keeps a referral's notes as one growing text (`details.notes`); Salesforce keeps one
enhanced note (ContentNote) per note. So:
- each *addition* to the Partner Center text since the last sync becomes one Salesforce note that
  holds only the added text (repeats and re-deliveries find its digest and add nothing);
- each note a seller adds on the opportunity is appended to the referral's text once, attributed
  and dated, and remembered by its id (editing it later does not append it again);
- our own notes in Salesforce (titled `PARTNER_CENTER_NOTE_TITLE`) are never sent back.
The opportunity's Description is not involved (mapping it is an opt-in setting).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PARTNER_CENTER_NOTE_TITLE = "Partner Center note"
SELLER_NOTE_PREFIX = "sf:"  # how a seller note's id is remembered among the link's note digests
_NOTE_FILE_TYPE = "SNOTE"


@dataclass(frozen=True)
class SellerNote:
    id: str
    title: str
    text: str
    created: str
    author: str

    def block(self) -> str:
        """The note as appended to the referral's notes text."""
        day = self.created[:10]
        heading = f"[{day} · {self.author or 'Salesforce'} · Salesforce note] {self.title}".rstrip()
        return f"{heading}\n{self.text.strip()}" if self.text.strip() else heading


@dataclass(frozen=True)
class NotesPlan:
    text: str | None
    """The notes text both sides agree on afterwards (the new snapshot value; None when empty, as the
    canonical form holds empty text)."""
    to_salesforce: tuple[str, ...]
    """Partner Center additions to attach as Salesforce notes, one each."""
    to_partner_center: str | None
    """The referral's new notes text, when seller notes are appended (None: nothing to send)."""
    seller_note_ids: tuple[str, ...]


def note_digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


def note_title(text: str) -> str:
    """Our note's title carries its digest, so a repeat can tell the note is already there."""
    return f"{PARTNER_CENTER_NOTE_TITLE} [{note_digest(text)[:8]}]"


def addition(current: str, base: str) -> str:
    """What was added to the notes text since `base` (all of it when it was rewritten)."""
    current, base = current.strip(), base.strip()
    if current == base:
        return ""
    if base and current.startswith(base):
        return current[len(base) :].strip()
    return current


def plan_notes(pc_text: str | None, base_text: str | None, seller_notes: Sequence[SellerNote]) -> NotesPlan:
    current, base = (pc_text or "").strip(), (base_text or "").strip()
    added = addition(current, base)
    to_salesforce = (added,) if added else ()
    blocks = [note.block() for note in seller_notes]
    if not blocks:
        return NotesPlan(current or None, to_salesforce, None, ())
    text = "\n\n".join([current, *blocks]) if current else "\n\n".join(blocks)
    return NotesPlan(text, to_salesforce, text, tuple(note.id for note in seller_notes))


def new_seller_note_ids(opp: Mapping[str, Any], known: Sequence[str]) -> list[str]:
    """Notes on the opportunity (its ContentDocumentLinks) that a person added and we have not
    appended to the referral yet."""
    remembered = {k[len(SELLER_NOTE_PREFIX) :] for k in known if k.startswith(SELLER_NOTE_PREFIX)}
    links = opp.get("ContentDocumentLinks")
    records = links.get("records") or [] if isinstance(links, Mapping) else []
    found = []
    for record in records:
        document = record.get("ContentDocument") or {}
        note_id = str(record.get("ContentDocumentId") or "")
        title = str(document.get("Title") or "")
        if (
            note_id
            and document.get("FileType") == _NOTE_FILE_TYPE
            and not title.startswith(PARTNER_CENTER_NOTE_TITLE)
            and note_id not in remembered
        ):
            found.append(note_id)
    return found

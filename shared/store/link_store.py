"""The link store the sync engine works with, backed by Table Storage: links (ETag-checked saves)
and per-deal claims. One store per job (it remembers what the job read and holds).

A referral's claim (`ref-<id>`) lives on its link entity (`link_claims`): taking it is one If-Match
write over the link this job last read, and while it is held the link is served from memory (no
other worker can write it) and saved under the claim. Other keys (an opportunity not linked yet)
use a claim entity of their own (`claims`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.config import Settings
from shared.store import claims, link_claims, links
from shared.store.link_claims import LinkClaim
from shared.store.links import Link

_REFERRAL = "ref-"


class TableLinkStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._read: dict[str, Link | None] = {}
        self._held: dict[str, LinkClaim] = {}
        self._claimed: dict[str, Link | None] = {}

    def get(self, referral_id: str) -> Link | None:
        if referral_id in self._held:
            return self._claimed[referral_id]
        link = links.get(self.settings, referral_id)
        self._read[referral_id] = link
        return link

    def save(self, link: Link) -> Link:
        claim = self._held.get(link.referral_id)
        if claim is None:
            return links.save(self.settings, link)
        saved, self._held[link.referral_id] = link_claims.save(self.settings, link, claim)
        self._claimed[link.referral_id] = saved
        return saved

    @contextmanager
    def claim(self, key: str, *, ttl_seconds: int) -> Iterator[None]:
        referral_id = key.removeprefix(_REFERRAL)
        if not key.startswith(_REFERRAL):
            with claims.claim(self.settings, key, ttl_seconds=ttl_seconds):
                yield
            return
        if referral_id in self._held:  # already ours (a step nested in another of the same deal)
            yield
            return
        seen: Any = self._read.pop(referral_id) if referral_id in self._read else link_claims.UNSEEN
        claim, link = link_claims.take(self.settings, referral_id, ttl_seconds=ttl_seconds, seen=seen)
        self._held[referral_id], self._claimed[referral_id] = claim, link
        try:
            yield
        finally:
            link_claims.release(self.settings, self._held.pop(referral_id))
            self._claimed.pop(referral_id, None)

"""The link store the sync engine works with, backed by Table Storage: links (ETag-checked saves)
and per-deal claims."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from shared.config import Settings
from shared.store import claims, links
from shared.store.links import Link


class TableLinkStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def get(self, referral_id: str) -> Link | None:
        return links.get(self.settings, referral_id)

    def save(self, link: Link) -> Link:
        return links.save(self.settings, link)

    @contextmanager
    def claim(self, key: str, *, ttl_seconds: int) -> Iterator[None]:
        with claims.claim(self.settings, key, ttl_seconds=ttl_seconds):
            yield

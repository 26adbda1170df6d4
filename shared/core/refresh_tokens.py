"""A stored refresh token and which of two is newer (pure; the stores live in
`shared.partner_center.token_store` and `shared.store.token_cache`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class StoredRefreshToken:
    """A refresh token and what we know about it. `issued_at` None: the consent's original token,
    whose issue time we never saw."""

    value: str
    issued_at: datetime | None
    version: str | None = None
    last_renewal_error: str | None = None
    last_renewal_error_at: datetime | None = None


def newer(a: StoredRefreshToken | None, b: StoredRefreshToken | None) -> StoredRefreshToken | None:
    """The later-issued of two tokens (an unknown issue time counts as oldest)."""
    if a is None or b is None:
        return a or b
    floor = datetime.min.replace(tzinfo=UTC)
    return a if (a.issued_at or floor) >= (b.issued_at or floor) else b

"""How long the stored Partner Center refresh token has left, and whether its last renewal failed:
what `status`, `doctor` and the renewal alert read.

A refresh token lives 90 days from its issue and use does not extend it; every redemption returns a
new one with its own 90 days (https://learn.microsoft.com/entra/identity-platform/refresh-tokens).
The provider stores each new token (`token_store`), so a healthy deployment shows ~90 days left; the
count only falls when renewals stop (no jobs, a failing store, a revoked consent). We warn 14 days
before the end, and whenever the last renewal failed. After expiry the identity platform answers
AADSTS700082 and only a new interactive consent helps
(https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import metrics

from shared.core.refresh_tokens import StoredRefreshToken
from shared.errors import CosellSyncError
from shared.partner_center.token_store import RefreshTokenStore
from shared.telemetry import METER_NAME

log = logging.getLogger("cosell_sync.partner_center.tokens")

LIFETIME = timedelta(days=90)
WARN_BEFORE = timedelta(days=14)
ALERT = "PARTNER_CENTER_REFRESH_TOKEN_AT_RISK"
"""Stable text at the start of the ERROR log line (alert rules match it)."""

_days_left_gauge = metrics.get_meter(METER_NAME).create_gauge(
    "pc_refresh_token_days_left", unit="d", description="Days before the stored refresh token expires."
)


@dataclass(frozen=True)
class TokenHealth:
    store: str
    issued_at: datetime | None
    age_days: float | None
    days_left: float | None
    last_renewal_error: str | None
    last_renewal_error_at: datetime | None
    read_error: str | None = None

    @property
    def warnings(self) -> list[str]:
        found = []
        if self.read_error:
            found.append(f"refresh token store unreadable: {self.read_error}")
        if self.days_left is not None and self.days_left <= WARN_BEFORE.days:
            found.append(
                f"refresh token expires in {max(self.days_left, 0):.1f} days: it is not being renewed"
                " (re-consent as a Referrals admin before it does)"
                if self.days_left > 0
                else "refresh token expired: re-consent as a Referrals admin"
            )
        if self.last_renewal_error:
            found.append(f"last renewal failed: {self.last_renewal_error}")
        return found

    def line(self) -> str:
        if self.issued_at is None:
            state = "issue time unknown (not renewed since the consent)"
        else:
            state = f"issued {self.issued_at:%Y-%m-%d %H:%M}Z, {self.days_left:.1f} days left"
        return f"{state} [{self.store}]" + "".join(f"; ⚠ {w}" for w in self.warnings)

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "age_days": self.age_days,
            "days_left": self.days_left,
            "last_renewal_error": self.last_renewal_error,
            "last_renewal_error_at": self.last_renewal_error_at.isoformat()
            if self.last_renewal_error_at
            else None,
            "warnings": self.warnings,
        }


def assess(stored: StoredRefreshToken | None, *, now: datetime, store: str) -> TokenHealth:
    """Pure: the health of `stored` at `now`. An error older than the token's issue is resolved."""
    issued = stored.issued_at if stored else None
    age = (now - issued).total_seconds() / 86400 if issued else None
    left = (issued + LIFETIME - now).total_seconds() / 86400 if issued else None
    error = stored.last_renewal_error if stored else None
    error_at = stored.last_renewal_error_at if stored else None
    if error and issued and error_at and error_at < issued:
        error, error_at = None, None
    return TokenHealth(store, issued, _rounded(age), _rounded(left), error, error_at)


def _rounded(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def read_health(store: RefreshTokenStore | None, *, now: datetime | None = None) -> TokenHealth:
    """Load the stored token's health (a store failure is reported in the result, not raised)."""
    now = now or datetime.now(UTC)
    name = type(store).__name__ if store is not None else "memory only (no store configured)"
    if store is None:
        return TokenHealth(name, None, None, None, None, None)
    try:
        return assess(store.load(), now=now, store=name)
    except CosellSyncError as exc:
        return TokenHealth(name, None, None, None, None, None, read_error=str(exc))


def alert(health: TokenHealth) -> None:
    """The alert: one ERROR line with a stable prefix and the days-left gauge."""
    if health.days_left is not None:
        _days_left_gauge.set(health.days_left)
    if health.warnings:
        log.error("%s: %s", ALERT, "; ".join(health.warnings))

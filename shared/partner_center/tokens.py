"""App+User access tokens for Partner Center (the Secure Application Model).

A Referrals-admin user consents once; the resulting refresh token (Key Vault) is redeemed at the
Microsoft identity token endpoint for one access token per resource (the referrals API and the
webhook API are different audiences). Tokens are cached until shortly before they expire.

The authority is the partner's tenant (`login.microsoftonline.com/{PC_TENANT_ID}/oauth2/token`, as in
Partner Center's secure application model samples,
https://learn.microsoft.com/partner-center/developer/enable-secure-app-model): a single-tenant app
registration may not use `/common` (AADSTS50194,
https://learn.microsoft.com/entra/identity-platform/reference-error-codes), so `/common`,
`/organizations` and `/consumers` are refused here as configuration errors.

Each redemption returns a new refresh token; the newest is written back to a `RefreshTokenStore`
and read back before the next redemption (see `token_store`), so the sync outlives the consent's
original token (90 days).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from shared.config import Settings
from shared.core.refresh_tokens import StoredRefreshToken, newer
from shared.errors import ConfigError, CosellSyncError, TransientError, redact
from shared.partner_center import token_health
from shared.partner_center.token_store import RefreshTokenStore

log = logging.getLogger(__name__)

PROVIDER = "partner-center-auth"
EXPIRY_MARGIN_SECONDS = 300.0
"""Refresh this long before `expires_in` runs out, so a token never expires mid-request."""


PERSIST_EVERY_SECONDS = 6 * 3600.0
"""Write a rotated refresh token back at most this often (every write is a new Key Vault version);
any stored token stays valid for 90 days from its own issue, so this costs nothing in lifetime."""
MULTI_TENANT_AUTHORITIES = ("common", "organizations", "consumers")
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,253}")

StoreFactory = Callable[[Settings], RefreshTokenStore | None]


def _no_store(settings: Settings) -> RefreshTokenStore | None:
    return None


_store_factory: StoreFactory = _no_store


def install_store_factory(factory: StoreFactory) -> None:
    """How providers built without an explicit store find one (the composition root installs it)."""
    global _store_factory  # noqa: PLW0603 - set once by shared.api_clients
    _store_factory = factory


def refresh_token_store(settings: Settings) -> RefreshTokenStore | None:
    """The store the installed factory gives for `settings` (None: memory only)."""
    return _store_factory(settings)


def token_endpoint(settings: Settings) -> str:
    """`PC_TOKEN_URL` with `{tenant}` replaced by `PC_TENANT_ID`; a multi-tenant authority or a
    missing tenant is a `ConfigError`."""
    url = settings.pc_token_url
    if "{tenant}" in url:
        tenant = settings.pc_tenant_id.strip()
        if not tenant:
            raise ConfigError(
                "PC_TENANT_ID must be set: the token authority is the partner's tenant", provider=PROVIDER
            )
        if not _TENANT.fullmatch(tenant) or tenant.lower() in MULTI_TENANT_AUTHORITIES:
            raise ConfigError(f"PC_TENANT_ID {tenant[:60]!r} is not a tenant id or domain", provider=PROVIDER)
        url = url.replace("{tenant}", tenant)
    segments = [part.lower() for part in urlsplit(url).path.split("/") if part]
    if segments and segments[0] in MULTI_TENANT_AUTHORITIES:
        raise ConfigError(
            f"PC_TOKEN_URL uses the /{segments[0]} authority, which single-tenant app registrations may"
            " not use (AADSTS50194); use https://login.microsoftonline.com/{tenant}/oauth2/token",
            provider=PROVIDER,
        )
    return url


class TokenProvider(Protocol):
    """What the clients need: a bearer token per resource, and a way to drop a rejected one."""

    def token(self, resource: str) -> str: ...

    def invalidate(self, resource: str) -> None: ...


@dataclass
class _CachedToken:
    value: str
    expires_at: float


class RefreshTokenProvider:
    """Redeems the stored refresh token (grant_type=refresh_token) per resource, thread-safe."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        store: RefreshTokenStore | str | None = "installed",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        persist_every_seconds: float = PERSIST_EVERY_SECONDS,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._cache: dict[str, _CachedToken] = {}
        self._configured_token = settings.pc_refresh_token.get_secret_value()
        self._current = StoredRefreshToken(self._configured_token, None)
        self._store: RefreshTokenStore | None = (
            refresh_token_store(settings) if isinstance(store, str) else store
        )
        self._persisted_at: datetime | None = None
        self._persist_every = persist_every_seconds
        self._http = httpx.Client(transport=transport, timeout=settings.pc_timeout_seconds)
        self.requests = 0
        """How many times the token endpoint was called (tests and benchmarks read it)."""
        self.last_renewal_error: str | None = None

    @property
    def store(self) -> RefreshTokenStore | None:
        return self._store

    @property
    def refresh_token_issued_at(self) -> datetime | None:
        return self._current.issued_at

    def token(self, resource: str) -> str:
        with self._lock:
            cached = self._cache.get(resource)
            if cached and cached.expires_at > self._clock():
                return cached.value
            fresh = self._redeem(resource)
            self._cache[resource] = fresh
            return fresh.value

    def invalidate(self, resource: str) -> None:
        with self._lock:
            self._cache.pop(resource, None)

    def close(self) -> None:
        self._http.close()

    def _redeem(self, resource: str) -> _CachedToken:
        settings = self._settings
        self._adopt_stored()
        if not (settings.pc_client_id and self._current.value):
            raise ConfigError("PC_CLIENT_ID and PC_REFRESH_TOKEN must be set", provider=PROVIDER)
        try:
            body = self._post(resource, self._current.value)
        except ConfigError as exc:
            fallback = self._configured_token
            if exc.code != "invalid_grant" or not fallback or fallback == self._current.value:
                self._renewal_failed(exc)
                raise
            # The stored token was refused but the configured one differs (a new consent put in
            # PC_REFRESH_TOKEN after the store last changed): try that one once.
            log.warning("stored refresh token refused (%s); trying PC_REFRESH_TOKEN", exc)
            try:
                body = self._post(resource, fallback)
            except ConfigError as again:
                self._renewal_failed(again)
                raise
        if body.get("refresh_token"):
            # The identity platform rotates refresh tokens: keep the newest, and write it back.
            self._current = StoredRefreshToken(str(body["refresh_token"]), self._now())
            self._persist()
        self.last_renewal_error = None
        lifetime = float(str(body.get("expires_in") or 3600))
        log.info("partner center token issued for %s (expires in %.0fs)", resource, lifetime)
        return _CachedToken(
            value=str(body["access_token"]),
            expires_at=self._clock() + max(lifetime - EXPIRY_MARGIN_SECONDS, lifetime / 2),
        )

    def _adopt_stored(self) -> None:
        """Use the stored token when it is newer than ours (a cold start, or another instance)."""
        if self._store is None:
            return
        try:
            stored = self._store.load()
        except CosellSyncError as exc:
            log.warning("refresh token store unreadable, using the token in memory: %s", exc)
            return
        if stored is not None and stored.value:
            held = self._current if self._current.issued_at else None
            if newer(stored, held) is stored:
                self._current = stored
                self._persisted_at = stored.issued_at

    def _persist(self) -> None:
        if self._store is None or self._current.issued_at is None:
            return
        issued = self._current.issued_at
        if self._persisted_at and (issued - self._persisted_at).total_seconds() < self._persist_every:
            return
        try:
            self._store.save(self._current.value, issued)
            self._persisted_at = issued
        except CosellSyncError as exc:
            self._renewal_failed(exc, storing=True)
            return
        token_health.alert(
            token_health.assess(self._current, now=self._now(), store=type(self._store).__name__)
        )

    def _renewal_failed(self, exc: CosellSyncError, *, storing: bool = False) -> None:
        what = "storing the renewed refresh token" if storing else "renewing the refresh token"
        self.last_renewal_error = f"{what} failed: {exc}"[:500]
        if self._store is not None:
            try:
                self._store.record_failure(self.last_renewal_error, self._now())
            except CosellSyncError as store_exc:
                log.warning("could not record the renewal failure in the store: %s", store_exc)
        health = token_health.assess(self._current, now=self._now(), store=type(self._store).__name__)
        token_health.alert(
            token_health.TokenHealth(
                health.store, health.issued_at, health.age_days, health.days_left,
                self.last_renewal_error, self._now(),
            )
        )  # fmt: skip

    def _post(self, resource: str, refresh_token: str) -> dict[str, object]:
        settings = self._settings
        form = {
            "grant_type": "refresh_token",
            "client_id": settings.pc_client_id,
            "client_secret": settings.pc_client_secret.get_secret_value(),
            "refresh_token": refresh_token,
            "resource": resource,
        }
        self.requests += 1
        try:
            response = self._http.post(
                token_endpoint(settings), data=form, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"token endpoint unreachable: {exc!r}", provider=PROVIDER) from None
        request_id = response.headers.get("x-ms-request-id") or response.headers.get("client-request-id")
        body = _json_object(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(
                f"token endpoint answered {response.status_code}",
                provider=PROVIDER,
                status=response.status_code,
                request_id=request_id,
            )
        if response.status_code != 200 or "access_token" not in body:
            description = str(body.get("error_description") or body.get("error") or response.text[:300])
            # Microsoft's descriptions append "Trace ID: …", "Correlation ID: …" and "Timestamp: …"
            # on lines of their own (https://learn.microsoft.com/entra/identity-platform/reference-error-codes):
            # the first line is the message; the ids stay in the error's request id.
            description = description.strip().splitlines()[0] if description.strip() else description
            raise ConfigError(
                f"token request for {resource} refused: {description}",
                provider=PROVIDER,
                status=response.status_code,
                request_id=request_id,
                code=str(body.get("error") or "") or None,
            )
        return body


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        log.debug("token endpoint sent non-JSON: %s", redact(response.text[:200]))
        return {}
    return data if isinstance(data, dict) else {}

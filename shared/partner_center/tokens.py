"""App+User access tokens for Partner Center (the Secure Application Model).

A Referrals-admin user consents once; the resulting refresh token (Key Vault) is redeemed at the
Microsoft identity token endpoint for one access token per resource (the referrals API and the
webhook API are different audiences). Tokens are cached until shortly before they expire.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from shared.config import Settings
from shared.errors import ConfigError, TransientError, redact

log = logging.getLogger(__name__)

PROVIDER = "partner-center-auth"
EXPIRY_MARGIN_SECONDS = 300.0
"""Refresh this long before `expires_in` runs out, so a token never expires mid-request."""


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
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, _CachedToken] = {}
        self._refresh_token = settings.pc_refresh_token.get_secret_value()
        self._http = httpx.Client(transport=transport, timeout=settings.pc_timeout_seconds)
        self.requests = 0
        """How many times the token endpoint was called (tests and benchmarks read it)."""

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
        if not (settings.pc_client_id and self._refresh_token):
            raise ConfigError("PC_CLIENT_ID and PC_REFRESH_TOKEN must be set", provider=PROVIDER)
        form = {
            "grant_type": "refresh_token",
            "client_id": settings.pc_client_id,
            "client_secret": settings.pc_client_secret.get_secret_value(),
            "refresh_token": self._refresh_token,
            "resource": resource,
        }
        self.requests += 1
        try:
            response = self._http.post(
                settings.pc_token_url, data=form, headers={"Accept": "application/json"}
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
        if body.get("refresh_token"):
            # The identity platform rotates refresh tokens; keep using the newest one in this process.
            self._refresh_token = str(body["refresh_token"])
        lifetime = float(str(body.get("expires_in") or 3600))
        log.info("partner center token issued for %s (expires in %.0fs)", resource, lifetime)
        return _CachedToken(
            value=str(body["access_token"]),
            expires_at=self._clock() + max(lifetime - EXPIRY_MARGIN_SECONDS, lifetime / 2),
        )


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        log.debug("token endpoint sent non-JSON: %s", redact(response.text[:200]))
        return {}
    return data if isinstance(data, dict) else {}

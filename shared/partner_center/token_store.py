"""Where the rotated Partner Center refresh token lives between processes.

"Refresh tokens replace themselves with a fresh token upon every use. The Microsoft identity platform
doesn't revoke old refresh tokens when used to fetch new access tokens"; their lifetime is 90 days
and cannot be configured (https://learn.microsoft.com/entra/identity-platform/refresh-tokens). A
token kept only in memory is lost at every cold start, so the original consent's token would be
redeemed until it expires. The provider therefore writes each new token back (at most every
`persist_every_seconds`) to a `RefreshTokenStore` and reads the newest back before redeeming:

- `KeyVaultTokenStore` (Azure): a new version of the `PC_REFRESH_TOKEN` secret per write, tagged
  with `issued_at` and the `previous` version (Set Secret,
  https://learn.microsoft.com/rest/api/keyvault/secrets/set-secret/set-secret: "If the named secret
  already exists, Azure Key Vault creates a new version"). Two instances rotating at once both
  write; each re-reads the current version afterwards and writes again when an older token won, so
  the newest by `issued_at` ends up current. Any of them is still valid (old tokens are not revoked).
- `shared.store.token_cache.TableTokenStore` (local stack): one Table Storage entity replaced only
  with its ETag, never by an older token.
- `MemoryTokenStore`: one process (tests).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from shared.core.refresh_tokens import StoredRefreshToken, newer
from shared.errors import ConfigError, TransientError

log = logging.getLogger(__name__)

KEY_VAULT_API_VERSION = "7.4"
KEY_VAULT_SCOPE = "https://vault.azure.net/.default"
_WRITE_ATTEMPTS = 3


class RefreshTokenStore(Protocol):
    """Durable home of the newest refresh token."""

    def load(self) -> StoredRefreshToken | None:
        """The newest stored token, or None when nothing was written yet."""
        ...

    def save(self, value: str, issued_at: datetime) -> bool:
        """Keep `value` unless a token issued later is already stored; True when written."""
        ...

    def record_failure(self, error: str, at: datetime) -> None:
        """Remember that redeeming (renewing) failed, for `status` and `doctor`."""
        ...


class MemoryTokenStore:
    """A store inside one process (tests, and several providers of one process)."""

    def __init__(self, initial: StoredRefreshToken | None = None) -> None:
        self._lock = threading.Lock()
        self.current = initial
        self.writes = 0

    def load(self) -> StoredRefreshToken | None:
        with self._lock:
            return self.current

    def save(self, value: str, issued_at: datetime) -> bool:
        with self._lock:
            held = self.current
            if held is not None and held.issued_at is not None and held.issued_at > issued_at:
                return False
            self.current = StoredRefreshToken(value, issued_at)
            self.writes += 1
            return True

    def record_failure(self, error: str, at: datetime) -> None:
        with self._lock:
            base = self.current or StoredRefreshToken("", None)
            self.current = replace(base, last_renewal_error=error, last_renewal_error_at=at)


class KeyVaultTokenStore:
    """The refresh-token secret in Key Vault over its REST API, with an Entra token for
    `https://vault.azure.net` from the app's managed identity (Get Secret / Set Secret / Update
    Secret, api-version 7.4: https://learn.microsoft.com/rest/api/keyvault/secrets/)."""

    def __init__(
        self,
        vault_url: str,
        secret_name: str,
        *,
        access_token: Callable[[], str],
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._base = f"{vault_url.rstrip('/')}/secrets/{quote(secret_name, safe='')}"
        self._access_token = access_token
        self._http = httpx.Client(transport=transport, timeout=timeout)

    def load(self) -> StoredRefreshToken | None:
        body = self._call("GET", self._base, allow_missing=True)
        return _from_bundle(body) if body else None

    def save(self, value: str, issued_at: datetime) -> bool:
        for _ in range(_WRITE_ATTEMPTS):
            current = self.load()
            mine = StoredRefreshToken(value, issued_at)
            if current is not None and current.value != value and newer(current, mine) is current:
                return False  # another instance stored a newer token meanwhile
            tags = {"issued_at": issued_at.astimezone(UTC).isoformat()}
            if current is not None and current.version:
                tags["previous"] = current.version
            self._call("PUT", self._base, json={"value": value, "tags": tags, "contentType": "refresh-token"})
            after = self.load()
            if after is None or after.value == value or newer(after, mine) is after:
                return True
            # An older token landed after ours (a concurrent writer): write ours again.
        log.warning("key vault refresh token kept changing; left the newest write in place")
        return False

    def record_failure(self, error: str, at: datetime) -> None:
        current = self.load()
        if current is None or not current.version:
            return
        tags = {
            **({"issued_at": current.issued_at.isoformat()} if current.issued_at else {}),
            "last_renewal_error": error[:240],
            "last_renewal_error_at": at.astimezone(UTC).isoformat(),
        }
        self._call("PATCH", f"{self._base}/{quote(current.version, safe='')}", json={"tags": tags})

    def close(self) -> None:
        self._http.close()

    def _call(
        self, method: str, url: str, *, json: Any = None, allow_missing: bool = False
    ) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {self._access_token()}"}
        try:
            response = self._http.request(
                method, url, params={"api-version": KEY_VAULT_API_VERSION}, json=json, headers=headers
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"key vault unreachable: {exc!r}", provider="key-vault") from None
        if response.status_code == 404 and allow_missing:
            return None
        if response.status_code in (401, 403):
            raise ConfigError(
                f"key vault refused {method} on the refresh-token secret ({response.status_code}):"
                " grant the app's identity get/set on that secret",
                provider="key-vault",
                status=response.status_code,
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"key vault answered {response.status_code}", provider="key-vault")
        if response.status_code >= 400:
            raise ConfigError(f"key vault answered {response.status_code}", provider="key-vault")
        data = response.json() if response.content else {}
        return data if isinstance(data, dict) else {}


def _from_bundle(body: dict[str, Any]) -> StoredRefreshToken:
    tags = body.get("tags") or {}
    version = str(body.get("id") or "").rstrip("/").rsplit("/", 1)[-1] or None
    return StoredRefreshToken(
        value=str(body.get("value") or ""),
        issued_at=_parse(tags.get("issued_at")),
        version=version,
        last_renewal_error=tags.get("last_renewal_error"),
        last_renewal_error_at=_parse(tags.get("last_renewal_error_at")),
    )


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

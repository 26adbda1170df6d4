"""The local stack's home for the rotated Partner Center refresh token: one Table Storage entity,
replaced only under its ETag and never by a token issued earlier (two workers rotating at once keep
the newest). The entity is keyed by a fingerprint of the configured PC_REFRESH_TOKEN, so a new
consent put in the settings starts a new line of tokens instead of being shadowed by the old one.
In Azure the token goes back to Key Vault instead (`shared.partner_center.token_store`, which also
says why it must be stored)."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from shared.config import Settings
from shared.core.refresh_tokens import StoredRefreshToken
from shared.errors import TransientError
from shared.store.tables import table

log = logging.getLogger("cosell_sync.store")

TABLE = "PartnerCenterTokens"
PARTITION = "partner-center"
_ATTEMPTS = 5


class TableTokenStore:
    """`RefreshTokenStore` over one entity of table `PartnerCenterTokens`."""

    def __init__(self, settings: Settings, *, table_name: str = TABLE) -> None:
        self._settings = settings
        self._table_name = table_name
        consent = settings.pc_refresh_token.get_secret_value().encode()
        self.row = f"refresh-token-{hashlib.sha256(consent).hexdigest()[:16]}"

    def _client(self) -> Any:
        return table(self._settings, self._table_name)

    def _read(self) -> tuple[dict[str, Any], str] | None:
        try:
            entity = self._client().get_entity(PARTITION, self.row)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise TransientError(f"refresh token table unreadable: {exc}", provider="storage") from None
        return dict(entity), str(entity.metadata.get("etag"))

    def load(self) -> StoredRefreshToken | None:
        found = self._read()
        if found is None or not found[0].get("Value"):
            return None
        entity = found[0]
        return StoredRefreshToken(
            value=str(entity["Value"]),
            issued_at=_stamp(entity.get("IssuedAt")),
            last_renewal_error=entity.get("LastRenewalError") or None,
            last_renewal_error_at=_stamp(entity.get("LastRenewalErrorAt")),
        )

    def save(self, value: str, issued_at: datetime) -> bool:
        return self._write({"Value": value, "IssuedAt": issued_at.astimezone(UTC).isoformat()}, issued_at)

    def record_failure(self, error: str, at: datetime) -> None:
        self._write(
            {"LastRenewalError": error[:1000], "LastRenewalErrorAt": at.astimezone(UTC).isoformat()}, None
        )

    def _write(self, fields: dict[str, Any], issued_at: datetime | None) -> bool:
        client = self._client()
        for _ in range(_ATTEMPTS):
            found = self._read()
            try:
                if found is None:
                    client.create_entity({"PartitionKey": PARTITION, "RowKey": self.row, **fields})
                    return True
                entity, etag = found
                held = _stamp(entity.get("IssuedAt"))
                if issued_at is not None and held is not None and held > issued_at:
                    return False  # another worker stored a newer token
                client.update_entity(
                    {**entity, **fields, "PartitionKey": PARTITION, "RowKey": self.row},
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
                return True
            except (ResourceExistsError, ResourceModifiedError):
                continue  # a concurrent writer: read again and decide again
            except AzureError as exc:
                raise TransientError(f"refresh token table not written: {exc}", provider="storage") from None
        raise TransientError("refresh token entity kept changing", provider="storage")


def _stamp(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None

"""Watermarks in Table Storage: one entity per name (PartitionKey "watermark"), holding the mark and
the keys already handled inside the poll's overlap window. A mark never moves backwards, and writes
are ETag-guarded so two pollers (or poll and reconcile) cannot overwrite each other's progress."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, UpdateMode

from shared.config import Settings
from shared.errors import ConflictError, TransientError
from shared.store.storage_clients import table_service

PARTITION = "watermark"
MAX_SEEN_CHARS = 60_000  # a table property holds at most 64 KiB of text
_ATTEMPTS = 5
_ensured: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Watermark:
    value: datetime | None
    seen: frozenset[str] = field(default_factory=frozenset)
    etag: str | None = None


def _table(settings: Settings) -> TableClient:
    service = table_service(settings)
    key = (settings.storage_connection or settings.storage_account_name or "", settings.watermarks_table)
    if key not in _ensured:
        with contextlib.suppress(ResourceExistsError):
            service.create_table(settings.watermarks_table)
        _ensured.add(key)
    return service.get_table_client(settings.watermarks_table)


def read(settings: Settings, name: str) -> Watermark:
    """The stored mark with its overlap-window keys (an empty Watermark when none is stored)."""
    try:
        entity = _table(settings).get_entity(PARTITION, name)
    except ResourceNotFoundError:
        return Watermark(None)
    except AzureError as exc:
        raise TransientError(f"could not read watermark {name}: {exc}", provider="storage") from exc
    value = datetime.fromisoformat(str(entity["Value"])).astimezone(UTC)
    seen = frozenset(json.loads(entity.get("Seen") or "[]"))
    return Watermark(value, seen, entity.metadata.get("etag"))


def get(settings: Settings, name: str) -> datetime | None:
    """The watermark `name`, or None before the first advance."""
    return read(settings, name).value


def _encode_seen(seen: Iterable[str]) -> str:
    keys = sorted(seen, key=lambda k: k.rsplit("@", 1)[-1], reverse=True)  # newest first survive trimming
    kept: list[str] = []
    size = 2
    for key in keys:
        size += len(key) + 4
        if size > MAX_SEEN_CHARS:
            break  # dropping old keys only risks a duplicate job, which the worker absorbs
        kept.append(key)
    return json.dumps(kept)


def advance(settings: Settings, name: str, value: datetime, *, seen: Iterable[str] | None = None) -> datetime:
    """Move the mark forward to `value` (never backwards) and, when given, replace the overlap keys.
    Returns the mark now stored. Raises ConflictError if concurrent writers keep winning."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    table = _table(settings)
    for _ in range(_ATTEMPTS):
        current = read(settings, name)
        if current.value is not None and (value < current.value or (value == current.value and seen is None)):
            return current.value
        entity = {"PartitionKey": PARTITION, "RowKey": name, "Value": value.isoformat()}
        entity["Seen"] = _encode_seen(seen if seen is not None else current.seen)
        try:
            if current.etag is None:
                table.create_entity(entity)
            else:
                table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=current.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            return value
        except (ResourceExistsError, ResourceModifiedError):
            continue  # someone else wrote first: re-read and decide again
        except AzureError as exc:
            raise TransientError(f"could not save watermark {name}: {exc}", provider="storage") from exc
    raise ConflictError(f"watermark {name} kept changing under us", provider="storage")

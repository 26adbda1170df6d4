"""Watermarks in Table Storage: one entity per name (PartitionKey "watermark"), holding the mark and
the keys already handled inside the poll's overlap window. A mark never moves backwards, and writes
are ETag-guarded so two pollers (or poll and reconcile) cannot overwrite each other's progress.

A watermark that cannot be read or saved is never taken for "no watermark yet" (that would widen a
poll's window to its first-run lookback and re-enqueue a day of records): `read` raises
WatermarkUnavailable instead. When the table itself was lost, the process's last known mark is
written back into the re-created table (self-healing); without one the read keeps failing, naming
the fix, until an operator sets the mark (`restore`)."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
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
from shared.store import tables

PARTITION = "watermark"
MAX_SEEN_CHARS = 30_000  # a string property holds 64 KiB of UTF-16: 32K characters
_ATTEMPTS = 5
log = logging.getLogger("cosell_sync.store")
_known_lock = threading.Lock()
_last_known: dict[tuple[str, str, str], tuple[datetime, frozenset[str]]] = {}


class WatermarkUnavailable(TransientError):
    """The watermark could not be read or saved; the caller must do nothing rather than guess."""


@dataclass(frozen=True)
class Watermark:
    value: datetime | None
    seen: frozenset[str] = field(default_factory=frozenset)
    etag: str | None = None
    seen_from: datetime | None = None
    """The next window starts no earlier than this (`poll_window.PollPlan.seen_from`)."""


def _table(settings: Settings) -> TableClient:
    return tables.table(settings, settings.watermarks_table)


def _known_key(settings: Settings, name: str) -> tuple[str, str, str]:
    account = settings.storage_connection or settings.storage_account_name or ""
    return (account, settings.watermarks_table, name)


def _remember(settings: Settings, name: str, value: datetime, seen: frozenset[str]) -> None:
    with _known_lock:
        _last_known[_known_key(settings, name)] = (value, seen)


def _entity(
    name: str, value: datetime, seen: frozenset[str] | Iterable[str], seen_from: datetime | None = None
) -> dict[str, str]:
    entity = {"PartitionKey": PARTITION, "RowKey": name, "Value": value.isoformat()}
    entity["Seen"] = _encode_seen(seen)
    if seen_from is not None:
        entity["SeenFrom"] = seen_from.astimezone(UTC).isoformat()
    return entity


def _heal_lost_table(settings: Settings, name: str) -> Watermark:
    """The table was missing: create it, write back what this process last knew of every mark, and
    mark `name` lost so a later process without that memory does not start from scratch."""
    tables.recreate(settings, settings.watermarks_table)
    client = _table(settings)
    with _known_lock:
        here = _known_key(settings, name)[:2]
        known = {key[2]: v for key, v in _last_known.items() if key[:2] == here}
    for other, (value, seen) in known.items():
        try:
            client.create_entity(_entity(other, value, seen))
            log.warning("watermark %s restored to %s after its table was lost", other, value.isoformat())
        except ResourceExistsError:
            pass
    if name in known:
        return read(settings, name)
    lost = {"PartitionKey": PARTITION, "RowKey": name, "Value": "", "Lost": datetime.now(UTC).isoformat()}
    with contextlib.suppress(ResourceExistsError):
        client.create_entity(lost)
    raise _unavailable(settings, name, "its table was lost and this process never read it")


def _restore_known(settings: Settings, name: str) -> Watermark:
    """No such mark. If this process knew one, the table was lost and re-created by another writer
    of it (the API usage counters share it) before a read here noticed: write the mark back."""
    with _known_lock:
        known = _last_known.get(_known_key(settings, name))
    if known is None:
        return Watermark(None)
    with contextlib.suppress(ResourceExistsError):
        _table(settings).create_entity(_entity(name, *known))
        log.warning("watermark %s restored to %s: its table had been re-created", name, known[0].isoformat())
    return read(settings, name)


def _unavailable(settings: Settings, name: str, why: str) -> WatermarkUnavailable:
    return WatermarkUnavailable(
        f"watermark {name} is unavailable ({why}); nothing is polled until it is set again: "
        f"`python -m shared.ops backfill --since <date of the loss>` re-reads the gap, then "
        f"`python -m shared.ops watermark set {name} <date>`",
        provider="storage",
    )


def read(settings: Settings, name: str) -> Watermark:
    """The stored mark with its overlap-window keys (an empty Watermark when none was ever stored).
    Raises WatermarkUnavailable when it cannot be read, or was lost with its table."""
    try:
        entity = _table(settings).get_entity(PARTITION, name)
    except ResourceNotFoundError as exc:
        if tables.is_missing_table(exc):
            return _heal_lost_table(settings, name)
        return _restore_known(settings, name)
    except AzureError as exc:
        raise WatermarkUnavailable(f"could not read watermark {name}: {exc}", provider="storage") from exc
    if entity.get("Lost"):
        raise _unavailable(settings, name, f"lost with its table at {entity['Lost']}")
    value = datetime.fromisoformat(str(entity["Value"])).astimezone(UTC)
    seen = frozenset(json.loads(entity.get("Seen") or "[]"))
    _remember(settings, name, value, seen)
    seen_from = datetime.fromisoformat(str(entity["SeenFrom"])) if entity.get("SeenFrom") else None
    return Watermark(value, seen, entity.metadata.get("etag"), seen_from)


def restore(settings: Settings, name: str, value: datetime) -> datetime:
    """Set a mark by hand (after a loss; also clears its `lost` state)."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    client = _table(settings)
    client.upsert_entity(_entity(name, value, frozenset()), mode=UpdateMode.REPLACE)
    _remember(settings, name, value, frozenset())
    return value


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


def advance(
    settings: Settings,
    name: str,
    value: datetime,
    *,
    seen: Iterable[str] | None = None,
    seen_from: datetime | None = None,
) -> datetime:
    """Move the mark forward to `value` (never backwards) and, when given, replace the overlap keys
    (and where the next window may start at the earliest). Returns the mark now stored. Raises
    ConflictError if concurrent writers keep winning."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    table = _table(settings)
    for _ in range(_ATTEMPTS):
        current = read(settings, name)
        if current.value is not None and (value < current.value or (value == current.value and seen is None)):
            return current.value
        kept = frozenset(seen) if seen is not None else current.seen
        entity = _entity(name, value, kept, seen_from if seen is not None else current.seen_from)
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
            _remember(settings, name, value, kept)
            return value
        except (ResourceExistsError, ResourceModifiedError):
            continue  # someone else wrote first: re-read and decide again
        except ResourceNotFoundError as exc:
            if tables.is_missing_table(exc):
                continue  # the next read re-creates the table and restores the mark
            raise WatermarkUnavailable(f"could not save watermark {name}: {exc}", provider="storage") from exc
        except AzureError as exc:
            raise WatermarkUnavailable(f"could not save watermark {name}: {exc}", provider="storage") from exc
    raise ConflictError(f"watermark {name} kept changing under us", provider="storage")

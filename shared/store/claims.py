"""Short-lived claims that stop two workers from syncing (or creating) the same record at once.

A claim is an entity in the links table (its own partition, so link queries never see it) that only
one worker can insert; it expires so a worker that died holding it does not block the record forever.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, UpdateMode

from shared.config import Settings
from shared.errors import TransientError
from shared.store import tables
from shared.store.tables import table

_ROW = "claim"


@contextmanager
def claim(
    settings: Settings, key: str, *, ttl_seconds: int = 60, wait_seconds: float = 5.0
) -> Iterator[None]:
    """Hold `key` for the duration of the block. Waits up to `wait_seconds` for another worker to
    finish with it, then raises TransientError (the queue retries the job later)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            etag = tables.call(settings, settings.links_table, lambda _c: _take(settings, key, ttl_seconds))
            break
        except TransientError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
    try:
        yield
    finally:
        # Only our own claim: if it expired and another worker took it over, deleting it would let a
        # third worker in beside that one.
        with suppress(ResourceNotFoundError, ResourceModifiedError):
            table(settings, settings.links_table).delete_entity(
                f"claim-{key}", _ROW, etag=etag, match_condition=MatchConditions.IfNotModified
            )


def _take(settings: Settings, key: str, ttl_seconds: int) -> str:
    """Take the claim; returns its ETag (the proof that it is ours when releasing it)."""
    client = table(settings, settings.links_table)
    now = datetime.now(UTC)
    partition = f"claim-{key}"
    owner = uuid.uuid4().hex
    entity = {
        "PartitionKey": partition, "RowKey": _ROW, "Expires": now + timedelta(seconds=ttl_seconds),
        "Owner": owner,
    }  # fmt: skip
    try:
        return str(client.create_entity(entity, **tables.NO_ECHO)["etag"])
    except ResourceExistsError:
        pass
    except ServiceResponseError:
        # The connection broke after the insert was sent: it may have landed. Ours if it carries our
        # token (else we would wait out our own claim as if another worker held it).
        return _ours_or_busy(client, partition, key, owner)
    try:
        current = client.get_entity(partition, _ROW)
    except ResourceNotFoundError:
        raise _busy(key, 1.0) from None
    if current["Expires"] > now:
        raise _busy(key, 2.0) from None
    try:  # an expired claim of a worker that died: take it over, unless someone else just did
        return str(client.update_entity(
            entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )["etag"])  # fmt: skip
    except (ResourceModifiedError, ResourceNotFoundError):
        raise _busy(key, 1.0) from None
    except ServiceResponseError:
        return _ours_or_busy(client, partition, key, owner)


def _busy(key: str, retry_after: float) -> TransientError:
    return TransientError(f"{key} is being synced by another worker", retry_after=retry_after)


def _ours_or_busy(client: TableClient, partition: str, key: str, owner: str) -> str:
    try:
        current = client.get_entity(partition, _ROW)
    except ResourceNotFoundError:
        raise TransientError(f"claiming {key} failed on a broken connection", retry_after=0.5) from None
    if current.get("Owner") == owner:
        return str(current.metadata["etag"])
    raise _busy(key, 1.0)

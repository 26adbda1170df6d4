"""Table handles, created on first use per process (creating a table is idempotent but costs a call),
and re-created when storage answers that a table is missing (deleted, or an emulator restarted
without its data): `call` runs one operation, creates the table on TableNotFound and retries once."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient

from shared.config import Settings
from shared.store.storage_clients import table_service

T = TypeVar("T")
log = logging.getLogger("cosell_sync.store")
_lock = threading.Lock()
_ready: set[tuple[str, str]] = set()
_clients: dict[tuple[str, str], TableClient] = {}
# Keyword arguments of an insert whose answer is only its ETag: the service answers 204 without echoing
# the entity back ("Setting the Prefer header to manage response echo on insert operations", Learn:
# https://learn.microsoft.com/rest/api/storageservices/setting-the-prefer-header-to-manage-response-echo-on-insert-operations).
NO_ECHO: dict[str, Any] = {"response_preference": "return-no-content"}


def _key(settings: Settings, name: str) -> tuple[str, str]:
    return (settings.storage_connection or settings.storage_account_name or "", name)


def is_missing_table(exc: BaseException) -> bool:
    """Storage answered that the table itself does not exist (not just the entity)."""
    if not isinstance(exc, ResourceNotFoundError | HttpResponseError):
        return False
    code = str(getattr(exc, "error_code", "") or "")
    return "TableNotFound" in code or code.endswith("TABLE_NOT_FOUND") or "TableNotFound" in str(exc)


def table(settings: Settings, name: str) -> TableClient:
    """A client for table `name`, creating the table the first time this process asks for it."""
    service = table_service(settings)
    key = _key(settings, name)
    if key not in _ready:
        with _lock:
            if key not in _ready:
                with contextlib.suppress(ResourceExistsError):
                    service.create_table(name)
                _ready.add(key)
    client = _clients.get(key)
    if client is None:  # one client per table and process (building one is ~5 % of a record's CPU)
        with _lock:
            client = _clients.setdefault(key, service.get_table_client(name))
    return client


def recreate(settings: Settings, name: str) -> None:
    """Create table `name` again after storage said it is missing."""
    log.warning("table %s is missing (deleted, or storage lost its data): creating it again", name)
    with contextlib.suppress(ResourceExistsError):
        table_service(settings).create_table(name)
    with _lock:
        _ready.add(_key(settings, name))


def call(settings: Settings, name: str, operation: Callable[[TableClient], T]) -> T:
    """Run `operation` on table `name`; on TableNotFound create the table and run it once more."""
    client = table(settings, name)
    try:
        return operation(client)
    except (ResourceNotFoundError, HttpResponseError) as exc:
        if not is_missing_table(exc):
            raise
        recreate(settings, name)
        return operation(client)


def query(
    settings: Settings,
    name: str,
    filter_: str,
    parameters: dict[str, Any],
    select: list[str] | None = None,
) -> Iterator[Any]:
    """Entities matching `filter_` (only the `select` properties, when given), page by page; a
    missing table is created and reads as empty."""
    try:
        yield from table(settings, name).query_entities(filter_, parameters=parameters, select=select)
    except (ResourceNotFoundError, HttpResponseError) as exc:
        if not is_missing_table(exc):
            raise
        recreate(settings, name)

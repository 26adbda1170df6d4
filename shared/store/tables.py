"""Table handles, created on first use per process (creating a table is idempotent but costs a call)."""

from __future__ import annotations

import contextlib
import threading

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient

from shared.config import Settings
from shared.store.storage_clients import table_service

_lock = threading.Lock()
_ready: set[tuple[str, str]] = set()
_clients: dict[tuple[str, str], TableClient] = {}


def table(settings: Settings, name: str) -> TableClient:
    """A client for table `name`, creating the table the first time this process asks for it."""
    service = table_service(settings)
    key = (settings.storage_connection or settings.storage_account_name or "", name)
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

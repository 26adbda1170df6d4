"""Table and queue service clients built from `Settings`: a connection string locally (Azurite),
the managed identity in Azure. One client per process and service, created lazily."""

from __future__ import annotations

import threading

from azure.core.credentials import TokenCredential
from azure.data.tables import TableServiceClient
from azure.storage.queue import (
    QueueClient,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from shared.config import Settings
from shared.errors import ConfigError

_lock = threading.Lock()
_tables: dict[str, TableServiceClient] = {}
_queues: dict[str, QueueServiceClient] = {}


def _identity(settings: Settings) -> TokenCredential:
    # Only Azure needs azure.identity (it is slow to import); locally a connection string is used.
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential  # noqa: PLC0415

    if settings.storage_client_id:
        return ManagedIdentityCredential(client_id=settings.storage_client_id)
    return DefaultAzureCredential()


def _key(settings: Settings) -> str:
    return settings.storage_connection or settings.storage_account_name or ""


def table_service(settings: Settings) -> TableServiceClient:
    key = _key(settings)
    with _lock:
        if key not in _tables:
            if settings.storage_connection:
                _tables[key] = TableServiceClient.from_connection_string(settings.storage_connection)
            elif settings.storage_account_name:
                url = f"https://{settings.storage_account_name}.table.core.windows.net"
                _tables[key] = TableServiceClient(endpoint=url, credential=_identity(settings))
            else:
                raise ConfigError("set AzureWebJobsStorage or AzureWebJobsStorage__accountName")
        return _tables[key]


def queue_service(settings: Settings) -> QueueServiceClient:
    key = _key(settings)
    with _lock:
        if key not in _queues:
            if settings.storage_connection:
                _queues[key] = QueueServiceClient.from_connection_string(settings.storage_connection)
            elif settings.storage_account_name:
                url = f"https://{settings.storage_account_name}.queue.core.windows.net"
                _queues[key] = QueueServiceClient(account_url=url, credential=_identity(settings))
            else:
                raise ConfigError("set AzureWebJobsStorage or AzureWebJobsStorage__accountName")
        return _queues[key]


def queue_client(settings: Settings, name: str, *, base64: bool = True) -> QueueClient:
    """A queue client; `base64=True` matches the Functions trigger's default message encoding."""
    service = queue_service(settings)
    if base64:
        return service.get_queue_client(
            name,
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )
    return service.get_queue_client(name)

"""Table and queue service clients built from `Settings`: a connection string locally (Azurite),
the managed identity in Azure. One client per process and service, created lazily.

The clients' HTTP sessions do not scan the environment for proxy settings on every request
(`requests` does that with `trust_env` on: ~14 % of the app's CPU per backfilled record, issue #19);
the proxy settings are read once here instead. With a NO_PROXY list the scan stays on, because only
`requests` applies that list per URL. Plain requests skip `requests` altogether (`storage_transport`)."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

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
from shared.store.storage_transport import StorageTransport

ServiceT = TypeVar("ServiceT")
_lock = threading.Lock()
_tables: dict[str, TableServiceClient] = {}
_queues: dict[str, QueueServiceClient] = {}


def _identity(settings: Settings) -> TokenCredential:
    # Only Azure needs azure.identity (it is slow to import); locally a connection string is used.
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential  # noqa: PLC0415

    if settings.storage_client_id:
        return ManagedIdentityCredential(client_id=settings.storage_client_id)
    return DefaultAzureCredential()


def transport_options() -> dict[str, Any]:
    """Keyword arguments for an Azure SDK client: proxies read once, no per-request scan, and the
    transport that sends plain requests through urllib3 (`storage_transport`; a proxied request
    takes its requests path)."""
    proxies = urllib.request.getproxies()
    if "no" in proxies:
        return {}
    options: dict[str, Any] = {"transport": StorageTransport()}
    if proxies:
        options["proxies"] = proxies
    return options


def _key(settings: Settings) -> str:
    return settings.storage_connection or settings.storage_account_name or ""


def _build(
    settings: Settings,
    from_connection: Callable[..., ServiceT],
    from_identity: Callable[[str, TokenCredential], ServiceT],
    service: str,
) -> ServiceT:
    """A service client: by connection string (Azurite locally), else by the managed identity."""
    if settings.storage_connection:
        return from_connection(settings.storage_connection, **transport_options())
    if settings.storage_account_name:
        url = f"https://{settings.storage_account_name}.{service}.core.windows.net"
        return from_identity(url, _identity(settings))
    raise ConfigError("set AzureWebJobsStorage or AzureWebJobsStorage__accountName")


def table_service(settings: Settings) -> TableServiceClient:
    key = _key(settings)
    with _lock:
        if key not in _tables:
            _tables[key] = _build(
                settings,
                TableServiceClient.from_connection_string,
                lambda url, credential: TableServiceClient(
                    endpoint=url, credential=credential, **transport_options()
                ),
                "table",
            )
        return _tables[key]


def queue_service(settings: Settings) -> QueueServiceClient:
    key = _key(settings)
    with _lock:
        if key not in _queues:
            _queues[key] = _build(
                settings,
                QueueServiceClient.from_connection_string,
                lambda url, credential: QueueServiceClient(
                    account_url=url, credential=credential, **transport_options()
                ),
                "queue",
            )
        return _queues[key]


_queue_clients: dict[tuple[str, str, bool], QueueClient] = {}


def queue_client(settings: Settings, name: str, *, base64: bool = True) -> QueueClient:
    """A queue client, built once per process and queue (clients are thread-safe); `base64=True`
    matches the Functions trigger's default message encoding."""
    key = (_key(settings), name, base64)
    client = _queue_clients.get(key)
    if client is not None:
        return client
    service = queue_service(settings)
    if base64:
        client = service.get_queue_client(
            name,
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )
    else:
        client = service.get_queue_client(name)
    with _lock:
        return _queue_clients.setdefault(key, client)

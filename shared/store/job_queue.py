"""Putting jobs on the work queue (and on the poison queue for messages that are not jobs).

A queue that storage says is missing (deleted, or an emulator restarted without its data) is
created and the send retried once, so a lost queue costs one extra call instead of every job."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

from shared.config import POISON_QUEUE, SYNC_QUEUE, Settings
from shared.errors import TransientError
from shared.jobs import SyncJob
from shared.store import queue_requests
from shared.store.storage_clients import queue_client

log = logging.getLogger("cosell_sync.store")
_created: set[tuple[str, str]] = set()
_SEND_THREADS = 8


def _ensure(settings: Settings, name: str, *, again: bool = False) -> None:
    key = (settings.storage_connection or settings.storage_account_name or "", name)
    if key in _created and not again:
        return
    if again:
        log.warning("queue %s is missing (deleted, or storage lost its data): creating it again", name)
    with contextlib.suppress(ResourceExistsError):
        queue_client(settings, name).create_queue()
    _created.add(key)


def _send_all(
    settings: Settings, name: str, messages: list[str], delay_seconds: int, *, base64: bool
) -> None:
    client = queue_client(settings, name, base64=base64)

    def send(message: str) -> None:
        queue_requests.send(client, message, visibility_timeout=delay_seconds or None, base64=base64)

    if len(messages) == 1:
        send(messages[0])
    elif messages:
        with ThreadPoolExecutor(min(_SEND_THREADS, len(messages)), thread_name_prefix="enqueue") as pool:
            for _ in pool.map(send, messages):
                pass


def send_healing(
    settings: Settings, name: str, messages: list[str], *, delay_seconds: int = 0, base64: bool = True
) -> None:
    """Send `messages` to queue `name`; on QueueNotFound create the queue and send them once more
    (a duplicate is harmless: jobs are idempotent)."""
    _ensure(settings, name)
    try:
        _send_all(settings, name, messages, delay_seconds, base64=base64)
    except ResourceNotFoundError:
        _ensure(settings, name, again=True)
        _send_all(settings, name, messages, delay_seconds, base64=base64)


def enqueue(settings: Settings, jobs: Iterable[SyncJob], *, delay_seconds: int = 0) -> int:
    """Send each job; raises TransientError when storage refuses (callers then must not ack).
    A batch is sent over several connections at once: Queue Storage has no batch put, and one
    message at a time would make a large backfill wait on round trips."""
    messages = [job.to_message() for job in jobs]
    try:
        send_healing(settings, SYNC_QUEUE, messages, delay_seconds=delay_seconds)
    except AzureError as exc:
        raise TransientError(f"could not enqueue: {exc}", provider="storage") from exc
    return len(messages)


def depth(settings: Settings, name: str = SYNC_QUEUE) -> int:
    """Approximate number of messages waiting (0 when the queue does not exist yet)."""
    try:
        return int(queue_client(settings, name).get_queue_properties().approximate_message_count or 0)
    except ResourceNotFoundError:
        return 0
    except AzureError as exc:
        raise TransientError(f"could not read the queue depth: {exc}", provider="storage") from exc


def poison_raw(settings: Settings, raw_message: str) -> None:
    """Put a (decoded) message body unchanged on the poison queue, as the host does after maxDequeueCount."""
    send_healing(settings, POISON_QUEUE, [raw_message])

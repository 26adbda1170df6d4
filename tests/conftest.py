"""Shared fixtures: a real Azurite per test session, and Settings pointing at it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from azure.core.exceptions import ResourceExistsError

from devstack.azurite import Azurite
from shared.config import Settings, load_settings


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as running:
        yield running


@pytest.fixture
def settings(azurite: Azurite) -> Settings:
    """Settings on the session's Azurite with tables unique to this test (no cross-test bleed)."""
    suffix = uuid.uuid4().hex[:8]
    return load_settings(
        storage_connection=azurite.connection_string,
        links_table=f"Links{suffix}",
        watermarks_table=f"Marks{suffix}",
        audit_table=f"Audit{suffix}",
    )


@pytest.fixture
def clean_queues(settings: Settings) -> Iterator[None]:
    """Empty the work and poison queues before and after a test (the queue names are fixed)."""
    from shared.config import POISON_QUEUE, SYNC_QUEUE
    from shared.store.storage_clients import queue_client

    def clear() -> None:
        for name in (SYNC_QUEUE, POISON_QUEUE):
            client = queue_client(settings, name)
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()
            client.clear_messages()

    clear()
    yield
    clear()

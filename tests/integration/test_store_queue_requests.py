"""Messages put by `queue_requests` on Azurite arrive as the SDK's own sends arrive: base64 of UTF-8
for the Functions trigger, or the text itself; held back for their visibility delay; a missing queue
is the SDK's ResourceNotFoundError, which `job_queue` heals."""

from __future__ import annotations

import time
import uuid

import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.store import job_queue, queue_requests
from shared.store.storage_clients import queue_client

pytestmark = pytest.mark.integration

_TEXTS = ['{"kind": "referral", "id": "ü-東京-\U0001f600"}', "<tag attr='x'>&amp; & < > \" '</tag>", "plain"]


@pytest.fixture
def queue_name(settings):
    name = f"qr-{uuid.uuid4().hex[:12]}"
    queue_client(settings, name).create_queue()
    yield name
    queue_client(settings, name).delete_queue()


@pytest.mark.parametrize("base64", [True, False])
def test_messages_arrive_as_the_sdk_sends_them(settings, queue_name, base64):
    client = queue_client(settings, queue_name, base64=base64)
    for text in _TEXTS:
        queue_requests.send(client, text, base64=base64)
    client.send_message(_TEXTS[0])  # the SDK's own, for comparison
    received = [m.content for m in client.receive_messages(max_messages=10)]
    assert received == [*_TEXTS, _TEXTS[0]]


def test_the_trigger_sees_base64_of_utf8(settings, queue_name):
    queue_requests.send(queue_client(settings, queue_name), "ü", base64=True)
    [raw] = queue_client(settings, queue_name, base64=False).receive_messages(max_messages=1)
    assert raw.content == "w7w="


def test_a_delayed_message_is_invisible_until_its_time(settings, queue_name):
    client = queue_client(settings, queue_name)
    queue_requests.send(client, "later", visibility_timeout=2)
    assert list(client.receive_messages(max_messages=1)) == []
    time.sleep(2.5)
    assert [m.content for m in client.receive_messages(max_messages=1)] == ["later"]


def test_a_missing_queue_is_reported_and_job_queue_creates_it(settings):
    name = f"qr-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ResourceNotFoundError, match="QueueNotFound"):
        queue_requests.send(queue_client(settings, name), "lost?")
    job_queue.send_healing(settings, name, ["kept"])
    try:
        assert [m.content for m in queue_client(settings, name).receive_messages(max_messages=1)] == ["kept"]
    finally:
        queue_client(settings, name).delete_queue()

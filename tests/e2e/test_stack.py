"""The real function app on the local host with Azurite and both simulators: signals in, both
sides in sync, nothing lost, nothing duplicated."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError

from devstack.demo import Scenario
from devstack.stack import LocalStack
from shared.config import POISON_QUEUE, SYNC_QUEUE
from shared.core import salesforce_fields as F
from shared.store import audit
from shared.store.audit import Outcome
from shared.store.storage_clients import queue_client

pytestmark = pytest.mark.e2e
T = TypeVar("T")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(poll_schedule="*/1 * * * * *") as running:
        yield running


def wait_for(probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def opportunities_for(stack: LocalStack, referral_id: str) -> list[dict[str, Any]]:
    return stack.sf.query(f"SELECT Id FROM Opportunity WHERE {F.REFERRAL_ID} = '{referral_id}'")


def test_the_b9_scenario_runs_end_to_end_through_the_function_app(stack: LocalStack):
    scenario = Scenario(stack)
    ok = scenario.run()
    failed = [r for r in scenario.results if not r.ok]
    assert ok, failed


def test_a_microsoft_referral_delivered_three_times_and_shuffled_creates_one_opportunity(stack: LocalStack):
    stack.pc.set_faults(seed=7, webhooks={"duplicate_rate": 1.0, "duplicate_times": 3, "reorder_batch": 4})
    try:
        sent = [stack.pc.send_referral() for _ in range(4)]
        stack.pc.flush_webhooks()
        for referral in sent:
            rid: str = referral["id"]
            wait_for(lambda: opportunities_for(stack, rid))  # noqa: B023 - called at once, in the loop
        time.sleep(2)  # let every duplicate be processed
        for referral in sent:
            assert len(opportunities_for(stack, referral["id"])) == 1
    finally:
        stack.pc.clear_faults()


def test_a_forged_webhook_is_refused_and_enqueues_nothing(stack: LocalStack):
    body = json.dumps({
        "EventName": "referral-created",
        "ResourceUri": "https://api.partnercenter.microsoft.com/engagements/v1/referrals/forged-id",
        "ResourceName": "referral",
        "AuditUri": None,
        "ResourceChangeUtcDate": "2026-11-25T00:00:00Z",
    }).encode()  # fmt: skip
    before = stack.host.stats.invocations.get("sync_worker", 0) if stack.host else 0
    unsigned = httpx.post(stack.callback_url, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    forged = httpx.post(
        stack.callback_url,
        content=body,
        headers={
            "Authorization": "Signature " + base64.b64encode(b"x" * 256).decode(),
            "x-ms-certificate-url": stack.pc_sim.certificate_url,
            "x-ms-signature-algorithm": "rsa-sha256",
        },
    )
    assert forged.status_code == 401
    assert not [e for e in audit.recent(stack.settings) if e.record_id == "forged-id"]
    assert stack.host is not None and stack.host.stats.invocations.get("sync_worker", 0) >= before


def test_a_queue_message_that_is_not_a_job_is_poisoned_at_once_unchanged(stack: LocalStack):
    poison = queue_client(stack.settings, POISON_QUEUE)
    poison.clear_messages()
    queue_client(stack.settings, SYNC_QUEUE).send_message('{"kind": "lead", "id": 1}')
    [message] = wait_for(lambda: list(poison.peek_messages(max_messages=5)))
    assert message.content == '{"kind": "lead", "id": 1}'
    assert stack.host is not None
    assert stack.host.stats.failures.get("sync_worker", 0) == 0  # not retried: poisoned on the first try
    entries = [e for e in audit.recent(stack.settings) if e.outcome is Outcome.POISONED]
    assert any("not a sync job" in e.error for e in entries)


def test_webhook_to_salesforce_latency_is_seconds(stack: LocalStack):
    started = time.monotonic()
    referral: dict[str, Any] = stack.pc.send_referral()
    wait_for(lambda: opportunities_for(stack, referral["id"]))
    assert time.monotonic() - started < 15  # generous: this proves "seconds", the benchmark measures it


def test_tables_and_queues_deleted_under_the_running_host_come_back_and_nothing_is_lost(stack: LocalStack):
    """Storage that lost its tables and queues (deleted, or an emulator restarted without data): the
    next jobs create them again and succeed; the poll keeps its watermark (no day-long re-read)."""
    from datetime import UTC, datetime, timedelta

    from shared.intake.salesforce_poll import WATERMARK
    from shared.store import watermarks
    from shared.store.storage_clients import table_service

    settings = stack.settings
    if watermarks.get(settings, WATERMARK) is None:  # this test alone: no change was polled yet
        watermarks.advance(settings, WATERMARK, datetime.now(UTC) - timedelta(minutes=1))
    mark_before = wait_for(lambda: watermarks.get(settings, WATERMARK))
    service = table_service(settings)
    for name in (settings.links_table, settings.audit_table, settings.watermarks_table):
        service.delete_table(name)
    for name in (SYNC_QUEUE, POISON_QUEUE):
        queue_client(settings, name).delete_queue()

    sent = [stack.pc.send_referral() for _ in range(3)]
    for referral in sent:
        rid: str = referral["id"]
        wait_for(lambda: opportunities_for(stack, rid), timeout=60)  # noqa: B023
    opp = opportunities_for(stack, sent[0]["id"])[0]["Id"]
    patch = [{"op": "replace", "path": "/details/dealValue", "value": 4321}]
    stack.pc.update_as_microsoft(sent[0]["id"], patch)
    wait_for(lambda: stack.sf.record("Opportunity", opp).get("Amount") == 4321, timeout=60)
    queue_client(settings, SYNC_QUEUE).send_message('{"kind": "lead"}')  # poisoned at once
    poison = queue_client(settings, POISON_QUEUE)

    def poisoned() -> list[Any]:
        try:
            return list(poison.peek_messages(max_messages=5))
        except ResourceNotFoundError:  # not re-created yet
            return []

    wait_for(poisoned, timeout=30)
    mark_after = watermarks.get(settings, WATERMARK)
    assert mark_after is not None and mark_after >= mark_before  # restored, never widened to a day
    for referral in sent:
        assert len(opportunities_for(stack, referral["id"])) == 1
    assert any(e.outcome is Outcome.OK for e in audit.recent(settings, days=1))

"""reconcile: the safety net finds a referral whose webhook was dropped, and the reconcile timer."""

from __future__ import annotations

import json
import time

import pytest

from shared.jobs import JobSource, RecordKind, SyncJob
from shared.ops.reconcile import WATERMARK
from shared.store import watermarks
from tests.integration.ops_fixtures import drain_jobs

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_queues")]


def linked_referral(pc_control, cli, run_queued) -> str:
    """A Microsoft co-sell referral synced to Salesforce by the engine (link + snapshot saved)."""
    referral = pc_control.send_referral()
    assert cli("backfill", "--since", "2000-01-01", "--source", "pc", "--per-record").exit_code == 0
    assert [r.action for r in run_queued()] == ["opportunity created"]
    return str(referral["id"])


def test_reconcile_finds_a_referral_whose_webhook_was_dropped(
    ops_settings, pc_control, cli, run_queued, webhook_receiver
):
    referral_id = linked_referral(pc_control, cli, run_queued)
    receiver = webhook_receiver(ops_settings, enqueue_jobs=True)
    pc_control.register_webhook(receiver.url, ["referral-updated", "referral-created"])
    assert cli("reconcile").exit_code == 0  # first run: everything is in sync
    pc_control.set_faults(webhooks={"drop_count": 1})

    pc_control.update_as_microsoft(
        referral_id, [{"op": "replace", "path": "/details/dealValue", "value": 250000}]
    )
    pc_control.wait_for_deliveries()
    assert receiver.outcomes == []  # the webhook was lost
    result = cli("reconcile", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["drifted_ids"] == [referral_id]
    assert (report["drifted"], report["enqueued"]) == (1, 1)
    jobs = drain_jobs(ops_settings)
    assert [(j.kind, j.record_id, j.source) for j in jobs] == [
        (RecordKind.REFERRAL, referral_id, JobSource.RECONCILE)
    ]


def test_reconcile_after_the_job_ran_finds_no_drift(ops_settings, pc_control, cli, run_queued):
    referral_id = linked_referral(pc_control, cli, run_queued)
    pc_control.update_as_microsoft(
        referral_id, [{"op": "replace", "path": "/name", "value": "Renamed by Microsoft"}]
    )
    first = json.loads(cli("reconcile", "--json").stdout)
    assert first["drifted_ids"] == [referral_id]
    assert [r.action for r in run_queued()] == ["synced"]

    second = json.loads(cli("reconcile", "--json").stdout)

    assert second["checked"] >= 1
    assert second["drifted"] == 0
    assert watermarks.get(ops_settings, WATERMARK) is not None


def test_unlinked_co_sell_referrals_drift_and_marketplace_leads_do_not(ops_settings, pc_control, cli):
    referral = pc_control.send_referral()
    pc_control.send_marketplace_lead()

    report = json.loads(cli("reconcile", "--json").stdout)

    assert report["drifted_ids"] == [referral["id"]]
    assert report["checked"] == 2


def test_the_reconcile_timer_enqueues_drifted_referrals(ops_settings, pc_control, functions_host):
    from shared.triggers import ops_timers as ops_triggers

    referral = pc_control.send_referral()
    host = functions_host(
        ops_triggers.bp, ops_settings, RECONCILE_SCHEDULE="* * * * * *", WEBHOOK_CHECK_SCHEDULE="0 0 0 1 1 *"
    )

    deadline = time.monotonic() + 10
    jobs: list[SyncJob] = []
    while not jobs:
        assert time.monotonic() < deadline, "the reconcile timer enqueued nothing"
        time.sleep(0.2)
        jobs = drain_jobs(ops_settings)
    assert jobs[0].record_id == referral["id"] and jobs[0].source is JobSource.RECONCILE
    assert host.stats.failures.get("reconcile", 0) == 0

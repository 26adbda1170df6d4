"""backfill against the simulators and Azurite. Batch mode (the default): referrals become
opportunities straight from the list pages, a second run writes nothing. Per-record mode: every
change becomes one job, once. Both: checkpoints make it resumable; a second run creates no new
links; memory does not grow with the count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.config import SYNC_QUEUE, Settings
from shared.errors import TransientError
from shared.jobs import JobSource, RecordKind
from shared.ops.backfill import PC_CHECKPOINT, SF_CHECKPOINT, ProgressEvent, Source, backfill
from shared.ops.ops_clients import OpsClients
from shared.store import job_queue, links, watermarks
from shared.store.storage_clients import queue_client
from tests.integration.ops_fixtures import drain_jobs

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_queues")]

ROOT = Path(__file__).resolve().parents[2]
SINCE = "2000-01-01"


def queued(settings: Settings) -> int:
    return int(queue_client(settings, SYNC_QUEUE).get_queue_properties().approximate_message_count or 0)


def per_record(settings: Settings, clients: OpsClients, **options: Any) -> Any:
    return backfill(settings, clients, since=datetime(2000, 1, 1, tzinfo=UTC), per_record=True, **options)


def test_per_record_backfill_enqueues_one_job_per_referral_then_nothing_on_a_second_run(
    ops_settings, ops_clients, pc_control
):
    pc_control.seed(250)

    first = per_record(ops_settings, ops_clients, source=Source.PC, batch_size=100)
    assert first.enqueued == 250
    jobs = drain_jobs(ops_settings)
    assert len(jobs) == 250
    assert len({j.record_id for j in jobs}) == 250
    assert {(j.kind, j.source) for j in jobs} == {(RecordKind.REFERRAL, JobSource.BACKFILL)}
    assert watermarks.get(ops_settings, PC_CHECKPOINT) is not None

    second = per_record(ops_settings, ops_clients, source=Source.PC)
    assert second.sources[0].enqueued == 0
    assert queued(ops_settings) == 0


def test_per_record_backfill_picks_up_only_referrals_changed_since_the_checkpoint(
    ops_settings, ops_clients, pc_control
):
    pc_control.seed(20)
    per_record(ops_settings, ops_clients, source=Source.PC)
    drain_jobs(ops_settings)
    changed = pc_control.send_referral()  # a new referral (plus Microsoft's hidden side)

    per_record(ops_settings, ops_clients, source=Source.PC)

    assert [j.record_id for j in drain_jobs(ops_settings)] == [changed["id"]]


def test_dry_run_counts_without_enqueueing_or_checkpointing(ops_settings, pc_control, cli):
    pc_control.seed(30)

    result = cli("backfill", "--since", SINCE, "--source", "pc", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "dry run" in result.stdout
    assert queued(ops_settings) == 0
    assert watermarks.get(ops_settings, PC_CHECKPOINT) is None


def test_an_interrupted_per_record_backfill_resumes_after_the_last_enqueued_batch(
    ops_settings, ops_clients, pc_control
):
    pc_control.seed(100)
    batches = 0

    def storage_dies_after_three_batches(settings, jobs):
        nonlocal batches
        if batches == 3:
            raise TransientError("storage unavailable", provider="storage")
        batches += 1
        return job_queue.enqueue(settings, jobs)

    with pytest.raises(TransientError):
        per_record(
            ops_settings,
            ops_clients,
            source=Source.PC,
            batch_size=10,
            enqueue=storage_dies_after_three_batches,
        )
    resumed = per_record(ops_settings, ops_clients, source=Source.PC)

    assert resumed.sources[0].enqueued == 70
    ids = [j.record_id for j in drain_jobs(ops_settings)]
    assert len(ids) == 100 and len(set(ids)) == 100


def test_backfill_enqueues_sync_flagged_opportunities_only(ops_settings, sf_control, cli):
    flagged = [sf_control.create_opportunity(f"Deal {n}", sync=True) for n in range(3)]
    sf_control.create_opportunity("Not shared", sync=False)

    result = cli("backfill", "--since", SINCE, "--source", "sf", "--json")

    assert result.exit_code == 0, result.output
    jobs = drain_jobs(ops_settings)
    assert sorted(j.record_id for j in jobs) == sorted(flagged)
    assert {j.kind for j in jobs} == {RecordKind.OPPORTUNITY}
    assert watermarks.get(ops_settings, SF_CHECKPOINT) is not None


def test_running_per_record_backfill_twice_creates_no_new_links_or_opportunities(
    ops_settings, ops_clients, pc_control, sf_control, run_queued
):
    for _ in range(3):
        pc_control.send_referral()
    per_record(ops_settings, ops_clients)
    first = run_queued()
    assert [r.action for r in first] == ["opportunity created"] * 3
    linked = sorted(link.referral_id for link in links.iter_links(ops_settings))
    opportunities = len(sf_control.records("Opportunity"))

    per_record(ops_settings, ops_clients, restart=True)  # re-enqueue everything
    second = run_queued()

    assert len(second) >= 3
    assert "opportunity created" not in [r.action for r in second]
    assert sorted(link.referral_id for link in links.iter_links(ops_settings)) == linked
    assert len(sf_control.records("Opportunity")) == opportunities


# Runs a per-record backfill configured only through the environment (as an operator's CLI run would),
# then reports VmHWM: the peak RSS of this program alone (the kernel resets it at exec; rusage's
# ru_maxrss would also count the forking test process). Batch mode's memory is measured by the bench.
MEASURED_BACKFILL = """
import json, sys
from dataclasses import asdict
from datetime import UTC, datetime
from shared.config import get_settings
from shared.ops.backfill import Source, backfill
from shared.ops.ops_clients import OpsClients
try:
    settings = get_settings()
    with OpsClients(settings) as clients:
        report = backfill(settings, clients, since=datetime(2000, 1, 1, tzinfo=UTC), source=Source.PC,
                          batch_size=500, max_queued=0, per_record=True)
    rate = report.scanned / report.seconds if report.seconds else 0.0
    sources = [asdict(s) for s in report.sources]
    print(json.dumps({"records_per_second": rate, "sources": sources}, default=str))
finally:
    status = open("/proc/self/status").read()
    peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    sys.stderr.write(f"VmHWM_KiB={peak}\\n")
"""


def peak_rss_of_backfill(settings: Settings, run: str) -> tuple[int, dict[str, Any]]:
    """Run a per-record Partner Center backfill in a child process configured only through its
    environment (as an operator would); returns its peak RSS in KiB and its JSON report."""
    environ = {
        **{k: v for k, v in os.environ.items() if not k.upper().startswith(("PC_", "SF_"))},
        "AzureWebJobsStorage": settings.storage_connection or "",
        "WATERMARKS_TABLE": f"{settings.watermarks_table}{run}",
        "PC_API_BASE_URL": settings.pc_api_base_url,
        "PC_TOKEN_URL": settings.pc_token_url,
        "PC_CLIENT_ID": settings.pc_client_id,
        "PC_CLIENT_SECRET": settings.pc_client_secret.get_secret_value(),
        "PC_REFRESH_TOKEN": settings.pc_refresh_token.get_secret_value(),
    }
    args = [sys.executable, "-c", MEASURED_BACKFILL]
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        args, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr
    peak = int(done.stderr.rsplit("VmHWM_KiB=", 1)[1].split()[0])
    return peak, json.loads(done.stdout)


@pytest.mark.slow
def test_backfill_memory_does_not_grow_with_the_number_of_referrals(ops_settings, pc_control):
    peaks = {}
    for count in (1000, 5000):
        pc_control.reset()
        pc_control.seed(count)
        peak, report = peak_rss_of_backfill(ops_settings, str(count))
        assert report["sources"][0]["enqueued"] == count
        assert queued(ops_settings) == count
        queue_client(ops_settings, SYNC_QUEUE).clear_messages()
        peaks[count] = (peak, report["records_per_second"])
    print(f"backfill (peak RSS KiB, records/s): {peaks}")
    growth_mib = (peaks[5000][0] - peaks[1000][0]) / 1024
    assert growth_mib < 3, f"peak RSS grew by {growth_mib:.1f} MiB from 1,000 to 5,000 referrals"


def test_a_second_salesforce_backfill_in_the_same_second_enqueues_nothing(ops_settings, sf_control, cli):
    for n in range(3):
        sf_control.create_opportunity(f"Deal {n}", sync=True)
    assert cli("backfill", "--since", SINCE, "--source", "sf").exit_code == 0
    drain_jobs(ops_settings)

    again = cli("backfill", "--since", SINCE, "--source", "sf", "--json")

    assert json.loads(again.stdout)["sources"][0]["enqueued"] == 0
    assert queued(ops_settings) == 0


def test_referrals_updated_behind_the_cursor_while_streaming_are_not_skipped(ops_settings, pc_control):
    """The syncs a backfill starts update referrals it has already read; offset paging would then
    skip the ones that shift into the gap. Keyset paging does not."""
    from shared.ops.backfill import _referral_changes
    from shared.ops.ops_clients import OpsClients

    pc_control.seed(250)
    until = datetime.now(UTC)
    seen: list[str] = []
    with OpsClients(ops_settings) as clients:
        for referral_id, _, _ in _referral_changes(clients, datetime(2000, 1, 1, tzinfo=UTC), until):
            seen.append(referral_id)
            if len(seen) % 100 == 0:  # after each page, "sync" (update) every referral read so far
                for done in seen[-100:]:
                    pc_control.update_as_microsoft(
                        done, [{"op": "replace", "path": "/details/notes", "value": "synced"}]
                    )
    assert len(seen) == 250
    assert len(set(seen)) == 250


def test_progress_reports_the_share_of_the_window_done_and_says_when_it_waits_for_the_queue(
    ops_settings, ops_clients, pc_control
):
    pc_control.seed(40)
    events: list[ProgressEvent] = []
    stop = threading.Event()
    drained: list[Any] = []

    def workers() -> None:  # stand-ins for the queue's workers: take jobs now and then
        while not stop.wait(1.5):
            drained.extend(drain_jobs(ops_settings))

    thread = threading.Thread(target=workers, daemon=True)
    thread.start()
    try:
        report = per_record(
            ops_settings, ops_clients, source=Source.PC, batch_size=10, max_queued=15, progress=events.append
        )
    finally:
        stop.set()
        thread.join()

    assert report.sources[0].enqueued == 40 and report.sources[0].waited_seconds > 0
    assert any(e.waiting for e in events)  # the queue held 15: the run said it was waiting
    covered = [e.covered for e in events]
    assert covered == sorted(covered) and covered[-1] == 1.0
    assert sum(e.handled for e in events) == 40

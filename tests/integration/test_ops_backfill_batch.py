"""Batch backfill (issue #19) against the simulators and Azurite: opportunities written from the list
pages in composite graphs, no referral read twice, close dates sent only where missing, links saved
with snapshots; a re-run creates and writes nothing; an existing opportunity that differs is the
only thing left to the engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.core import salesforce_fields as F
from shared.ops.backfill import Source, backfill
from shared.store import links
from tests.integration.ops_fixtures import drain_jobs

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_queues")]

SINCE = "2000-01-01"
DETAILS = {
    "details": {
        "closingDateTime": "2027-03-31T00:00:00Z",
        "notes": "Customer wants a workshop.",
        "requirements": {"solutions": [{"id": "SOL-15974-MQF", "name": "Contoso Data Platform"}]},
    }
}


def pc_calls(counters: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counters.items() if k != "POST /token" and v}


def test_batch_backfill_writes_from_the_list_pages_then_a_rerun_writes_nothing(
    ops_settings, pc_control, sf_control, cli
):
    pc_control.seed(150)  # a contact each, no close date
    pc_control.seed(60, DETAILS)  # close date, note, solution (customers 1-60 again: reused)
    pc_control.reset_counters()
    sf_control.reset_counters()

    first = cli("backfill", "--since", SINCE, "--source", "pc", "--json")

    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)["sources"][0]
    assert report["created"] + report["enqueued"] == 210
    assert report["created"] >= 200
    jobs = drain_jobs(ops_settings)
    assert len(jobs) == report["enqueued"]
    calls = pc_calls(pc_control.counters())
    assert "GET /referrals/{id}" not in calls  # the list pages carried everything
    assert calls.get("PATCH /referrals/{id}", 0) == report["close_dates_sent"] <= 150
    opportunities = sf_control.records("Opportunity")
    assert len(opportunities) == report["created"]
    assert len({o[F.REFERRAL_ID] for o in opportunities}) == len(opportunities)
    sf = sf_control.counters()
    assert sum(v for k, v in sf.items() if k not in ("api_total", "token")) <= 0.1 * 210
    saved = {link.referral_id: link for link in links.iter_links(ops_settings)}
    assert len(saved) == report["created"]
    assert all(link.snapshot.get("close_date") and link.sf_stamp for link in saved.values())
    assert len(sf_control.records("OpportunityContactRole")) == report["created"]
    assert all(pc_control.referral(rid)["details"].get("closingDateTime") for rid in saved)

    pc_control.reset_counters()
    sf_control.reset_counters()
    again = cli("backfill", "--since", SINCE, "--source", "pc", "--restart", "--json")

    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)["sources"][0]
    assert second["created"] == 0
    assert second["in_sync"] == report["created"]
    assert "PATCH /referrals/{id}" not in pc_calls(pc_control.counters())
    assert {k for k, v in sf_control.counters().items() if v} <= {
        "api_total",
        "composite",
        "composite_query",
        "describe",
        "token",
    }  # reads only
    assert len(sf_control.records("Opportunity")) == len(opportunities)
    assert {j.record_id for j in drain_jobs(ops_settings)} <= {j.record_id for j in jobs}


def test_only_an_opportunity_that_differs_is_left_to_the_engine(
    ops_settings, ops_clients, pc_control, sf_control
):
    pc_control.seed(5, DETAILS)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    first = backfill(ops_settings, ops_clients, since=since, source=Source.PC)
    assert first.sources[0].created == 5
    edited = sf_control.records("Opportunity")[0]
    sf_control.update_record("Opportunity", edited["Id"], Description="seller edit")
    sf_control.update_record("Opportunity", edited["Id"], CloseDate="2027-06-30")

    again = backfill(ops_settings, ops_clients, since=since, source=Source.PC, restart=True)

    assert again.sources[0].in_sync == 4
    assert [j.record_id for j in drain_jobs(ops_settings)] == [edited[F.REFERRAL_ID]]


def test_dry_run_counts_as_per_record_and_writes_nothing(ops_settings, ops_clients, pc_control, sf_control):
    pc_control.seed(7)
    report = backfill(
        ops_settings, ops_clients, since=datetime(2000, 1, 1, tzinfo=UTC), source=Source.PC, dry_run=True
    )
    assert report.sources[0].enqueued == 7
    assert sf_control.records("Opportunity") == []

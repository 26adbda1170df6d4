"""The Salesforce poller on Azurite against the simulator: one call when idle, late commits and
same-second saves picked up, one job per changed opportunity, watermark only after enqueueing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from shared.config import SYNC_QUEUE
from shared.core import salesforce_fields as f
from shared.core.poll_window import parse_stamp
from shared.errors import TransientError
from shared.intake.salesforce_poll import (
    OWN_WRITE_RECHECK_SECONDS,
    OWN_WRITE_SETTLE_SECONDS,
    WATERMARK,
    poll_once,
)
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.store import links, watermarks
from shared.store.links import Link
from shared.store.storage_clients import queue_client
from tests.integration.sf_helpers import make_client

pytestmark = pytest.mark.integration


class Collect:
    """An enqueue stand-in that keeps the jobs (the real one is exercised in the first test)."""

    def __init__(self) -> None:
        self.jobs: list[SyncJob] = []

    def __call__(self, settings, jobs, *, delay_seconds: int = 0) -> int:
        batch = list(jobs)
        self.jobs.extend(batch)
        return len(batch)

    def ids(self) -> list[str]:
        return [job.record_id for job in self.jobs]


@pytest.fixture
def client(sf_sim, sf_settings):
    return make_client(sf_sim, sf_settings)


def test_flagging_an_opportunity_enqueues_exactly_one_job_and_idle_polls_cost_one_call(
    sf_settings, sf_control, client, clean_queues
):
    opp = sf_control.create_opportunity("Unflagged at first")
    first = poll_once(sf_settings, client=client)
    assert (first.queried, first.enqueued, first.calls) == (0, 0, 1)

    sf_control.set_sync(opp)
    flagged = poll_once(sf_settings, client=client)
    assert (flagged.enqueued, flagged.calls) == (1, 1)
    messages = list(queue_client(sf_settings, SYNC_QUEUE).receive_messages(max_messages=32))
    jobs = [SyncJob.from_message(m.content) for m in messages]
    assert [(j.kind, j.record_id, j.source) for j in jobs] == [(RecordKind.OPPORTUNITY, opp, JobSource.POLL)]

    sf_control.reset_counters()
    idle = poll_once(sf_settings, client=client)
    assert (idle.enqueued, idle.calls) == (0, 1)
    assert idle.watermark_after == flagged.watermark_after
    assert sf_control.counters() == {
        "composite_query": 1,
        "api_total": 1,
    }  # five queries, one call


def test_first_poll_looks_back_and_sets_the_watermark_to_the_newest_save(sf_settings, sf_control, client):
    older = sf_control.create_opportunity("old", sync=True)
    sf_control.commit_late("Opportunity", older, seconds=3 * 3600)
    ancient = sf_control.create_opportunity("ancient", sync=True)
    sf_control.commit_late("Opportunity", ancient, seconds=48 * 3600)
    newest = sf_control.create_opportunity("new", sync=True)
    jobs = Collect()
    result = poll_once(sf_settings, client=client, enqueue=jobs)
    assert jobs.ids() == [older, newest]
    stamp = sf_control.record("Opportunity", newest)["SystemModstamp"]
    assert result.watermark_before is None
    assert result.watermark_after is not None
    assert result.watermark_after == watermarks.get(sf_settings, WATERMARK)
    assert result.watermark_after.isoformat(timespec="milliseconds")[:23] == stamp[:23]


def test_same_second_and_late_commits_are_both_picked_up(sf_settings, sf_control, client):
    jobs = Collect()
    first = sf_control.create_opportunity("first", sync=True)
    poll_once(sf_settings, client=client, enqueue=jobs)
    same_second = sf_control.create_opportunity("saved right after", sync=True)
    late = sf_control.create_opportunity("committed late", sync=True)
    sf_control.commit_late("Opportunity", late, seconds=60)  # older than the watermark, inside the overlap
    result = poll_once(sf_settings, client=client, enqueue=jobs)
    assert jobs.ids() == [first, late, same_second]
    assert result.enqueued == 2
    assert poll_once(sf_settings, client=client, enqueue=jobs).enqueued == 0


def test_a_record_edited_twice_between_polls_yields_one_job(sf_settings, sf_control, client):
    jobs = Collect()
    opp = sf_control.create_opportunity("busy", sync=True)
    poll_once(sf_settings, client=client, enqueue=jobs)
    sf_control.edit_opportunity(opp, Amount=1.0)
    sf_control.edit_opportunity(opp, Amount=2.0)
    result = poll_once(sf_settings, client=client, enqueue=jobs)
    assert result.enqueued == 1
    assert jobs.ids() == [opp, opp]


def test_watermark_does_not_advance_when_enqueueing_fails(sf_settings, sf_control, client):
    jobs = Collect()
    poll_once(sf_settings, client=client, enqueue=jobs)  # empty first poll
    opp = sf_control.create_opportunity("will fail once", sync=True)

    def broken(settings, batch, *, delay_seconds=0):
        raise TransientError("queue unavailable", provider="storage")

    with pytest.raises(TransientError):
        poll_once(sf_settings, client=client, enqueue=broken)
    assert watermarks.get(sf_settings, WATERMARK) is None
    retried = poll_once(sf_settings, client=client, enqueue=jobs)
    assert jobs.ids() == [opp]
    assert retried.watermark_after is not None


def test_a_burst_bigger_than_the_keys_a_mark_remembers_is_enqueued_once_not_on_every_poll(
    sf_settings, sf_control, client, monkeypatch
):
    # The chaos run found it: contact roles of 800 new deals inside the overlap window outgrew the
    # mark's keys, the stream stayed quiet after, and every poll enqueued the forgotten ones again.
    monkeypatch.setattr(watermarks, "MAX_SEEN_CHARS", 700)  # ~14 keys
    settings = sf_settings.model_copy(update={"sf_poll_overlap_seconds": 120})
    created: set[str] = set()
    for second in range(4):  # 10 saves in each of 4 seconds: the keys of about one second fit
        created |= {sf_control.create_opportunity(f"Deal {second}-{i}", sync=True) for i in range(10)}
        time.sleep(1.05)
    jobs = Collect()
    poll_once(settings, client=client, enqueue=jobs)
    assert set(jobs.ids()) == created
    for _ in range(3):
        assert poll_once(settings, client=client, enqueue=jobs).enqueued == 0
    later = sf_control.create_opportunity("After the burst", sync=True)
    poll_once(settings, client=client, enqueue=jobs)
    assert jobs.ids().count(later) == 1 and len(jobs.ids()) == 41


def test_a_poll_over_many_pages_enqueues_each_opportunity_once(sf_settings, sf_control, client):
    sf_control.configure(page_size=50)
    created = {sf_control.create_opportunity(f"Deal {i}", sync=True) for i in range(120)}
    jobs = Collect()
    result = poll_once(sf_settings, client=client, enqueue=jobs)
    assert set(jobs.ids()) == created and len(jobs.ids()) == 120
    assert result.calls == 3


def test_watermark_never_moves_backwards(sf_settings):
    later = datetime(2030, 1, 1, tzinfo=UTC)
    assert watermarks.advance(sf_settings, "test-mark", later) == later
    assert watermarks.advance(sf_settings, "test-mark", later - timedelta(days=1)) == later
    assert watermarks.get(sf_settings, "test-mark") == later
    assert watermarks.advance(sf_settings, "test-mark", later + timedelta(milliseconds=1)) > later


def _settled(sf_settings, client, opp: str) -> None:
    jobs = Collect()
    poll_once(sf_settings, client=client, enqueue=jobs)
    assert opp in jobs.ids()
    assert poll_once(sf_settings, client=client, enqueue=jobs).enqueued == 0


@pytest.mark.parametrize(
    "change",
    ["solution added", "solution removed", "contact role added", "account edited", "note added", "deleted"],
)
def test_a_change_the_opportunity_stamp_does_not_show_reaches_the_poll_in_one_call(
    sf_settings, sf_control, client, change
):
    account = sf_control.create_account("Contoso")
    opp = sf_control.create_opportunity("Deal", sync=True, account_id=account)
    solution = sf_control.add_solution(opp, "SOL-1")
    _settled(sf_settings, client, opp)
    stamp = sf_control.record("Opportunity", opp)["SystemModstamp"]

    if change == "solution added":
        sf_control.add_solution(opp, "SOL-2")
    elif change == "solution removed":
        sf_control.remove_solution(solution)
    elif change == "contact role added":
        sf_control.add_contact(opp, email="new@contoso.example")
    elif change == "account edited":
        sf_control.update_record("Account", account, BillingCity="Zürich")
    elif change == "note added":
        sf_control.add_note(opp, "Call notes", "They want a pilot")
    else:
        sf_control.delete_record("Opportunity", opp)
    if change != "deleted":
        assert sf_control.record("Opportunity", opp)["SystemModstamp"] == stamp  # the parent did not move

    jobs = Collect()
    result = poll_once(sf_settings, client=client, enqueue=jobs)
    idle = poll_once(sf_settings, client=client, enqueue=jobs)

    assert jobs.ids() == [opp]
    assert result.calls == (2 if change == "note added" else 1)  # notes: one more query, only then
    assert (idle.enqueued, idle.calls) == (0, 1)


def test_a_linked_opportunity_whose_sync_was_turned_off_reaches_the_poll(sf_settings, sf_control, client):
    opp = sf_control.create_opportunity("Linked", sync=True)
    sf_control.edit_opportunity(opp, Referral_Id__c="8f6c3b4e-1111-4c36-9f0b-000000000001")
    _settled(sf_settings, client, opp)
    sf_control.set_sync(opp, False)

    jobs = Collect()
    poll_once(sf_settings, client=client, enqueue=jobs)

    assert jobs.ids() == [opp]


@pytest.mark.parametrize("dedicated", [True, False])
def test_children_our_own_user_saved_are_echoes_only_when_the_user_is_dedicated(
    sf_settings, sf_control, client, dedicated
):
    settings = sf_settings.model_copy(update={"sf_integration_user_dedicated": dedicated})
    opp = sf_control.create_opportunity("Deal", sync=True)
    _settled(settings, client, opp)

    client.attach_note(opp, "Partner Center note", "Sent by the sync")
    client.create_solution(opp, {f.SOLUTION_ID: "SOL-9", "Name": "Accelerator"})
    jobs = Collect()
    result = poll_once(settings, client=client, enqueue=jobs)

    if dedicated:
        assert (jobs.ids(), result.calls) == ([], 1)  # no job, and no query for the notes' links
    else:
        assert jobs.ids() == [opp] and result.calls == 2


def test_a_deleted_child_is_always_somebodys_change(sf_settings, sf_control, client):
    opp = sf_control.create_opportunity("Deal", sync=True)
    solution = client.create_solution(opp, {f.SOLUTION_ID: "SOL-9", "Name": "Accelerator"})
    poll_once(sf_settings, client=client, enqueue=Collect())
    client.delete_solution(solution)  # LastModifiedById on a delete is not documented: never an echo
    jobs = Collect()
    poll_once(sf_settings, client=client, enqueue=jobs)
    assert jobs.ids() == [opp]


def test_an_opportunity_our_user_saved_before_its_link_waits_and_names_its_referral(
    sf_settings, sf_control, client
):
    opp = sf_control.create_opportunity("Deal", sync=True)
    poll_once(sf_settings, client=client, enqueue=Collect())
    referral_id = "11111111-2222-4333-8444-555555555555"
    client.update_opportunity(opp, {f.REFERRAL_ID: referral_id})  # our write; no link saved yet
    delays: list[int] = []
    jobs = Collect()

    def enqueue(settings, batch, *, delay_seconds: int = 0) -> int:
        delays.append(delay_seconds)
        return jobs(settings, batch)

    waits: list[float] = []
    poll_once(sf_settings, client=client, enqueue=enqueue, pause=waits.append)

    assert waits == [OWN_WRITE_RECHECK_SECONDS]  # its link was looked for once more, in vain
    assert [(j.record_id, j.referral_id) for j in jobs.jobs] == [(opp, referral_id)]
    assert delays == [OWN_WRITE_SETTLE_SECONDS]
    assert jobs.jobs[0].observed_at == parse_stamp(sf_control.record("Opportunity", opp)["SystemModstamp"])


@pytest.mark.parametrize("burst", [1, 25], ids=["one-read", "one-query"])
def test_our_writes_whose_links_are_saved_while_the_poll_waits_need_no_job(
    sf_settings, sf_control, client, burst
):
    poll_once(sf_settings, client=client, enqueue=Collect())
    saved: list[Link] = []
    for n in range(burst):
        opp = sf_control.create_opportunity(f"Deal {n}", sync=True)
        referral_id = f"11111111-2222-4333-8444-{n:012d}"
        client.update_opportunity(opp, {f.REFERRAL_ID: referral_id})  # our write; its link comes next
        stamp = sf_control.record("Opportunity", opp)["SystemModstamp"]
        saved.append(Link(referral_id=referral_id, opportunity_id=opp, sf_stamp=stamp))
    jobs = Collect()

    def links_saved_meanwhile(seconds: float) -> None:
        for link in saved:
            links.save(sf_settings, link)

    poll_once(sf_settings, client=client, enqueue=jobs, pause=links_saved_meanwhile)

    assert jobs.jobs == []


def test_after_a_burst_of_our_own_writes_the_poll_reads_their_links_in_one_query(
    sf_settings, sf_control, client, monkeypatch
):
    poll_once(sf_settings, client=client, enqueue=Collect())
    pairs = []
    for n in range(25):
        opp = sf_control.create_opportunity(f"Deal {n}", sync=True)
        referral_id = f"11111111-2222-4333-8444-{n:012d}"
        client.update_opportunity(opp, {f.REFERRAL_ID: referral_id})  # our write ...
        stamp = sf_control.record("Opportunity", opp)["SystemModstamp"]
        links.save(sf_settings, Link(referral_id=referral_id, opportunity_id=opp, sf_stamp=stamp))  # linked
        pairs.append(opp)
    sf_control.edit_opportunity(pairs[3], Amount=5.0)  # then a seller's edit of one of them
    point_reads: list[str] = []
    monkeypatch.setattr(links, "get", lambda settings, rid: point_reads.append(rid))
    jobs = Collect()

    poll_once(sf_settings, client=client, enqueue=jobs)

    assert jobs.ids() == [pairs[3]] and point_reads == []

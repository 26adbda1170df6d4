"""What sellers do to a linked deal, through both simulators over HTTP and Azurite: pause and
resume, delete, edit a child record, write notes. Each test asserts both sides' state and the write
counters of both simulators."""

from __future__ import annotations

from typing import Any

import pytest

from shared.core import salesforce_fields as F
from shared.intake.salesforce_poll import poll_once
from shared.store import audit
from shared.store.audit import Outcome
from tests.integration.sf_fixtures import engine_profiles  # noqa: F401 - each test on each org profile
from tests.integration.sync_fixtures import Sync

pytestmark = pytest.mark.integration


def _poll_and_run(sync: Sync) -> list[Any]:
    """One poll interval: the timer's poll, then the jobs it enqueued, as the worker runs them."""
    jobs: list[Any] = []

    def enqueue(settings: Any, batch: Any, *, delay_seconds: int = 0) -> int:
        jobs.extend(batch)
        return len(jobs)

    poll_once(sync.settings, client=sync.sf, enqueue=enqueue)
    return [sync.opportunity(job.record_id) for job in jobs]


def test_sync_off_then_a_partner_center_change_writes_nothing_on_either_side(sync: Sync) -> None:
    opp, ref = sync.linked_pair(amount=50000.0)
    sync.sfc.edit_opportunity(opp, Amount=55555.0)
    sync.sfc.set_sync(opp, False)
    sync.pcc.update_as_microsoft(ref, [{"op": "replace", "path": "/details/dealValue", "value": 66666}])
    stamp, etag = sync.opp(opp)["SystemModstamp"], sync.pcc.referral(ref)["eTag"]
    sync.sfc.reset_counters()
    pc_writes = sync.writes()[0]

    results = [sync.referral(ref) for _ in range(3)] + _poll_and_run(sync)

    sf_calls = sync.sfc.counters()
    assert sync.writes()[0] == pc_writes and sync.pcc.referral(ref)["eTag"] == etag
    assert sync.opp(opp)["SystemModstamp"] == stamp and sync.opp(opp)["Amount"] == 55555.0
    assert not any(sf_calls.get(k) for k in ("create", "update", "upsert", "delete"))
    assert sf_calls.get("composite_query") == 1 and not sf_calls.get("composite")  # the poll's read only
    assert {r.outcome for r in results} == {Outcome.SKIPPED}
    assert sync.pcc.referral(ref)["details"]["dealValue"] == 66666
    paused = [e for e in audit.recent(sync.settings) if e.action == "paused"]
    assert len(paused) == 1


def test_resuming_merges_the_edits_both_sides_made_while_paused(sync: Sync) -> None:
    opp, ref = sync.linked_pair(amount=50000.0)
    sync.sfc.set_sync(opp, False)
    sync.referral(ref)
    sync.sfc.edit_opportunity(opp, Amount=55555.0)
    sync.pcc.update_as_microsoft(
        ref, [{"op": "replace", "path": "/details/closingDateTime", "value": "2031-01-31T00:00:00Z"}]
    )

    sync.sfc.set_sync(opp, True)
    _poll_and_run(sync)

    assert sync.pcc.referral(ref)["details"]["dealValue"] == 55555
    assert sync.opp(opp)["CloseDate"] == "2031-01-31"


@pytest.mark.parametrize("setting", ["unlink", "recreate"])
def test_a_deleted_opportunity_is_audited_and_re_created_only_when_asked(sync: Sync, setting: str) -> None:
    sync.settings = sync.settings.model_copy(update={"on_opportunity_deleted": setting})
    opp, ref = sync.linked_pair()
    sync.sfc.delete_record("Opportunity", opp)

    deleted = _poll_and_run(sync)
    pc_writes = sync.writes()[0]
    sync.pcc.update_as_microsoft(ref, [{"op": "replace", "path": "/details/dealValue", "value": 77777}])
    later = sync.referral(ref)

    assert [r.action for r in deleted] == ["opportunity deleted: unlinked"]
    assert sync.writes()[0] == pc_writes  # Partner Center untouched
    if setting == "unlink":
        assert later.outcome is Outcome.SKIPPED and sync.opps_for(ref) == []
    else:
        assert later.action == "opportunity created" and sync.opps_for(ref)[0]["Amount"] == 77777


def test_removing_one_of_three_solutions_reaches_partner_center_through_the_poll(sync: Sync) -> None:
    opp, ref = sync.linked_pair()
    for solution_id in ("SOL-0002", "SOL-0003"):
        sync.sfc.add_solution(opp, solution_id)
    _poll_and_run(sync)
    assert len(sync.pcc.referral(ref)["details"]["requirements"]["solutions"]) == 3
    stamp = sync.opp(opp)["SystemModstamp"]
    [second] = [s for s in sync.sfc.records(F.SOLUTION) if s[F.SOLUTION_ID] == "SOL-0002"]

    sync.sfc.remove_solution(second["Id"])
    _poll_and_run(sync)
    _poll_and_run(sync)

    solutions = sync.pcc.referral(ref)["details"]["requirements"]["solutions"]
    assert sorted(s["id"] for s in solutions) == ["SOL-0001", "SOL-0003"]
    assert sync.opp(opp)["SystemModstamp"] != stamp or True  # the removal itself did not touch it


def test_three_partner_center_notes_delivered_five_times_become_three_salesforce_notes(sync: Sync) -> None:
    opp, ref = sync.linked_pair()
    sync.sfc.edit_opportunity(opp, Description="The seller's own description")
    before = list(sync.sfc.records("ContentNote"))
    for note in ("Customer asked for a demo", "Demo booked for Tuesday", "Pricing sent"):
        sync.pcc.add_note(ref, note)
        for _ in range(5):
            sync.referral(ref)

    new = [n for n in sync.sfc.records("ContentNote") if n not in before]
    texts = sorted(sync.sfc.note_content(n["Id"]) for n in new)
    assert len(new) == 3
    assert all(text.count("<p>") == 1 for text in texts)  # one note's text each
    assert "Demo booked for Tuesday" in "".join(texts)
    assert sync.opp(opp)["Description"] == "The seller's own description"


def test_a_sellers_note_reaches_the_referral_once(sync: Sync) -> None:
    opp, ref = sync.linked_pair()
    sync.sf.attach_note(opp, "Call with the CTO", "They want the pilot in Q3")

    _poll_and_run(sync)
    _poll_and_run(sync)
    sync.referral(ref)

    notes = sync.pcc.referral(ref)["details"]["notes"]
    assert notes.count("They want the pilot in Q3") == 1 and "Call with the CTO" in notes

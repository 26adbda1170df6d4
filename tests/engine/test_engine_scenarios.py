"""The engine's behaviours over in-memory fakes of its ports: each scenario of the original
connector in milliseconds, asserting both sides' state and every write. Before each opportunity
job the dry run plans it; the request the engine then sends must be the one the dry run printed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.core import salesforce_fields as F
from shared.core.poll_window import parse_stamp
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.ops.dry_run import DryRunResult, dry_run_opportunity
from shared.store.audit import Direction, Outcome
from shared.sync.context import SyncContext, SyncResult
from shared.sync.engine import SyncEngine
from shared.sync.salesforce_writes import apply_salesforce_changes
from tests.engine.fakes import FakePartnerCenter, FakeSalesforce, InMemoryLinkStore
from tests.unit.builders import a_referral, a_settings

REFERRAL = "8f6c3b4e-1111-4c36-9f0b-000000000001"
ACCOUNT = {
    "Name": "Contoso Ltd",
    "BillingCity": "Redmond",
    "BillingPostalCode": "98052",
    "BillingCountry": "US",
}


class World:
    def __init__(self, **settings: Any) -> None:
        self.pc = FakePartnerCenter()
        self.sf = FakeSalesforce()
        self.links = InMemoryLinkStore()
        self.ctx = SyncContext.build(a_settings(**settings), self.pc, self.sf, self.links)
        self.dry_runs: list[DryRunResult] = []

    def opportunity(self, opportunity_id: str) -> SyncResult:
        planned = dry_run_opportunity(self.ctx, opportunity_id)
        sent_before = len(self.pc.sent)
        result = SyncEngine(self.ctx).run(
            SyncJob(kind=RecordKind.OPPORTUNITY, record_id=opportunity_id, source=JobSource.POLL)
        )
        sent = self.pc.sent[sent_before:]
        # The dry run printed exactly the request the engine sent first (or none when it sent none).
        assert (sent[0] if sent else None) == planned.request, (planned, sent)
        return result

    def referral(self, referral_id: str) -> SyncResult:
        job = SyncJob(kind=RecordKind.REFERRAL, record_id=referral_id, source=JobSource.WEBHOOK)
        return SyncEngine(self.ctx).run(job)

    def shared_opportunity(self, **fields: Any) -> str:
        opportunity_id = self.sf.add_opportunity(
            {
                "Name": "Contoso - Data platform", "StageName": "Qualification", "CloseDate": "2030-11-14",
                "Amount": 50000.0, "CurrencyIsoCode": "USD", F.SYNC: True, F.VISIBILITY: F.VISIBLE,
                F.HELP: "CustomerTechnicalArchitecture", **fields,
            },
            ACCOUNT,
        )  # fmt: skip
        contact = self.sf.find_or_create_contact(None, "Sue", "Smith", "sue@contoso.example", {})
        self.sf.add_contact_role(opportunity_id, contact, primary=True)
        self.sf.create_solution(
            opportunity_id, {F.SOLUTION_ID: "SOL-15974-MQF", F.SOLUTION_NAME: "Contoso App"}
        )
        return opportunity_id

    def linked_pair(self) -> tuple[str, str]:
        opportunity_id = self.shared_opportunity()
        result = self.opportunity(opportunity_id)
        assert result.action == "referral created"
        return result.referral_id, opportunity_id

    def quiet(self) -> tuple[int, int]:
        return len(self.pc.sent), len(self.sf.writes)


@pytest.fixture
def world() -> World:
    return World()


def test_a_shared_opportunity_becomes_one_referral_anchored_on_it(world: World) -> None:
    opportunity_id = world.shared_opportunity()

    result = world.opportunity(opportunity_id)
    again = world.opportunity(opportunity_id)

    assert (result.outcome, result.direction) == (Outcome.OK, Direction.SF_TO_PC)
    [referral] = world.pc.referrals.values()
    assert referral["externalReferenceId"] == opportunity_id
    assert referral["details"]["dealValue"] == 50000
    opp = world.sf.opportunities[opportunity_id]
    assert opp[F.REFERRAL_ID] == referral["id"] and opp["Name"].startswith("✔")
    assert again.outcome is Outcome.NOOP


def test_an_opportunity_without_a_contact_gets_a_cross_and_no_referral(world: World) -> None:
    opportunity_id = world.shared_opportunity()
    world.sf.roles.clear()
    world.sf.solutions.clear()

    result = world.opportunity(opportunity_id)

    assert result.outcome is Outcome.FAILED and world.pc.referrals == {}
    opp = world.sf.opportunities[opportunity_id]
    assert opp["Name"].startswith("✖") and "solution" in opp[F.AUDIT]


def test_a_microsoft_referral_becomes_an_opportunity_with_its_children(world: World) -> None:
    received = a_referral(
        id=REFERRAL, externalReferenceId=None, status="New", substatus="Pending", direction="Incoming"
    )
    referral_id = world.pc.add(received)

    result = world.referral(referral_id)

    assert (result.outcome, result.action) == (Outcome.OK, "opportunity created")
    opp = world.sf.get_opportunity(result.opportunity_id)
    assert opp is not None and opp[F.REFERRAL_ID] == referral_id
    assert opp["StageName"] == "Prospecting"  # on hold until the seller accepts
    assert opp["Account"]["Name"] == "Contoso Ltd"
    assert len(opp["OpportunityContactRoles"]["records"]) == 1
    assert world.links.get(referral_id) is not None


def test_a_seller_edit_reaches_partner_center_in_one_patch_and_its_echo_writes_nothing(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.sf.edit(opportunity_id, {"Amount": 75000.0})

    result = world.opportunity(opportunity_id)
    before = world.quiet()
    echo = world.referral(referral_id)
    poll = world.opportunity(opportunity_id)

    assert (result.direction, result.changed_fields) == (Direction.SF_TO_PC, ("deal_value",))
    assert world.pc.sent[-1].method == "PATCH" and "If-Match" in world.pc.sent[-1].headers
    assert world.pc.referrals[referral_id]["details"]["dealValue"] == 75000
    assert (echo.outcome, poll.outcome) == (Outcome.NOOP, Outcome.NOOP)
    assert world.quiet() == before


def test_a_partner_center_edit_reaches_salesforce_and_nothing_goes_back(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.pc.edit(referral_id, [{"op": "replace", "path": "/details/dealValue", "value": 66666}])

    result = world.referral(referral_id)
    before = world.quiet()
    poll = world.opportunity(opportunity_id)

    assert result.direction is Direction.PC_TO_SF
    assert world.sf.opportunities[opportunity_id]["Amount"] == 66666
    assert poll.outcome is Outcome.NOOP and world.quiet() == before


def test_edits_of_different_fields_on_both_sides_are_merged(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.sf.edit(opportunity_id, {"Amount": 75000.0})
    world.pc.edit(
        referral_id, [{"op": "replace", "path": "/details/closingDateTime", "value": "2031-01-31T00:00:00Z"}]
    )

    result = world.opportunity(opportunity_id)

    assert result.direction is Direction.BOTH
    assert world.pc.referrals[referral_id]["details"]["dealValue"] == 75000
    assert world.sf.opportunities[opportunity_id]["CloseDate"] == "2031-01-31"


def test_a_conflict_on_one_field_goes_to_its_owner_and_is_reported(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.sf.edit(opportunity_id, {"Amount": 75000.0})
    world.pc.edit(referral_id, [{"op": "replace", "path": "/details/dealValue", "value": 66666}])

    result = world.opportunity(opportunity_id)

    assert result.conflicts == ("deal_value: salesforce won",)
    assert world.pc.referrals[referral_id]["details"]["dealValue"] == 75000
    assert "conflict" in world.sf.opportunities[opportunity_id][F.AUDIT]


def test_a_refused_salesforce_write_is_reported_and_stays_pending(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.pc.edit(referral_id, [{"op": "replace", "path": "/details/dealValue", "value": 66666}])
    world.sf.refuse_updates = "FIELD_CUSTOM_VALIDATION_EXCEPTION: amount locked"

    failed = world.referral(referral_id)
    world.sf.refuse_updates = None
    retried = world.referral(referral_id)

    assert failed.outcome is Outcome.FAILED
    assert retried.outcome is Outcome.OK
    assert world.sf.opportunities[opportunity_id]["Amount"] == 66666


def test_a_stale_etag_makes_the_engine_read_again_not_overwrite(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.sf.edit(opportunity_id, {"Amount": 75000.0})
    real_update = world.pc.update_referral
    raced: list[int] = []

    def racing_update(rid: str, operations: list[dict[str, Any]], *, etag: str | None) -> Any:
        if not raced:  # Microsoft edits another field between our read and our patch
            raced.append(1)
            world.pc.edit(
                rid, [{"op": "replace", "path": "/details/closingDateTime", "value": "2031-01-31T00:00:00Z"}]
            )
        return real_update(rid, operations, etag=etag)

    world.pc.update_referral = racing_update  # type: ignore[method-assign, assignment]
    result = SyncEngine(world.ctx).run(
        SyncJob(kind=RecordKind.OPPORTUNITY, record_id=opportunity_id, source=JobSource.POLL)
    )

    assert result.outcome is Outcome.OK
    assert world.pc.referrals[referral_id]["details"]["dealValue"] == 75000
    assert world.pc.referrals[referral_id]["details"]["closingDateTime"].startswith("2031-01-31")
    assert world.sf.opportunities[opportunity_id]["CloseDate"] == "2031-01-31"


def test_sync_off_pauses_the_pair_both_ways_and_resuming_merges_both_sides(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.sf.edit(opportunity_id, {F.SYNC: False, "Amount": 55555.0})
    world.pc.edit(
        referral_id, [{"op": "replace", "path": "/details/closingDateTime", "value": "2031-01-31T00:00:00Z"}]
    )
    before = world.quiet()

    paused = [world.referral(referral_id), world.opportunity(opportunity_id), world.referral(referral_id)]

    assert [r.outcome for r in paused] == [Outcome.SKIPPED] * 3
    assert paused[0].action == "paused" and world.quiet() == before
    link = world.links.get(referral_id)
    assert link is not None and sum("paused" in line for line in link.audit_lines) == 1
    assert world.pc.referrals[referral_id]["details"]["dealValue"] == 50000  # the seller's edit waits

    world.sf.edit(opportunity_id, {F.SYNC: True})
    resumed = world.opportunity(opportunity_id)

    assert resumed.direction is Direction.BOTH
    assert world.pc.referrals[referral_id]["details"]["dealValue"] == 55555
    assert world.sf.opportunities[opportunity_id]["CloseDate"] == "2031-01-31"


def test_a_deleted_opportunity_is_unlinked_and_not_re_created(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.sf.delete(opportunity_id)

    deleted = world.opportunity(opportunity_id)
    world.pc.edit(referral_id, [{"op": "replace", "path": "/details/dealValue", "value": 66666}])
    later = world.referral(referral_id)

    assert deleted.action == "opportunity deleted: unlinked"
    assert later.outcome is Outcome.SKIPPED and "not re-created" in later.action
    assert world.sf.opportunities == {} and world.pc.referrals[referral_id]["details"]["dealValue"] == 66666
    link = world.links.get(referral_id)
    assert link is not None and link.last_outcome == "deleted"

    world.sf.undelete(opportunity_id)
    restored = world.opportunity(opportunity_id)

    assert restored.outcome is Outcome.OK
    assert world.sf.opportunities[opportunity_id]["Amount"] == 66666


def test_with_recreate_a_deleted_opportunity_comes_back_on_the_next_change() -> None:
    world = World(on_opportunity_deleted="recreate")
    referral_id, opportunity_id = world.linked_pair()
    world.sf.delete(opportunity_id)
    world.pc.edit(referral_id, [{"op": "replace", "path": "/details/dealValue", "value": 66666}])

    result = world.referral(referral_id)

    assert result.action == "opportunity created" and result.opportunity_id != opportunity_id
    assert world.sf.opportunities[result.opportunity_id]["Amount"] == 66666


def test_without_a_snapshot_the_newer_record_wins_and_it_is_said(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.links.links.clear()  # link state lost
    world.pc.edit(referral_id, [{"op": "replace", "path": "/details/dealValue", "value": 66666}])
    world.pc.referrals[referral_id]["updatedDateTime"] = "2099-01-01T00:00:00Z"

    result = world.opportunity(opportunity_id)  # the job comes from Salesforce, the referral is newer

    assert world.sf.opportunities[opportunity_id]["Amount"] == 66666
    assert "partner center record was newer" in result.action


def test_a_referral_partner_center_will_not_let_us_read_is_skipped_not_retried(world: World) -> None:
    referral_id = world.pc.add(a_referral(id=REFERRAL))
    del world.pc.referrals[referral_id]

    result = world.referral(referral_id)

    assert result.outcome is Outcome.SKIPPED and "not found" in result.action


def test_an_archived_referral_stops_the_pair_with_a_cross(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.pc.edit(referral_id, [{"op": "replace", "path": "/status", "value": "Archived"}])
    world.sf.edit(opportunity_id, {"Amount": 1.0})

    result = world.opportunity(opportunity_id)
    again = world.opportunity(opportunity_id)

    assert result.outcome is Outcome.FAILED and "Archived" in result.error
    assert world.sf.opportunities[opportunity_id]["Name"].startswith("✖")
    assert (
        again.outcome is Outcome.FAILED and world.pc.referrals[referral_id]["details"]["dealValue"] == 50000
    )


def test_each_partner_center_note_becomes_one_salesforce_note_however_often_it_is_delivered(
    world: World,
) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.sf.edit(opportunity_id, {"Description": "the seller's own description"})
    text = world.pc.referrals[referral_id]["details"].get("notes") or ""
    for note in ("Customer asked for a demo", "Demo booked for Tuesday", "Pricing sent"):
        text = f"{text}\n\n{note}".strip()
        world.pc.edit(referral_id, [{"op": "replace", "path": "/details/notes", "value": text}])
        for _ in range(5):
            world.referral(referral_id)

    ours = [n for n in world.sf.notes[opportunity_id] if n["Title"].startswith("Partner Center note")]
    assert [n["Text"] for n in ours] == [
        "Customer asked for a demo",
        "Demo booked for Tuesday",
        "Pricing sent",
    ]
    assert world.sf.opportunities[opportunity_id]["Description"] == "the seller's own description"


def test_a_seller_note_is_appended_to_the_referral_once(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.pc.edit(referral_id, [{"op": "replace", "path": "/details/notes", "value": "Kick-off done"}])
    world.referral(referral_id)
    world.sf.attach_note(opportunity_id, "Call with CTO", "They want the pilot in Q3", author="Sam Seller")

    first = world.opportunity(opportunity_id)
    again = [world.opportunity(opportunity_id), world.referral(referral_id)]

    notes = world.pc.referrals[referral_id]["details"]["notes"]
    assert (
        notes.startswith("Kick-off done\n\n[") and "Sam Seller" in notes and notes.count("pilot in Q3") == 1
    )
    assert first.direction is Direction.SF_TO_PC and "notes" in first.changed_fields
    assert [r.outcome for r in again] == [Outcome.NOOP, Outcome.NOOP]
    assert len(world.sf.notes[opportunity_id]) == 2  # the PC note and the seller's; nothing echoed back


def test_an_update_from_salesforce_is_pushed_with_if_match_without_reading_the_referral(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.sf.edit(opportunity_id, {"Amount": 75000.0})
    reads, sf_writes = world.pc.reads, len(world.sf.writes)

    world.opportunity(opportunity_id)

    assert world.pc.reads == reads  # no GET: the link's last-seen eTag goes into If-Match
    assert (
        world.pc.sent[-1].headers["If-Match"]
        and world.pc.referrals[referral_id]["details"]["dealValue"] == 75000
    )
    assert len(world.sf.writes) == sf_writes  # nothing to write back: the Audit line waits for the next write


def test_a_referral_changed_since_we_last_saw_it_is_read_fresh_after_the_412(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.pc.edit(
        referral_id, [{"op": "replace", "path": "/details/closingDateTime", "value": "2031-01-31T00:00:00Z"}]
    )
    world.sf.edit(opportunity_id, {"Amount": 75000.0})  # the webhook for the PC change has not run yet

    result = SyncEngine(world.ctx).run(
        SyncJob(kind=RecordKind.OPPORTUNITY, record_id=opportunity_id, source=JobSource.POLL)
    )

    assert result.direction is Direction.BOTH
    assert world.pc.referrals[referral_id]["details"]["dealValue"] == 75000
    assert world.sf.opportunities[opportunity_id]["CloseDate"] == "2031-01-31"


def test_a_referral_id_that_is_not_a_guid_never_reaches_partner_center(world: World) -> None:
    _, opportunity_id = world.linked_pair()
    world.sf.edit(opportunity_id, {F.REFERRAL_ID: "../../engagements", "Amount": 1.0})
    sent, reads = len(world.pc.sent), world.pc.reads

    result = world.opportunity(opportunity_id)

    assert result.outcome is Outcome.FAILED and "not a GUID" in result.error
    assert (len(world.pc.sent), world.pc.reads) == (sent, reads)
    assert world.sf.opportunities[opportunity_id]["Name"].startswith("✖")


def test_microsofts_side_we_may_not_read_is_skipped(world: World) -> None:
    job = SyncJob(
        kind=RecordKind.REFERRAL,
        record_id=REFERRAL,
        source=JobSource.WEBHOOK,
        event="related-referral-updated",
    )

    result = SyncEngine(world.ctx).run(job)  # not in the fake: Partner Center answers 404

    assert result.outcome is Outcome.SKIPPED and "not readable" in result.action


def test_a_size_bucket_never_overwrites_an_employee_count_inside_it(world: World) -> None:
    _, opportunity_id = world.linked_pair()
    account_id = world.sf.opportunities[opportunity_id]["AccountId"]
    world.sf.accounts[account_id]["NumberOfEmployees"] = 120
    opp = world.sf.get_opportunity(opportunity_id)
    assert opp is not None

    apply_salesforce_changes(world.sf, opp, {"customer_size": "51to250employees"}, world.ctx.settings)
    inside = world.sf.accounts[account_id]["NumberOfEmployees"]
    apply_salesforce_changes(world.sf, opp, {"customer_size": "1001to5000employees"}, world.ctx.settings)

    assert inside == 120  # inside the bucket: kept
    assert world.sf.accounts[account_id]["NumberOfEmployees"] == 1001  # outside: the bucket's lower bound


def test_a_pair_with_notes_and_a_description_is_recognised_as_in_sync_without_a_read(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.pc.edit(referral_id, [{"op": "replace", "path": "/details/notes", "value": "Kick-off done"}])
    world.referral(referral_id)
    world.sf.edit(opportunity_id, {"Description": "the seller's own text"})  # not a synced field
    reads = world.pc.reads

    result = world.opportunity(opportunity_id)

    assert result.outcome is Outcome.NOOP and world.pc.reads == reads


def test_the_echo_of_our_own_save_is_recognised_from_the_link_without_a_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    referral_id, opportunity_id = world.linked_pair()
    link = world.links.get(referral_id)
    assert link is not None and link.sf_stamp
    reads: list[str] = []
    read = world.sf.get_opportunity

    def counted(opportunity_id: str) -> dict[str, Any] | None:
        reads.append(opportunity_id)
        return read(opportunity_id)

    monkeypatch.setattr(world.sf, "get_opportunity", counted)

    def poll_job(stamp: str) -> SyncJob:
        return SyncJob(
            kind=RecordKind.OPPORTUNITY, record_id=opportunity_id, source=JobSource.POLL,
            observed_at=parse_stamp(stamp), referral_id=referral_id,
        )  # fmt: skip

    echo = SyncEngine(world.ctx).run(poll_job(link.sf_stamp))
    assert (echo.outcome, reads, world.quiet()[0]) == (Outcome.NOOP, [], len(world.pc.sent))

    world.sf.edit(opportunity_id, {"Amount": 61000.0})  # a later version: somebody else's
    later = parse_stamp(link.sf_stamp) + timedelta(seconds=1)
    world.sf.opportunities[opportunity_id]["SystemModstamp"] = later.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    sent = len(world.pc.sent)
    SyncEngine(world.ctx).run(poll_job(world.sf.opportunities[opportunity_id]["SystemModstamp"]))
    assert reads and len(world.pc.sent) == sent + 1


def test_a_webhook_echo_takes_no_claim_and_a_real_change_reads_the_referral_once(world: World) -> None:
    referral_id, opportunity_id = world.linked_pair()
    claims, reads = world.links.claims, world.pc.reads

    echo = world.referral(referral_id)
    assert echo.outcome is Outcome.NOOP
    assert (world.links.claims, world.pc.reads) == (claims, reads + 1)

    world.pc.edit(referral_id, [{"op": "replace", "path": "/details/dealValue", "value": 71000}])
    change = world.referral(referral_id)
    assert change.direction is Direction.PC_TO_SF
    assert world.sf.opportunities[opportunity_id]["Amount"] == 71000
    assert (world.links.claims, world.pc.reads) == (claims + 1, reads + 2)  # read before the claim, reused


def test_a_referral_read_before_a_sync_saved_its_link_is_read_again_under_the_claim(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    referral_id, opportunity_id = world.linked_pair()
    world.pc.edit(referral_id, [{"op": "replace", "path": "/details/dealValue", "value": 72000}])
    hold = world.links.claim

    @contextmanager
    def another_worker_syncs_first(key: str, *, ttl_seconds: int) -> Iterator[None]:
        # Between our read and our claim, another worker synced a newer Microsoft edit.
        world.pc.edit(referral_id, [{"op": "replace", "path": "/details/dealValue", "value": 73000}])
        link = world.links.get(referral_id)
        assert link is not None
        world.links.save(replace(link, snapshot={**link.snapshot, "deal_value": "73000.00"}))
        world.sf.edit(opportunity_id, {"Amount": 73000.0})
        with hold(key, ttl_seconds=ttl_seconds):
            yield

    monkeypatch.setattr(world.links, "claim", another_worker_syncs_first)
    reads = world.pc.reads
    world.referral(referral_id)

    assert world.pc.reads == reads + 2  # the read before the claim was stale: read again
    assert world.sf.opportunities[opportunity_id]["Amount"] == 73000  # never the stale 72000

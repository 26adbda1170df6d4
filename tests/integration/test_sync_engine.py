"""The sync engine against both simulators over real HTTP and Azurite: each behaviour of the
original connector, exactly once, loop-free and conflict-safe. Jobs are run directly (the local
host's queue semantics are covered in tests/e2e)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from devstack.sf_sim import SalesforceSimulator
from shared.core import salesforce_fields as F
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.partner_center.referral_client import PartnerCenterClient
from shared.store import audit, link_claims, links
from shared.store.audit import Outcome
from shared.sync.job_runner import run_job
from tests.integration.sf_fixtures import engine_profiles  # noqa: F401 - every scenario on each org profile
from tests.integration.sf_helpers import make_client
from tests.integration.sync_fixtures import Sync

pytestmark = pytest.mark.integration


def test_running_the_same_job_again_writes_nothing_anywhere(sync: Sync):
    opp, _ = sync.linked_pair()
    before = sync.writes()
    for _ in range(3):
        assert sync.opportunity(opp).outcome is Outcome.NOOP
    assert sync.writes() == before


def test_a_crash_between_referral_create_and_link_save_never_creates_a_second_referral(
    sync: Sync, monkeypatch: pytest.MonkeyPatch
):
    opp = sync.shared_opportunity()
    real_save = links.save

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("worker died")

    monkeypatch.setattr(links, "save", crash)
    with pytest.raises(RuntimeError):
        sync.opportunity(opp)
    assert len(sync.referrals_for(opp)) == 1
    monkeypatch.setattr(links, "save", real_save)
    result = sync.opportunity(opp)
    assert result.outcome in (Outcome.OK, Outcome.NOOP)
    assert len(sync.referrals_for(opp)) == 1
    assert sync.opp(opp)[F.REFERRAL_ID] == sync.referrals_for(opp)[0]["id"]


def test_a_referral_adopted_after_an_interrupted_create_keeps_the_close_date_and_later_edits(sync: Sync):
    """Creating the opportunity of a referral without a close date also writes that date to Partner
    Center; when that write fails the job is retried with no link yet. The adoption must give
    Partner Center the date (not clear Salesforce's required CloseDate) and keep Microsoft's edits."""
    from shared.errors import TransientError

    sync.pcc.seed(1)
    ref = sync.pcc.referrals()[0]["id"]
    assert "closingDateTime" not in sync.pcc.referral(ref)["details"]
    sync.pcc.set_faults(api=[{"status": 503, "count": 50, "endpoint": "PATCH /referrals/{id}"}])
    with pytest.raises(TransientError):
        sync.referral(ref, "referral-created")
    sync.pcc.clear_faults()
    assert links.get(sync.settings, ref) is None
    [opp] = sync.opps_for(ref)
    sync.sfc.edit_opportunity(opp["Id"], CloseDate="2031-09-03")
    sync.update_referral(ref, [{"op": "replace", "path": "/details/dealValue", "value": 1192095}])

    result = sync.referral(ref)

    assert result.outcome is Outcome.OK, result
    assert sync.opp(opp["Id"])["Amount"] == 1192095
    assert sync.pcc.referral(ref)["details"]["closingDateTime"].startswith("2031-09-03")
    assert sync.opportunity(opp["Id"]).outcome is Outcome.NOOP


def test_a_change_salesforce_refuses_stays_pending_and_is_never_reverted_by_a_poll(sync: Sync):
    opp, ref = sync.linked_pair(amount=1000.0)
    sync.sfc.add_validation_rule("Opportunity", "Amount", 31337, "Amount 31337 needs finance approval")
    sync.update_referral(ref, [{"op": "replace", "path": "/details/dealValue", "value": 31337}])
    assert sync.referral(ref).outcome is Outcome.FAILED
    sync.sfc.edit_opportunity(opp, Description="seller note")  # any edit: the poll picks the opportunity up

    sync.opportunity(opp)

    assert sync.pcc.referral(ref)["details"]["dealValue"] == 31337, "Salesforce's old value went back"
    assert sync.opp(opp)[F.AUDIT].splitlines()[0].split(" ", 2)[2].startswith("✖ Salesforce refused")
    assert "✔ PC→SF deal_value" not in sync.opp(opp)[F.AUDIT], "a refused write was reported as done"
    sync.update_referral(ref, [{"op": "replace", "path": "/details/dealValue", "value": 4242}])
    assert sync.referral(ref).outcome is Outcome.OK
    assert sync.opp(opp)["Amount"] == 4242
    assert "✔" in sync.opp(opp)["Name"]


@pytest.mark.parametrize("crash_on_save", [1, 2], ids=["before-any-write", "after-both-writes"])
def test_a_worker_dying_between_its_writes_and_the_snapshot_save_loses_no_later_edit(
    sync: Sync, monkeypatch: pytest.MonkeyPatch, crash_on_save: int
):
    """Save 1 is the write-ahead intent, save 2 the snapshot: a job killed at either point must not
    turn its own landed write into a "Salesforce edit" that beats Microsoft's next change."""
    opp, ref = sync.linked_pair(amount=1000.0)
    sync.update_referral(ref, [{"op": "replace", "path": "/details/dealValue", "value": 2000}])
    saves = 0

    def dies(real_save: Callable[..., Any]) -> Callable[..., Any]:
        def save(*args: Any, **kwargs: Any) -> Any:
            nonlocal saves
            saves += 1
            if saves == crash_on_save:
                raise RuntimeError("worker killed")
            return real_save(*args, **kwargs)

        return save

    with monkeypatch.context() as patch:  # saves outside a claim, and under the referral's claim
        patch.setattr(links, "save", dies(links.save))
        patch.setattr(link_claims, "save", dies(link_claims.save))
        with pytest.raises(RuntimeError):
            sync.referral(ref)
    assert sync.opp(opp)["Amount"] == (2000 if crash_on_save == 2 else 1000)
    sync.update_referral(ref, [{"op": "replace", "path": "/details/dealValue", "value": 3000}])
    sync.sfc.edit_opportunity(opp, CloseDate="2031-01-31")  # the seller edits too: the poll runs

    assert sync.opportunity(opp).outcome is Outcome.OK
    sync.referral(ref)

    assert sync.pcc.referral(ref)["details"]["dealValue"] == 3000
    assert sync.opp(opp)["Amount"] == 3000
    assert sync.pcc.referral(ref)["details"]["closingDateTime"].startswith("2031-01-31")
    link = links.get(sync.settings, ref)
    assert link is not None and link.pending is None


def test_two_workers_on_the_same_new_opportunity_create_one_referral(sync: Sync, sf_sim: SalesforceSimulator):
    opp = sync.shared_opportunity()
    results: list[Any] = []

    def worker() -> None:
        pc = PartnerCenterClient(sync.settings)
        sf = make_client(sf_sim, sync.settings)
        job = SyncJob(kind=RecordKind.OPPORTUNITY, record_id=opp, source=JobSource.POLL)
        try:
            results.append(run_job(job, settings=sync.settings, pc=pc, sf=sf))
        except Exception as exc:  # noqa: BLE001 - a transient "being synced" is a legitimate answer
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sync.referrals_for(opp)) == 1
    sync.opportunity(opp)  # whatever was retried later
    assert len(sync.referrals_for(opp)) == 1


@pytest.mark.parametrize(
    "setup, reason",
    [
        (dict(contact=False), "contact"),
        (dict(country="Atlantis"), "Atlantis"),
        (dict(amount=0.0), "deal value"),
    ],
    ids=["no-contact-with-help", "unknown-country", "zero-value"],
)
def test_an_invalid_opportunity_gets_a_cross_and_the_reason_and_no_referral(sync: Sync, setup, reason):
    opp = sync.shared_opportunity(**setup)
    result = sync.opportunity(opp)
    assert result.outcome is Outcome.FAILED
    assert reason.lower() in result.error.lower()
    record = sync.opp(opp)
    assert record["Name"].startswith("✖ ")
    assert reason.lower() in record[F.AUDIT].lower()
    assert sync.referrals_for(opp) == []
    failures = [e for e in audit.recent(sync.settings, outcome=Outcome.FAILED) if e.opportunity_id == opp]
    assert failures


def test_a_repeated_failure_is_not_written_again_so_it_cannot_loop(sync: Sync):
    opp = sync.shared_opportunity(contact=False)
    sync.opportunity(opp)
    before = sync.writes()
    assert sync.opportunity(opp).outcome is Outcome.FAILED
    assert sync.writes() == before


def test_fixing_a_failed_opportunity_syncs_it_and_turns_the_cross_into_a_check(sync: Sync):
    opp = sync.shared_opportunity(contact=False)
    sync.opportunity(opp)
    sync.sfc.add_contact(opp)
    assert sync.opportunity(opp).outcome is Outcome.OK
    assert sync.opp(opp)["Name"].startswith("✔ ")
    assert len(sync.referrals_for(opp)) == 1


# --------------------------------------------------------------------------- PC -> SF create (B5)
def test_a_microsoft_referral_becomes_an_on_hold_opportunity_with_account_contact_and_solution(sync: Sync):
    referral = sync.pcc.send_referral()
    result = sync.referral(referral["id"], "referral-created")
    assert result.outcome is Outcome.OK
    [opp] = sync.opps_for(referral["id"])
    assert opp["StageName"] == sync.settings.on_hold_stage_name
    assert opp[F.SYNC] is True
    assert opp["Name"].startswith("✔ ")
    account = sync.sfc.record("Account", opp["AccountId"])
    assert account["Name"] == referral["customerProfile"]["name"]
    roles = sync.sfc.query(
        f"SELECT ContactId FROM OpportunityContactRole WHERE OpportunityId = '{opp['Id']}'"
    )
    assert len(roles) == len(referral["customerProfile"]["team"])
    solutions = sync.sfc.query(f"SELECT Id FROM {F.SOLUTION} WHERE {F.SOLUTION_OPPORTUNITY} = '{opp['Id']}'")
    assert len(solutions) == len(referral["details"]["requirements"]["solutions"])


def test_a_referral_listing_one_person_twice_gets_one_contact_role_each_and_one_primary(sync: Sync):
    team = [
        {"firstName": "Siobhán", "lastName": "Ó Briain", "email": "Siobhan@Fabrikam.example"},
        {"firstName": "Siobhan", "lastName": "O'Brien", "email": "siobhan@fabrikam.example"},
        {"firstName": "Kenji", "lastName": "渡辺", "email": "kenji@fabrikam.example"},
    ]
    referral = sync.pcc.send_referral({"customerProfile": {"team": team}})
    assert sync.referral(referral["id"], "referral-created").outcome is Outcome.OK
    [opp] = sync.opps_for(referral["id"])
    roles = sync.sfc.query(
        f"SELECT Contact.Email, IsPrimary FROM OpportunityContactRole WHERE OpportunityId = '{opp['Id']}'"
    )
    assert sorted(r["Contact"]["Email"].lower() for r in roles) == [
        "kenji@fabrikam.example", "siobhan@fabrikam.example",
    ]  # fmt: skip
    assert [r["IsPrimary"] for r in roles].count(True) == 1
    assert sync.opportunity(opp["Id"]).outcome is Outcome.NOOP


def test_the_same_webhook_three_times_and_out_of_order_creates_one_opportunity(sync: Sync):
    referral = sync.pcc.send_referral()
    for event in ("referral-updated", "referral-created", "referral-created", "related-referral-created"):
        sync.referral(referral["id"], event)
    assert len(sync.opps_for(referral["id"])) == 1


@pytest.mark.parametrize("cosell_only, expected", [(True, 0), (False, 1)])
def test_marketplace_leads_sync_only_when_co_sell_only_is_no(sync: Sync, cosell_only: bool, expected: int):
    settings = sync.settings.model_copy(update={"sync_cosell_only": cosell_only})
    lead = sync.pcc.send_marketplace_lead()
    job = SyncJob(
        kind=RecordKind.REFERRAL, record_id=lead["id"], source=JobSource.WEBHOOK, event="referral-created"
    )
    result = run_job(job, settings=settings, pc=sync.pc, sf=sync.sf)
    assert (result.outcome is Outcome.SKIPPED) is (expected == 0)
    assert len(sync.opps_for(lead["id"])) == expected


# --------------------------------------------------------------------------- accept / decline
def microsoft_referral_on_hold(sync: Sync) -> tuple[str, str]:
    referral = sync.pcc.send_referral()
    sync.referral(referral["id"], "referral-created")
    [opp] = sync.opps_for(referral["id"])
    return opp["Id"], referral["id"]


def test_moving_from_on_hold_to_the_active_stage_accepts_the_referral(sync: Sync):
    opp, ref = microsoft_referral_on_hold(sync)
    sync.sfc.set_stage(opp, sync.settings.active_stage_name)
    sync.opportunity(opp)
    referral = sync.pcc.referral(ref)
    assert (referral["status"], referral["substatus"]) == ("Active", "Accepted")


def test_closing_as_lost_from_on_hold_declines_the_referral(sync: Sync):
    opp, ref = microsoft_referral_on_hold(sync)
    sync.sfc.set_stage(opp, sync.settings.lost_stage_name)
    sync.opportunity(opp)
    referral = sync.pcc.referral(ref)
    assert (referral["status"], referral["substatus"]) == ("Closed", "Declined")


def test_edits_made_on_hold_are_not_pushed_until_the_referral_is_accepted(sync: Sync):
    opp, ref = microsoft_referral_on_hold(sync)
    sync.sfc.edit_opportunity(opp, Amount=777.0)
    sync.opportunity(opp)
    assert sync.pcc.referral(ref)["details"]["dealValue"] != 777
    sync.sfc.set_stage(opp, sync.settings.active_stage_name)
    sync.opportunity(opp)
    referral = sync.pcc.referral(ref)
    assert referral["details"]["dealValue"] == 777
    assert referral["status"] == "Active"


def test_winning_the_deal_closes_the_referral_as_won(sync: Sync):
    opp, ref = sync.linked_pair()
    sync.sfc.set_stage(opp, sync.settings.won_stage_name)
    sync.opportunity(opp)
    referral = sync.pcc.referral(ref)
    assert (referral["status"], referral["substatus"]) == ("Closed", "Won")


# --------------------------------------------------------------------------- updates both ways (B4, B6, B7)
def test_salesforce_edits_flow_to_partner_center_and_their_echo_writes_nothing(sync: Sync):
    opp, ref = sync.linked_pair()
    currency = sync.seller_fields(currency="JPY")
    sync.sfc.edit_opportunity(opp, Amount=99999.99, CloseDate="2031-01-15", **currency)
    assert sync.opportunity(opp).outcome is Outcome.OK
    details = sync.pcc.referral(ref)["details"]
    assert (details["dealValue"], details["currency"]) == (99999.99, "JPY" if currency else "USD")
    assert details["closingDateTime"].startswith("2031-01-15")
    before = sync.writes()
    assert sync.referral(ref).outcome is Outcome.NOOP  # the webhook our PATCH caused
    assert sync.opportunity(opp).outcome is Outcome.NOOP  # the poll our ✔/audit write caused
    assert sync.writes() == before


def test_partner_center_edits_flow_to_salesforce(sync: Sync):
    opp, ref = sync.linked_pair()
    sync.update_referral(ref, [
        {"op": "replace", "path": "/details/dealValue", "value": 4242},
        {"op": "replace", "path": "/name", "value": "Renamed in Partner Center ✔"},
    ])  # fmt: skip
    assert sync.referral(ref).outcome is Outcome.OK
    record = sync.opp(opp)
    assert record["Amount"] == 4242
    assert record["Name"] == "✔ Renamed in Partner Center"


def test_solutions_added_and_removed_in_salesforce_reach_the_referral(sync: Sync):
    opp, ref = sync.linked_pair()
    sync.sfc.add_solution(opp, "SOL-2222-BBB", "Second solution")
    [first] = [
        s
        for s in sync.sfc.query(
            f"SELECT Id, {F.SOLUTION_ID} FROM {F.SOLUTION} WHERE {F.SOLUTION_OPPORTUNITY} = '{opp}'"
        )
        if s[F.SOLUTION_ID] == "SOL-0001"
    ]
    sync.sfc.remove_solution(first["Id"])
    sync.opportunity(opp)
    solutions = sync.pcc.referral(ref)["details"]["requirements"]["solutions"]
    assert [s["id"] for s in solutions] == ["SOL-2222-BBB"]


def test_microsoft_crm_id_and_notes_reach_salesforce_once(sync: Sync):
    opp, ref = sync.linked_pair()
    sync.pcc.accept(ref, "7-CRM0000042")
    sync.pcc.add_note(ref, "Customer wants a workshop.")
    for _ in range(3):
        sync.referral(ref)
    record = sync.opp(opp)
    assert record[F.MSFT_CRM_ID] == "7-CRM0000042"
    assert "workshop" not in (record.get("Description") or "")  # notes arrive as notes, not Description
    notes = sync.sfc.query(
        f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{opp}'"
    )
    assert len(notes) == 1
    assert "workshop" in sync.sfc.note_content(notes[0]["ContentDocumentId"])


def test_a_related_referral_event_syncs_the_linked_deal(sync: Sync):
    opp, ref = sync.linked_pair()
    related = sync.pcc.accept(ref, "7-RELATED001")  # Microsoft's side goes Active; our referral gets the id
    related_id = next(
        r["id"] for r in sync.pcc.referrals()
        if r.get("engagementId") == sync.pcc.referral(ref)["engagementId"] and r["id"] != ref
    )  # fmt: skip
    assert related
    result = sync.referral(related_id, "related-referral-updated")
    assert result.outcome is Outcome.OK
    assert sync.opp(opp)[F.MSFT_CRM_ID] == "7-RELATED001"


def test_both_sides_changing_the_deal_value_is_a_conflict_the_owner_policy_settles(sync: Sync):
    opp, ref = sync.linked_pair()
    sync.sfc.edit_opportunity(opp, Amount=111.0)
    sync.update_referral(ref, [{"op": "replace", "path": "/details/dealValue", "value": 222}])
    result = sync.referral(ref)
    assert result.conflicts and "deal_value" in result.conflicts[0]
    assert sync.pcc.referral(ref)["details"]["dealValue"] == 111  # deal fields belong to Salesforce
    assert sync.opp(opp)["Amount"] == 111


def test_hiding_a_visible_referral_is_refused_with_a_cross_and_partner_center_untouched(sync: Sync):
    opp, ref = sync.linked_pair(help=None, **{F.VISIBILITY: "Visible"})
    before = sync.pcc.referral(ref)
    sync.sfc.edit_opportunity(opp, **{F.VISIBILITY: "Hidden"})
    result = sync.opportunity(opp)
    assert result.outcome is Outcome.FAILED
    assert sync.opp(opp)["Name"].startswith("✖ ")
    after = sync.pcc.referral(ref)
    assert after["consent"]["consentToShareReferralWithMicrosoftSellers"] is True
    assert after["eTag"] == before["eTag"]


def test_a_private_referral_becomes_co_sell_when_help_is_chosen_later(sync: Sync):
    opp, ref = sync.linked_pair(help=None)
    assert sync.pcc.referral(ref)["consent"]["consentToShareReferralWithMicrosoftSellers"] is False
    sync.sfc.edit_opportunity(opp, **{F.HELP: "ProofOfConceptOrDemo"})
    sync.opportunity(opp)
    referral = sync.pcc.referral(ref)
    assert referral["inviteContext"]["assistanceRequestCode"] == "ProofOfConceptOrDemo"
    assert referral["consent"]["consentToShareReferralWithMicrosoftSellers"] is True


# --------------------------------------------------------------------------- faults
def test_throttling_is_retried_honouring_retry_after_and_the_sync_completes(sync: Sync):
    opp, ref = sync.linked_pair()
    sync.pcc.set_faults(
        api=[{"status": 429, "count": 2, "retry_after": 1, "endpoint": "PATCH /referrals/{id}"}]
    )
    sync.sfc.edit_opportunity(opp, Amount=5.0)
    assert sync.opportunity(opp).outcome is Outcome.OK
    assert sync.pcc.referral(ref)["details"]["dealValue"] == 5


def test_a_partner_center_outage_raises_for_the_queue_to_retry_and_audits_it(sync: Sync):
    opp, _ = sync.linked_pair()
    sync.pcc.set_faults(
        api=[
            {"status": 503, "count": 50, "endpoint": endpoint}
            for endpoint in ("GET /referrals/{id}", "PATCH /referrals/{id}")
        ]
    )
    sync.sfc.edit_opportunity(opp, Amount=6.0)
    from shared.errors import TransientError

    with pytest.raises(TransientError):
        sync.opportunity(opp)
    retrying = [e for e in audit.recent(sync.settings, outcome=Outcome.RETRYING) if e.record_id == opp]
    assert retrying
    sync.pcc.clear_faults()
    assert sync.opportunity(opp).outcome is Outcome.OK


def test_a_salesforce_validation_rule_marks_the_opportunity_and_completes_the_job(sync: Sync):
    opp, ref = sync.linked_pair()
    sync.sfc.add_validation_rule("Opportunity", "Amount", 31337, "Amount 31337 needs finance approval")
    sync.update_referral(ref, [{"op": "replace", "path": "/details/dealValue", "value": 31337}])
    result = sync.referral(ref)
    assert result.outcome is Outcome.FAILED
    assert "finance approval" in result.error
    assert "finance approval" in sync.opp(opp)[F.AUDIT]


def test_a_referral_salesforce_refuses_to_create_fails_without_retrying(sync: Sync):
    sync.sfc.add_validation_rule("Opportunity", F.SYNC, True, "Imports are closed this quarter")
    referral = sync.pcc.send_referral()
    result = sync.referral(referral["id"], "referral-created")
    assert result.outcome is Outcome.FAILED
    assert "Imports are closed" in result.error
    assert sync.opps_for(referral["id"]) == []


def test_echo_jobs_read_only_the_side_that_signalled(sync: Sync):
    opp, ref = sync.linked_pair()
    sync.sfc.edit_opportunity(opp, Amount=2024.0)
    sync.opportunity(opp)
    pc_before, sf_before = dict(sync.pc.call_counts), dict(sync.sf.call_counts)
    assert sync.referral(ref).outcome is Outcome.NOOP  # the webhook our PATCH caused
    assert sync.sf.call_counts.get("query", 0) == sf_before.get("query", 0)
    assert sync.opportunity(opp).outcome is Outcome.NOOP  # the poll our Audit/✔ write caused
    gets = sum(v for k, v in sync.pc.call_counts.items() if k.startswith("GET"))
    assert gets == sum(v for k, v in pc_before.items() if k.startswith("GET")) + 1  # only the webhook's GET

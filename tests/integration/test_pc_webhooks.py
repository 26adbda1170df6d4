"""Signed webhooks from the simulator, judged by `receive_event` behind a real HTTP endpoint,
ending as jobs on the Azurite work queue."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from devstack.pc_sim.seller import partner_cosell_referral
from devstack.pc_sim.signing import WebhookSigner
from shared.config import SYNC_QUEUE
from shared.core.referral import Referral
from shared.jobs import JobSource, SyncJob
from shared.partner_center.referral_client import PartnerCenterClient
from shared.partner_center.registration import REFERRAL_EVENTS
from shared.store.storage_clients import queue_client

pytestmark = pytest.mark.integration


def queued_jobs(settings) -> list[SyncJob]:
    client = queue_client(settings, SYNC_QUEUE)
    return [SyncJob.from_message(m.content) for m in client.peek_messages(max_messages=32)]


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


@pytest.fixture
def receiver(pc_storage_settings, clean_queues, pc_control, webhook_receiver):
    running = webhook_receiver(pc_storage_settings)
    pc_control.register_webhook(running.url, [*REFERRAL_EVENTS, "test-created"])
    return running


def test_microsoft_referral_becomes_exactly_one_signed_job(receiver, pc_control, pc_storage_settings):
    sent = pc_control.send_marketplace_lead()
    deliveries = pc_control.wait_for_deliveries()
    assert [(d["eventName"], d["status"], d["attempts"]) for d in deliveries] == [
        ("referral-created", "delivered", 1)
    ]
    jobs = queued_jobs(pc_storage_settings)
    assert len(jobs) == 1
    assert (jobs[0].record_id, jobs[0].event, jobs[0].source) == (
        sent["id"],
        "referral-created",
        JobSource.WEBHOOK,
    )


def test_cosell_referral_also_signals_microsofts_related_referral(receiver, pc_control, pc_storage_settings):
    sent = pc_control.send_referral()
    pc_control.wait_for_deliveries()
    events = sorted((j.event, j.record_id) for j in queued_jobs(pc_storage_settings))
    related = [r for r in pc_control.referrals() if r["organizationId"] == "msft"]
    assert events == [("referral-created", sent["id"]), ("related-referral-created", related[0]["id"])]


def test_seller_actions_signal_updates(receiver, pc_control, pc_storage_settings):
    sent = pc_control.send_referral()
    pc_control.wait_for_deliveries()
    accepted = pc_control.accept(sent["id"], "7-MSX123")
    pc_control.add_note(sent["id"], "Call booked for Tuesday")
    deliveries = pc_control.wait_for_deliveries()
    assert accepted["trackingInfo"]["microsoftMsxId"] == "7-MSX123"
    assert [d["eventName"] for d in deliveries].count("referral-updated") == 2
    assert all(d["status"] == "delivered" for d in deliveries)


def test_unsigned_delivery_is_refused_and_enqueues_nothing(receiver, pc_control, pc_storage_settings):
    pc_control.set_signing(False)
    pc_control.send_marketplace_lead()
    wait_until(lambda: receiver.outcomes)
    assert receiver.statuses()[0] == 401
    assert queued_jobs(pc_storage_settings) == []


def test_forged_signature_is_refused_and_enqueues_nothing(receiver, pc_sim, pc_storage_settings):
    body = (
        b'{"EventName": "referral-created", "ResourceUri": "https://api.partnercenter.microsoft.com/'
        b'engagements/v1/referrals/abc", "ResourceName": "referral", "AuditUri": null, '
        b'"ResourceChangeUtcDate": "2025-02-17T00:05:39Z"}'
    )
    forger = WebhookSigner()
    headers = {
        "Authorization": f"Signature {forger.sign(body)}",
        "x-ms-certificate-url": pc_sim.certificate_url,
        "x-ms-signature-algorithm": "rsa-sha256",
    }
    response = httpx.post(receiver.url, content=body, headers=headers)
    assert response.status_code == 401
    assert queued_jobs(pc_storage_settings) == []


def test_failed_delivery_is_retried_until_accepted(receiver, pc_control, pc_storage_settings):
    receiver.fail_first = 2
    pc_control.send_marketplace_lead()
    deliveries = pc_control.wait_for_deliveries()
    assert deliveries[0]["attempts"] == 3
    assert [r["responseCode"] for r in deliveries[0]["results"]] == [500, 500, 202]
    assert len(queued_jobs(pc_storage_settings)) == 1


def test_duplicated_delivery_yields_jobs_for_the_same_referral(receiver, pc_control, pc_storage_settings):
    pc_control.set_faults(webhooks={"duplicate_count": 1, "duplicate_times": 3})
    sent = pc_control.send_marketplace_lead()
    pc_control.wait_for_deliveries()
    assert [j.record_id for j in queued_jobs(pc_storage_settings)] == [sent["id"]] * 3


def test_dropped_delivery_never_arrives(receiver, pc_control, pc_storage_settings):
    pc_control.set_faults(webhooks={"drop_count": 1})
    pc_control.send_marketplace_lead()
    kept = pc_control.send_marketplace_lead()
    deliveries = pc_control.wait_for_deliveries()
    assert [d["status"] for d in deliveries] == ["dropped", "delivered"]
    assert [j.record_id for j in queued_jobs(pc_storage_settings)] == [kept["id"]]


def test_reordered_deliveries_arrive_shuffled(receiver, pc_control):
    pc_control.set_faults(seed=3, webhooks={"reorder_batch": 4})
    sent = [pc_control.send_marketplace_lead()["id"] for _ in range(4)]
    pc_control.wait_for_deliveries()
    arrived = [o.event.referral_id for o in receiver.outcomes if o.event]
    assert sorted(arrived) == sorted(sent)
    assert arrived != sent


def test_delayed_delivery_arrives_late(receiver, pc_control):
    pc_control.set_faults(webhooks={"delay_seconds": 0.4})
    started = time.monotonic()
    pc_control.send_marketplace_lead()
    time.sleep(0.2)
    assert receiver.outcomes == []
    pc_control.wait_for_deliveries()
    assert time.monotonic() - started >= 0.4
    assert receiver.statuses() == [202]


def test_partner_cosell_accepted_by_microsoft_signals_both_sides(receiver, pc_control, pc_storage_settings):
    with PartnerCenterClient(pc_storage_settings) as client:
        created = client.create_referral(Referral.model_validate(partner_cosell_referral("006ACCEPT")))
        pc_control.accept(created.id or "", "7-ACCEPTED")
        pc_control.wait_for_deliveries()
        refreshed = client.get_referral(created.id or "")
        microsoft_side = [
            r for r in client.related_referrals(created.engagement_id or "") if r.id != created.id
        ]
    assert refreshed.tracking_info and refreshed.tracking_info.microsoft_msx_id == "7-ACCEPTED"
    assert (microsoft_side[0].status, microsoft_side[0].substatus) == ("Active", "Accepted")
    events = [(j.event, j.record_id) for j in queued_jobs(pc_storage_settings)]
    assert sorted(events) == sorted(
        [
            ("referral-created", created.id),
            ("related-referral-created", microsoft_side[0].id),
            ("related-referral-updated", microsoft_side[0].id),
            ("referral-updated", created.id),
        ]
    )


def test_upgrading_a_private_deal_to_cosell_opens_microsofts_side(receiver, pc_control, pc_storage_settings):
    private = Referral.model_validate(
        partner_cosell_referral("006PRIVATE", type="Independent", inviteContext=None)
    )
    private.consent.consent_to_share_referral_with_microsoft_sellers = False  # type: ignore[union-attr]
    with PartnerCenterClient(pc_storage_settings) as client:
        created = client.create_referral(private)
        assert len(client.related_referrals(created.engagement_id or "")) == 1
        client.update_referral(
            created.id or "",
            [
                {"op": "replace", "path": "/type", "value": "Shared"},
                {
                    "op": "replace",
                    "path": "/consent/consentToShareReferralWithMicrosoftSellers",
                    "value": True,
                },
                {"op": "replace", "path": "/inviteContext/assistanceRequestCode", "value": "GeneralOrOther"},
            ],
            etag=created.e_tag,
        )
        assert len(client.related_referrals(created.engagement_id or "")) == 2
    pc_control.wait_for_deliveries()
    assert [j.event for j in queued_jobs(pc_storage_settings)] == [
        "referral-created",
        "referral-updated",
        "related-referral-created",
    ]


# ------------------------------------------------------------------- issue #15: certificate trust
@pytest.mark.parametrize(
    "certificate",
    [
        {"signer": "evil", "path": "/cert/pcnotifications-dispatch.microsoft.com.cer"},  # the allowed path
        {"signer": "evil"},
        {"path": "/elsewhere/pcnotifications-dispatch.microsoft.com.cer"},
        {"query": "sv=2024&sig=x"},
        {"host": "localhost"},
    ],
)
def test_an_untrusted_certificate_or_another_url_is_refused(
    receiver, pc_control, pc_storage_settings, certificate
):
    pc_control.set_certificate(**certificate)
    pc_control.send_marketplace_lead()
    wait_until(lambda: receiver.outcomes)
    assert set(receiver.statuses()) == {401}
    assert queued_jobs(pc_storage_settings) == []


def test_another_port_on_the_allowed_host_is_refused_without_a_fetch(receiver, pc_control, pc_sim):
    pc_control.set_certificate(port=pc_sim.port + 1)
    pc_control.send_marketplace_lead()
    wait_until(lambda: receiver.outcomes)
    assert set(receiver.statuses()) == {401}
    assert receiver.certificates.fetches == 0

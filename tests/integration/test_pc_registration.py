"""Webhook registration against the simulator, including a test event end to end."""

from __future__ import annotations

import time

import pytest

from shared.errors import ConfigError
from shared.partner_center.registration import REFERRAL_EVENTS, TEST_EVENT, WebhookRegistrationClient

pytestmark = pytest.mark.integration

OURS = "https://cosell-sync.example/api/partner-center/events"


@pytest.fixture
def registrations(pc_settings):
    with WebhookRegistrationClient(pc_settings, sleep=lambda _: None) as client:
        yield client


def test_no_registration_reads_as_none(registrations):
    assert registrations.get() is None


def test_register_creates_the_registration_for_the_four_referral_events(registrations, pc_control):
    created = registrations.register(OURS)
    assert created.webhook_url == OURS
    assert created.webhook_events == list(REFERRAL_EVENTS)
    assert created.subscriber_id
    read_back = registrations.get()
    assert read_back is not None and read_back.webhook_events == list(REFERRAL_EVENTS)
    counters = pc_control.counters()
    assert counters["POST /registration"] == 1


def test_registering_again_keeps_events_already_registered_to_our_url(registrations, pc_control):
    registrations.register(OURS, [TEST_EVENT])
    merged = registrations.register(OURS)
    assert merged.webhook_events == [TEST_EVENT, *REFERRAL_EVENTS]
    unchanged = registrations.register(OURS)
    assert unchanged.webhook_events == merged.webhook_events
    assert pc_control.counters()["PUT /registration"] == 1


def test_another_tools_registration_is_not_overwritten_unless_asked(registrations, pc_control):
    pc_control.register_webhook("https://make.powerautomate.example/hook", list(REFERRAL_EVENTS))
    with pytest.raises(ConfigError, match="powerautomate"):
        registrations.register(OURS)
    replaced = registrations.register(OURS, overwrite=True)
    assert replaced.webhook_url == OURS
    assert registrations.get().webhook_url == OURS  # type: ignore[union-attr]


def test_lists_the_available_events(registrations):
    assert set(REFERRAL_EVENTS) | {TEST_EVENT} <= set(registrations.available_events())


def test_test_event_reaches_our_endpoint(registrations, pc_settings, pc_control, webhook_receiver):
    receiver = webhook_receiver(pc_settings, enqueue_jobs=False)
    registrations.register(receiver.url, [*REFERRAL_EVENTS, TEST_EVENT])
    correlation_id = registrations.send_test_event()
    deadline = time.monotonic() + 5
    status = registrations.test_event_status(correlation_id)
    while status["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.02)
        status = registrations.test_event_status(correlation_id)
    assert status["status"] == "completed"
    assert status["results"][0]["responseCode"] == 202
    assert receiver.statuses() == [202]
    assert receiver.outcomes[0].event is None


def test_token_for_the_wrong_audience_is_refused_as_a_config_error(pc_settings, pc_control):
    wrong = pc_settings.model_copy(update={"pc_webhook_resource": pc_settings.pc_referrals_resource})
    with WebhookRegistrationClient(wrong) as client, pytest.raises(ConfigError, match="audience"):
        client.get()
    assert pc_control.counters()["POST /token"] == 2

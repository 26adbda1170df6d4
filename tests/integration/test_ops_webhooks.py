"""register-webhooks and check-webhooks against the Partner Center simulator, with the webhook
function served by the local Functions host, and the webhook_check timer trigger."""

from __future__ import annotations

import json
import time

import pytest

from devstack.ports import free_port
from shared.ops.webhook_health import FOREIGN_ACTION, HEALED_ACTION, UNREGISTERED_ACTION, WANTED_EVENTS
from shared.partner_center.registration import REFERRAL_EVENTS
from shared.store import audit
from shared.triggers import ops_timers as ops_triggers
from shared.triggers import webhook_http as webhook_trigger

pytestmark = pytest.mark.integration

ANOTHER_TOOL = "https://make.powerautomate.example/hooks/cosell"
STAGING = "https://cosell-sync-staging.azurewebsites.example/api/partner-center/events"
FORMER = "https://cosell-sync-old.azurewebsites.example/api/partner-center/events"


@pytest.fixture
def moved(ops_settings):
    """Settings of a deployment whose callback URL changed: FORMER was its URL before."""
    return ops_settings.model_copy(update={"pc_webhook_own_urls": [FORMER]})


@pytest.fixture
def served(ops_settings, functions_host):
    """Settings whose callback URL is the webhook function, running on the local host."""
    port = free_port()
    settings = ops_settings.model_copy(
        update={"pc_webhook_callback_url": f"http://127.0.0.1:{port}/api/partner-center/events"}
    )
    functions_host(webhook_trigger.bp, settings, port=port)
    return settings


def test_register_points_the_referral_events_at_our_function_and_its_test_event_is_answered(
    served, pc_control, cli
):
    result = cli("register-webhooks", "--timeout", "10", settings=served)

    assert result.exit_code == 0, result.output
    registration = pc_control.webhooks()["registration"]
    assert registration["WebhookUrl"] == served.pc_webhook_callback_url
    assert set(REFERRAL_EVENTS) <= set(registration["WebhookEvents"])
    assert "test-created" in registration["WebhookEvents"]
    test_deliveries = [d for d in pc_control.deliveries() if d["eventName"] == "test-created"]
    assert [d["status"] for d in test_deliveries] == ["delivered"]
    assert test_deliveries[0]["results"][-1]["responseCode"] == 202  # what our function answers
    assert "✔ test event" in result.stdout
    for event in WANTED_EVENTS:
        assert event in result.stdout


def test_register_overwrites_another_tools_registration(served, pc_control, cli):
    pc_control.register_webhook(ANOTHER_TOOL, list(REFERRAL_EVENTS))

    result = cli("register-webhooks", "--no-test-event", "--json", settings=served)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["registration"]["state"] == "ok"
    assert pc_control.webhooks()["registration"]["WebhookUrl"] == served.pc_webhook_callback_url


def test_register_fails_in_one_line_when_nothing_answers_the_test_event(ops_settings, pc_control, cli):
    nobody = ops_settings.model_copy(
        update={"pc_webhook_callback_url": f"http://127.0.0.1:{free_port()}/api/partner-center/events"}
    )

    result = cli("register-webhooks", "--timeout", "0.5", settings=nobody)

    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "not answered" in result.stderr


def test_check_heals_a_registration_left_on_a_former_url_of_ours_and_audits_it(moved, pc_control, cli):
    pc_control.register_webhook(FORMER, list(REFERRAL_EVENTS))

    result = cli("check-webhooks", "--json", settings=moved)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["before"]["state"] == "former"
    assert report["before"]["registered_url"] == FORMER
    assert report["before"]["heal"] == "re-register"
    assert report["healed"] is True
    assert pc_control.webhooks()["registration"]["WebhookUrl"] == moved.pc_webhook_callback_url
    healed = [e for e in audit.recent(moved, days=1) if e.action == HEALED_ACTION]
    assert len(healed) == 1
    assert FORMER in healed[0].error


@pytest.mark.parametrize("foreign", [ANOTHER_TOOL, STAGING])
def test_check_never_takes_over_a_url_that_is_not_ours_it_alerts_and_status_names_it(
    moved, pc_control, cli, foreign
):
    """Another tool, or our staging deployment on the same tenant (Partner Center has no sandbox)."""
    pc_control.register_webhook(foreign, list(REFERRAL_EVENTS))
    pc_control.reset_counters()

    result = cli("check-webhooks", "--json", settings=moved)

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["healed"] is False
    assert report["before"]["state"] == "elsewhere"
    assert report["before"]["foreign_url"] == foreign
    assert report["before"]["heal"] == "leave"
    assert pc_control.webhooks()["registration"]["WebhookUrl"] == foreign
    assert not {
        k: v for k, v in pc_control.counters().items() if k.endswith("/registration") and "GET" not in k
    }
    alerts = [e for e in audit.recent(moved, days=1) if e.action == FOREIGN_ACTION]
    assert [(e.outcome.value, e.record_id) for e in alerts] == [("failed", foreign)]
    assert foreign in result.stderr
    status = cli("status", "--json", settings=moved)
    webhook = json.loads(status.stdout)["webhook"]
    assert webhook["foreign_url"] == foreign and webhook["state"] == "elsewhere"


def test_check_heals_a_missing_registration(ops_settings, pc_control, cli):
    result = cli("check-webhooks", settings=ops_settings)

    assert result.exit_code == 0, result.output
    assert "healed: no webhook registration" in result.stdout
    assert pc_control.webhooks()["registration"]["WebhookUrl"] == ops_settings.pc_webhook_callback_url


def test_check_leaves_a_healthy_registration_alone(ops_settings, pc_control, cli):
    assert cli("register-webhooks", "--no-test-event", settings=ops_settings).exit_code == 0
    pc_control.reset_counters()

    result = cli("check-webhooks", settings=ops_settings)

    assert result.exit_code == 0, result.output
    assert pc_control.counters().get("PUT /registration", 0) == 0
    assert not [e for e in audit.recent(ops_settings, days=1) if e.action == HEALED_ACTION]


def test_check_without_heal_reports_the_foreign_registration_and_exits_non_zero(
    ops_settings, pc_control, cli
):
    pc_control.register_webhook(ANOTHER_TOOL, list(REFERRAL_EVENTS))

    result = cli("check-webhooks", "--no-heal", settings=ops_settings)

    assert result.exit_code == 1
    assert ANOTHER_TOOL in result.stderr
    assert pc_control.webhooks()["registration"]["WebhookUrl"] == ANOTHER_TOOL


def test_the_daily_timer_heals_a_former_url_and_leaves_a_foreign_one(
    ops_settings, pc_control, functions_host
):
    pc_control.register_webhook(STAGING, list(REFERRAL_EVENTS))
    functions_host(
        ops_triggers.bp, ops_settings, WEBHOOK_CHECK_SCHEDULE="* * * * * *", RECONCILE_SCHEDULE="0 0 0 1 1 *",
        PC_WEBHOOK_OWN_URLS=FORMER,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not any(e.action == FOREIGN_ACTION for e in audit.recent(ops_settings, days=1)):
        assert time.monotonic() < deadline, "the webhook_check timer did not report the foreign registration"
        time.sleep(0.1)
    assert pc_control.webhooks()["registration"]["WebhookUrl"] == STAGING

    pc_control.register_webhook(FORMER, list(REFERRAL_EVENTS))

    deadline = time.monotonic() + 10
    while pc_control.webhooks()["registration"]["WebhookUrl"] != ops_settings.pc_webhook_callback_url:
        assert time.monotonic() < deadline, "the webhook_check timer did not heal the registration"
        time.sleep(0.1)
    # The audit row is written just after the registration PUT answers: give it the same deadline.
    while not any(e.action == HEALED_ACTION for e in audit.recent(ops_settings, days=1)):
        assert time.monotonic() < deadline, "the heal was not audited"
        time.sleep(0.1)


def test_unregister_leaves_no_registration_of_ours_and_leaves_anyone_elses_alone(moved, pc_control, cli):
    assert cli("register-webhooks", "--no-test-event", settings=moved).exit_code == 0

    result = cli("unregister-webhooks", "--json", settings=moved)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] is True
    assert pc_control.webhooks()["registration"] is None
    assert [e.outcome.value for e in audit.recent(moved, days=1) if e.action == UNREGISTERED_ACTION] == ["ok"]
    again = cli("unregister-webhooks", settings=moved)
    assert again.exit_code == 0 and "no registration of ours" in again.stdout

    pc_control.register_webhook(FORMER, list(REFERRAL_EVENTS))  # a former URL of ours: removed too
    assert cli("unregister-webhooks", settings=moved).exit_code == 0
    assert pc_control.webhooks()["registration"] is None

    pc_control.register_webhook(STAGING, list(REFERRAL_EVENTS))  # not ours: kept
    kept = cli("unregister-webhooks", settings=moved)
    assert kept.exit_code == 0 and STAGING in kept.stdout
    assert pc_control.webhooks()["registration"]["WebhookUrl"] == STAGING

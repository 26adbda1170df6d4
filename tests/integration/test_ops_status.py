"""status (tables and --json), and the one-line errors every command gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from shared.config import Settings, load_settings
from shared.errors import ConfigError
from shared.intake.salesforce_poll import WATERMARK as POLL_WATERMARK
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.ops.cli import CliContext, app
from shared.ops.reconcile import WATERMARK as RECONCILE_WATERMARK
from shared.store import audit, job_queue, watermarks
from shared.store.audit import AuditEntry, Direction, Outcome

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_queues")]


def a_job(record_id: str) -> SyncJob:
    return SyncJob(kind=RecordKind.REFERRAL, record_id=record_id, source=JobSource.WEBHOOK)


def test_status_json_reports_queues_watermarks_last_syncs_failures_and_webhooks(
    ops_settings, pc_control, cli
):
    now = datetime.now(UTC)
    job_queue.enqueue(ops_settings, [a_job("r1"), a_job("r2")])
    job_queue.poison_raw(ops_settings, a_job("r3").to_message())
    watermarks.advance(ops_settings, POLL_WATERMARK, now - timedelta(minutes=2))
    watermarks.advance(ops_settings, RECONCILE_WATERMARK, now - timedelta(minutes=30))
    synced_at = now - timedelta(minutes=5)
    audit.write(ops_settings, AuditEntry("t1", "synced", Outcome.OK, Direction.SF_TO_PC, at=synced_at))
    audit.write(ops_settings, AuditEntry("t2", "opportunity created", Outcome.OK, Direction.PC_TO_SF, at=now))
    audit.write(
        ops_settings,
        AuditEntry("t3", "sync failed", Outcome.FAILED, Direction.SF_TO_PC, opportunity_id="006X",
                   error="the deal value must be greater than 0"),
    )  # fmt: skip
    pc_control.register_webhook("https://elsewhere.example/hook", ["referral-created"])

    result = cli("status", "--json")

    assert result.exit_code == 1, result.output  # degraded: a poisoned job, webhooks elsewhere
    status = json.loads(result.stdout)
    assert status["health"]["verdict"] == "degraded"
    assert status["health"]["poisoned_by_cause"] == {"other": 1}
    assert status["queues"] == {"sync-jobs": 2, "sync-jobs-poison": 1}
    assert 110 <= status["watermarks"][POLL_WATERMARK]["lag_seconds"] <= 180
    assert 1790 <= status["watermarks"][RECONCILE_WATERMARK]["lag_seconds"] <= 1860
    assert datetime.fromisoformat(status["last_success"]["sf_to_pc"]) == synced_at
    assert datetime.fromisoformat(status["last_success"]["pc_to_sf"]) == now
    assert [(f["outcome"], f["record"], f["error"]) for f in status["failures"]] == [
        ("failed", "006X", "the deal value must be greater than 0"),
        ("poisoned", "r3", ""),
    ]
    assert status["webhook"]["state"] == "elsewhere"
    assert status["webhook"]["points_at_us"] is False


def test_status_tables_show_the_webhook_problem(ops_settings, pc_control, cli):
    result = cli("status")

    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("⚠ degraded: webhooks: no webhook registration")
    for title in ("Queues", "Watermarks", "Last successful sync"):
        assert title in result.stdout
    assert "✖ webhooks: no webhook registration" in result.stdout


def test_status_still_reports_when_partner_center_refuses_our_credentials(ops_settings, pc_control, cli):
    wrong = ops_settings.model_copy(update={"pc_refresh_token": SecretStr("expired")})

    status = json.loads(cli("status", "--json", settings=wrong).stdout)

    assert "refresh token" in status["webhook"]["error"]
    assert status["queues"]["sync-jobs"] == 0


def test_a_credential_problem_is_one_line_naming_the_settings_to_fix(ops_settings, pc_control, cli):
    wrong = ops_settings.model_copy(update={"pc_refresh_token": SecretStr("expired")})

    result = cli("reconcile", settings=wrong)

    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith("configuration error:") and "PC_REFRESH_TOKEN" in line
    assert ops_settings.pc_client_secret.get_secret_value() not in result.output


def test_an_invalid_app_setting_is_one_line_and_exit_code_2(monkeypatch):
    monkeypatch.setenv("CHECK_MARK_IN_NAME", "maybe")

    def load() -> Settings:
        return load_settings()

    result = CliRunner().invoke(app, ["status"], obj=CliContext(load=load))

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "configuration error: invalid app settings: setting CHECK_MARK_IN_NAME: Value error, "
        "must be Yes or No"
    )
    with pytest.raises(ConfigError):
        load()


def test_backfill_refuses_a_date_it_cannot_read(cli):
    result = cli("backfill", "--since", "last tuesday")

    assert result.exit_code == 2
    assert "not a date like 2025-01-31" in result.stderr


def test_status_shows_salesforce_api_use_and_our_share(ops_settings, cli):
    from shared.store import api_usage

    api_usage.add(ops_settings, datetime.now(UTC).date(), 120)

    result = cli("status", "--json")

    assert result.exit_code in (0, 1), result.output  # 1: degraded (no webhook registered here)
    use = json.loads(result.stdout)["salesforce_api_use"]
    assert use["allocated"] > 0 and use["org_used"] is not None
    assert use["ours"] >= 120
    assert use["our_share_percent"] == pytest.approx(100 * use["ours"] / use["allocated"])
    text = cli("status").stdout
    assert "Salesforce API use today: org" in text and "cosell-sync" in text


def _register_ours(ops_settings, pc_control) -> None:
    from shared.partner_center.registration import REFERRAL_EVENTS

    pc_control.register_webhook(ops_settings.pc_webhook_callback_url, [*REFERRAL_EVENTS, "test-created"])


def test_status_is_healthy_and_exits_0_when_nothing_waits(ops_settings, pc_control, cli):
    _register_ours(ops_settings, pc_control)
    result = cli("status")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("✔ healthy")
    assert "Latest failures: none" in result.stdout


def test_status_fails_naming_the_cause_while_a_revoked_token_poisons_jobs_and_is_healthy_after_replay(
    ops_settings, pc_control, cli
):
    _register_ours(ops_settings, pc_control)
    revoked = (
        "partner-center-auth 400: token request for https://api.partner.microsoft.com refused: AADSTS50173:"
        " The provided grant has expired due to it being revoked"
    )
    jobs = [a_job(f"ref-{n}") for n in range(3)]
    for job in jobs:
        job_queue.poison_raw(ops_settings, job.to_message())
        audit.write(ops_settings, AuditEntry(job.trace_id, "sync", Outcome.RETRYING, error=revoked))
    retrying = a_job("ref-r")
    audit.write(ops_settings, AuditEntry(retrying.trace_id, "sync", Outcome.RETRYING, error=revoked))

    result = cli("status", "--json")
    assert result.exit_code == 1, result.output
    status = json.loads(result.stdout)
    health = status["health"]
    assert sum(f["outcome"] == "poisoned" for f in status["failures"]) == 3  # among the latest failures
    assert health["verdict"] == "failing"
    assert health["poisoned_by_cause"] == {"partner-center credentials": 3}
    assert health["retrying_by_cause"] == {"partner-center credentials": 1}
    assert "AADSTS50173" in health["config_error"]["error"]
    assert "PC_REFRESH_TOKEN" in health["config_error"]["fix"]
    text = cli("status")
    assert text.exit_code == 1
    assert text.stdout.startswith("✖ failing: configuration: partner-center credentials")
    assert "fix: check PC_CLIENT_ID" in text.stdout

    assert cli("replay", "--all").exit_code == 0
    for job in [*jobs, retrying]:  # the replayed jobs (and the retried one) now succeed
        audit.write(ops_settings, AuditEntry(job.trace_id, "synced", Outcome.OK, Direction.PC_TO_SF))
    after = cli("status", "--json")
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout)["health"]["verdict"] == "healthy"


def test_status_without_a_storage_setting_fails_at_once_with_exit_2(ops_settings, cli):
    import time

    started = time.monotonic()
    result = cli("status", settings=ops_settings.model_copy(update={"storage_connection": None}))
    assert result.exit_code == 2
    assert "AzureWebJobsStorage" in result.output
    assert time.monotonic() - started < 5

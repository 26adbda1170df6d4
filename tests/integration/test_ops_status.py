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

    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["queues"] == {"sync-jobs": 2, "sync-jobs-poison": 1}
    assert 110 <= status["watermarks"][POLL_WATERMARK]["lag_seconds"] <= 180
    assert 1790 <= status["watermarks"][RECONCILE_WATERMARK]["lag_seconds"] <= 1860
    assert datetime.fromisoformat(status["last_success"]["sf_to_pc"]) == synced_at
    assert datetime.fromisoformat(status["last_success"]["pc_to_sf"]) == now
    assert [(f["record"], f["error"]) for f in status["failures"]] == [
        ("006X", "the deal value must be greater than 0")
    ]
    assert status["webhook"]["state"] == "elsewhere"
    assert status["webhook"]["points_at_us"] is False


def test_status_tables_show_the_webhook_problem(ops_settings, pc_control, cli):
    result = cli("status")

    assert result.exit_code == 0, result.output
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
    from shared.store import api_usage  # noqa: PLC0415 - only this test needs it

    api_usage.add(ops_settings, datetime.now(UTC).date(), 120)

    result = cli("status", "--json")

    assert result.exit_code == 0, result.output
    use = json.loads(result.stdout)["salesforce_api_use"]
    assert use["allocated"] > 0 and use["org_used"] is not None
    assert use["ours"] >= 120
    assert use["our_share_percent"] == pytest.approx(100 * use["ours"] / use["allocated"])
    text = cli("status").stdout
    assert "Salesforce API use today: org" in text and "cosell-sync" in text

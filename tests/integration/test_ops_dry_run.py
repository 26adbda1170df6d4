"""dry-run prints exactly the Partner Center request the engine then sends, and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from devstack.sf_sim import SalesforceSimControl, loopback_session
from shared.core import salesforce_fields as F
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.partner_center.referral_client import PartnerCenterClient
from shared.salesforce.salesforce_client import SalesforceClient
from shared.sync.job_runner import run_job

pytestmark = pytest.mark.integration
PC_WRITES = ("POST /referrals", "PATCH /referrals/{id}")
SF_WRITES = ("create", "update", "upsert", "delete", "composite")


class RecordingTransport(httpx.HTTPTransport):
    """A real HTTP transport that remembers what it sent (method, path, headers, JSON body)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if "/referrals" in request.url.path:
            if_match = request.headers.get("if-match")
            payload = json.loads(body) if body else None
            self.sent.append(
                {"method": request.method, "path": request.url.path, "if_match": if_match, "body": payload}
            )
        return super().handle_request(request)


def shared_opportunity(sf_control: SalesforceSimControl, *, with_solution: bool = True) -> str:
    account = sf_control.create_account(
        "Contoso Ltd", BillingCountry="United States", BillingPostalCode="98052"
    )
    values: dict[str, Any] = {"CurrencyIsoCode": "USD", F.HELP: "CustomerTechnicalArchitecture"}
    opp = sf_control.create_opportunity(
        "Contoso - Azure migration", stage="Qualification", amount=50000.0, account_id=account, **values
    )
    sf_control.add_contact(opp, account_id=account)
    if with_solution:
        sf_control.add_solution(opp)
    sf_control.set_sync(opp, True)
    return str(opp)


def writes(pc_control, sf_control) -> tuple[int, int]:
    pc = sum(v for k, v in pc_control.counters().items() if k in PC_WRITES)
    sf = sum(v for k, v in sf_control.counters().items() if k in SF_WRITES)
    return pc, sf


def run_engine(settings, sf_sim, opportunity_id: str) -> RecordingTransport:
    transport = RecordingTransport()
    pc = PartnerCenterClient(settings, transport=transport, sleep=lambda _: None)
    sf = SalesforceClient(settings, session=loopback_session(sf_sim.port), sleep=lambda _: None)
    job = SyncJob(kind=RecordKind.OPPORTUNITY, record_id=opportunity_id, source=JobSource.MANUAL)
    run_job(job, settings=settings, pc=pc, sf=sf)
    return transport


def test_dry_run_of_a_new_opportunity_prints_the_create_the_engine_then_sends(
    ops_settings, pc_control, sf_control, sf_sim, cli
):
    opp = shared_opportunity(sf_control)
    pc_control.reset_counters()
    sf_control.reset_counters()

    result = cli("dry-run", opp, "--json")

    assert result.exit_code == 0, result.output
    assert writes(pc_control, sf_control) == (0, 0)
    planned = json.loads(result.stdout)
    assert planned["action"] == "create referral"
    sent = [r for r in run_engine(ops_settings, sf_sim, opp).sent if r["method"] == "POST"]
    assert sent == [{"method": "POST", "path": planned["request"]["path"], "if_match": None,
                     "body": planned["request"]["body"]}]  # fmt: skip


def test_dry_run_of_an_edited_linked_opportunity_prints_the_patch_the_engine_then_sends(
    ops_settings, pc_control, sf_control, sf_sim, cli
):
    opp = shared_opportunity(sf_control)
    run_engine(ops_settings, sf_sim, opp)
    sf_control.edit_opportunity(opp, Amount=75000.0, CloseDate="2031-01-31")
    pc_control.reset_counters()
    sf_control.reset_counters()

    result = cli("dry-run", opp)
    planned = json.loads(cli("dry-run", opp, "--json").stdout)

    assert result.exit_code == 0, result.output
    assert writes(pc_control, sf_control) == (0, 0)
    assert planned["action"] == "update referral"
    assert f"PATCH {planned['request']['path']}" in result.stdout
    sent = [r for r in run_engine(ops_settings, sf_sim, opp).sent if r["method"] == "PATCH"]
    request = planned["request"]
    assert sent == [{"method": "PATCH", "path": request["path"], "if_match": request["headers"]["If-Match"],
                     "body": request["body"]}]  # fmt: skip


def test_dry_run_prints_validation_errors_and_exits_non_zero(ops_settings, pc_control, sf_control, cli):
    opp = shared_opportunity(sf_control, with_solution=False)

    result = cli("dry-run", opp)

    assert result.exit_code == 1
    assert "solution is required" in result.stdout
    assert writes(pc_control, sf_control) == (0, 0)


def test_dry_run_of_an_unknown_opportunity_fails_in_one_line(ops_settings, cli):
    result = cli("dry-run", "006000000000000AAA")

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: opportunity 006000000000000AAA not found"

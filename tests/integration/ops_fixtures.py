"""Fixtures for the operations tests: Settings on Azurite pointed at both simulators, the CLI with
clients reaching them, and a helper to run queued jobs through the real engine (loaded for every
integration test by `conftest.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest
from typer.testing import CliRunner, Result

from devstack.host import LocalFunctionsHost
from devstack.pc_sim import PartnerCenterSimulator
from devstack.sf_sim import SalesforceSimulator, loopback_session
from shared.config import SYNC_QUEUE, Settings, get_settings, load_settings
from shared.jobs import SyncJob
from shared.ops.cli import CliContext, app
from shared.ops.ops_clients import OpsClients
from shared.partner_center.referral_client import PartnerCenterClient
from shared.salesforce.salesforce_client import SalesforceClient
from shared.store.storage_clients import queue_client
from shared.sync.context import SyncResult
from shared.sync.job_runner import run_job


@pytest.fixture
def ops_settings(pc_storage_settings: Settings, sf_sim: SalesforceSimulator, sf_control: Any) -> Settings:
    """Azurite (unique tables) + Partner Center simulator + Salesforce simulator."""
    values = {name: getattr(pc_storage_settings, name) for name in Settings.model_fields}
    return load_settings(**{**values, **sf_sim.settings_overrides()})


@pytest.fixture
def make_clients(sf_sim: SalesforceSimulator) -> Callable[[Settings], OpsClients]:
    def build(settings: Settings) -> OpsClients:
        return OpsClients(
            settings,
            make_sf=lambda s: SalesforceClient(
                s, session=loopback_session(sf_sim.port), sleep=lambda _: None
            ),
        )

    return build


@pytest.fixture
def ops_clients(
    ops_settings: Settings, make_clients: Callable[[Settings], OpsClients]
) -> Iterator[OpsClients]:
    with make_clients(ops_settings) as clients:
        yield clients


@pytest.fixture
def cli(ops_settings: Settings, make_clients: Callable[[Settings], OpsClients]) -> Callable[..., Result]:
    """Run `python -m shared.ops ARGS` in-process against the simulators: `cli("status", "--json")`."""
    runner = CliRunner()

    def invoke(*args: str, settings: Settings | None = None) -> Result:
        chosen = settings or ops_settings
        context = CliContext(load=lambda: chosen, make_clients=make_clients)
        return runner.invoke(app, list(args), obj=context)

    return invoke


def drain_jobs(settings: Settings, *, limit: int = 1000) -> list[SyncJob]:
    """Take every job off the work queue (without running it)."""
    queue = queue_client(settings, SYNC_QUEUE)
    jobs: list[SyncJob] = []
    while len(jobs) < limit:
        page = list(queue.receive_messages(max_messages=32, visibility_timeout=60))
        if not page:
            return jobs
        for message in page:
            jobs.append(SyncJob.from_message(message.content))
            queue.delete_message(message)
    return jobs


@pytest.fixture
def run_queued(
    ops_settings: Settings, pc_sim: PartnerCenterSimulator, sf_sim: SalesforceSimulator
) -> Callable[[], list[SyncResult]]:
    """Run every queued job through the real engine, as the worker would; returns the results."""
    pc = PartnerCenterClient(ops_settings, sleep=lambda _: None)
    sf = SalesforceClient(ops_settings, session=loopback_session(sf_sim.port), sleep=lambda _: None)

    def run() -> list[SyncResult]:
        return [run_job(job, settings=ops_settings, pc=pc, sf=sf) for job in drain_jobs(ops_settings)]

    return run


def app_settings(settings: Settings, **extra: str) -> dict[str, str]:
    """The app settings (environment variables) the function app reads, from a Settings object."""
    environ = {
        "AzureWebJobsStorage": settings.storage_connection or "",
        "LINKS_TABLE": settings.links_table,
        "WATERMARKS_TABLE": settings.watermarks_table,
        "AUDIT_TABLE": settings.audit_table,
        "PC_API_BASE_URL": settings.pc_api_base_url,
        "PC_WEBHOOK_API_BASE_URL": settings.pc_webhook_api_base_url,
        "PC_TOKEN_URL": settings.pc_token_url,
        "PC_CLIENT_ID": settings.pc_client_id,
        "PC_CLIENT_SECRET": settings.pc_client_secret.get_secret_value(),
        "PC_REFRESH_TOKEN": settings.pc_refresh_token.get_secret_value(),
        "PC_WEBHOOK_CERT_HOSTS": ",".join(settings.pc_webhook_cert_hosts),
        "PC_WEBHOOK_TEST_TRUST_ANCHOR_PEM": settings.pc_webhook_test_trust_anchor_pem,
        "PC_TENANT_ID": settings.pc_tenant_id,
        "PC_WEBHOOK_CALLBACK_URL": settings.pc_webhook_callback_url,
    }
    return {**environ, **extra}


@pytest.fixture
def functions_host(monkeypatch) -> Iterator[Callable[..., LocalFunctionsHost]]:
    """Serve a blueprint on the local Functions host with `settings` as its app settings."""
    started: list[LocalFunctionsHost] = []

    def start(blueprint: func.Blueprint, settings: Settings, *, port: int | None = None, **extra: str):
        environ = app_settings(settings, **extra)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
        app.register_functions(blueprint)
        host = LocalFunctionsHost(app, environ=environ, http_port=port).start()
        started.append(host)
        return host

    yield start
    for host in started:
        host.stop()
    get_settings.cache_clear()

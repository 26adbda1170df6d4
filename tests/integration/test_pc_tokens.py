"""Refresh tokens that live as long as the consent (issue #15), against the simulator's identity
platform (rotation, lifetime, revocation, a controllable clock) and Azurite's Table Storage."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared import api_clients
from shared.config import Settings, load_settings
from shared.errors import ConfigError
from shared.partner_center import token_health
from shared.partner_center.tokens import RefreshTokenProvider
from shared.store.token_cache import TableTokenStore

pytestmark = pytest.mark.integration

AUD = "https://api.partner.microsoft.com"
HOUR = 3600.0


@pytest.fixture
def store(pc_storage_settings: Settings) -> TableTokenStore:
    return TableTokenStore(pc_storage_settings, table_name=f"PcTok{uuid.uuid4().hex[:12]}")


def provider(settings: Settings, store: TableTokenStore | None) -> RefreshTokenProvider:
    return RefreshTokenProvider(settings, store=store, persist_every_seconds=0)


def redeem(settings: Settings, store: TableTokenStore | None) -> str:
    tokens = provider(settings, store)
    try:
        return tokens.token(AUD)
    finally:
        tokens.close()


def test_a_rotated_token_survives_restarts_past_the_original_tokens_lifetime(
    pc_storage_settings, pc_control, store
):
    pc_control.configure_identity(single_tenant=True, refresh_token_lifetime_seconds=HOUR)
    redeem(pc_storage_settings, store)  # process 1: rotates, writes the new token back
    pc_control.advance_clock(0.8 * HOUR)
    redeem(pc_storage_settings, store)  # process 2 (cold start): the stored token, rotated again
    pc_control.advance_clock(0.8 * HOUR)  # the consent's original token and the first rotation expired

    assert redeem(pc_storage_settings, store)  # process 3 still gets tokens
    with pytest.raises(ConfigError, match="AADSTS700082"):
        redeem(pc_storage_settings, None)  # what every cold start did before: the original token
    stored = store.load()
    assert stored is not None and stored.value == pc_control.identity()["latest_refresh_token"]


def test_two_instances_rotating_at_once_lose_nothing(pc_storage_settings, pc_control, store):
    pc_control.configure_identity(refresh_token_lifetime_seconds=HOUR)
    providers = [provider(pc_storage_settings, store) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(tokens: RefreshTokenProvider) -> None:
        barrier.wait()
        try:
            tokens.token(AUD)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = store.load()
    assert stored is not None
    assert stored.issued_at == max(p.refresh_token_issued_at for p in providers)  # type: ignore[type-var]
    pc_control.advance_clock(0.8 * HOUR)
    assert redeem(pc_storage_settings, store)  # the kept token is a live one
    for p in providers:
        p.close()


def test_a_revoked_token_is_a_config_error_recorded_for_status(
    pc_storage_settings, pc_control, store, caplog
):
    redeem(pc_storage_settings, store)
    pc_control.revoke_refresh_tokens()
    with pytest.raises(ConfigError, match="AADSTS50173"):
        redeem(pc_storage_settings, store)
    health = token_health.read_health(store)
    assert health.last_renewal_error and "AADSTS50173" in health.last_renewal_error
    assert any(r.getMessage().startswith(token_health.ALERT) for r in caplog.records)


def test_the_common_authority_is_refused_before_any_request(pc_sim, pc_control):
    settings = load_settings(
        **{**pc_sim.settings_overrides(), "pc_token_url": f"{pc_sim.origin}/common/oauth2/token"}
    )
    with pytest.raises(ConfigError, match="AADSTS50194"):
        redeem(settings, None)
    assert pc_control.counters().get("POST /token", 0) == 0


def test_a_tenant_placeholder_reaches_the_single_tenant_endpoint(pc_sim, pc_control):
    pc_control.configure_identity(single_tenant=True)
    settings = load_settings(
        **{**pc_sim.settings_overrides(), "pc_token_url": pc_sim.origin + "/{tenant}/oauth2/token"}
    )
    assert redeem(settings, None)


@pytest.mark.usefixtures("clean_queues")
def test_status_shows_a_token_about_to_expire(ops_settings, cli):
    store = api_clients.refresh_token_store(ops_settings)
    assert isinstance(store, TableTokenStore)  # the local stack writes the token to Table Storage
    issued = datetime.now(UTC) - timedelta(days=80)
    table = store._client()
    table.delete_entity("partner-center", store.row)
    try:
        store.save("rt-from-80-days-ago", issued)
        result = cli("status", "--json")
        assert result.exit_code == 1, result.output  # degraded (issue #18): the token warning is a reason
        assert any("expires in" in r for r in json.loads(result.stdout)["health"]["reasons"])
        token = json.loads(result.stdout)["refresh_token"]
        assert 9.5 < token["days_left"] < 10.5
        assert token["warnings"] and "expires in" in token["warnings"][0]
    finally:
        table.delete_entity("partner-center", store.row)

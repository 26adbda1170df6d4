"""Refresh tokens outlive the consent (issue #15): the tenant authority, the rotated token written
back and read on a cold start, concurrent rotations keeping the newest, the health `status` and
`doctor` show, and the Key Vault store's REST calls."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from shared.config import Settings, load_settings
from shared.core.refresh_tokens import StoredRefreshToken
from shared.errors import ConfigError
from shared.partner_center import token_health
from shared.partner_center.token_store import KeyVaultTokenStore, MemoryTokenStore
from shared.partner_center.tokens import RefreshTokenProvider, token_endpoint

NOW = datetime(2026, 3, 1, tzinfo=UTC)
AUD = "https://api.partner.microsoft.com"


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "pc_tenant_id": "contoso.onmicrosoft.com",
        "pc_client_id": "app",
        "pc_client_secret": "s",
        "pc_refresh_token": "rt-0",
    }
    return load_settings(**{**values, **overrides})


class Platform:
    """A token endpoint that rotates: each redemption of rt-N returns rt-(N+1)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issued = 0
        self.redeemed: list[str] = []
        self.urls: list[str] = []
        self.refuse: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        with self.lock:
            self.urls.append(str(request.url))
            self.redeemed.append(form["refresh_token"])
            if form["refresh_token"] in self.refuse:
                return httpx.Response(
                    400, json={"error": "invalid_grant", "error_description": "AADSTS700082"}
                )
            self.issued += 1
            return httpx.Response(
                200,
                json={
                    "access_token": f"at-{self.issued}",
                    "refresh_token": f"rt-{self.issued}",
                    "expires_in": 3600,
                },
            )


def provider(
    platform: Platform, store, *, now=lambda: NOW, persist_every: float = 6 * 3600, **overrides
) -> RefreshTokenProvider:
    return RefreshTokenProvider(
        settings(**overrides), transport=httpx.MockTransport(platform), store=store, now=now,
        persist_every_seconds=persist_every,
    )  # fmt: skip


# ------------------------------------------------------------------- authority
def test_the_authority_is_the_tenant_and_common_is_gone():
    assert (
        token_endpoint(settings()) == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/token"
    )
    assert "/common/" not in Settings.model_fields["pc_token_url"].default


@pytest.mark.parametrize(
    "overrides",
    [
        {"pc_tenant_id": ""},
        {"pc_tenant_id": "common"},
        {"pc_tenant_id": "../x"},
        {"pc_token_url": "https://login.microsoftonline.com/common/oauth2/token"},
        {"pc_token_url": "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"},
    ],
)
def test_a_multi_tenant_or_missing_authority_is_a_config_error(overrides):
    with pytest.raises(ConfigError):
        token_endpoint(settings(**overrides))


def test_redemption_goes_to_the_tenant_endpoint():
    platform = Platform()
    provider(platform, None).token(AUD)
    assert platform.urls == ["https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/token"]


# ------------------------------------------------------------------- persistence
def test_a_rotated_token_survives_a_restart():
    platform, store = Platform(), MemoryTokenStore()
    provider(platform, store).token(AUD)
    assert store.current is not None and store.current.value == "rt-1" and store.current.issued_at == NOW

    restarted = provider(platform, store, now=lambda: NOW + timedelta(hours=1))
    restarted.token(AUD)

    assert platform.redeemed == ["rt-0", "rt-1"]  # the cold start redeemed the stored token
    assert restarted.refresh_token_issued_at == NOW + timedelta(hours=1)


def test_rotations_are_written_back_at_most_every_persist_interval():
    platform, store = Platform(), MemoryTokenStore()
    clock = [NOW]
    tokens = provider(platform, store, now=lambda: clock[0])
    for hours in range(8):
        clock[0] = NOW + timedelta(hours=hours)
        tokens.invalidate(AUD)
        tokens.token(AUD)
    assert store.writes == 2  # at 0 h and 6 h
    assert store.current is not None and store.current.issued_at == NOW + timedelta(hours=6)


def test_two_instances_rotating_at_once_keep_the_newest():
    platform, store = Platform(), MemoryTokenStore()
    # Both write (no persist interval); whichever order they land in, the later-issued stays.
    first = provider(platform, store, now=lambda: NOW + timedelta(seconds=2), persist_every=0)
    second = provider(platform, store, now=lambda: NOW + timedelta(seconds=1), persist_every=0)
    barrier = threading.Barrier(2)

    def run(p: RefreshTokenProvider) -> None:
        barrier.wait()
        p.token(AUD)

    threads = [threading.Thread(target=run, args=(p,)) for p in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.current is not None and store.current.issued_at == NOW + timedelta(seconds=2)
    assert store.current.value == first._current.value


def test_a_refused_stored_token_falls_back_to_a_new_consent_in_settings():
    platform, store = Platform(), MemoryTokenStore(StoredRefreshToken("rt-old", NOW - timedelta(days=91)))
    platform.refuse.add("rt-old")
    tokens = provider(platform, store, pc_refresh_token="rt-new-consent")
    assert tokens.token(AUD) == "at-1"
    assert platform.redeemed == ["rt-old", "rt-new-consent"]
    assert store.current is not None and store.current.value == "rt-1"


def test_a_failed_renewal_is_recorded_and_alerted(caplog):
    platform, store = Platform(), MemoryTokenStore()
    platform.refuse.add("rt-0")
    with caplog.at_level(logging.ERROR), pytest.raises(ConfigError):
        provider(platform, store).token(AUD)
    assert store.current is not None and "AADSTS700082" in (store.current.last_renewal_error or "")
    assert any(r.getMessage().startswith(token_health.ALERT) for r in caplog.records)


# ------------------------------------------------------------------- health
def test_health_warns_fourteen_days_before_the_ninety_day_limit():
    fresh = token_health.assess(StoredRefreshToken("x", NOW), now=NOW + timedelta(days=75), store="t")
    assert fresh.days_left == 15 and fresh.warnings == []
    old = token_health.assess(StoredRefreshToken("x", NOW), now=NOW + timedelta(days=77), store="t")
    assert old.days_left == 13 and "expires in 13.0 days" in old.warnings[0]
    assert "13.0 days left" in old.line() and "⚠" in old.line()
    gone = token_health.assess(StoredRefreshToken("x", NOW), now=NOW + timedelta(days=91), store="t")
    assert "expired" in gone.warnings[0]


def test_health_shows_the_last_renewal_failure_until_a_later_success():
    failed = StoredRefreshToken(
        "x", NOW, last_renewal_error="boom", last_renewal_error_at=NOW + timedelta(hours=1)
    )
    assert token_health.assess(failed, now=NOW, store="t").warnings == ["last renewal failed: boom"]
    resolved = StoredRefreshToken(
        "x", NOW, last_renewal_error="boom", last_renewal_error_at=NOW - timedelta(hours=1)
    )
    assert token_health.assess(resolved, now=NOW, store="t").warnings == []
    assert token_health.read_health(None).to_json()["issued_at"] is None


# ------------------------------------------------------------------- key vault over REST
class Vault:
    """Key Vault's secret versions: PUT adds a version (the current one), GET returns the current."""

    def __init__(self) -> None:
        self.versions: list[dict[str, object]] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.url.params["api-version"] == "7.4"
        assert request.headers["Authorization"] == "Bearer kv-token"
        base = "https://kv.vault.azure.net/secrets/pc-refresh-token"
        if request.method == "PUT":
            body = json.loads(request.content)
            bundle = {"value": body["value"], "tags": body["tags"], "id": f"{base}/v{len(self.versions) + 1}"}
            self.versions.append(bundle)
            return httpx.Response(200, json=bundle)
        if request.method == "PATCH":
            version = str(request.url).split("?")[0].rsplit("/", 1)[-1]
            bundle = next(b for b in self.versions if str(b["id"]).endswith(version))
            bundle["tags"] = json.loads(request.content)["tags"]
            return httpx.Response(200, json=bundle)
        if not self.versions:
            return httpx.Response(404, json={"error": {"code": "SecretNotFound"}})
        return httpx.Response(200, json=self.versions[-1])


def test_key_vault_store_writes_versions_tagged_with_issue_time_and_previous():
    vault = Vault()
    store = KeyVaultTokenStore(
        "https://kv.vault.azure.net/", "pc-refresh-token", access_token=lambda: "kv-token",
        transport=httpx.MockTransport(vault),
    )  # fmt: skip
    assert store.load() is None
    assert store.save("rt-1", NOW) and store.save("rt-2", NOW + timedelta(hours=6))
    assert vault.versions[1]["tags"] == {
        "issued_at": (NOW + timedelta(hours=6)).isoformat(),
        "previous": "v1",
    }
    assert not store.save("rt-older", NOW + timedelta(hours=1))  # never replaces a newer token
    loaded = store.load()
    assert loaded is not None and (loaded.value, loaded.version) == ("rt-2", "v2")
    store.record_failure("AADSTS50173 revoked", NOW + timedelta(hours=7))
    failed = store.load()
    assert failed is not None and failed.last_renewal_error == "AADSTS50173 revoked"
    assert failed.issued_at == NOW + timedelta(hours=6)


def test_key_vault_refusal_names_the_missing_permission():
    store = KeyVaultTokenStore(
        "https://kv.vault.azure.net/", "pc-refresh-token", access_token=lambda: "kv-token",
        transport=httpx.MockTransport(lambda r: httpx.Response(403, json={})),
    )  # fmt: skip
    with pytest.raises(ConfigError, match="get/set"):
        store.save("rt", NOW)

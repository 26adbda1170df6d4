"""Refresh-token redemption: caching per resource, expiry, and failures that name the cause."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from shared.config import Settings, load_settings
from shared.errors import ConfigError, TransientError
from shared.partner_center.tokens import RefreshTokenProvider

SECRET = "super-secret-value"
REFRESH = "refresh-token-value"


def settings() -> Settings:
    return load_settings(
        pc_token_url="https://login.example/contoso.onmicrosoft.com/oauth2/token",
        pc_client_id="app-id",
        pc_client_secret=SECRET,
        pc_refresh_token=REFRESH,
    )


class IdentityPlatform:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.forms: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.forms.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        if self.answers:
            return self.answers.pop(0)
        return httpx.Response(200, json={"access_token": f"at-{len(self.forms)}", "expires_in": "3600"})


def provider(platform: IdentityPlatform, clock: Callable[[], float] | None = None) -> RefreshTokenProvider:
    transport = httpx.MockTransport(platform)
    if clock is None:
        return RefreshTokenProvider(settings(), transport=transport)
    return RefreshTokenProvider(settings(), transport=transport, clock=clock)


def test_redeems_the_refresh_token_per_resource_and_caches_it():
    platform = IdentityPlatform()
    tokens = provider(platform)
    assert tokens.token("https://api.partner.microsoft.com") == "at-1"
    assert tokens.token("https://api.partner.microsoft.com") == "at-1"
    assert tokens.token("https://api.partnercenter.microsoft.com") == "at-2"
    assert [f["resource"] for f in platform.forms] == [
        "https://api.partner.microsoft.com",
        "https://api.partnercenter.microsoft.com",
    ]
    assert platform.forms[0]["grant_type"] == "refresh_token"
    assert platform.forms[0]["refresh_token"] == REFRESH


def test_token_is_renewed_before_it_expires():
    now = [0.0]
    platform = IdentityPlatform()
    tokens = provider(platform, clock=lambda: now[0])
    tokens.token("r")
    now[0] = 3600 - 301
    assert tokens.token("r") == "at-1"
    now[0] = 3600 - 299
    assert tokens.token("r") == "at-2"


def test_invalidated_token_is_redeemed_again():
    platform = IdentityPlatform()
    tokens = provider(platform)
    tokens.token("r")
    tokens.invalidate("r")
    assert tokens.token("r") == "at-2"


def test_rotated_refresh_token_is_used_next():
    platform = IdentityPlatform(
        httpx.Response(200, json={"access_token": "a", "expires_in": 3600, "refresh_token": "rotated"})
    )
    tokens = provider(platform)
    tokens.token("r1")
    tokens.token("r2")
    assert platform.forms[1]["refresh_token"] == "rotated"


def test_refused_grant_is_a_config_error_with_the_description_but_not_the_secret(caplog):
    refusal = {
        "error": "invalid_grant",
        "error_description": "AADSTS70000: The provided refresh token is invalid or expired.",
    }
    tokens = provider(IdentityPlatform(httpx.Response(400, json=refusal)))
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as raised:
        tokens.token("r")
    assert "AADSTS70000" in str(raised.value)
    assert raised.value.code == "invalid_grant"
    assert SECRET not in str(raised.value) and REFRESH not in str(raised.value)
    assert SECRET not in caplog.text and REFRESH not in caplog.text


def test_identity_platform_outage_is_transient():
    tokens = provider(IdentityPlatform(httpx.Response(503)))
    with pytest.raises(TransientError):
        tokens.token("r")


def test_missing_credentials_fail_before_any_request():
    platform = IdentityPlatform()
    tokens = RefreshTokenProvider(load_settings(pc_client_id=""), transport=httpx.MockTransport(platform))
    with pytest.raises(ConfigError, match="PC_CLIENT_ID"):
        tokens.token("r")
    assert platform.forms == []

"""Login host arithmetic and the token request of each OAuth flow (pure)."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.config import load_settings
from shared.errors import ConfigError
from shared.salesforce.login import JWT_GRANT, jwt_audience, login_domain, token_request, token_url


@pytest.fixture(scope="module")
def key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    ("url", "domain", "audience"),
    [
        ("https://login.salesforce.com", "login", "https://login.salesforce.com"),
        ("https://test.salesforce.com/", "test", "https://test.salesforce.com"),
        ("https://acme.my.salesforce.com", "acme.my", "https://login.salesforce.com"),
        (
            "https://acme--uat.sandbox.my.salesforce.com",
            "acme--uat.sandbox.my",
            "https://test.salesforce.com",
        ),
        ("ACME.my.salesforce.com", "acme.my", "https://login.salesforce.com"),
        # a sandbox My Domain without enhanced domains, a scratch org, a Developer Edition org
        ("https://acme--uat.my.salesforce.com", "acme--uat.my", "https://test.salesforce.com"),
        (
            "https://site-ability-1234-dev-ed.scratch.my.salesforce.com",
            "site-ability-1234-dev-ed.scratch.my",
            "https://test.salesforce.com",
        ),
        (
            "https://acme-dev-ed.develop.my.salesforce.com",
            "acme-dev-ed.develop.my",
            "https://login.salesforce.com",
        ),
    ],
)
def test_login_host_decides_domain_and_audience(url, domain, audience):
    assert login_domain(url) == domain
    assert jwt_audience(url) == audience


def test_a_non_salesforce_login_host_is_a_config_error():
    with pytest.raises(ConfigError):
        login_domain("https://example.com")


def test_jwt_assertion_claims(key_pem):
    settings = load_settings(
        sf_auth_mode="jwt",
        sf_client_id="key",
        sf_username="u@x",
        sf_private_key=key_pem,
        sf_login_url="https://test.salesforce.com",
    )
    form, basic = token_request(settings, now=1_700_000_000)
    assert basic is None and form["grant_type"] == JWT_GRANT
    claims = jwt.decode(form["assertion"], options={"verify_signature": False})
    assert claims == {"iss": "key", "sub": "u@x", "aud": "https://test.salesforce.com", "exp": 1_700_000_180}
    assert token_url(settings) == "https://test.salesforce.com/services/oauth2/token"


def test_jwt_with_a_broken_key_is_a_config_error():
    settings = load_settings(sf_client_id="key", sf_username="u@x", sf_private_key="not a key")
    with pytest.raises(ConfigError, match="SF_PRIVATE_KEY"):
        token_request(settings, now=0)


def test_client_credentials_uses_basic_auth_and_needs_my_domain():
    settings = load_settings(
        sf_auth_mode="client_credentials",
        sf_client_id="k",
        sf_client_secret="s",
        sf_login_url="https://acme.my.salesforce.com",
    )
    assert token_request(settings, now=0) == ({"grant_type": "client_credentials"}, ("k", "s"))
    with pytest.raises(ConfigError, match="My Domain"):
        token_request(settings.model_copy(update={"sf_login_url": "https://login.salesforce.com"}), now=0)


def test_password_grant_appends_the_security_token():
    settings = load_settings(
        sf_auth_mode="password",
        sf_client_id="k",
        sf_client_secret="s",
        sf_username="u",
        sf_password="pw",
        sf_security_token="TOK",
    )
    form, basic = token_request(settings, now=0)
    assert form["password"] == "pwTOK" and form["grant_type"] == "password" and basic is None


def test_missing_client_id_is_named():
    with pytest.raises(ConfigError, match="SF_CLIENT_ID"):
        token_request(load_settings(sf_client_id="", sf_username="u"), now=0)

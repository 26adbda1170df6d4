"""Access tokens for the integration user: OAuth 2.0 JWT bearer (preferred), client credentials,
or the username-password grant (fallback). Tokens are fetched through the same `requests.Session`
as the API calls, so an injected session (tests, demo) reaches the simulator unchanged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests

from shared.config import Settings
from shared.errors import ConfigError, TransientError, redact

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
ASSERTION_LIFETIME_SECONDS = 180


@dataclass(frozen=True)
class AccessToken:
    """A session: the bearer token and the instance the REST calls go to."""

    access_token: str
    instance_url: str
    obtained_at: float
    user_id: str = ""
    """The integration user's id, from the response's identity URL (`…/id/<orgId>/<userId>`, OAuth
    token response "id" field; ../shared/spec/salesforce.md §1); empty when the response has none."""

    def __repr__(self) -> str:  # never print the token itself
        return f"AccessToken(instance_url={self.instance_url!r}, obtained_at={self.obtained_at})"


def login_host(login_url: str) -> str:
    host = urlsplit(login_url if "://" in login_url else f"https://{login_url}").hostname
    if not host:
        raise ConfigError(f"SF_LOGIN_URL is not a URL: {login_url!r}")
    return host.lower()


def login_domain(login_url: str) -> str:
    """simple-salesforce's `domain`: the login host minus `.salesforce.com` ("login", "test",
    "acme.my", "acme--uat.sandbox.my")."""
    host = login_host(login_url)
    if not host.endswith(".salesforce.com"):
        raise ConfigError(f"SF_LOGIN_URL must be a *.salesforce.com host, got {host!r}")
    return host.removesuffix(".salesforce.com")


def is_sandbox(login_url: str) -> bool:
    """A sandbox or scratch org, whose JWT audience is test.salesforce.com ("OAuth 2.0 JWT Bearer Flow
    for Server-to-Server Integration", https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm).
    My Domain login hosts of those orgs ("My Domain URL Formats",
    https://help.salesforce.com/s/articleView?id=products.domain_name_app_url_changes.htm&type=5):
    `acme--uat.sandbox.my.salesforce.com` (enhanced domains), `acme--uat.my.salesforce.com` (without
    them; `--` separates the sandbox name) and `*.scratch.my.salesforce.com` (scratch orgs)."""
    host = login_host(login_url)
    first_label = host.split(".", 1)[0]
    return (
        host == "test.salesforce.com"
        or ".sandbox.my." in host
        or ".scratch.my." in host
        or host.endswith(".cs.salesforce.com")
        or (host.endswith(".my.salesforce.com") and "--" in first_label)
    )


def jwt_audience(login_url: str) -> str:
    """Salesforce accepts login/test as the assertion audience; a My Domain maps to its org kind."""
    return SANDBOX_AUDIENCE if is_sandbox(login_url) else PRODUCTION_AUDIENCE


def token_url(settings: Settings) -> str:
    return f"https://{login_host(settings.sf_login_url)}/services/oauth2/token"


def build_assertion(settings: Settings, now: float) -> str:
    """The RS256-signed JWT for the bearer flow (iss = consumer key, sub = user, short expiry)."""
    key = settings.sf_private_key.get_secret_value()
    if not key.strip():
        raise ConfigError(
            "SF_PRIVATE_KEY is empty: the JWT bearer flow needs the connected app's private key"
        )
    claims = {
        "iss": settings.sf_client_id,
        "sub": settings.sf_username,
        "aud": jwt_audience(settings.sf_login_url),
        "exp": int(now) + ASSERTION_LIFETIME_SECONDS,
    }
    try:
        return jwt.encode(claims, key.replace("\\n", "\n"), algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise ConfigError(f"SF_PRIVATE_KEY is not a usable RSA private key: {type(exc).__name__}") from None


def token_request(settings: Settings, now: float) -> tuple[dict[str, str], tuple[str, str] | None]:
    """(form body, basic-auth pair) for the configured flow; pure, so each flow is unit-tested."""
    mode = settings.sf_auth_mode
    missing = [
        name
        for name, value in (("SF_CLIENT_ID", settings.sf_client_id), ("SF_USERNAME", settings.sf_username))
        if not value and (name == "SF_CLIENT_ID" or mode != "client_credentials")
    ]
    if missing:
        raise ConfigError(f"Salesforce {mode} login needs {', '.join(missing)}")
    if mode == "jwt":
        return {"grant_type": JWT_GRANT, "assertion": build_assertion(settings, now)}, None
    secret = settings.sf_client_secret.get_secret_value()
    if not secret:
        raise ConfigError(f"Salesforce {mode} login needs SF_CLIENT_SECRET")
    if mode == "client_credentials":
        if login_domain(settings.sf_login_url) in ("login", "test"):
            raise ConfigError("the client-credentials flow needs SF_LOGIN_URL set to the org's My Domain URL")
        return {"grant_type": "client_credentials"}, (settings.sf_client_id, secret)
    password = settings.sf_password.get_secret_value() + settings.sf_security_token.get_secret_value()
    return {
        "grant_type": "password",
        "client_id": settings.sf_client_id,
        "client_secret": secret,
        "username": settings.sf_username,
        "password": password,
    }, None


class TokenProvider:
    """Fetches and caches the access token; `refresh()` forces a new one (after INVALID_SESSION_ID)."""

    def __init__(
        self, settings: Settings, session: requests.Session, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self._session = session
        self._clock = clock
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def token(self) -> AccessToken:
        with self._lock:
            if self._token is None:
                self._token = self._fetch()
            return self._token

    def refresh(self) -> AccessToken:
        with self._lock:
            self._token = self._fetch()
            return self._token

    def _fetch(self) -> AccessToken:
        settings = self._settings
        form, basic = token_request(settings, self._clock())
        self.fetches += 1
        try:
            response = self._session.post(
                token_url(settings), data=form, auth=basic, timeout=settings.sf_timeout_seconds
            )
        except requests.RequestException as exc:
            raise TransientError(
                f"Salesforce token endpoint unreachable: {type(exc).__name__}", provider="salesforce"
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(
                f"Salesforce token endpoint answered {response.status_code}",
                provider="salesforce",
                status=response.status_code,
            )
        body = _json_or_empty(response)
        if response.status_code != 200 or "access_token" not in body:
            error = str(body.get("error") or response.status_code)
            description = str(body.get("error_description") or "")
            raise ConfigError(
                redact(
                    f"Salesforce {settings.sf_auth_mode} login failed: {error}"
                    f"{': ' + description if description else ''} (check SF_CLIENT_ID, SF_USERNAME, the "
                    "connected app's policies and the integration user's permission set)"
                ),
                provider="salesforce",
                status=response.status_code,
                code=error,
            )
        return AccessToken(
            str(body["access_token"]), str(body["instance_url"]), self._clock(), _user_id(body.get("id"))
        )


def _user_id(identity_url: object) -> str:
    """The last path segment of the identity URL when it looks like a User id (prefix 005)."""
    segment = str(identity_url or "").rstrip("/").rsplit("/", 1)[-1]
    return segment if segment.startswith("005") and len(segment) in (15, 18) and segment.isalnum() else ""


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

"""The Microsoft identity platform stand-in: the tenant-scoped token endpoint (v1 `oauth2/token` with
`resource`, v2 `oauth2/v2.0/token` with `scope`), refresh-token rotation, lifetime and revocation,
a controllable clock, and the access tokens the APIs accept.

Behaviour and sources:
- Error bodies carry `error`, `error_description`, `error_codes`, `timestamp`, `trace_id`,
  `correlation_id`, `error_uri`: "Microsoft Entra authentication and authorization error codes",
  https://learn.microsoft.com/entra/identity-platform/reference-error-codes#handling-error-codes-in-your-application
- "Refresh tokens replace themselves with a fresh token upon every use. The Microsoft identity
  platform doesn't revoke old refresh tokens when used to fetch new access tokens"; default lifetime
  90 days (not extended by use of the same token): https://learn.microsoft.com/entra/identity-platform/refresh-tokens
  Hence `rotated_token_grace_seconds=None` (old tokens stay valid until their own lifetime ends);
  a number models a stricter service for tests (past it the old token fails with AADSTS70008).
- Refresh token expired: AADSTS700082 "The refresh token has expired due to inactivity. The token
  was issued on {date} and was inactive for 90.00:00:00" (same reference page; wording as reported
  in https://learn.microsoft.com/answers/questions/1338428). Revoked (admin or user revoked sessions):
  AADSTS50173 "The provided grant has expired due to it being revoked" (reference page, `FreshTokenNeeded`).
- A single-tenant app registration may not use `/common`: AADSTS50194 (reference page); Partner
  Center's secure application model samples use `login.microsoftonline.com/{tenant}/oauth2/token`.
- Refresh grant on v2: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

REFERRALS_AUDIENCE = "https://api.partner.microsoft.com"
WEBHOOKS_AUDIENCE = "https://api.partnercenter.microsoft.com"
AUDIENCES = (REFERRALS_AUDIENCE, WEBHOOKS_AUDIENCE)
MULTI_TENANT_AUTHORITIES = ("common", "organizations")
NINETY_DAYS = 90 * 24 * 3600.0
OPENID_SCOPES = {"openid", "profile", "offline_access", "email"}


@dataclass
class Credentials:
    """What the token endpoint accepts (the sim's app registration, tenant and stored refresh token)."""

    client_id: str = "sim-client-id"
    client_secret: str = "sim-client-secret"  # noqa: S105 - the simulator's own fixed credential
    refresh_token: str = "sim-refresh-token"  # noqa: S105
    token_lifetime_seconds: int = 3600
    tenant_id: str = "sim-tenant"
    tenant_domain: str = "sim-tenant.onmicrosoft.com"


class IdentityOptions(BaseModel):
    """How the token endpoint behaves; the defaults keep the simulator's earlier behaviour apart
    from rotation (which Microsoft does and which old tokens survive)."""

    single_tenant: bool = Field(default=False, description="refuse /common and /organizations (AADSTS50194)")
    rotate_refresh_tokens: bool = Field(
        default=True, description="each redemption returns a new refresh token"
    )
    refresh_token_lifetime_seconds: float = Field(default=NINETY_DAYS, gt=0)
    crlf_error_descriptions: bool = Field(
        default=False, description="end error_description lines with CRLF, as the service does"
    )
    rotated_token_grace_seconds: float | None = Field(
        default=None, ge=0, description="None: a superseded refresh token stays valid (Microsoft's default)"
    )


class TokenError(Exception):
    """An identity-platform error answer."""

    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.code, self.message = status, error, code, message

    @property
    def outcome(self) -> str:
        return f"{self.error}:AADSTS{self.code}"

    def body(self, now: float, *, crlf: bool = False) -> dict[str, Any]:
        """The documented body; Microsoft separates the description's trailer lines with CRLF
        (`crlf=True`), the simulator's default keeps them on one line as it always did."""
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        gap = "\r\n" if crlf else " "
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.message}{gap}Trace ID: {trace}{gap}"
                f"Correlation ID: {correlation}{gap}Timestamp: {stamp}"
            ),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }


@dataclass
class RefreshGrant:
    token: str
    issued_at: float
    superseded_at: float | None = None
    revoked: bool = False


@dataclass
class Identity:
    """Access and refresh tokens, the clock they are judged by, and redemption outcomes."""

    credentials: Credentials
    defaults: IdentityOptions = field(default_factory=IdentityOptions)
    options: IdentityOptions = field(init=False)
    clock_offset: float = 0.0
    access: dict[str, tuple[str, float]] = field(default_factory=dict)
    grants: dict[str, RefreshGrant] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    latest_refresh_token: str = ""
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.options = self.defaults
        self.latest_refresh_token = self.credentials.refresh_token
        self.grants[self.credentials.refresh_token] = RefreshGrant(self.credentials.refresh_token, self.now())

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.clock_offset += seconds
            return self.now()

    def configure(self, options: IdentityOptions) -> None:
        with self.lock:
            self.options = options

    def reset(self) -> None:
        """Back to the constructor's options and the real clock; revocations undone; refresh tokens
        issued so far stay known (a long-lived app process may hold a rotated one)."""
        with self.lock:
            self.options = self.defaults
            self.clock_offset = 0.0
            self.access.clear()
            self.outcomes.clear()
            for grant in self.grants.values():
                grant.revoked = False
                grant.issued_at = min(grant.issued_at, self.now())

    def revoke_access(self) -> int:
        with self.lock:
            revoked = len(self.access)
            self.access.clear()
            return revoked

    def revoke_refresh(self, token: str | None) -> int:
        """Revoke one refresh token, or (None) every one: the 'revoke sign-in sessions' case."""
        with self.lock:
            targets = [self.grants[token]] if token in self.grants else [] if token else self.grants.values()
            for grant in targets:
                grant.revoked = True
            return len(list(targets))

    def access_problem(self, token: str, audience: str) -> str | None:
        with self.lock:
            issued = self.access.get(token)
        if issued is None:
            return "token is invalid or revoked"
        token_audience, expires_at = issued
        if expires_at < self.now():
            return "token expired"
        if token_audience != audience:
            return f"token audience {token_audience} is not {audience}"
        return None

    def redeem(self, tenant: str, form: dict[str, str], *, v2: bool) -> dict[str, Any]:
        """A token response for this form, or `TokenError`; the outcome is counted either way."""
        try:
            with self.lock:
                self._check_client(tenant, form)
                resource = _v2_resource(form) if v2 else _v1_resource(form)
                refresh_token = self._redeem_refresh_token(form.get("refresh_token", ""))
                body = self._issue(resource, refresh_token, v2=v2)
                self.outcomes["issued"] += 1
                return body
        except TokenError as exc:
            with self.lock:
                self.outcomes[exc.outcome] += 1
            raise

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "options": self.options.model_dump(),
                "now": datetime.fromtimestamp(self.now(), UTC).isoformat(),
                "clock_offset_seconds": self.clock_offset,
                "redemptions": dict(self.outcomes),
                "latest_refresh_token": self.latest_refresh_token,
                "refresh_tokens": {
                    "known": len(self.grants),
                    "revoked": sum(g.revoked for g in self.grants.values()),
                },
                "access_tokens": len(self.access),
            }

    # --- checks, in the order the service answers them ----------------------------------------
    def _check_client(self, tenant: str, form: dict[str, str]) -> None:
        creds = self.credentials
        if tenant.lower() in MULTI_TENANT_AUTHORITIES:
            if self.options.single_tenant:
                raise TokenError(
                    400,
                    "invalid_request",
                    50194,
                    f"Application '{creds.client_id}'(cosell-sync) is not configured as a multi-tenant "
                    "application. Usage of the /common endpoint is not supported for such applications "
                    "created after '10/15/2018'. Use a tenant-specific endpoint or configure the "
                    "application to be multi-tenant.",
                )
        elif tenant.lower() not in (creds.tenant_id.lower(), creds.tenant_domain.lower()):
            raise TokenError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "refresh_token":
            raise TokenError(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        if form.get("client_id") != creds.client_id:
            raise TokenError(
                400, "unauthorized_client", 700016, "Application was not found in the directory."
            )
        if form.get("client_secret") != creds.client_secret:
            raise TokenError(401, "invalid_client", 7000215, "Invalid client secret provided.")

    def _redeem_refresh_token(self, token: str) -> str:
        grant = self.grants.get(token)
        if grant is None:
            raise TokenError(400, "invalid_grant", 70000, "The provided refresh token is invalid or expired.")
        now, options = self.now(), self.options
        if grant.revoked:
            raise TokenError(
                400,
                "invalid_grant",
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
                "An admin or the user revoked the tokens for this user.",
            )
        if now - grant.issued_at > options.refresh_token_lifetime_seconds:
            issued = datetime.fromtimestamp(grant.issued_at, UTC).isoformat().replace("+00:00", "Z")
            raise TokenError(
                400,
                "invalid_grant",
                700082,
                f"The refresh token has expired due to inactivity. The token was issued on {issued} "
                f"and was inactive for {_timespan(options.refresh_token_lifetime_seconds)}.",
            )
        grace = options.rotated_token_grace_seconds
        if grant.superseded_at is not None and grace is not None and now - grant.superseded_at > grace:
            raise TokenError(
                400,
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. "
                "Send a new interactive authorization request for this user and resource.",
            )
        if not options.rotate_refresh_tokens:
            return token
        fresh = f"sim-rt-{uuid.uuid4().hex}"
        grant.superseded_at = grant.superseded_at or now
        self.grants[fresh] = RefreshGrant(fresh, now)
        self.latest_refresh_token = fresh
        return fresh

    def _issue(self, resource: str, refresh_token: str, *, v2: bool) -> dict[str, Any]:
        lifetime = self.credentials.token_lifetime_seconds
        access_token = f"sim-{uuid.uuid4().hex}"
        self.access[access_token] = (resource, self.now() + lifetime)
        common = {"token_type": "Bearer", "access_token": access_token, "refresh_token": refresh_token}
        if v2:
            scope = f"{resource}/user_impersonation"
            return {**common, "scope": scope, "expires_in": lifetime, "ext_expires_in": lifetime}
        expires_on = str(int(self.now()) + lifetime)
        return {**common, "expires_in": str(lifetime), "expires_on": expires_on, "resource": resource}


def _v1_resource(form: dict[str, str]) -> str:
    resource = form.get("resource", "").rstrip("/")
    if resource not in AUDIENCES:
        raise TokenError(400, "invalid_resource", 500011, f"The resource {resource} was not found.")
    return resource


def _v2_resource(form: dict[str, str]) -> str:
    """The one API audience named by `scope` (`{audience}/.default` or `/user_impersonation`)."""
    wanted = [s for s in form.get("scope", "").split() if s not in OPENID_SCOPES]
    resources = {s.rsplit("/", 1)[0] for s in wanted if s.endswith(("/.default", "/user_impersonation"))}
    if len(wanted) != 1 or len(resources) != 1 or not resources <= set(AUDIENCES):
        raise TokenError(
            400,
            "invalid_scope",
            70011,
            f"The provided value for the input parameter 'scope' is not valid: {wanted}",
        )
    return resources.pop()


def _timespan(seconds: float) -> str:
    """.NET TimeSpan text, as in Microsoft's messages: `90.00:00:00`."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}.{hours:02d}:{minutes:02d}:{secs:02d}"

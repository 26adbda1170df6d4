"""`python -m shared.ops doctor`: is everything a sync needs in place, on both sides?

The checklist is data: `PARTNER_CENTER_CHECKS` are functions of (settings, clients), the Salesforce
ones (`shared.salesforce.org_checks.SALESFORCE_CHECKS`) functions of (settings, org description);
each returns a `Check` (ok, label, one-sentence fix, required). Doctor only reads: it never heals the
webhook registration or writes a record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.config import Settings
from shared.errors import CosellSyncError
from shared.ops.ops_clients import OpsClients
from shared.ops.webhook_health import RegistrationState, check_webhooks
from shared.partner_center.token_health import read_health
from shared.partner_center.tokens import refresh_token_store
from shared.salesforce.login import is_sandbox, jwt_audience
from shared.salesforce.org_checks import Check, org_checks

ClientCheck = Callable[[Settings, OpsClients], Check]


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[tuple[str, Check], ...]  # (side, check)

    @property
    def ready(self) -> bool:
        return all(c.ok or not c.required for _, c in self.checks)

    def lines(self) -> list[str]:
        out = []
        side = ""
        for name, check in self.checks:
            if name != side:
                out.append(name)
                side = name
            mark = "✔" if check.ok else "✖"
            advice = "" if check.required or check.ok else " (advice)"
            out.append(f"  {mark} {check.label}{advice}" + (f" — {check.fix}" if not check.ok else ""))
        out.append("ready to sync" if self.ready else "NOT ready to sync: fix the ✖ lines above")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "checks": [
                {"side": s, "ok": c.ok, "label": c.label, "fix": c.fix, "required": c.required}
                for s, c in self.checks
            ],
        }


def _failed(label: str, exc: Exception, fix: str) -> Check:
    return Check(False, f"{label}: {exc}", fix)


# --------------------------------------------------------------------------- Partner Center
def check_pc_tenant(settings: Settings, clients: OpsClients) -> Check:
    if settings.pc_tenant_id.strip():
        return Check(True, f"PC_TENANT_ID set ({settings.pc_tenant_id})")
    return Check(False, "PC_TENANT_ID is empty", "set PC_TENANT_ID to the partner's Entra tenant id")


def check_pc_token(settings: Settings, clients: OpsClients) -> Check:
    """A token redeemed for the referrals API, proven by reading one referral page ($top=1)."""
    try:
        next(iter(clients.pc.iter_referrals(top=1)), None)
    except CosellSyncError as exc:
        return _failed(
            "Partner Center referrals API",
            exc,
            "check PC_CLIENT_ID / PC_CLIENT_SECRET / PC_REFRESH_TOKEN (re-consent as a Referrals admin if the"
            " refresh token expired)",
        )
    return Check(True, "Partner Center token redeemed and the referrals API answers")


def check_pc_refresh_token_age(settings: Settings, clients: OpsClients) -> Check:
    health = read_health(refresh_token_store(settings))
    if health.warnings:
        return Check(
            False,
            f"Partner Center refresh token: {health.line()}",
            "re-consent as a Referrals admin and store the new refresh token",
            required=False,
        )
    return Check(True, f"Partner Center refresh token: {health.line()}")


def check_pc_webhook(settings: Settings, clients: OpsClients) -> Check:
    try:
        state = check_webhooks(settings, clients.webhooks, heal=False).before
    except CosellSyncError as exc:
        return _failed("Webhook registration unreadable", exc, "check the Partner Center credentials above")
    if state.state is RegistrationState.OK:
        return Check(
            True, f"Webhook registered for {settings.pc_webhook_callback_url} with every referral event"
        )
    return Check(
        False,
        f"Webhook registration: {state.describe()}",
        "run `python -m shared.ops register-webhooks` (or wait for the daily webhook check to heal it)",
    )


PARTNER_CENTER_CHECKS: tuple[ClientCheck, ...] = (
    check_pc_tenant,
    check_pc_token,
    check_pc_refresh_token_age,
    check_pc_webhook,
)


# --------------------------------------------------------------------------- Salesforce
def check_sf_login(settings: Settings, clients: OpsClients) -> Check:
    kind = "sandbox/scratch" if is_sandbox(settings.sf_login_url) else "production"
    clients.sf.org(refresh=True)  # raises: reported by `salesforce_checks`
    return Check(True, f"Salesforce login as {settings.sf_username or 'the integration user'} ({kind} org,"
                       f" JWT audience {jwt_audience(settings.sf_login_url)}) and describe")  # fmt: skip


def salesforce_checks(settings: Settings, clients: OpsClients) -> list[Check]:
    try:
        login = check_sf_login(settings, clients)
    except CosellSyncError as exc:
        return [
            _failed(
                "Salesforce login/describe failed",
                exc,
                "check SF_LOGIN_URL, SF_CLIENT_ID, SF_USERNAME and the key/secret of SF_AUTH_MODE, and"
                " that the integration user has API Enabled",
            )
        ]
    return [login, *org_checks(settings, clients.sf.org())]


def run_doctor(settings: Settings, clients: OpsClients) -> DoctorReport:
    checks: list[tuple[str, Check]] = []
    for check in PARTNER_CENTER_CHECKS:
        checks.append(("Partner Center", check(settings, clients)))
    checks.extend(("Salesforce", c) for c in salesforce_checks(settings, clients))
    return DoctorReport(tuple(checks))

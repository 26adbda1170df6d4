"""Is this Salesforce org ready for the sync? Small checks over the org's description
(`org_profile.OrgDescription`), each returning a `Check` (ok, label, fix); `python -m shared.ops
doctor` prints them and the worker refuses to sync while a required one fails (`require_ready_org`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from shared.config import Settings
from shared.core import salesforce_fields as f
from shared.core.custom_mappings import custom_mappings
from shared.errors import ConfigError
from shared.salesforce.classify import PERMISSION_SET
from shared.salesforce.org_profile import (
    OrgDescription,
    resolved_country_path,
    resolved_currency_field,
    written_fields,
)

log = logging.getLogger("cosell_sync.salesforce")


@dataclass(frozen=True)
class Check:
    ok: bool
    label: str
    fix: str = ""
    required: bool = True  # False: advice; the sync runs either way


OrgCheck = Callable[[Settings, OrgDescription], Check]
CUSTOM_FIELDS = f.OPPORTUNITY_FIELDS
DEPLOY_FIX = (
    f"deploy salesforce-metadata/ (sf project deploy start) and assign the {PERMISSION_SET} permission set"
    " to the integration user"
)


def check_custom_fields(settings: Settings, org: OrgDescription) -> Check:
    missing = [name for name in CUSTOM_FIELDS if org.field(f.OPPORTUNITY, name) is None]
    if org.object(f.SOLUTION) is None:
        missing.append(f.SOLUTION)
    if missing:
        return Check(
            False,
            f"Connector fields visible to the integration user: missing {', '.join(missing)}",
            DEPLOY_FIX,
        )
    return Check(True, f"Connector fields and the {f.SOLUTION} object are visible to the integration user")


def check_field_access(settings: Settings, org: OrgDescription) -> Check:
    """Field-level security: every field the sync writes is createable, and updateable where it is
    updated (describe reports both as the integration user sees them)."""
    problems = []
    updated = {f.OPPORTUNITY, f.ACCOUNT}
    for sobject, names in written_fields(settings, org).items():
        for name in names:
            info = org.field(sobject, name)
            if info is None:
                problems.append(f"{sobject}.{name} (not visible)")
            elif not info.createable or (sobject in updated and not info.updateable and name != "AccountId"):
                problems.append(f"{sobject}.{name} (read-only)")
    if problems:
        shown = ", ".join(problems[:6]) + (f" and {len(problems) - 6} more" if len(problems) > 6 else "")
        return Check(
            False,
            f"Write access to the synced fields: {shown}",
            f"give the integration user Edit access to these fields (field-level security, e.g. in"
            f" the {PERMISSION_SET} permission set), or fix the field setting that names them",
        )
    return Check(True, "Write access to every synced field (field-level security)")


def check_currency(settings: Settings, org: OrgDescription) -> Check:
    field = resolved_currency_field(settings, org)
    mode = "multi-currency" if org.multi_currency else "single currency"
    if field and org.field(f.OPPORTUNITY, field) is None:
        fix = (
            "set DEAL_CURRENCY_FIELD to auto (this org has no multi-currency; DEFAULT_CURRENCY applies)"
            if field == "CurrencyIsoCode"
            else f"set DEAL_CURRENCY_FIELD to auto or to an Opportunity field that exists (not {field})"
        )
        return Check(False, f"Currency ({mode}): Opportunity.{field} does not exist", fix)
    if not field:
        return Check(True, f"Currency ({mode}): deals are in DEFAULT_CURRENCY {settings.default_currency}")
    return Check(True, f"Currency ({mode}): read and written in Opportunity.{field}")


def check_default_currency(settings: Settings, org: OrgDescription) -> Check:
    if not org.multi_currency or settings.default_currency in org.currencies:
        return Check(True, f"DEFAULT_CURRENCY {settings.default_currency} is usable", required=False)
    return Check(
        False,
        f"DEFAULT_CURRENCY {settings.default_currency} is not an active currency of the org",
        f"set DEFAULT_CURRENCY to one of {', '.join(org.currencies)} or activate it in Setup > Currencies",
        required=False,
    )


def check_country(settings: Settings, org: OrgDescription) -> Check:
    path = resolved_country_path(settings, org)
    sobject, name = (f.OPPORTUNITY, path[0]) if len(path) == 1 else (path[0], path[1])
    picklists = "on" if org.country_picklists else "off"
    if len(path) > 2 or org.field(sobject, name) is None:
        return Check(
            False,
            f"Country field {'.'.join(path)} does not exist (country picklists {picklists})",
            "set ACCOUNT_COUNTRY_FIELD to auto, or to Account.<field> / an Opportunity field that exists",
        )
    return Check(
        True,
        f"Country (State and Country/Territory picklists {picklists}): ISO code written to {sobject}.{name}",
    )


def check_record_type(settings: Settings, org: OrgDescription) -> Check:
    if org.record_type is None:
        return Check(
            False,
            f"Opportunity record type: {org.record_type_problem}",
            "set SF_OPPORTUNITY_RECORD_TYPE to an available record type's developer name, or empty for"
            " the integration user's default",
        )
    how = (
        "SF_OPPORTUNITY_RECORD_TYPE"
        if settings.sf_opportunity_record_type
        else "the integration user's default"
    )
    return Check(True, f"Opportunity record type {org.record_type.developer_name} ({how})")


STAGE_SETTINGS = ("active_stage_name", "on_hold_stage_name", "won_stage_name", "lost_stage_name")


def check_stages(settings: Settings, org: OrgDescription) -> Check:
    if org.record_type is None:
        return Check(False, "Stages: unknown until the record type is fixed", "fix the record type first")
    if org.stages is None:
        return Check(
            False,
            f"Stages of record type {org.record_type.developer_name} could not be read",
            "give the integration user API access to the record type (View Setup), then re-run",
        )
    wrong = [
        (name, getattr(settings, name))
        for name in STAGE_SETTINGS
        if getattr(settings, name) not in org.stages
    ]
    if wrong:
        setting, value = wrong[0]
        others = f" (and {', '.join(n.upper() for n, _ in wrong[1:])})" if len(wrong) > 1 else ""
        return Check(
            False,
            f"Stage {value!r} of {setting.upper()}{others} is not in the sales process of record type"
            f" {org.record_type.developer_name}",
            f"set {setting.upper()} to one of: {', '.join(org.stages)}",
        )
    return Check(
        True,
        f"Stages {', '.join(getattr(settings, n) for n in STAGE_SETTINGS)} are valid for record type"
        f" {org.record_type.developer_name}",
    )


def check_notes(settings: Settings, org: OrgDescription) -> Check:
    if org.notes_enabled:
        return Check(True, "Notes (ContentNote) can be created")
    return Check(
        False,
        "Notes (ContentNote) cannot be created by the integration user",
        "enable Notes (Setup > Notes Settings) and give the integration user Create on Notes",
    )


def check_duplicate_rules(settings: Settings, org: OrgDescription) -> Check:
    action = (
        "linked to the record the rule matches"
        if settings.sf_on_duplicate == "link"
        else "saved anyway (allowSave)"
    )
    if org.duplicate_rules is None:
        return Check(
            True,
            f"Duplicate rules: not readable (needs View Setup); a refused account/contact is {action}",
            required=False,
        )
    if org.duplicate_rules:
        return Check(
            True,
            f"Duplicate rules active on {', '.join(org.duplicate_rules)}: a refused account/contact is"
            f" {action}",
            required=False,
        )
    return Check(True, "Duplicate rules: none active on Account or Contact", required=False)


def check_teams(settings: Settings, org: OrgDescription) -> Check:
    """The partner team (shared.core.partner_team): with Opportunity Teams the owner and the team
    members sync with the referral's team; without, only the owner is sent."""
    if org.teams_enabled:
        return Check(True, "Opportunity Teams enabled: owner and team members sync with the partner team")
    return Check(
        True,
        "Opportunity Teams not enabled: only the opportunity owner is sent to the referral's partner team;"
        " Setup → Opportunity Team Settings → Enable Team Selling sends the team members too",
        "Setup → Opportunity Team Settings → Enable Team Selling",
        required=False,
    )


def check_custom_mappings(settings: Settings, org: OrgDescription) -> Check:
    """CUSTOM_MAPPINGS and CREATE_DEFAULTS name fields the org has, writable where we write them."""
    custom = custom_mappings(settings)
    if not custom.mappings and not custom.create_defaults:
        return Check(True, "Custom mappings: none configured", required=False)
    problems = []
    for m in custom.mappings:
        info = org.field(m.sobject, m.field)
        if info is None:
            problems.append(f"{m.sobject}.{m.field} (mapping {m.name}) does not exist or is not visible")
        elif m.direction != "to_partner_center" and not info.updateable:
            problems.append(
                f"{m.sobject}.{m.field} (mapping {m.name}) is not updateable by the integration user"
            )
    for sobject, values in custom.create_defaults.items():
        for name in values:
            info = org.field(sobject, name)
            if info is None or not info.createable:
                problems.append(
                    f"{sobject}.{name} (CREATE_DEFAULTS) does not exist or cannot be set on create"
                )
    count = len(custom.mappings) + sum(len(v) for v in custom.create_defaults.values())
    if problems:
        return Check(
            False,
            "Custom mappings: " + "; ".join(problems),
            "fix CUSTOM_MAPPINGS / CREATE_DEFAULTS or the field permissions",
        )
    return Check(True, f"Custom mappings: {count} field(s) present and writable")


SALESFORCE_CHECKS: tuple[OrgCheck, ...] = (
    check_custom_fields,
    check_field_access,
    check_currency,
    check_default_currency,
    check_country,
    check_record_type,
    check_stages,
    check_notes,
    check_duplicate_rules,
    check_teams,
    check_custom_mappings,
)


def org_checks(settings: Settings, org: OrgDescription) -> list[Check]:
    return [check(settings, org) for check in SALESFORCE_CHECKS]


# --------------------------------------------------------------------------- the worker's gate
class OrgNotReady(ConfigError):
    """The Salesforce org fails a check the sync needs; nothing is synced until it is fixed."""


_said: set[str] = set()
_said_lock = threading.Lock()


def require_ready_org(sf: object) -> None:
    """Raise `OrgNotReady` naming the fixes while a required check fails (the org's description is
    the client's, refreshed daily); the problem is logged once per distinct message, not per job.
    Clients that cannot describe an org (the engine tier's fakes) pass."""
    describe, settings = getattr(sf, "org", None), getattr(sf, "settings", None)
    if not callable(describe) or not isinstance(settings, Settings):
        return
    org = describe()
    if not isinstance(org, OrgDescription):
        return
    failed = [c for c in org_checks(settings, org) if c.required and not c.ok]
    if not failed:
        return
    message = "Salesforce org not ready, nothing is synced: " + "; ".join(
        f"{c.label} — {c.fix}" for c in failed
    )
    with _said_lock:
        first = message not in _said
        _said.add(message)
    if first:
        log.error("%s (run `python -m shared.ops doctor` for the full checklist)", message)
    raise OrgNotReady(message, provider="salesforce")

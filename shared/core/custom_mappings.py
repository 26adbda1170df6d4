"""Declarative custom mappings — the place the original connector's "[Customize] Create or Get
Details from Salesforce" step had, as settings instead of code:

- `CUSTOM_MAPPINGS`: a JSON list of extra field mappings, each
  `{"name": "region", "salesforce": "Region__c" | "Account.Industry",
    "partner_center": "customerProfile/region",
    "direction": "both" | "to_partner_center" | "to_salesforce",
    "transform": "copy" | "date" | "number" | "picklist",
    "values": {"<Salesforce value>": "<Partner Center value>"}}`;
  a plain Salesforce name is an Opportunity field; `Account.<field>` is the opportunity's account.
- `CREATE_DEFAULTS`: a JSON object of constants for required fields when we create records,
  `{"Opportunity.Type": "New Customer", "Account.Industry": "Other", "Contact.LeadSource": "Partner"}`.

Each mapping is one more merge unit (key `x:<name>` in the snapshot): three-way for `both` (the
Salesforce value wins a conflict), one-way otherwise. Engine, dry run and backfill use it alike
because the planner does. Parsed and checked at start (`parse_custom_mappings` raises ConfigError);
`doctor` also checks the fields against the org.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.config import Settings
from shared.core.canonical import clean_text, to_money
from shared.core.mapping_partner_center import value_at
from shared.errors import ConfigError

PREFIX = "x:"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SF_FIELD = re.compile(r"^(?:(Opportunity|Account)\.)?([A-Za-z][A-Za-z0-9_]*)$")
_PC_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:/[A-Za-z][A-Za-z0-9]*)*$")
# Paths the standard mapping writes: a custom mapping must not fight it for them.
_MAPPED_PATHS = (
    "name", "externalReferenceId", "status", "substatus", "customerProfile/name", "customerProfile/size",
    "customerProfile/address", "customerProfile/team", "consent", "details/notes", "details/dealValue",
    "details/currency", "details/closingDateTime", "details/requirements/solutions", "inviteContext", "id",
    "engagementId", "eTag",
)  # fmt: skip
CREATE_OBJECTS = ("Opportunity", "Account", "Contact")


class CustomMapping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    salesforce: str
    partner_center: str
    direction: Literal["both", "to_partner_center", "to_salesforce"] = "both"
    transform: Literal["copy", "date", "number", "picklist"] = "copy"
    values: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a name is lower-case letters, digits and _ (up to 40)")
        return value

    @field_validator("salesforce")
    @classmethod
    def _salesforce(cls, value: str) -> str:
        if not _SF_FIELD.match(value):
            raise ValueError(
                f"{value!r} is not an Opportunity field or Account.<field> "
                "(lookups like A.B__r.C are not written back)"
            )
        return value

    @field_validator("partner_center")
    @classmethod
    def _partner_center(cls, value: str) -> str:
        path = value.strip("/")
        if not _PC_PATH.match(path):
            raise ValueError(f"{value!r} is not a referral path like customerProfile/region")
        taken = next(
            (p for p in _MAPPED_PATHS if path == p or path.startswith(p + "/") or p.startswith(path + "/")),
            None,
        )
        if taken:
            raise ValueError(f"{value!r} overlaps {taken!r}, which the connector already maps")
        return path

    @property
    def key(self) -> str:
        return PREFIX + self.name

    @property
    def sobject(self) -> str:
        return "Account" if self.salesforce.startswith("Account.") else "Opportunity"

    @property
    def field(self) -> str:
        return self.salesforce.rsplit(".", 1)[-1]

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.partner_center.split("/"))

    # canonical values: text for copy/picklist (the Partner Center value), ISO date, decimal text
    def from_salesforce(self, raw: Any) -> Any:
        if self.transform == "picklist":
            text = clean_text(raw)
            return self.values.get(text, text) if text is not None else None
        return self._canonical(raw)

    def from_partner_center(self, raw: Any) -> Any:
        return self._canonical(raw)

    def to_salesforce(self, value: Any) -> Any:
        if self.transform == "picklist" and value is not None:
            back = {pc: sf for sf, pc in self.values.items()}
            return back.get(value, value)
        if self.transform == "number" and value is not None:
            return float(value)
        return value

    def to_partner_center(self, value: Any) -> Any:
        if self.transform == "date" and value:
            return f"{value}T00:00:00Z"
        if self.transform == "number" and value is not None:
            return float(value)
        return value

    def _canonical(self, raw: Any) -> Any:
        if self.transform == "number":
            money = to_money(raw)
            return None if money is None else str(money)
        if self.transform == "date":
            text = clean_text(raw)
            return _iso_date(text[:10]) if text else None
        return clean_text(raw)


@dataclass(frozen=True)
class CustomMappings:
    mappings: tuple[CustomMapping, ...]
    create_defaults: dict[str, dict[str, Any]]
    """Per object (Opportunity, Account, Contact): field -> constant value on create."""

    def salesforce_fields(self, sobject: str) -> list[str]:
        return [m.field for m in self.mappings if m.sobject == sobject]

    def from_salesforce(self, opp: Mapping[str, Any]) -> dict[str, Any]:
        nested = opp.get("Account")
        account: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}
        return {
            m.key: m.from_salesforce((account if m.sobject == "Account" else opp).get(m.field))
            for m in self.mappings
        }

    def from_partner_center(self, referral: Mapping[str, Any]) -> dict[str, Any]:
        return {m.key: m.from_partner_center(value_at(referral, m.path)) for m in self.mappings}

    def merge(
        self,
        sf: Mapping[str, Any],
        pc: Mapping[str, Any],
        snapshot: Mapping[str, Any],
        *,
        push_to_partner_center: bool,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(to Salesforce, to Partner Center, merged) over the custom keys."""
        to_sf: dict[str, Any] = {}
        to_pc: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for m in self.mappings:
            s, p, base = sf.get(m.key), pc.get(m.key), snapshot.get(m.key)
            winner = _decide(m.direction, s, p, base, known=m.key in snapshot)
            if winner == "salesforce" and push_to_partner_center:
                to_pc[m.key] = merged[m.key] = s
            elif winner == "partner_center":
                to_sf[m.key] = merged[m.key] = p
            else:  # equal, or held back (on hold): the base stays, so the change is still pending
                merged[m.key] = s if s == p else base
        return to_sf, to_pc, merged

    def salesforce_writes(self, changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(opportunity fields, account fields) for changed custom keys."""
        opportunity: dict[str, Any] = {}
        account: dict[str, Any] = {}
        for m in self.mappings:
            if m.key in changes:
                (account if m.sobject == "Account" else opportunity)[m.field] = m.to_salesforce(
                    changes[m.key]
                )
        return opportunity, account

    def create_values_for_partner_center(self, opp: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
        """What a referral created from this opportunity carries at the custom paths."""
        values = self.from_salesforce(opp)
        return self.partner_center_values(
            {
                m.key: values[m.key]
                for m in self.mappings
                if m.direction != "to_salesforce" and values[m.key] is not None
            }
        )

    def create_values_for_salesforce(
        self, referral: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(opportunity fields, account fields) an opportunity created from this referral gets: the
        custom values, over the configured defaults."""
        values = self.from_partner_center(referral)
        mapped = {m.key: values[m.key] for m in self.mappings if m.direction != "to_partner_center"}
        opportunity, account = self.salesforce_writes({k: v for k, v in mapped.items() if v is not None})
        return (
            {**self.create_defaults.get("Opportunity", {}), **opportunity},
            {**self.create_defaults.get("Account", {}), **account},
        )

    def partner_center_values(self, changes: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
        return {m.path: m.to_partner_center(changes[m.key]) for m in self.mappings if m.key in changes}


def _decide(direction: str, sf: Any, pc: Any, base: Any, *, known: bool) -> str | None:
    """Which side's value goes to the other (None: nothing to write)."""
    if sf == pc:
        return None
    if direction == "to_partner_center":
        return "salesforce"
    if direction == "to_salesforce":
        return "partner_center"
    if not known:
        return "salesforce" if sf is not None else "partner_center"
    if sf == base:
        return "partner_center"
    return "salesforce"  # Salesforce changed it (or both did: Salesforce owns custom fields)


def _iso_date(text: str) -> str | None:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


@lru_cache(maxsize=16)
def parse_custom_mappings(mappings_json: str, defaults_json: str) -> CustomMappings:
    """Both settings, checked; raises ConfigError naming the setting and the problem."""
    try:
        raw = json.loads(mappings_json or "[]")
        if not isinstance(raw, list):
            raise ConfigError("CUSTOM_MAPPINGS must be a JSON list of mappings")
        mappings = tuple(CustomMapping.model_validate(item) for item in raw)
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"CUSTOM_MAPPINGS is not valid: {_reason(exc)}") from None
    names = [m.name for m in mappings]
    if len(set(names)) != len(names):
        raise ConfigError("CUSTOM_MAPPINGS names must be unique")
    return CustomMappings(mappings, _parse_defaults(defaults_json))


def _parse_defaults(text: str) -> dict[str, dict[str, Any]]:
    try:
        raw = json.loads(text or "{}")
    except ValueError as exc:
        raise ConfigError(f"CREATE_DEFAULTS is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError('CREATE_DEFAULTS must be a JSON object like {"Opportunity.Type": "New Customer"}')
    defaults: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        sobject, _, field = str(name).partition(".")
        if sobject not in CREATE_OBJECTS or not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", field):
            raise ConfigError(
                f"CREATE_DEFAULTS key {name!r} is not Opportunity.<field>, Account.<field> or Contact.<field>"
            )
        defaults.setdefault(sobject, {})[field] = value
    return defaults


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)


def custom_mappings(settings: Settings) -> CustomMappings:
    return parse_custom_mappings(settings.custom_mappings, settings.create_defaults)

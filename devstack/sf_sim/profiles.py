"""Org profiles: the settings of a simulated org that the sync must learn (from describe) and cope
with. Pick one per simulator (`SalesforceSimulator(profile=...)`, `POST /_sim/profile`, or
`python -m devstack.sf_sim --profile` / `SF_SIM_PROFILE`).

- `ideal`: the simulator's historical default — multi-currency, free-text countries, no duplicate
  rules, one sales process. (Kept as the default until the app learns the org from describe.)
- `new_org`: what a new org has out of the box — single currency (no CurrencyIsoCode anywhere),
  State and Country/Territory picklists on, the standard Account and Contact duplicate rules active,
  only the Master record type with all standard stages, Opportunity Teams off.
- `enterprise`: multi-currency with active and inactive currencies, free-text countries, two
  Opportunity record types with different sales processes, no duplicate rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from devstack.sf_sim import ids
from devstack.sf_sim.schema import CURRENCIES, DEFAULT_STAGES

DEFAULT_PROFILE = "ideal"
PROFILE_ENV = "SF_SIM_PROFILE"
# The Master record type's id is the same in every org.
MASTER_RECORD_TYPE_ID = "012000000000000AAA"
ALL_STAGES = tuple(s[0] for s in DEFAULT_STAGES)


@dataclass(frozen=True)
class RecordType:
    """An Opportunity record type and the stages of its sales process."""

    developer_name: str
    label: str
    stages: tuple[str, ...]
    record_type_id: str


MASTER = RecordType("Master", "Master", ALL_STAGES, MASTER_RECORD_TYPE_ID)
NEW_BUSINESS = RecordType(
    "New_Business",
    "New Business",
    (
        "Prospecting",
        "Qualification",
        "Needs Analysis",
        "Value Proposition",
        "Proposal/Price Quote",
        "Negotiation/Review",
        "Closed Won",
        "Closed Lost",
    ),
    ids.mint("012", 1),
)
RENEWAL = RecordType(
    "Renewal",
    "Renewal",
    ("Qualification", "Perception Analysis", "Negotiation/Review", "Closed Won", "Closed Lost"),
    ids.mint("012", 2),
)


@dataclass(frozen=True)
class OrgProfile:
    name: str
    multi_currency: bool = True
    currencies: tuple[str, ...] = CURRENCIES  # active
    inactive_currencies: tuple[str, ...] = ()
    country_picklists: bool = False
    duplicate_rules: bool = False
    record_types: tuple[RecordType, ...] = ()  # Opportunity record types besides Master
    default_record_type: str | None = None  # developer name; the integration user's default
    read_only_fields: frozenset[str] = field(default_factory=frozenset)  # "Opportunity.Field__c"
    opportunity_teams: bool = True  # Setup > Opportunity Team Settings (OpportunityTeamMember exists)

    def with_options(self, options: dict[str, Any]) -> OrgProfile:
        """This profile with some settings overridden (the control API's and constructor's options)."""
        known = {f.name for f in fields(self)} - {"name"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown profile options: {sorted(unknown)}")
        values = dict(options)
        for key in ("currencies", "inactive_currencies"):
            if key in values:
                values[key] = tuple(values[key])
        if "read_only_fields" in values:
            values["read_only_fields"] = frozenset(values["read_only_fields"])
        profile = replace(self, **values)
        profile.default_record()  # validates default_record_type
        return profile

    def default_record(self) -> RecordType:
        """The record type a new Opportunity gets when the request names none."""
        if not self.record_types:
            return MASTER
        wanted = self.default_record_type or self.record_types[0].developer_name
        for record_type in self.record_types:
            if record_type.developer_name.lower() == wanted.lower():
                return record_type
        raise ValueError(f"no record type {wanted!r} in profile {self.name!r}")

    def record_type(self, record_type_id: str | None) -> RecordType | None:
        for record_type in (MASTER, *self.record_types):
            if record_type_id and ids.key(record_type.record_type_id) == ids.key(record_type_id):
                return record_type
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "multi_currency": self.multi_currency,
            "currencies": list(self.currencies),
            "inactive_currencies": list(self.inactive_currencies),
            "country_picklists": self.country_picklists,
            "duplicate_rules": self.duplicate_rules,
            "record_types": [
                {
                    "developerName": r.developer_name,
                    "recordTypeId": r.record_type_id,
                    "stages": list(r.stages),
                }
                for r in self.record_types
            ],
            "default_record_type": self.default_record().developer_name,
            "read_only_fields": sorted(self.read_only_fields),
            "opportunity_teams": self.opportunity_teams,
        }


PROFILES: dict[str, OrgProfile] = {
    "ideal": OrgProfile("ideal"),
    "new_org": OrgProfile(
        "new_org",
        multi_currency=False,
        currencies=("USD",),
        country_picklists=True,
        duplicate_rules=True,
        opportunity_teams=False,
    ),
    "enterprise": OrgProfile(
        "enterprise",
        currencies=("USD", "EUR", "GBP", "JPY"),
        inactive_currencies=("CAD", "AUD"),
        record_types=(NEW_BUSINESS, RENEWAL),
        default_record_type="New_Business",
    ),
}


def resolve_profile(profile: str | OrgProfile | None, options: dict[str, Any] | None = None) -> OrgProfile:
    """A profile by name (or as given), with `options` applied."""
    if profile is None:
        profile = DEFAULT_PROFILE
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"unknown org profile {profile!r}; choose one of {sorted(PROFILES)}")
        profile = PROFILES[profile]
    return profile.with_options(options) if options else profile

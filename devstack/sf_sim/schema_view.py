"""`SchemaView`: the schema as the integration user sees it in this org — fields that depend on an
org feature (multi-currency, country picklists) or are hidden by field-level security disappear."""

from __future__ import annotations

from dataclasses import dataclass, field

from devstack.sf_sim.profiles import OrgProfile, resolve_profile
from devstack.sf_sim.schema import FieldDef, ObjectDef
from devstack.sf_sim.sf_errors import SfError


@dataclass
class SchemaView:
    schema: dict[str, ObjectDef]
    multi_currency: bool = True
    country_picklists: bool = False
    hidden_fields: set[tuple[str, str]] = field(default_factory=set)
    profile: OrgProfile = field(default_factory=lambda: resolve_profile(None))

    def object_visible(self, obj: ObjectDef) -> bool:
        """An object that exists only with an org feature (OpportunityTeamMember: Opportunity Teams)."""
        if obj.requires == "opportunity_teams":
            return self.profile.opportunity_teams
        return True

    def sobject(self, name: str) -> ObjectDef:
        obj = self.schema.get(name.lower())
        if obj is None or not self.object_visible(obj):
            raise SfError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        return obj

    def field_def(self, obj: ObjectDef, name: str, *, for_query: bool = False) -> FieldDef:
        fdef = obj.fields.get(name.lower())
        if fdef is None or not self.visible(obj, fdef):
            if for_query:
                raise SfError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{obj.name}'. If you are attempting to use a custom "
                    "field, be sure to append the '__c' after the custom field name.",
                )
            raise SfError(
                400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", [name]
            )
        return fdef

    def visible(self, obj: ObjectDef, fdef: FieldDef) -> bool:
        if (obj.name.lower(), fdef.name.lower()) in self.hidden_fields:
            return False
        if fdef.requires == "multi_currency":
            return self.multi_currency
        if fdef.requires == "country_picklists":
            return self.country_picklists
        if fdef.requires == "record_types":
            return bool(self.profile.record_types)
        return True

    def writable(self, obj: ObjectDef, fdef: FieldDef, *, creating: bool) -> bool:
        """Field-level security for the integration user: a profile's read-only field is neither
        createable nor updateable (describe says so too)."""
        if f"{obj.name}.{fdef.name}".lower() in {f.lower() for f in self.profile.read_only_fields}:
            return False
        return fdef.createable if creating else fdef.updateable

    def visible_fields(self, obj: ObjectDef) -> list[FieldDef]:
        return [f for f in obj.fields.values() if self.visible(obj, f)]

    def relationship(self, obj: ObjectDef, name: str, *, visible_only: bool = False) -> FieldDef | None:
        """The lookup field whose relationship name is `name` ("Account" on Opportunity)."""
        fields = self.visible_fields(obj) if visible_only else obj.fields.values()
        return next(
            (f for f in fields if f.relationship_name and f.relationship_name.lower() == name.lower()), None
        )

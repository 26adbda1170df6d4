"""`Org`: one simulated org — a thin facade over the schema view (what the integration user sees),
the record store, write coercion/rules and the SOQL evaluator. The HTTP layer turns `SfError` into
Salesforce's JSON error list."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Generic, TypeVar, cast

from devstack.sf_sim import duplicate_rules, ids, profile_rules, write_rules
from devstack.sf_sim.coercion import coerce_fields
from devstack.sf_sim.profiles import OrgProfile, resolve_profile
from devstack.sf_sim.record_json import Record, attributes, format_datetime, json_value
from devstack.sf_sim.schema import DEFAULT_STAGES, FieldDef, ObjectDef, load_schema
from devstack.sf_sim.schema_view import SchemaView
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.soql import SoqlError, parse
from devstack.sf_sim.soql_eval import SoqlEvaluator
from devstack.sf_sim.storage import RecordStore, Transaction
from devstack.sf_sim.write_rules import ValidationRule

__all__ = [
    "INTEGRATION_USER_ID",
    "SELLER_USER_ID",
    "Org",
    "SfError",
    "Transaction",
    "ValidationRule",
    "format_datetime",
]

T = TypeVar("T")
INTEGRATION_USER_ID = ids.mint("005", 1)
SELLER_USER_ID = ids.mint("005", 2)
_USERS = (
    (INTEGRATION_USER_ID, "integration@cosell.example", "Integration User"),
    (SELLER_USER_ID, "seller@cosell.example", "Sam Seller"),
)


class _ViewAttribute(Generic[T]):
    """An `Org` switch that lives on its `SchemaView` (what the integration user can see)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, org: Org, owner: type | None = None) -> T:
        return cast(T, getattr(org.view, self.name))

    def __set__(self, org: Org, value: T) -> None:
        setattr(org.view, self.name, value)


class Org:
    """One simulated org. Switches mirror org settings the sync must cope with."""

    def __init__(
        self,
        *,
        api_version: str = "59.0",
        profile: str | OrgProfile | None = None,
        multi_currency: bool | None = None,
        schema: dict[str, ObjectDef] | None = None,
    ) -> None:
        self.api_version = api_version
        self.schema = schema if schema is not None else load_schema()
        self.view = SchemaView(self.schema)
        self.store = RecordStore(self.schema)
        self.evaluator = SoqlEvaluator(self.view, self.store, api_version)
        options = {} if multi_currency is None else {"multi_currency": multi_currency}
        self.apply_profile(resolve_profile(profile, options))

    @property
    def profile(self) -> OrgProfile:
        return self.view.profile

    def apply_profile(self, profile: OrgProfile) -> None:
        """Become an org with `profile`'s settings, emptied."""
        with self.lock:
            self.view.profile = profile
            self.view.multi_currency = profile.multi_currency
            self.view.country_picklists = profile.country_picklists
            self.reset()

    # ------------------------------------------------------------------ switches
    @property
    def lock(self) -> threading.RLock:
        return self.store.lock

    multi_currency = _ViewAttribute[bool]()
    country_picklists = _ViewAttribute[bool]()
    hidden_fields = _ViewAttribute[set[tuple[str, str]]]()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        with self.lock:
            self.store.reset()
            self.validation_rules: list[ValidationRule] = []
            self.view.hidden_fields = set()
            for user_id, username, name in _USERS:
                first, _, last = name.partition(" ")
                self.add_user(first, last, username, username=username, user_id=user_id)
            self.set_stages(DEFAULT_STAGES)
            now = self.store.stamp()
            for record_type in self.profile.record_types:
                self.store.records["recordtype"][ids.key(record_type.record_type_id)] = {
                    "Id": record_type.record_type_id,
                    "Name": record_type.label,
                    "DeveloperName": record_type.developer_name,
                    "SobjectType": "Opportunity",
                    "IsActive": True,
                    "SystemModstamp": now,
                }

    def add_user(
        self,
        first_name: str | None,
        last_name: str,
        email: str,
        *,
        phone: str | None = None,
        active: bool = True,
        username: str | None = None,
        user_id: str | None = None,
    ) -> str:
        """A User (Setup > Users; the API's integration user cannot create one)."""
        with self.lock:
            if user_id is None:
                user_id = self.store.new_id("user")
                while self.store.find("User", user_id):  # the built-in users hold fixed ids
                    user_id = self.store.new_id("user")
            now = self.store.stamp()
            self.store.records["user"][ids.key(user_id)] = {
                "Id": user_id,
                "Username": username or email,
                "Name": " ".join(p for p in (first_name, last_name) if p),
                "FirstName": first_name,
                "LastName": last_name,
                "Email": email,
                "Phone": phone,
                "IsActive": active,
                "IsDeleted": False,
                "CreatedDate": now,
                "LastModifiedDate": now,
                "SystemModstamp": now,
                "CreatedById": INTEGRATION_USER_ID,
                "LastModifiedById": INTEGRATION_USER_ID,
            }
            return user_id

    def set_stages(self, stages: Iterable[tuple[str, int, str, bool, bool]]) -> None:
        """Replace the OpportunityStage picklist (name, probability, forecast, closed, won)."""
        with self.lock:
            self.stages = {s[0]: s for s in stages}
            self.schema["opportunity"].fields["stagename"].picklist = tuple(self.stages)
            table = self.store.records["opportunitystage"]
            table.clear()
            for order, (name, prob, forecast, closed, won) in enumerate(self.stages.values()):
                rid = self.store.new_id("opportunitystage")
                table[ids.key(rid)] = {
                    "Id": rid,
                    "MasterLabel": name,
                    "ApiName": name,
                    "DefaultProbability": float(prob),
                    "ForecastCategoryName": forecast,
                    "IsActive": True,
                    "IsClosed": closed,
                    "IsWon": won,
                    "SortOrder": order + 1,
                    "SystemModstamp": self.store.last_stamp,
                }

    # ------------------------------------------------------------------ schema and lookups
    def sobject(self, name: str) -> ObjectDef:
        return self.view.sobject(name)

    def field_def(self, obj: ObjectDef, name: str, *, for_query: bool = False) -> FieldDef:
        return self.view.field_def(obj, name, for_query=for_query)

    def visible_fields(self, obj: ObjectDef) -> list[FieldDef]:
        return self.view.visible_fields(obj)

    def find(self, obj_name: str, record_id: str, *, include_deleted: bool = False) -> Record | None:
        return self.store.find(obj_name, record_id, include_deleted=include_deleted)

    def find_any(self, record_id: str) -> tuple[str, Record] | None:
        return self.store.find_any(record_id)

    def get(self, obj_name: str, record_id: str) -> Record:
        obj = self.sobject(obj_name)
        if not ids.looks_like_id(record_id):
            raise SfError(
                404,
                "NOT_FOUND",
                "Provided external ID field does not exist or is not accessible: " + record_id,
            )
        rec = self.store.find(obj.name, record_id)
        if rec is None:
            if self.store.find(obj.name, record_id, include_deleted=True):
                raise SfError(404, "ENTITY_IS_DELETED", "entity is deleted")
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        return rec

    def by_external_id(self, obj_name: str, field_name: str, value: str) -> list[Record]:
        obj = self.sobject(obj_name)
        fdef = obj.fields.get(field_name.lower())
        if fdef is None or not self.view.visible(obj, fdef) or not (fdef.external_id or fdef.name == "Id"):
            raise SfError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        if fdef.name == "Id":
            rec = self.store.find(obj.name, value)
            return [rec] if rec else []
        return [
            self.store.records[obj.name.lower()][k] for k in sorted(self.store.by_index(obj, fdef, value))
        ]

    # ------------------------------------------------------------------ writes
    def transaction(self) -> AbstractContextManager[Transaction]:
        """All-or-none writes; see `RecordStore.transaction`."""
        return self.store.transaction()

    def create(self, obj_name: str, data: Record, *, user: str = INTEGRATION_USER_ID) -> str:
        with self.lock:
            obj = self.sobject(obj_name)
            if not obj.createable:
                raise SfError(400, "INVALID_TYPE", f"Cannot create sObject of type {obj.name}")
            values = coerce_fields(self.view, self.store, obj, data, creating=True)
            self._apply_defaults(obj, values)
            _require(
                obj,
                [f.name for f in self.visible_fields(obj) if f.required and values.get(f.name) in (None, "")],
            )
            rid = self.store.new_id(obj.name.lower())
            now = self.store.stamp()
            values.update(
                Id=rid,
                IsDeleted=False,
                CreatedDate=now,
                CreatedById=user,
                LastModifiedDate=now,
                LastModifiedById=user,
                SystemModstamp=now,
            )
            if obj.name.lower() == "partner_center_solution__c" and not values.get("Name"):
                values["Name"] = rid  # custom objects name a record by its id when Name is blank
            if "ownerid" in obj.fields and not values.get("OwnerId"):
                values["OwnerId"] = user
            record = {f.name: None for f in obj.fields.values() if f.type != "base64"}
            record.update(values)
            self._save(obj, record, set(values), None)
            return rid

    def _apply_defaults(self, obj: ObjectDef, values: Record) -> None:
        for fdef in self.visible_fields(obj):
            if fdef.name not in values and fdef.default is not None:
                values[fdef.name] = fdef.default
            elif fdef.name not in values and fdef.type == "boolean" and fdef.createable:
                values[fdef.name] = False

    def _save(
        self, obj: ObjectDef, record: Record, changed: set[str], previous: Record | None, user: str = ""
    ) -> None:
        """Derive, validate and store one record version (a create, or an update of `previous` by `user`)."""
        profile_rules.check(self, obj, record, changed, creating=previous is None)
        write_rules.derive(self, obj, record, changed)
        write_rules.check_rules(self, obj, record)
        write_rules.check_unique(self, obj, record)
        write_rules.check_team_member(self, obj, record)
        duplicate_rules.check(self, obj, record)
        if previous is not None:
            now = self.store.stamp()
            record.update(LastModifiedDate=now, LastModifiedById=user, SystemModstamp=now)
        self.store.put(obj, record, previous)
        write_rules.after_write(self, obj, record)

    def update(self, obj_name: str, record_id: str, data: Record, *, user: str = INTEGRATION_USER_ID) -> None:
        with self.lock:
            obj = self.sobject(obj_name)
            current = self.get(obj.name, record_id)
            values = coerce_fields(self.view, self.store, obj, data, creating=False)
            if not values and not data:
                return
            _require(
                obj, [f for f, v in values.items() if obj.fields[f.lower()].required and v in (None, "")]
            )
            updated = dict(current)
            updated.update(values)
            self._save(obj, updated, set(values), current, user)

    def upsert(self, obj_name: str, field_name: str, value: str, data: Record) -> tuple[str, bool]:
        with self.lock:
            obj = self.sobject(obj_name)
            matches = self.by_external_id(obj.name, field_name, value)
            if len(matches) > 1:
                raise SfError(300, "MULTIPLE_RECORDS", "multiple records", [m["Id"] for m in matches])
            body = {k: v for k, v in data.items() if k.lower() != field_name.lower() or v == value}
            if any(k.lower() == field_name.lower() for k in body) and matches:
                body = {k: v for k, v in body.items() if k.lower() != field_name.lower()}
            if matches:
                self.update(obj.name, matches[0]["Id"], body)
                return matches[0]["Id"], False
            fdef = obj.fields[field_name.lower()]
            if fdef.name == "Id":
                raise SfError(
                    404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible"
                )
            body[fdef.name] = value
            return self.create(obj.name, body), True

    def delete(self, obj_name: str, record_id: str) -> None:
        with self.lock:
            obj = self.sobject(obj_name)
            record = self.get(obj.name, record_id)
            self.store.remove(obj, record)
            for rel in obj.children.values():
                child = self.schema[rel.child.lower()]
                cascade = child.fields[rel.field.lower()].required
                for rec in list(self.store.records[rel.child.lower()].values()):
                    if rec.get(rel.field) and ids.key(rec[rel.field]) == ids.key(record["Id"]):
                        if cascade:
                            self.store.remove(child, rec)
                        else:
                            self.store.touch("records", rel.child.lower(), ids.key(rec["Id"]))
                            rec[rel.field] = None

    def backdate(self, obj_name: str, record_id: str, seconds: float) -> datetime:
        """A late commit: the record is visible now, with a SystemModstamp `seconds` in the past."""
        with self.lock:
            record = self.get(obj_name, record_id)
            stamp: datetime = record["SystemModstamp"] - timedelta(seconds=seconds)
            record["SystemModstamp"] = stamp
            record["LastModifiedDate"] = stamp
            return stamp

    # ------------------------------------------------------------------ queries and JSON
    def query(self, soql: str, *, include_deleted: bool = False) -> tuple[list[Record], int]:
        """Run a SOQL statement; returns (rows as JSON, totalSize)."""
        with self.lock:
            try:
                query = parse(soql)
            except SoqlError as exc:
                raise SfError(400, "MALFORMED_QUERY", str(exc)) from None
            return self.evaluator.run(query, include_deleted=include_deleted)

    def record_json(self, obj_name: str, rec: Record, fields: Iterable[str] | None = None) -> Record:
        obj = self.sobject(obj_name)
        defs = (
            [self.field_def(obj, f, for_query=True) for f in fields] if fields else self.visible_fields(obj)
        )
        out: Record = {"attributes": attributes(self.api_version, obj.name, rec["Id"])}
        for fdef in defs:
            out[fdef.name] = json_value(self.api_version, obj, fdef, rec)
        return out

    def all_records(self, obj_name: str) -> Iterator[Record]:
        obj = self.sobject(obj_name)
        for rec in list(self.store.records[obj.name.lower()].values()):
            yield self.record_json(obj.name, rec)


def _require(obj: ObjectDef, missing: list[str]) -> None:
    if missing:
        raise SfError(
            400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
        )

"""The simulated org's data: records, indexes, write validation and SOQL evaluation.

Everything here is synchronous and guarded by one lock; the HTTP layer (`app.py`) translates
`SfError` into Salesforce's JSON error list.
"""

from __future__ import annotations

import base64
import html
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pycountry

from devstack.sf_sim import ids
from devstack.sf_sim.schema import DEFAULT_STAGES, FieldDef, ObjectDef, load_schema
from devstack.sf_sim.soql import (
    BoolOp,
    Compare,
    Condition,
    DateLiteral,
    FieldRef,
    InList,
    Not,
    Query,
    SoqlError,
    like_to_regex,
    parse,
    parse_datetime,
)

Record = dict[str, Any]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INTEGRATION_USER_ID = ids.mint("005", 1)
SELLER_USER_ID = ids.mint("005", 2)


class SfError(Exception):
    """A Salesforce API error: HTTP status, errorCode, message and the fields involved."""

    def __init__(self, status: int, code: str, message: str, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)

    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]

    def collection_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


@dataclass
class ValidationRule:
    """A stand-in for an admin's validation rule: reject writes where `field` equals `value`."""

    sobject: str
    field: str
    value: Any
    message: str


def format_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


@dataclass
class Org:
    """One simulated org. Switches mirror org settings the sync must cope with."""

    api_version: str = "59.0"
    multi_currency: bool = True
    country_picklists: bool = False
    schema: dict[str, ObjectDef] = field(default_factory=load_schema)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        with self.lock:
            self.records: dict[str, dict[str, Record]] = {name: {} for name in self.schema}
            self.recycle_bin: dict[str, dict[str, Record]] = {name: {} for name in self.schema}
            self.ext_index: dict[tuple[str, str], dict[str, set[str]]] = {}
            # Equality lookups for lookups and the fields our client matches on, so that queries by
            # them stay fast with 10,000+ records (Salesforce indexes these too).
            self.lookup_index: dict[tuple[str, str], dict[str, set[str]]] = {}
            self.serial = itertools.count(1000)
            self.last_stamp = datetime(2000, 1, 1, tzinfo=UTC)
            self.validation_rules: list[ValidationRule] = []
            self.hidden_fields: set[tuple[str, str]] = set()
            self.locators: dict[str, list[Record]] = {}
            self.content: dict[str, bytes] = {}
            self._journal: dict[tuple[str, str, str], Any] | None = None
            self.clock_offset = timedelta(0)
            now = self.stamp()
            for user_id, username, name in (
                (INTEGRATION_USER_ID, "integration@cosell.example", "Integration User"),
                (SELLER_USER_ID, "seller@cosell.example", "Sam Seller"),
            ):
                self.records["user"][ids.key(user_id)] = {
                    "Id": user_id,
                    "Username": username,
                    "Name": name,
                    "IsDeleted": False,
                    "CreatedDate": now,
                    "LastModifiedDate": now,
                    "SystemModstamp": now,
                    "CreatedById": INTEGRATION_USER_ID,
                    "LastModifiedById": INTEGRATION_USER_ID,
                }
            self.set_stages(DEFAULT_STAGES)

    def set_stages(self, stages: Iterable[tuple[str, int, str, bool, bool]]) -> None:
        """Replace the OpportunityStage picklist (name, probability, forecast, closed, won)."""
        with self.lock:
            self.stages = {s[0]: s for s in stages}
            self.schema["opportunity"].fields["stagename"].picklist = tuple(self.stages)
            table = self.records["opportunitystage"]
            table.clear()
            for order, (name, prob, forecast, closed, won) in enumerate(self.stages.values()):
                rid = self._new_id("opportunitystage")
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
                    "SystemModstamp": self.last_stamp,
                }

    def stamp(self) -> datetime:
        """A strictly increasing millisecond timestamp (SystemModstamp of the next write)."""
        now = datetime.now(UTC) + self.clock_offset
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if now <= self.last_stamp:
            now = self.last_stamp + timedelta(milliseconds=1)
        self.last_stamp = now
        return now

    def _new_id(self, obj: str) -> str:
        return ids.mint(self.schema[obj].key_prefix, next(self.serial))

    # ------------------------------------------------------------------ schema
    def sobject(self, name: str) -> ObjectDef:
        obj = self.schema.get(name.lower())
        if obj is None:
            raise SfError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        return obj

    def field_def(self, obj: ObjectDef, name: str, *, for_query: bool = False) -> FieldDef:
        fdef = obj.fields.get(name.lower())
        if fdef is None or not self._visible(obj, fdef):
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

    def _visible(self, obj: ObjectDef, fdef: FieldDef) -> bool:
        if (obj.name.lower(), fdef.name.lower()) in self.hidden_fields:
            return False
        if fdef.requires == "multi_currency":
            return self.multi_currency
        if fdef.requires == "country_picklists":
            return self.country_picklists
        return True

    def visible_fields(self, obj: ObjectDef) -> list[FieldDef]:
        return [f for f in obj.fields.values() if self._visible(obj, f)]

    # ------------------------------------------------------------------ lookups
    def find(self, obj_name: str, record_id: str, *, include_deleted: bool = False) -> Record | None:
        obj = obj_name.lower()
        rec = self.records.get(obj, {}).get(ids.key(record_id))
        if rec is None and include_deleted:
            rec = self.recycle_bin.get(obj, {}).get(ids.key(record_id))
        return rec

    def find_any(self, record_id: str) -> tuple[str, Record] | None:
        for obj, table in self.records.items():
            rec = table.get(ids.key(record_id))
            if rec is not None and rec["Id"][:3] == record_id[:3]:
                return obj, rec
        return None

    def get(self, obj_name: str, record_id: str) -> Record:
        obj = self.sobject(obj_name)
        if not ids.looks_like_id(record_id):
            raise SfError(
                404,
                "NOT_FOUND",
                "Provided external ID field does not exist or is not accessible: " + record_id,
            )
        rec = self.find(obj.name, record_id)
        if rec is None:
            if self.find(obj.name, record_id, include_deleted=True):
                raise SfError(404, "ENTITY_IS_DELETED", "entity is deleted")
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        return rec

    def by_external_id(self, obj_name: str, field_name: str, value: str) -> list[Record]:
        obj = self.sobject(obj_name)
        fdef = obj.fields.get(field_name.lower())
        if fdef is None or not self._visible(obj, fdef) or not (fdef.external_id or fdef.name == "Id"):
            raise SfError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        if fdef.name == "Id":
            rec = self.find(obj.name, value)
            return [rec] if rec else []
        matches = self.ext_index.get((obj.name.lower(), fdef.name.lower()), {}).get(value.lower(), set())
        return [self.records[obj.name.lower()][k] for k in sorted(matches)]

    # ------------------------------------------------------------------ writes
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """All-or-none writes (a composite or collection with allOrNone): what changes inside is
        journalled (the previous version of each touched record), and `rollback()` restores it.
        Costs what the writes touch, not the size of the org."""
        with self.lock:
            if self._journal is not None:  # nested (a collection inside a composite): one journal
                yield Transaction(self)
                return
            self._journal = {}
            try:
                yield Transaction(self)
            finally:
                self._journal = None

    def _touch(self, store: str, obj: str, key: str) -> None:
        """Journal a record's version before it changes (inside a transaction)."""
        if self._journal is None or (store, obj, key) in self._journal:
            return
        if store == "content":
            self._journal[(store, obj, key)] = self.content.get(key)
            return
        previous = getattr(self, store)[obj].get(key)
        self._journal[(store, obj, key)] = dict(previous) if previous is not None else None

    def _rollback(self) -> None:
        journal, self._journal = self._journal or {}, None
        for (store, obj, key), previous in reversed(list(journal.items())):
            if store == "content":
                if previous is None:
                    self.content.pop(key, None)
                else:
                    self.content[key] = previous
                continue
            table = getattr(self, store)[obj]
            current = table.pop(key, None)
            if previous is not None:
                table[key] = previous
            if store == "records":
                self._index(self.schema[obj], previous, current)
        self._journal = {}

    def create(self, obj_name: str, data: Record, *, user: str = INTEGRATION_USER_ID) -> str:
        with self.lock:
            obj = self.sobject(obj_name)
            if not obj.createable:
                raise SfError(400, "INVALID_TYPE", f"Cannot create sObject of type {obj.name}")
            values = self._coerce(obj, data, creating=True)
            for fdef in self.visible_fields(obj):
                if fdef.name not in values and fdef.default is not None:
                    values[fdef.name] = fdef.default
                elif fdef.name not in values and fdef.type == "boolean" and fdef.createable:
                    values[fdef.name] = False
            missing = [
                f.name for f in self.visible_fields(obj) if f.required and values.get(f.name) in (None, "")
            ]
            if missing:
                raise SfError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            rid = self._new_id(obj.name.lower())
            now = self.stamp()
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
            if "OwnerId" in {f.name for f in obj.fields.values()} and not values.get("OwnerId"):
                values["OwnerId"] = user
            record = {f.name: None for f in obj.fields.values() if f.type != "base64"}
            record.update(values)
            self._derive(obj, record, set(values))
            self._check_rules(obj, record)
            self._check_unique(obj, record, None)
            self._touch("records", obj.name.lower(), ids.key(rid))
            self.records[obj.name.lower()][ids.key(rid)] = record
            self._index(obj, record, None)
            self._after_write(obj, record, set(values), None)
            return rid

    def update(self, obj_name: str, record_id: str, data: Record, *, user: str = INTEGRATION_USER_ID) -> None:
        with self.lock:
            obj = self.sobject(obj_name)
            current = self.get(obj.name, record_id)
            values = self._coerce(obj, data, creating=False)
            if not values and not data:
                return
            missing = [f for f, v in values.items() if obj.fields[f.lower()].required and v in (None, "")]
            if missing:
                raise SfError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            updated = dict(current)
            updated.update(values)
            self._derive(obj, updated, set(values))
            self._check_rules(obj, updated)
            self._check_unique(obj, updated, current)
            now = self.stamp()
            updated.update(LastModifiedDate=now, LastModifiedById=user, SystemModstamp=now)
            self._index(obj, updated, current)
            self._touch("records", obj.name.lower(), ids.key(record_id))
            self.records[obj.name.lower()][ids.key(record_id)] = updated
            self._after_write(obj, updated, set(values), current)

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
            self._remove(obj, record)
            for rel in obj.children.values():
                child = self.schema[rel.child.lower()]
                cascade = child.fields[rel.field.lower()].required
                for rec in list(self.records[rel.child.lower()].values()):
                    if rec.get(rel.field) and ids.key(rec[rel.field]) == ids.key(record["Id"]):
                        if cascade:
                            self._remove(child, rec)
                        else:
                            self._touch("records", rel.child.lower(), ids.key(rec["Id"]))
                            rec[rel.field] = None

    def _remove(self, obj: ObjectDef, record: Record) -> None:
        key = ids.key(record["Id"])
        self._touch("records", obj.name.lower(), key)
        self._touch("recycle_bin", obj.name.lower(), key)
        self.records[obj.name.lower()].pop(key, None)
        self._index(obj, None, record)
        gone = dict(record, IsDeleted=True, SystemModstamp=self.stamp())
        gone["LastModifiedDate"] = gone["SystemModstamp"]
        self.recycle_bin[obj.name.lower()][key] = gone

    def backdate(self, obj_name: str, record_id: str, seconds: float) -> datetime:
        """A late commit: the record is visible now, with a SystemModstamp `seconds` in the past."""
        with self.lock:
            record = self.get(obj_name, record_id)
            stamp = record["SystemModstamp"] - timedelta(seconds=seconds)
            record["SystemModstamp"] = stamp
            record["LastModifiedDate"] = stamp
            return stamp  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ write helpers
    def _coerce(self, obj: ObjectDef, data: Record, *, creating: bool) -> Record:
        out: Record = {}
        for name, raw in data.items():
            if name == "attributes":
                continue
            fdef = self.field_def(obj, name)
            if not (fdef.createable if creating else fdef.updateable):
                if fdef.name == "Id" and not creating:
                    continue
                raise SfError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to {'create' if creating else 'update'} fields: {fdef.name}. Please check the "
                    "security settings of this field and verify that it is read/write for your profile or "
                    "permission set.",
                    [fdef.name],
                )
            out[fdef.name] = self._coerce_value(obj, fdef, raw)
        return out

    def _coerce_value(self, obj: ObjectDef, fdef: FieldDef, raw: Any) -> Any:  # noqa: PLR0912
        if raw is None or (raw == "" and fdef.type not in ("boolean",)):
            return False if fdef.type == "boolean" else None
        kind = fdef.type

        def bad(kind_name: str) -> SfError:
            return SfError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {kind_name} from value {raw!r}",
                [fdef.name],
            )

        if kind == "boolean":
            if not isinstance(raw, bool):
                raise bad("boolean")
            return raw
        if kind in ("double", "currency", "percent"):
            if isinstance(raw, bool):
                raise bad("double")
            try:
                return float(raw)
            except (TypeError, ValueError):
                raise bad("double") from None
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise bad("int")
            try:
                return int(raw)
            except ValueError:
                raise bad("int") from None
        if kind == "date":
            try:
                return date.fromisoformat(str(raw)[:10])
            except ValueError:
                raise bad("date") from None
        if kind == "datetime":
            try:
                return parse_datetime(str(raw))
            except SoqlError:
                raise bad("datetime") from None
        if kind == "base64":
            try:
                return base64.b64decode(str(raw), validate=True)
            except ValueError:
                raise bad("base64") from None
        if not isinstance(raw, str):
            raise bad("string")
        if kind == "reference":
            return self._reference(fdef, raw)
        if fdef.length and len(raw) > fdef.length:
            raise SfError(
                400,
                "STRING_TOO_LONG",
                f"{fdef.name}: data value too large: {raw[:40]}... (max length={fdef.length})",
                [fdef.name],
            )
        if kind == "email" and not _EMAIL.match(raw):
            raise SfError(
                400, "INVALID_EMAIL_ADDRESS", f"{fdef.name}: invalid email address: {raw}", [fdef.name]
            )
        if kind in ("picklist", "multipicklist") and fdef.restricted:
            values = raw.split(";") if kind == "multipicklist" else [raw]
            for value in values:
                if value not in fdef.picklist:
                    raise SfError(
                        400,
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{fdef.name}: bad value for restricted picklist field: {value}",
                        [fdef.name],
                    )
        return raw

    def _reference(self, fdef: FieldDef, raw: str) -> str:
        if not ids.looks_like_id(raw):
            raise SfError(400, "MALFORMED_ID", f"{fdef.name}: id value of incorrect type: {raw}", [fdef.name])
        target = fdef.reference_to or ""
        found = (
            self.find(target, raw)
            if fdef.name != "LinkedEntityId"
            else (self.find_any(raw) or (None, None))[1]
        )
        if found is None:
            raise SfError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                f"{fdef.name}: id value of incorrect type: {raw}",
                [fdef.name],
            )
        return str(found["Id"])

    def _derive(self, obj: ObjectDef, record: Record, changed: set[str]) -> None:
        name = obj.name
        if name == "Opportunity":
            stage = self.stages.get(record.get("StageName") or "")
            if stage and "StageName" in changed:
                record["IsClosed"], record["IsWon"] = stage[3], stage[4]
                record["ForecastCategory"] = record["ForecastCategoryName"] = stage[2]
                if "Probability" not in changed:
                    record["Probability"] = float(stage[1])
            amount, prob = record.get("Amount"), record.get("Probability")
            record["ExpectedRevenue"] = (
                None if amount is None or prob is None else round(amount * prob / 100, 2)
            )
            if self.multi_currency and not record.get("CurrencyIsoCode"):
                record["CurrencyIsoCode"] = "USD"
        elif name == "Account":
            if self.multi_currency and not record.get("CurrencyIsoCode"):
                record["CurrencyIsoCode"] = "USD"
            if self.country_picklists:
                self._derive_country(record, changed)
        elif name == "Contact":
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
        elif name == "ContentNote":
            record["FileType"] = "SNOTE"

    def _derive_country(self, record: Record, changed: set[str]) -> None:
        code, text = record.get("BillingCountryCode"), record.get("BillingCountry")
        if "BillingCountryCode" in changed and code:
            country = pycountry.countries.get(alpha_2=code.upper())
            if country is None:
                raise SfError(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"Billing Country Code: bad value for restricted picklist field: {code}",
                    ["BillingCountryCode"],
                )
            if (
                "BillingCountry" in changed
                and text
                and text.lower() not in (country.name.lower(), code.lower())
            ):
                raise SfError(
                    400,
                    "FIELD_INTEGRITY_EXCEPTION",
                    "A country/territory must be specified before specifying a state value for field: "
                    f"{text}",
                    ["BillingCountry"],
                )
            record["BillingCountryCode"], record["BillingCountry"] = country.alpha_2, country.name
        elif "BillingCountry" in changed and text:
            match = next(
                (c for c in pycountry.countries if text.lower() in (c.name.lower(), c.alpha_2.lower())), None
            )
            if match is None:
                raise SfError(
                    400,
                    "FIELD_INTEGRITY_EXCEPTION",
                    "There's a problem with this country, even though it may appear correct. Please select a "
                    f"country/territory from the list of valid countries.: Billing Country: {text}",
                    ["BillingCountry"],
                )
            record["BillingCountryCode"], record["BillingCountry"] = match.alpha_2, match.name

    def _check_rules(self, obj: ObjectDef, record: Record) -> None:
        for rule in self.validation_rules:
            if rule.sobject.lower() == obj.name.lower():
                fdef = obj.fields.get(rule.field.lower())
                if fdef and record.get(fdef.name) == rule.value:
                    raise SfError(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, [])

    def _unique_fields(self, obj: ObjectDef) -> list[FieldDef]:
        return [f for f in obj.fields.values() if f.external_id]

    def _check_unique(self, obj: ObjectDef, record: Record, previous: Record | None) -> None:
        for fdef in self._unique_fields(obj):
            value = record.get(fdef.name)
            if not fdef.unique or not value:
                continue
            others = self.ext_index.get((obj.name.lower(), fdef.name.lower()), {}).get(
                str(value).lower(), set()
            )
            others = others - {ids.key(record["Id"])} if record.get("Id") else others
            if others:
                other_id = self.records[obj.name.lower()][next(iter(others))]["Id"]
                raise SfError(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {fdef.name} duplicates value on record with id: {other_id}",
                    [fdef.name],
                )

    def _index(self, obj: ObjectDef, new: Record | None, old: Record | None) -> None:
        for fdef in self._unique_fields(obj):
            index = self.ext_index.setdefault((obj.name.lower(), fdef.name.lower()), {})
            if old and old.get(fdef.name):
                index.get(str(old[fdef.name]).lower(), set()).discard(ids.key(old["Id"]))
            if new and new.get(fdef.name):
                index.setdefault(str(new[fdef.name]).lower(), set()).add(ids.key(new["Id"]))
        for fdef in self._lookup_fields(obj):
            index = self.lookup_index.setdefault((obj.name.lower(), fdef.name.lower()), {})
            if old and old.get(fdef.name):
                index.get(_lookup_key(fdef, old[fdef.name]), set()).discard(ids.key(old["Id"]))
            if new and new.get(fdef.name):
                index.setdefault(_lookup_key(fdef, new[fdef.name]), set()).add(ids.key(new["Id"]))

    def _lookup_fields(self, obj: ObjectDef) -> list[FieldDef]:
        return [
            f
            for f in obj.fields.values()
            if f.type == "reference" or (obj.name.lower(), f.name.lower()) in _LOOKUP_FIELDS
        ]

    def _after_write(
        self, obj: ObjectDef, record: Record, changed: set[str], previous: Record | None
    ) -> None:
        if obj.name == "OpportunityContactRole" and record.get("IsPrimary"):
            roles = self.records["opportunitycontactrole"]
            siblings = self.lookup_index.get(("opportunitycontactrole", "opportunityid"), {})
            for key in list(siblings.get(ids.key(str(record["OpportunityId"])), ())):
                other = roles.get(key)
                if other is not None and other is not record and other["IsPrimary"]:
                    self._touch("records", "opportunitycontactrole", key)
                    other["IsPrimary"] = False
        elif obj.name == "ContentNote":
            content = record.pop("Content", None)
            if content is not None:
                self._touch("content", "", ids.key(record["Id"]))
                self.content[ids.key(record["Id"])] = content
                text = html.unescape(re.sub(r"<[^>]+>", " ", content.decode("utf-8", "replace")))
                record["TextPreview"] = " ".join(text.split())[:255]
            self._touch("records", "contentdocument", ids.key(record["Id"]))
            self.records["contentdocument"][ids.key(record["Id"])] = {
                k: record.get(k)
                for k in (
                    "Id",
                    "Title",
                    "FileType",
                    "IsDeleted",
                    "CreatedDate",
                    "CreatedById",
                    "LastModifiedDate",
                    "LastModifiedById",
                    "SystemModstamp",
                )
            }

    # ------------------------------------------------------------------ queries
    def query(self, soql: str, *, include_deleted: bool = False) -> tuple[list[Record], int]:
        """Run a SOQL statement; returns (rows as JSON, totalSize)."""
        with self.lock:
            try:
                query = parse(soql)
            except SoqlError as exc:
                raise SfError(400, "MALFORMED_QUERY", str(exc)) from None
            return self._run(query, include_deleted=include_deleted)

    def _run(self, query: Query, *, include_deleted: bool) -> tuple[list[Record], int]:
        obj = self.sobject(query.sobject)
        if obj.name == "ContentDocumentLink" and not _filters_on(
            query.where, {"linkedentityid", "contentdocumentid"}
        ):
            raise SfError(
                400,
                "MALFORMED_QUERY",
                "Implementation restriction: ContentDocumentLink requires a filter by a single Id on "
                "ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the IN "
                "operator.",
            )
        for ref in query.fields:
            self._resolve_path(obj, ref.path)
        predicate = self._compile(obj, query.where) if query.where else None
        rows = [
            r
            for r in self._candidates(obj, query.where, include_deleted)
            if predicate is None or predicate(r)
        ]
        if query.count:
            return [], len(rows)
        self._sort(obj, rows, query)
        rows = rows[query.offset or 0 :]
        if query.limit is not None:
            rows = rows[: query.limit]
        children = [self._child_plan(obj, sub) for sub in query.subqueries]
        groups = [self._group_children(plan, rows) for plan in children]
        out = []
        for rec in rows:
            row = self._project(obj, rec, query.fields)
            for (rel_name, child_obj, sub, _fk), grouped in zip(children, groups, strict=True):
                kids = grouped.get(ids.key(rec["Id"]), [])
                self._sort(child_obj, kids, sub)
                kids = kids[sub.offset or 0 :][: sub.limit if sub.limit is not None else None]
                row[rel_name] = (
                    {
                        "totalSize": len(kids),
                        "done": True,
                        "records": [self._project(child_obj, k, sub.fields) for k in kids],
                    }
                    if kids
                    else None
                )
            out.append(row)
        return out, len(out)

    def _candidates(self, obj: ObjectDef, where: Condition | None, include_deleted: bool) -> Iterable[Record]:
        """Records that may match: an index hit for an equality (alone or in a top-level AND), else
        all of them. The WHERE predicate is still applied to whatever this returns."""
        table = self.records[obj.name.lower()]
        if not include_deleted:
            parts = where.parts if isinstance(where, BoolOp) and where.op == "AND" else (where,)
            hits = [h for h in (self._index_hit(obj, p) for p in parts) if h is not None]
            if hits:
                smallest = min(hits, key=len)
                return [table[k] for k in smallest if k in table]
        if include_deleted:
            return itertools.chain(table.values(), self.recycle_bin[obj.name.lower()].values())
        return list(table.values())

    def _index_hit(self, obj: ObjectDef, condition: Condition | None) -> set[str] | None:
        if isinstance(condition, InList) and condition.op == "IN" and not condition.negate:
            hits: set[str] = set()
            for value in condition.values:
                if not isinstance(value, str):
                    return None
                one = self._index_hit(obj, Compare(condition.field, "=", value))
                if one is None:
                    return None
                hits |= one
            return hits
        if not (isinstance(condition, Compare) and condition.op == "=" and isinstance(condition.value, str)):
            return None
        path = [p.lower() for p in condition.field.path]
        if len(path) != 1:
            return None
        if path == ["id"]:
            return {ids.key(condition.value)}
        fdef = obj.fields.get(path[0])
        if fdef is None:
            return None
        if fdef.external_id:
            return set(
                self.ext_index.get((obj.name.lower(), fdef.name.lower()), {}).get(condition.value.lower(), ())
            )
        index = self.lookup_index.get((obj.name.lower(), fdef.name.lower()))
        if index is not None or fdef in self._lookup_fields(obj):
            return set((index or {}).get(_lookup_key(fdef, condition.value), ()))
        return None

    def _child_plan(self, obj: ObjectDef, sub: Query) -> tuple[str, ObjectDef, Query, str]:
        rel = obj.children.get(sub.sobject.lower())
        if rel is None:
            raise SfError(
                400,
                "INVALID_TYPE",
                f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after the custom "
                "relationship name.",
            )
        child = self.schema[rel.child.lower()]
        for ref in sub.fields:
            self._resolve_path(child, ref.path)
        return rel.name, child, sub, rel.field

    def _group_children(
        self, plan: tuple[str, ObjectDef, Query, str], parents: list[Record]
    ) -> dict[str, list[Record]]:
        _name, child, sub, fk = plan
        wanted = {ids.key(p["Id"]) for p in parents}
        predicate = self._compile(child, sub.where) if sub.where else None
        grouped: dict[str, list[Record]] = {}
        table = self.records[child.name.lower()]
        index = self.lookup_index.get((child.name.lower(), fk.lower()))
        if index is not None and len(wanted) < len(table):
            # Few parents (e.g. one opportunity with its contact roles): look the children up.
            keys = {k for parent in wanted for k in index.get(parent, ())}
            candidates: Iterable[Record] = [table[k] for k in keys if k in table]
        else:
            candidates = table.values()
        for rec in candidates:
            parent = rec.get(fk)
            if parent and ids.key(parent) in wanted and (predicate is None or predicate(rec)):
                grouped.setdefault(ids.key(parent), []).append(rec)
        return grouped

    def _resolve_path(self, obj: ObjectDef, path: tuple[str, ...]) -> FieldDef:
        current = obj
        for part in path[:-1]:
            fdef = next(
                (
                    f
                    for f in self.visible_fields(current)
                    if f.relationship_name and f.relationship_name.lower() == part.lower()
                ),
                None,
            )
            if fdef is None:
                if part.lower() == current.name.lower() and len(path) > 1:
                    continue  # "Opportunity.Name" on Opportunity
                raise SfError(
                    400,
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{part}' in field path. If you are attempting to use a "
                    "custom "
                    "relationship, be sure to append the '__r' after the custom relationship name.",
                )
            current = self.schema[(fdef.reference_to or "").lower()]
        return self.field_def(current, path[-1], for_query=True)

    def _value(self, obj: ObjectDef, rec: Record | None, path: tuple[str, ...]) -> Any:
        current_obj, current = obj, rec
        for part in path[:-1]:
            if current is None:
                return None
            if part.lower() == current_obj.name.lower() and not any(
                f.relationship_name and f.relationship_name.lower() == part.lower()
                for f in current_obj.fields.values()
            ):
                continue
            fdef = next(
                f
                for f in current_obj.fields.values()
                if f.relationship_name and f.relationship_name.lower() == part.lower()
            )
            target = current.get(fdef.name)
            if fdef.name == "LinkedEntityId":
                found = self.find_any(target) if target else None
                current_obj, current = (self.schema[found[0]], found[1]) if found else (current_obj, None)
                continue
            current_obj = self.schema[(fdef.reference_to or "").lower()]
            current = self.find(current_obj.name, target) if target else None
        if current is None:
            return None
        return current.get(current_obj.fields[path[-1].lower()].name)

    def _compile(self, obj: ObjectDef, cond: Condition) -> Callable[[Record], bool]:
        if isinstance(cond, BoolOp):
            parts = [self._compile(obj, p) for p in cond.parts]
            if cond.op == "AND":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(cond, Not):
            inner = self._compile(obj, cond.part)
            return lambda r: not inner(r)
        fdef = self._resolve_path(obj, cond.field.path)
        path = cond.field.path
        is_id = fdef.type in ("id", "reference")
        if isinstance(cond, InList):
            values = [_check_literal(fdef, v) for v in cond.values]
            if cond.op in ("INCLUDES", "EXCLUDES"):
                wanted = [set(str(v).split(";")) for v in values]

                def includes(r: Record) -> bool:
                    have = set((self._value(obj, r, path) or "").split(";"))
                    return any(w <= have for w in wanted)

                return includes if cond.op == "INCLUDES" else (lambda r: not includes(r))
            norm = {_fold(v, is_id) for v in values}
            if cond.negate:
                return lambda r: _fold(self._value(obj, r, path), is_id) not in norm
            return lambda r: _fold(self._value(obj, r, path), is_id) in norm
        value = _check_literal(fdef, cond.value)
        if cond.op == "LIKE":
            regex = like_to_regex(str(value))
            return lambda r: bool(regex.match(str(self._value(obj, r, path) or "")))
        if isinstance(value, DateLiteral):
            return self._compile_date_literal(obj, path, cond.op, value)
        op = cond.op
        target = _fold(value, is_id)

        def compare(r: Record) -> bool:
            have = _fold(self._value(obj, r, path), is_id)
            if op == "=":
                return bool(have == target)
            if op == "!=":
                return bool(have != target)
            if have is None or target is None:
                return False
            return bool(_ORDER_OPS[op](have, target))

        return compare

    def _compile_date_literal(
        self, obj: ObjectDef, path: tuple[str, ...], op: str, literal: DateLiteral
    ) -> Callable[[Record], bool]:
        start, end = literal.bounds((datetime.now(UTC) + self.clock_offset).date())

        def day(r: Record) -> date | None:
            value = self._value(obj, r, path)
            return value.date() if isinstance(value, datetime) else value

        checks: dict[str, Callable[[date], bool]] = {
            "=": lambda d: start <= d < end,
            "!=": lambda d: not start <= d < end,
            "<": lambda d: d < start,
            "<=": lambda d: d < end,
            ">": lambda d: d >= end,
            ">=": lambda d: d >= start,
        }
        check = checks[op]
        return lambda r: (d := day(r)) is not None and check(d)

    def _sort(self, obj: ObjectDef, rows: list[Record], query: Query) -> None:
        for item in reversed(query.order):
            self._resolve_path(obj, item.field.path)
            nulls_last = item.nulls_last if item.nulls_last is not None else item.descending
            present = [r for r in rows if self._value(obj, r, item.field.path) is not None]
            missing = [r for r in rows if self._value(obj, r, item.field.path) is None]
            path = item.field.path
            present.sort(key=lambda r: _sort_key(self._value(obj, r, path)), reverse=item.descending)
            rows[:] = present + missing if nulls_last else missing + present

    def _project(self, obj: ObjectDef, rec: Record, refs: list[FieldRef]) -> Record:
        row: Record = {"attributes": self.attributes(obj.name, rec["Id"])}
        for ref in refs:
            self._place(obj, rec, row, ref.path)
        return row

    def _place(self, obj: ObjectDef, rec: Record, row: Record, path: tuple[str, ...]) -> None:
        if len(path) == 1:
            fdef = obj.fields[path[0].lower()]
            row[fdef.name] = self.json_value(obj, fdef, rec)
            return
        head = path[0]
        parent_ref: FieldDef | None = next(
            (
                f
                for f in obj.fields.values()
                if f.relationship_name and f.relationship_name.lower() == head.lower()
            ),
            None,
        )
        if parent_ref is None:  # "Opportunity.Name" on Opportunity itself
            self._place(obj, rec, row, path[1:])
            return
        target_id = rec.get(parent_ref.name)
        found: tuple[str, Record] | None = None
        if target_id:
            if parent_ref.name == "LinkedEntityId":
                found = self.find_any(target_id)
            else:
                parent = self.find(parent_ref.reference_to or "", target_id)
                found = (str(parent_ref.reference_to).lower(), parent) if parent else None
        if found is None:
            row.setdefault(parent_ref.relationship_name or head, None)
            return
        parent_obj = self.schema[found[0]]
        nested = row.get(parent_ref.relationship_name or head) or {
            "attributes": self.attributes(parent_obj.name, found[1]["Id"])
        }
        row[parent_ref.relationship_name or head] = nested
        self._place(parent_obj, found[1], nested, path[1:])

    # ------------------------------------------------------------------ JSON
    def attributes(self, obj_name: str, record_id: str) -> dict[str, str]:
        return {
            "type": obj_name,
            "url": f"/services/data/v{self.api_version}/sobjects/{obj_name}/{record_id}",
        }

    def json_value(self, obj: ObjectDef, fdef: FieldDef, rec: Record) -> Any:
        value = rec.get(fdef.name)
        if fdef.type == "base64":
            return f"/services/data/v{self.api_version}/sobjects/{obj.name}/{rec['Id']}/{fdef.name}"
        if isinstance(value, datetime):
            return format_datetime(value)
        if isinstance(value, date):
            return value.isoformat()
        return value

    def record_json(self, obj_name: str, rec: Record, fields: Iterable[str] | None = None) -> Record:
        obj = self.sobject(obj_name)
        defs = (
            [self.field_def(obj, f, for_query=True) for f in fields] if fields else self.visible_fields(obj)
        )
        out: Record = {"attributes": self.attributes(obj.name, rec["Id"])}
        for fdef in defs:
            out[fdef.name] = self.json_value(obj, fdef, rec)
        return out

    def all_records(self, obj_name: str) -> Iterator[Record]:
        obj = self.sobject(obj_name)
        for rec in list(self.records[obj.name.lower()].values()):
            yield self.record_json(obj.name, rec)


def _filters_on(cond: Condition | None, names: set[str]) -> bool:
    if cond is None:
        return False
    if isinstance(cond, BoolOp):
        return any(_filters_on(p, names) for p in cond.parts)
    if isinstance(cond, Not):
        return False
    return cond.field.path[-1].lower() in names


_DATE_KINDS = {"date": date, "datetime": datetime}


def _check_literal(fdef: FieldDef, value: Any) -> Any:
    """SOQL is typed: dates/datetimes unquoted and matching the field, booleans bare."""
    if value is None or isinstance(value, DateLiteral):
        return value
    if fdef.type in _DATE_KINDS:
        wanted = _DATE_KINDS[fdef.type]
        ok = isinstance(value, wanted) and (wanted is datetime or not isinstance(value, datetime))
        if not ok:
            kind = "dateTime" if fdef.type == "datetime" else "date"
            raise SfError(
                400,
                "INVALID_FIELD",
                f"value of filter criterion for field '{fdef.name}' must be of type {kind} and should not "
                "be enclosed in quotes",
            )
    elif fdef.type == "boolean" and not isinstance(value, bool):
        raise SfError(
            400,
            "INVALID_FIELD",
            f"value of filter criterion for field '{fdef.name}' must be of type boolean and should not "
            "be enclosed in quotes",
        )
    elif fdef.type in ("double", "currency", "percent", "int") and not isinstance(value, int | float):
        raise SfError(
            400, "INVALID_FIELD", f"value of filter criterion for field '{fdef.name}' must be a number"
        )
    elif fdef.type in ("id", "reference") and isinstance(value, str):
        return value[:15]
    return value


def _fold(value: Any, is_id: bool = False) -> Any:
    """Comparison form: text case-insensitive, ids by their 15-character key."""
    if isinstance(value, str):
        return value[:15] if is_id else value.lower()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        return (0, value.lower())
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, datetime):
        return (2, value.timestamp())
    if isinstance(value, date):
        return (3, value.toordinal())
    return (4, value)


_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


_LOOKUP_FIELDS = {
    ("account", "name"),
    ("contact", "email"),
}
"""Non-reference fields the connector matches on (find-or-create of accounts and contacts)."""


def _lookup_key(fdef: FieldDef, value: object) -> str:
    # Lookups compare ids on their 15-character form; text equality is case-insensitive in SOQL.
    return ids.key(str(value)) if fdef.type == "reference" else str(value).lower()


class Transaction:
    """The handle `Org.transaction()` yields."""

    def __init__(self, org: Org) -> None:
        self.org = org

    def rollback(self) -> None:
        self.org._rollback()

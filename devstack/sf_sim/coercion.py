"""Type coercion and per-field validation of a write's JSON body: read-only fields, JSON types,
lookups, text lengths, email format and restricted picklists."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from devstack.sf_sim import ids
from devstack.sf_sim.record_json import Record
from devstack.sf_sim.schema import FieldDef, ObjectDef
from devstack.sf_sim.schema_view import SchemaView
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.soql import SoqlError, parse_datetime
from devstack.sf_sim.storage import RecordStore

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def coerce_fields(
    view: SchemaView, store: RecordStore, obj: ObjectDef, data: Record, *, creating: bool
) -> Record:
    """The body's fields by their API names, as stored values."""
    out: Record = {}
    for name, raw in data.items():
        if name == "attributes":
            continue
        fdef = view.field_def(obj, name)
        if not view.writable(obj, fdef, creating=creating):
            if fdef.name == "Id" and not creating:
                continue
            raise not_writable(fdef.name, creating=creating)
        out[fdef.name] = coerce_value(store, fdef, raw)
    return out


def not_writable(name: str, *, creating: bool) -> SfError:
    return SfError(
        400,
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to {'create' if creating else 'update'} fields: {name}. Please check the "
        "security settings of this field and verify that it is read/write for your profile or "
        "permission set.",
        [name],
    )


def _bad(fdef: FieldDef, kind_name: str, raw: Any) -> SfError:
    return SfError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind_name} from value {raw!r}",
        [fdef.name],
    )


def _to_boolean(raw: Any) -> Any:
    if not isinstance(raw, bool):
        raise TypeError
    return raw


def _to_double(raw: Any) -> Any:
    if isinstance(raw, bool):
        raise TypeError
    return float(raw)


def _to_int(raw: Any) -> Any:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise TypeError
    return int(raw)


_SCALARS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "boolean": ("boolean", _to_boolean),
    "double": ("double", _to_double),
    "currency": ("double", _to_double),
    "percent": ("double", _to_double),
    "int": ("int", _to_int),
    "date": ("date", lambda raw: date.fromisoformat(str(raw)[:10])),
    "datetime": ("datetime", lambda raw: parse_datetime(str(raw))),
    "base64": ("base64", lambda raw: base64.b64decode(str(raw), validate=True)),
}


def coerce_value(store: RecordStore, fdef: FieldDef, raw: Any) -> Any:
    if raw is None or (raw == "" and fdef.type not in ("boolean",)):
        return False if fdef.type == "boolean" else None
    scalar = _SCALARS.get(fdef.type)
    if scalar is not None:
        kind_name, convert = scalar
        try:
            return convert(raw)
        except (TypeError, ValueError, SoqlError):
            raise _bad(fdef, kind_name, raw) from None
    if not isinstance(raw, str):
        raise _bad(fdef, "string", raw)
    if fdef.type == "reference":
        return _reference(store, fdef, raw)
    check_text(fdef, raw)
    return raw


def check_text(fdef: FieldDef, raw: str) -> None:
    """Text length, email format and restricted picklist values."""
    # Field lengths: Object Reference / Salesforce Field Reference, e.g. Account
    # https://developer.salesforce.com/docs/atlas.en-us.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_Account.htm
    # (BillingCity string 40, BillingPostalCode 20, BillingStreet textarea 255, Name 255, Phone 40) and
    # .../salesforce_field_reference_Contact.htm (FirstName 40, LastName 80, Phone 40, Title 128).
    if fdef.length and len(raw) > fdef.length:
        raise SfError(
            400,
            "STRING_TOO_LONG",
            f"{fdef.name}: data value too large: {raw[:40]}... (max length={fdef.length})",
            [fdef.name],
        )
    if fdef.type == "email" and not _EMAIL.match(raw):
        raise SfError(400, "INVALID_EMAIL_ADDRESS", f"{fdef.name}: invalid email address: {raw}", [fdef.name])
    if fdef.type in ("picklist", "multipicklist") and fdef.restricted:
        for value in raw.split(";") if fdef.type == "multipicklist" else [raw]:
            if value not in fdef.picklist:
                raise bad_picklist_value(fdef.name, value)


def bad_picklist_value(name: str, value: str) -> SfError:
    return SfError(
        400,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        f"{name}: bad value for restricted picklist field: {value}",
        [name],
    )


def _reference(store: RecordStore, fdef: FieldDef, raw: str) -> str:
    if not ids.looks_like_id(raw):
        raise SfError(400, "MALFORMED_ID", f"{fdef.name}: id value of incorrect type: {raw}", [fdef.name])
    target = fdef.reference_to or ""
    found = (
        store.find(target, raw) if fdef.name != "LinkedEntityId" else (store.find_any(raw) or (None, None))[1]
    )
    if found is None:
        raise SfError(
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            f"{fdef.name}: id value of incorrect type: {raw}",
            [fdef.name],
        )
    return str(found["Id"])

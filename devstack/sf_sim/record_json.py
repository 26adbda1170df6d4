"""How records look on the wire: `attributes`, datetimes with milliseconds and `+0000`, dates as ISO
days, base64 fields as the URL of their blob."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from devstack.sf_sim.schema import FieldDef, ObjectDef

Record = dict[str, Any]


def format_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def attributes(api_version: str, obj_name: str, record_id: str) -> dict[str, str]:
    return {"type": obj_name, "url": f"/services/data/v{api_version}/sobjects/{obj_name}/{record_id}"}


def json_value(api_version: str, obj: ObjectDef, fdef: FieldDef, rec: Record) -> Any:
    value = rec.get(fdef.name)
    if fdef.type == "base64":
        return f"/services/data/v{api_version}/sobjects/{obj.name}/{rec['Id']}/{fdef.name}"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value

"""`/sobjects/...`: describe, create, read/update/delete by id, external-id get/upsert/delete,
getUpdated/getDeleted and note bodies (spec/salesforce.md 2.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from devstack.sf_sim import ids
from devstack.sf_sim.describe_json import describe, describe_brief, describe_global
from devstack.sf_sim.record_json import format_datetime
from devstack.sf_sim.rest_common import NOT_FOUND, RestCall, Result
from devstack.sf_sim.schema import ObjectDef
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.sim_state import SimState
from devstack.sf_sim.soql import SoqlError, parse_datetime


def handle(state: SimState, call: RestCall) -> Result:
    org = state.org
    parts = call.parts[1:]
    if not parts:
        return 200, describe_global(org)
    obj = org.sobject(parts[0])
    rest = parts[1:]
    if not rest:
        if call.method == "POST":
            rid = org.create(obj.name, call.object_body())
            return 201, {"id": rid, "success": True, "errors": []}
        return 200, {"objectDescribe": describe_brief(org, obj), "recentItems": []}
    if rest == ["describe"]:
        return 200, describe(org, obj)
    if rest[0] in ("updated", "deleted") and call.method == "GET":
        return 200, _changes(state, obj, rest[0], call)
    if len(rest) == 1:
        return _by_id(state, obj, rest[0], call)
    if len(rest) == 2 and rest[1] == "Content" and call.method == "GET":
        org.get(obj.name, rest[0])
        content = org.store.content.get(ids.key(rest[0]), b"")
        return Response(content, media_type="application/octet-stream")
    if len(rest) == 2:
        return _by_external_id(state, obj, rest[0], rest[1], call)
    raise _not_allowed(call.method)


def _not_allowed(method: str) -> SfError:
    return SfError(
        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,DELETE"
    )


def _by_id(state: SimState, obj: ObjectDef, rid: str, call: RestCall) -> Result:
    org = state.org
    if call.method == "GET":
        fields = call.query_params.get("fields")
        rec = org.get(obj.name, rid)
        return 200, org.record_json(obj.name, rec, fields.split(",") if fields else None)
    if call.method == "PATCH":
        org.update(obj.name, rid, call.object_body())
        return 204, None
    if call.method == "DELETE":
        org.delete(obj.name, rid)
        return 204, None
    raise _not_allowed(call.method)


def _by_external_id(state: SimState, obj: ObjectDef, field_name: str, value: str, call: RestCall) -> Result:
    org = state.org
    if call.method == "GET":
        matches = org.by_external_id(obj.name, field_name, value)
        if not matches:
            raise SfError(404, "NOT_FOUND", NOT_FOUND)
        if len(matches) > 1:
            raise SfError(300, "MULTIPLE_RECORDS", "multiple", [m["Id"] for m in matches])
        return 200, org.record_json(obj.name, matches[0])
    if call.method == "PATCH":
        rid, created = org.upsert(obj.name, field_name, value, call.object_body())
        if created:
            return 201, {"id": rid, "success": True, "errors": [], "created": True}
        if call.api_version >= 46.0:
            return 200, {"id": rid, "success": True, "errors": [], "created": False}
        return 204, None
    if call.method == "DELETE":
        matches = org.by_external_id(obj.name, field_name, value)
        if len(matches) != 1:
            raise SfError(404, "NOT_FOUND", NOT_FOUND)
        org.delete(obj.name, matches[0]["Id"])
        return 204, None
    raise _not_allowed(call.method)


def _changes(state: SimState, obj: ObjectDef, kind: str, call: RestCall) -> dict[str, Any]:
    try:
        start = parse_datetime(call.query_params["start"])
        end = parse_datetime(call.query_params["end"])
    except (KeyError, SoqlError):
        raise SfError(400, "INVALID_REPLICATION_DATE", "start and end must be valid dateTimes") from None
    if start < datetime.now(UTC) - timedelta(days=30):
        raise SfError(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    end = end.replace(second=0, microsecond=0)
    store = state.org.store
    table = store.records if kind == "updated" else store.recycle_bin
    hits = [r for r in table[obj.name.lower()].values() if start <= r["SystemModstamp"] < end]
    if kind == "updated":
        return {"ids": [r["Id"] for r in hits], "latestDateCovered": format_datetime(end)}
    return {
        "deletedRecords": [
            {"id": r["Id"], "deletedDate": format_datetime(r["SystemModstamp"])} for r in hits
        ],
        "earliestDateAvailable": format_datetime(start),
        "latestDateCovered": format_datetime(end),
    }

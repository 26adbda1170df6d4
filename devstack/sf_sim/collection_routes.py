"""sObject Collections `/composite/sobjects`: create, update, upsert by external id and delete of
up to 200 records in one call, each with its own result, or all-or-none (spec/salesforce.md 2.7)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from devstack.sf_sim.org import Org
from devstack.sf_sim.rest_common import RestCall, Result
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.sim_state import SimState

MAX_COLLECTION = 200
_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
    "fields": [],
}

Op = Callable[[], str | tuple[str, bool]]


def handle(state: SimState, call: RestCall) -> Result:
    org, parts = state.org, call.parts[2:]
    if call.method == "DELETE":
        id_list = [i for i in call.query_params.get("ids", "").split(",") if i]
        all_or_none = call.query_params.get("allOrNone", "false").lower() == "true"
        _check_size(len(id_list))
        return 200, _apply_all(org, [partial(_delete_one, org, i) for i in id_list], all_or_none)
    body = call.body
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SfError(400, "JSON_PARSER_ERROR", "Expected {allOrNone, records: [...]}")
    records: list[dict[str, Any]] = body["records"]
    all_or_none = bool(body.get("allOrNone", False))
    _check_size(len(records))
    if call.method == "POST" and not parts:
        return 200, _apply_all(org, [partial(org.create, _type(r), _data(r)) for r in records], all_or_none)
    if call.method == "PATCH" and not parts:
        ops: list[Op] = [
            partial(_update_one, org, _type(r), str(r.get("Id", "")), _data(r, "Id")) for r in records
        ]
        return 200, _apply_all(org, ops, all_or_none)
    if call.method == "PATCH" and len(parts) == 2:
        sobject, ext_field = parts
        ops = [partial(_upsert_one, org, sobject, ext_field, _data(r)) for r in records]
        return 200, _apply_all(org, ops, all_or_none, with_created=True)
    raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed")


def _type(rec: dict[str, Any]) -> str:
    return str((rec.get("attributes") or {}).get("type", ""))


def _data(rec: dict[str, Any], *drop: str) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k != "attributes" and k not in drop}


def _check_size(count: int) -> None:
    if count > MAX_COLLECTION:
        raise SfError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call",
        )


def _delete_one(org: Org, record_id: str) -> str:
    found = org.find_any(record_id)
    if found is None:
        code = "ENTITY_IS_DELETED" if org.store.is_deleted(record_id) else "INVALID_CROSS_REFERENCE_KEY"
        raise SfError(404, code, "invalid cross reference id")
    org.delete(org.schema[found[0]].name, record_id)
    return record_id


def _update_one(org: Org, sobject: str, record_id: str, data: dict[str, Any]) -> str:
    org.update(sobject, record_id, data)
    return record_id


def _upsert_one(org: Org, sobject: str, ext_field: str, data: dict[str, Any]) -> tuple[str, bool]:
    value = next((v for k, v in data.items() if k.lower() == ext_field.lower()), None)
    if not value:
        raise SfError(400, "MISSING_ARGUMENT", f"{ext_field} not specified", [ext_field])
    return org.upsert(sobject, ext_field, str(value), data)


def _apply_all(
    org: Org, ops: list[Op], all_or_none: bool, *, with_created: bool = False
) -> list[dict[str, Any]]:
    with org.transaction() as transaction:
        results: list[dict[str, Any]] = []
        for op in ops:
            try:
                out = op()
            except SfError as exc:
                results.append({"success": False, "errors": [exc.collection_error()]})
                continue
            rid, created = out if isinstance(out, tuple) else (out, None)
            result: dict[str, Any] = {"id": rid, "success": True, "errors": []}
            if with_created:
                result["created"] = bool(created)
            results.append(result)
        if all_or_none and not all(r["success"] for r in results):
            transaction.rollback()
            results = [
                r if not r["success"] else {"success": False, "errors": [_ROLLED_BACK]} for r in results
            ]
        return results

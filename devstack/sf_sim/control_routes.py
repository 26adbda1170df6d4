"""The `/_sim/...` control API (driven by `SalesforceSimControl`): reset, counters, faults, session
expiry, org switches, validation rules, seller record edits, uncounted queries and note bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from devstack.sf_sim import ids
from devstack.sf_sim.faults import Fault
from devstack.sf_sim.org import SELLER_USER_ID, ValidationRule
from devstack.sf_sim.profiles import resolve_profile
from devstack.sf_sim.record_json import format_datetime
from devstack.sf_sim.rest_common import json_response
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.sim_state import SimState, sim_state

Handler = Callable[[SimState, str, list[str], Any], Response]


async def control(request: Request) -> Response:
    state = sim_state(request)
    path = request.path_params["path"].strip("/").split("/")
    raw = await request.body()
    body: Any = json.loads(raw) if raw.strip() else {}
    handler = _HANDLERS.get(path[0])
    if handler is None:
        return json_response({"error": "unknown control path"}, 404)
    try:
        return handler(state, request.method, path[1:], body)
    except SfError as exc:
        return json_response(exc.body(), exc.status)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return json_response({"error": f"bad control request: {exc}"}, 400)


def _reset(state: SimState, method: str, rest: list[str], body: Any) -> Response:
    org = state.org
    org.reset()
    state.faults.clear()
    state.counters.clear()
    state.api_used = 0
    state.page_size = 2000
    state.token_lifetime = None
    org.apply_profile(state.base_profile)
    return json_response({"ok": True})


def _profile(state: SimState, method: str, rest: list[str], body: Any) -> Response:
    """GET: the org's profile. POST {"name": "new_org", ...options}: reset the org to that profile
    (options override its settings, e.g. default_record_type, read_only_fields)."""
    if method != "GET":
        options = {k: v for k, v in body.items() if k != "name"}
        state.org.apply_profile(resolve_profile(body.get("name", state.org.profile.name), options))
        state.faults.clear()
        state.counters.clear()
    return json_response(state.org.profile.to_json())


def _counters(state: SimState, method: str, rest: list[str], body: Any) -> Response:
    if method == "DELETE":
        state.counters.clear()
    return json_response(dict(state.counters))


def _faults(state: SimState, method: str, rest: list[str], body: Any) -> Response:
    if method == "DELETE":
        state.faults.clear()
    else:
        state.faults.add(Fault.from_json(body), body.get("seed"))
    return json_response({"faults": len(state.faults.faults)})


def _sessions(state: SimState, method: str, rest: list[str], body: Any) -> Response:
    if rest != ["expire"]:
        return json_response({"error": "unknown control path"}, 404)
    state.sessions.clear()
    return json_response({"ok": True})


def _org(state: SimState, method: str, rest: list[str], body: Any) -> Response:
    org = state.org
    if method != "GET":
        _configure(state, body)
    return json_response(
        {
            "multi_currency": org.multi_currency,
            "country_picklists": org.country_picklists,
            "api_used": state.api_used,
            "api_max": state.api_max,
            "page_size": state.page_size,
            "token_lifetime": state.token_lifetime,
            "instance_url": state.instance_url,
            "hidden_fields": sorted(".".join(h) for h in org.hidden_fields),
            "profile": org.profile.name,
        }
    )


def _configure(state: SimState, body: dict[str, Any]) -> None:
    org = state.org
    if "multi_currency" in body:
        org.multi_currency = bool(body["multi_currency"])
    if "country_picklists" in body:
        org.country_picklists = bool(body["country_picklists"])
    if "api_used" in body:
        state.api_used = int(body["api_used"])
    if "api_max" in body:
        state.api_max = int(body["api_max"])
    if "page_size" in body:
        state.page_size = max(1, int(body["page_size"]))
    if "token_lifetime" in body:
        state.token_lifetime = None if body["token_lifetime"] is None else float(body["token_lifetime"])
    if "hidden_fields" in body:
        org.hidden_fields = {_field_key(h) for h in body["hidden_fields"]}
    if "stages" in body:
        org.set_stages(tuple(s) for s in body["stages"])
    if "clock_offset_seconds" in body:
        org.store.clock_offset = timedelta(seconds=float(body["clock_offset_seconds"]))


def _field_key(qualified: str) -> tuple[str, str]:
    sobject, _, name = qualified.lower().partition(".")
    return sobject, name


def _validation_rules(state: SimState, method: str, rest: list[str], body: Any) -> Response:
    rules = state.org.validation_rules
    if method == "DELETE":
        rules.clear()
    else:
        rules.append(ValidationRule(body["sobject"], body["field"], body.get("value"), body["message"]))
    return json_response({"rules": len(rules)})


def _records(state: SimState, method: str, path: list[str], body: Any) -> Response:
    org = state.org
    sobject = org.sobject(path[0]).name
    if len(path) == 1:
        if method == "POST":
            return json_response({"id": org.create(sobject, body, user=SELLER_USER_ID)}, 201)
        return json_response({"records": list(org.all_records(sobject))})
    rid = path[1]
    if len(path) == 3 and path[2] == "backdate":
        stamp = org.backdate(sobject, rid, float(body.get("seconds", 60)))
        return json_response({"SystemModstamp": format_datetime(stamp)})
    if method == "PATCH":
        org.update(sobject, rid, body, user=SELLER_USER_ID)
        return json_response({"id": rid})
    if method == "DELETE":
        org.delete(sobject, rid)
        return json_response({"id": rid})
    return json_response(org.record_json(sobject, org.get(sobject, rid)))


def _users(state: SimState, method: str, rest: list[str], body: Any) -> Response:
    """POST {"first_name", "last_name", "email", "phone", "active"}: an admin adds a User."""
    if method != "POST":
        return json_response({"error": "unknown control path"}, 404)
    user_id = state.org.add_user(
        body.get("first_name"),
        body["last_name"],
        body["email"],
        phone=body.get("phone"),
        active=bool(body.get("active", True)),
    )
    return json_response({"id": user_id}, 201)


def _query(state: SimState, method: str, rest: list[str], body: Any) -> Response:
    if method != "POST":
        return json_response({"error": "unknown control path"}, 404)
    rows, total = state.org.query(body["q"], include_deleted=bool(body.get("all", False)))
    return json_response({"totalSize": total, "records": rows})


def _notes(state: SimState, method: str, rest: list[str], body: Any) -> Response:
    content = state.org.store.content.get(ids.key(rest[0]))
    if content is None:
        return json_response({"error": "no such note"}, 404)
    return json_response({"content": content.decode("utf-8", "replace")})


_HANDLERS: dict[str, Handler] = {
    "reset": _reset,
    "profile": _profile,
    "counters": _counters,
    "faults": _faults,
    "sessions": _sessions,
    "org": _org,
    "validation-rules": _validation_rules,
    "records": _records,
    "users": _users,
    "query": _query,
    "notes": _notes,
}

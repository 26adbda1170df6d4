"""The REST data API entry point `/services/data/vNN.0/...`: session check, API usage, injected
faults, JSON body, then dispatch by resource to the route modules."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from devstack.sf_sim import (
    collection_routes,
    composite_routes,
    duplicate_rules,
    graph_routes,
    query_routes,
    sobject_routes,
    ui_api_routes,
)
from devstack.sf_sim.rest_common import NOT_FOUND, RestCall, Result, json_response
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.sim_state import SimState, sim_state

_VERSION = re.compile(r"^v(\d{2,3}\.0)$")


async def data_api(request: Request) -> Response:
    state = sim_state(request)
    match = _VERSION.match(request.path_params["version"])
    if not match:
        return json_response([{"errorCode": "NOT_FOUND", "message": NOT_FOUND}], 404)
    # split the raw path so an encoded "/" inside an external id stays inside its segment
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    parts = [unquote(p) for p in raw_path.decode("latin-1").split("?")[0].split("/")[4:] if p]
    endpoint = endpoint_kind(request.method, parts)
    if endpoint == "composite" and _reads_only(_json_or_none(await request.body())):
        endpoint = "composite_query"  # a composite of queries only (the poll's): a read, one API call
    state.counters[endpoint] += 1
    state.counters["api_total"] += 1
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not state.session_valid(token):
        expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        return json_response(expired, 401, {"WWW-Authenticate": "Token"})
    state.api_used += 1
    headers = state.limit_header()
    faulted = await _injected_fault(state, endpoint, token, headers)
    if faulted is not None:
        return faulted
    try:
        raw = await request.body()
        body = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        error = [{"errorCode": "JSON_PARSER_ERROR", "message": f"Unexpected character: {exc}"}]
        return json_response(error, 400, headers)
    call = RestCall(request.method, parts, request.query_params, request.headers, body, float(match.group(1)))
    return _respond(state, call, headers)


def _json_or_none(raw: bytes) -> object:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _reads_only(body: object) -> bool:
    """A /composite request made only of GET subrequests (queries): a read, however many it holds."""
    subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(subrequests, list) or not subrequests:
        return False
    return all(isinstance(s, dict) and str(s.get("method", "")).upper() == "GET" for s in subrequests)


async def _injected_fault(
    state: SimState, endpoint: str, token: str, headers: dict[str, str]
) -> Response | None:
    delay, fault = state.faults.pick(endpoint)
    if delay:
        await asyncio.sleep(delay)
    if fault is None:
        return None
    if fault.html:
        html = "<html><body>Service Unavailable</body></html>"
        return Response(html, fault.status, headers=headers, media_type="text/html")
    if fault.code == "INVALID_SESSION_ID":
        state.sessions.discard(token)
    return json_response([{"message": fault.message, "errorCode": fault.code}], fault.status, headers)


def _respond(state: SimState, call: RestCall, headers: dict[str, str]) -> Response:
    try:
        result = dispatch(state, call)
    except SfError as exc:
        if exc.status == 300:
            base = f"/services/data/v{state.org.api_version}/sobjects/{call.parts[1]}"
            return json_response([f"{base}/{i}" for i in exc.fields], 300, headers)
        return json_response(exc.body(), exc.status, headers)
    if isinstance(result, Response):
        result.headers.update(headers)
        return result
    status, payload = result
    if status == 204:
        return Response(status_code=204, headers=headers)
    return json_response(payload, status, headers)


def dispatch(state: SimState, call: RestCall) -> Result:
    """Route one REST call (or composite subrequest); its saves honour its duplicate rule header."""
    with duplicate_rules.rest_call(call.header(duplicate_rules.HEADER)):
        return _route(state, call)


def _route(state: SimState, call: RestCall) -> Result:
    """Route by the first path segment."""
    head = call.parts[0] if call.parts else ""
    if head in ("query", "queryAll") and call.method == "GET":
        return query_routes.handle(state, call)
    if head == "limits":
        remaining = max(state.api_max - state.api_used, 0)
        return 200, {"DailyApiRequests": {"Max": state.api_max, "Remaining": remaining}}
    if head == "sobjects":
        return sobject_routes.handle(state, call)
    if head == "ui-api":
        return ui_api_routes.handle(state, call)
    if head == "composite" and call.parts[1:2] == ["sobjects"]:
        return collection_routes.handle(state, call)
    if head == "composite" and len(call.parts) == 1 and call.method == "POST":
        return 200, composite_routes.composite(state, call, dispatch)
    if head == "composite" and call.parts[1:] == ["graph"] and call.method == "POST":
        return 200, graph_routes.graph(state, call, dispatch)
    raise SfError(404, "NOT_FOUND", NOT_FOUND)


def endpoint_kind(method: str, parts: list[str]) -> str:
    """The counter name of a REST call; the client's `call_counts` uses the same names."""
    head = parts[0] if parts else ""
    if head in ("query", "queryAll"):
        return "query_more" if len(parts) == 2 else "query"
    if head in ("composite", "limits"):
        return head
    if head == "ui-api":
        return "describe"
    if head == "sobjects":
        return _sobject_kind(method, parts[2:], len(parts))
    return "other"


_WRITE_KINDS = {"GET": "get", "POST": "create", "DELETE": "delete"}


def _sobject_kind(method: str, rest: list[str], depth: int) -> str:
    if depth <= 1 or (rest and rest[0] == "describe") or (not rest and method == "GET"):
        return "describe"
    if rest and rest[0] in ("updated", "deleted"):
        return rest[0]
    if len(rest) == 2 and rest[1] == "Content":
        return "blob"
    if method == "PATCH":
        return "upsert" if len(rest) == 2 else "update"
    return _WRITE_KINDS.get(method, "other")

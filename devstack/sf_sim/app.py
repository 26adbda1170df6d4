"""The simulator's HTTP surface: OAuth token endpoint, SOAP login, REST data API and the `/_sim`
control API. Wire shapes follow `spec/salesforce.md` so simple-salesforce cannot tell the difference."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.sf_sim import ids
from devstack.sf_sim.credentials import SimCredentials
from devstack.sf_sim.faults import Fault, FaultPlan
from devstack.sf_sim.org import SELLER_USER_ID, Org, SfError, ValidationRule, format_datetime
from devstack.sf_sim.soql import SoqlError, parse_datetime

JSON_TYPE = "application/json;charset=UTF-8"
_VERSION = re.compile(r"^v(\d{2,3}\.0)$")
_MY_DOMAIN = re.compile(r"\.my\.salesforce\.com$|^127\.0\.0\.1|^localhost")
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
MAX_COLLECTION = 200


@dataclass
class SimState:
    """Everything the routes share: the org, credentials, sessions, faults, counters and limits."""

    org: Org
    credentials: SimCredentials
    instance_url: str
    faults: FaultPlan = field(default_factory=FaultPlan)
    counters: Counter[str] = field(default_factory=Counter)
    sessions: set[str] = field(default_factory=set)
    api_used: int = 0
    api_max: int = 100_000
    page_size: int = 2000
    token_lifetime: float | None = None
    session_issued: dict[str, float] = field(default_factory=dict)

    def new_session(self) -> str:
        token = f"{self.credentials.org_id[:15]}!AQ{secrets.token_urlsafe(40)}"
        self.sessions.add(token)
        self.session_issued[token] = time.monotonic()
        return token

    def session_valid(self, token: str) -> bool:
        if token not in self.sessions:
            return False
        if (
            self.token_lifetime is not None
            and time.monotonic() - self.session_issued[token] > self.token_lifetime
        ):
            self.sessions.discard(token)
            return False
        return True

    def limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_max}"}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=JSON_TYPE, headers=headers)


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return _json({"error": error, "error_description": description}, status)


def build_app(state: SimState) -> Starlette:  # noqa: PLR0915
    """The Starlette application serving one simulated org."""

    def token_response() -> Response:
        token = state.new_session()
        issued = str(int(time.time() * 1000))
        user_id = "0055g0000000001AAA"
        return _json(
            {
                "access_token": token,
                "instance_url": state.instance_url,
                "id": f"https://login.salesforce.com/id/{state.credentials.org_id}/{user_id}",
                "token_type": "Bearer",
                "issued_at": issued,
                "scope": "api",
                "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
            }
        )

    async def oauth_token(request: Request) -> Response:
        state.counters["token"] += 1
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        grant = str(form.get("grant_type", ""))
        creds = state.credentials
        delay, fault = state.faults.pick("token")
        if delay:
            await asyncio.sleep(delay)
        if fault is not None:
            return _oauth_error(
                "invalid_grant", fault.message or "authentication failure", fault.status or 400
            )
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _jwt_grant(str(form.get("assertion", "")))
        if grant == "client_credentials":
            client_id, client_secret = _basic_auth(request) or (
                str(form.get("client_id", "")),
                str(form.get("client_secret", "")),
            )
            if client_id != creds.client_id:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if client_secret != creds.client_secret:
                return _oauth_error("invalid_client", "invalid client credentials")
            if not _MY_DOMAIN.search(request.headers.get("host", "").split(":")[0]):
                return _oauth_error("invalid_grant", "request not supported on this domain")
            return token_response()
        if grant == "password":
            if form.get("client_id") != creds.client_id:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if form.get("client_secret") != creds.client_secret:
                return _oauth_error("invalid_client", "invalid client credentials")
            if (
                form.get("username") != creds.username
                or form.get("password") != creds.password + creds.security_token
            ):
                return _oauth_error("invalid_grant", "authentication failure")
            return token_response()
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _jwt_grant(assertion: str) -> Response:
        creds = state.credentials
        try:
            claims = jwt.decode(
                assertion,
                creds.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256"],
                audience=list(AUDIENCES),
                options={"verify_exp": False, "require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.InvalidAudienceError:
            return _oauth_error("invalid_grant", "audience is invalid")
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        try:
            expires = float(claims["exp"])  # simple-salesforce sends it as a string
        except (TypeError, ValueError):
            return _oauth_error("invalid_grant", "invalid assertion")
        if expires < time.time():
            return _oauth_error("invalid_grant", "expired authorization code")
        if claims["iss"] != creds.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if claims["sub"] != creds.username:
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        return token_response()

    async def soap_login(request: Request) -> Response:
        state.counters["soap_login"] += 1
        body = (await request.body()).decode("utf-8", "replace")
        user = re.search(r"<(?:\w+:)?username>(.*?)</", body, re.S)
        password = re.search(r"<(?:\w+:)?password>(.*?)</", body, re.S)
        creds = state.credentials
        expected = creds.password + creds.security_token
        if (
            not user
            or not password
            or _xml_unescape(user.group(1)) != creds.username
            or (_xml_unescape(password.group(1)) != expected)
        ):
            fault_xml = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
                'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:sf="urn:fault.partner.soap.sforce.com">'
                "<soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>"
                "<faultstring>INVALID_LOGIN: "
                "Invalid username, password, security token; or user locked out.</faultstring><detail>"
                "<sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>"
                "<sf:exceptionMessage>Invalid username, password, security token; or user locked out."
                "</sf:exceptionMessage></sf:LoginFault>"
                "</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
            )
            return Response(fault_xml, status_code=500, media_type="text/xml")
        token = state.new_session()
        version = request.path_params["version"]
        host = urlsplit(state.instance_url).netloc
        ok = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
            f"<soapenv:Body><loginResponse><result><serverUrl>https://{host}/services/Soap/u/{version}/"
            f"{creds.org_id[:15]}</serverUrl><sessionId>{token}</sessionId></result></loginResponse>"
            "</soapenv:Body></soapenv:Envelope>"
        )
        return Response(ok, media_type="text/xml")

    async def versions(request: Request) -> Response:
        state.counters["versions"] += 1
        return _json(
            [
                {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"},
                {"label": "Spring '24", "url": "/services/data/v60.0", "version": "60.0"},
            ]
        )

    async def data_api(request: Request) -> Response:
        match = _VERSION.match(request.path_params["version"])
        if not match:
            return _json(
                [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], 404
            )
        api_version = float(match.group(1))
        # split the raw path so an encoded "/" inside an external id stays inside its segment
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        parts = [unquote(p) for p in raw_path.decode("latin-1").split("?")[0].split("/")[4:] if p]
        endpoint = _endpoint_kind(request.method, parts)
        state.counters[endpoint] += 1
        state.counters["api_total"] += 1
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not state.session_valid(token):
            return _json(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
                401,
                {"WWW-Authenticate": "Token"},
            )
        state.api_used += 1
        headers = state.limit_header()
        delay, fault = state.faults.pick(endpoint)
        if delay:
            await asyncio.sleep(delay)
        if fault is not None:
            if fault.html:
                return Response(
                    "<html><body>Service Unavailable</body></html>",
                    fault.status,
                    headers=headers,
                    media_type="text/html",
                )
            if fault.code == "INVALID_SESSION_ID":
                state.sessions.discard(token)
            return _json([{"message": fault.message, "errorCode": fault.code}], fault.status, headers)
        try:
            raw = await request.body()
            body = json.loads(raw) if raw.strip() else None
        except ValueError as exc:
            return _json(
                [{"errorCode": "JSON_PARSER_ERROR", "message": f"Unexpected character: {exc}"}], 400, headers
            )
        try:
            result = _dispatch(request, parts, body, api_version)
        except SfError as exc:
            if exc.status == 300:
                urls = [
                    f"/services/data/v{state.org.api_version}/sobjects/{parts[1]}/{i}" for i in exc.fields
                ]
                return _json(urls, 300, headers)
            return _json(exc.body(), exc.status, headers)
        if isinstance(result, Response):
            result.headers.update(headers)
            return result
        status, payload = result
        if status == 204:
            return Response(status_code=204, headers=headers)
        return _json(payload, status, headers)

    def _dispatch(
        request: Request, parts: list[str], body: Any, api_version: float
    ) -> tuple[int, Any] | Response:
        org = state.org
        method = request.method
        head = parts[0] if parts else ""
        if head in ("query", "queryAll") and method == "GET":
            if len(parts) == 2:
                return 200, _page(parts[1])
            soql = request.query_params.get("q", "")
            rows, total = org.query(soql, include_deleted=head == "queryAll")
            return 200, _first_page(rows, total, _batch_size(request))
        if head == "limits":
            return 200, {
                "DailyApiRequests": {
                    "Max": state.api_max,
                    "Remaining": max(state.api_max - state.api_used, 0),
                }
            }
        if head == "sobjects":
            return _sobjects(request, parts[1:], body, api_version)
        if head == "composite" and len(parts) >= 2 and parts[1] == "sobjects":
            return _collections(request, parts[2:], body)
        if head == "composite" and len(parts) == 1 and method == "POST":
            return 200, _composite(body, api_version)
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")

    def _run_subrequests(
        subrequests: list[dict[str, Any]], api_version: float, *, all_or_none: bool
    ) -> list[dict[str, Any]]:
        answers: list[dict[str, Any]] = []
        results: dict[str, Any] = {}  # referenceId -> response body, for @{ref.path} in later subrequests
        failed = False
        for sub in subrequests:
            reference = str(sub.get("referenceId", ""))
            if failed and all_or_none:
                halted = [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back"}]
                answers.append(
                    {"body": halted, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference}
                )
                continue
            try:
                url = urlsplit(str(resolve_references(str(sub.get("url", "")), results)))
                sub_body = resolve_references(sub.get("body"), results)
                sub_parts = [unquote(p) for p in url.path.split("/")[4:] if p]
                sub_request = SimpleNamespace(
                    method=str(sub.get("method", "GET")).upper(),
                    query_params=dict(parse_qsl(url.query)),
                    headers=dict(sub.get("httpHeaders") or {}),
                )
                result = _dispatch(sub_request, sub_parts, sub_body, api_version)  # type: ignore[arg-type]
            except SfError as exc:
                failed = True
                answers.append({"body": exc.body(), "httpHeaders": {}, "httpStatusCode": exc.status,
                                "referenceId": reference})  # fmt: skip
                continue
            status, payload = (result.status_code, None) if isinstance(result, Response) else result
            results[reference] = payload
            answers.append(
                {"body": payload, "httpHeaders": {}, "httpStatusCode": status, "referenceId": reference}
            )
        return answers

    def _composite(body: Any, api_version: float) -> dict[str, Any]:
        """The /composite resource: up to 25 subrequests run in order in one API call; with
        allOrNone a failure rolls back the earlier ones and halts the rest."""
        subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(subrequests, list) or not subrequests or len(subrequests) > MAX_COMPOSITE:
            raise SfError(
                400, "INVALID_INPUT", f"compositeRequest must hold 1 to {MAX_COMPOSITE} subrequests"
            )
        queries = sum(1 for sub in subrequests if _counts_as_query(str(sub.get("url", ""))))
        if queries > MAX_COMPOSITE_QUERIES:
            raise SfError(
                400, "INVALID_INPUT",
                f"A composite request can hold at most {MAX_COMPOSITE_QUERIES} query or collection "
                "subrequests",
            )  # fmt: skip
        all_or_none = bool(body.get("allOrNone"))
        with state.org.transaction() as transaction:
            answers = _run_subrequests(subrequests, api_version, all_or_none=all_or_none)
            if all_or_none and any(a["httpStatusCode"] >= 300 for a in answers):
                transaction.rollback()
        return {"compositeResponse": answers}

    def _sobjects(  # noqa: PLR0912
        request: Request, parts: list[str], body: Any, api_version: float
    ) -> tuple[int, Any] | Response:
        org = state.org
        method = request.method
        if not parts:
            return 200, {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [_describe_brief(o) for o in org.schema.values()],
            }
        obj = org.sobject(parts[0])
        rest = parts[1:]
        if not rest:
            if method == "POST":
                if not isinstance(body, dict):
                    raise SfError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
                rid = org.create(obj.name, body)
                return 201, {"id": rid, "success": True, "errors": []}
            return 200, {"objectDescribe": _describe_brief(obj), "recentItems": []}
        if rest == ["describe"]:
            return 200, _describe(obj)
        if rest[0] in ("updated", "deleted") and method == "GET":
            return 200, _changes(obj.name, rest[0], request)
        if len(rest) == 1:
            rid = rest[0]
            if method == "GET":
                fields = request.query_params.get("fields")
                rec = org.get(obj.name, rid)
                return 200, org.record_json(obj.name, rec, fields.split(",") if fields else None)
            if method == "PATCH":
                if not isinstance(body, dict):
                    raise SfError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
                org.update(obj.name, rid, body)
                return 204, None
            if method == "DELETE":
                org.delete(obj.name, rid)
                return 204, None
        if len(rest) == 2 and rest[1] == "Content" and method == "GET":
            org.get(obj.name, rest[0])
            return Response(org.content.get(ids.key(rest[0]), b""), media_type="application/octet-stream")
        if len(rest) == 2:
            field_name, value = rest
            if method == "GET":
                matches = org.by_external_id(obj.name, field_name, value)
                if not matches:
                    raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
                if len(matches) > 1:
                    raise SfError(300, "MULTIPLE_RECORDS", "multiple", [m["Id"] for m in matches])
                return 200, org.record_json(obj.name, matches[0])
            if method == "PATCH":
                if not isinstance(body, dict):
                    raise SfError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
                rid, created = org.upsert(obj.name, field_name, value, body)
                if created:
                    return 201, {"id": rid, "success": True, "errors": [], "created": True}
                if api_version >= 46.0:
                    return 200, {"id": rid, "success": True, "errors": [], "created": False}
                return 204, None
            if method == "DELETE":
                matches = org.by_external_id(obj.name, field_name, value)
                if len(matches) != 1:
                    raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
                org.delete(obj.name, matches[0]["Id"])
                return 204, None
        raise SfError(
            405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,DELETE"
        )

    def _collections(request: Request, parts: list[str], body: Any) -> tuple[int, Any]:
        org = state.org
        method = request.method
        if method == "DELETE":
            id_list = [i for i in request.query_params.get("ids", "").split(",") if i]
            all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
            _check_size(len(id_list))
            return 200, _apply_all(
                [partial(_delete_one, i) for i in id_list], all_or_none, with_created=False
            )
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise SfError(400, "JSON_PARSER_ERROR", "Expected {allOrNone, records: [...]}")
        records: list[dict[str, Any]] = body["records"]
        all_or_none = bool(body.get("allOrNone", False))
        _check_size(len(records))
        ops: list[Callable[[], str | tuple[str, bool]]] = []
        if method == "POST" and not parts:
            for rec in records:
                sobject = str((rec.get("attributes") or {}).get("type", ""))
                data = {k: v for k, v in rec.items() if k != "attributes"}
                ops.append(partial(org.create, sobject, data))
            return 200, _apply_all(ops, all_or_none, with_created=False)
        if method == "PATCH" and not parts:
            for rec in records:
                sobject = str((rec.get("attributes") or {}).get("type", ""))
                data = {k: v for k, v in rec.items() if k not in ("attributes", "Id")}
                rid = str(rec.get("Id", ""))
                ops.append(partial(_update_one, sobject, rid, data))
            return 200, _apply_all(ops, all_or_none, with_created=False)
        if method == "PATCH" and len(parts) == 2:
            sobject, ext_field = parts
            for rec in records:
                data = {k: v for k, v in rec.items() if k != "attributes"}
                value = next((v for k, v in data.items() if k.lower() == ext_field.lower()), None)
                ops.append(partial(_upsert_one, sobject, ext_field, value, data))
            return 200, _apply_all(ops, all_or_none, with_created=True)
        raise SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")

    def _delete_one(record_id: str) -> str:
        state.org.delete(_type_of(record_id), record_id)
        return record_id

    def _update_one(sobject: str, record_id: str, data: dict[str, Any]) -> str:
        state.org.update(sobject, record_id, data)
        return record_id

    def _upsert_one(sobject: str, ext_field: str, value: Any, data: dict[str, Any]) -> tuple[str, bool]:
        if not value:
            raise SfError(400, "MISSING_ARGUMENT", f"{ext_field} not specified", [ext_field])
        return state.org.upsert(sobject, ext_field, str(value), data)

    def _type_of(record_id: str) -> str:
        found = state.org.find_any(record_id)
        if found is None:
            raise SfError(
                404,
                "ENTITY_IS_DELETED" if _deleted(record_id) else "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
            )
        return state.org.schema[found[0]].name

    def _deleted(record_id: str) -> bool:
        return any(ids.key(record_id) in table for table in state.org.recycle_bin.values())

    def _apply_all(
        ops: list[Callable[[], str | tuple[str, bool]]], all_or_none: bool, *, with_created: bool
    ) -> list[dict[str, Any]]:
        org = state.org
        with org.transaction() as transaction:
            results: list[dict[str, Any]] = []
            failed = False
            for op in ops:
                try:
                    out = op()
                except SfError as exc:
                    failed = True
                    results.append({"success": False, "errors": [exc.collection_error()]})
                    continue
                rid, created = out if isinstance(out, tuple) else (out, None)
                result: dict[str, Any] = {"id": rid, "success": True, "errors": []}
                if with_created:
                    result["created"] = bool(created)
                results.append(result)
            if failed and all_or_none:
                transaction.rollback()
                rolled = {
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": "Record rolled back because not all records were valid and the request was "
                    "using AllOrNone header",
                    "fields": [],
                }
                results = [r if not r["success"] else {"success": False, "errors": [rolled]} for r in results]
            return results

    def _page(locator: str) -> dict[str, Any]:
        key, _, offset_text = locator.rpartition("-")
        rows = state.org.locators.get(key)
        if rows is None or not offset_text.isdigit():
            raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return _slice(key, rows, int(offset_text), _page_size_for(key))

    def _first_page(rows: list[dict[str, Any]], total: int, batch: int) -> dict[str, Any]:
        if len(rows) <= batch:
            return {"totalSize": total, "done": True, "records": rows}
        key = ids.mint("01g", next(state.org.serial))[:15]
        state.org.locators[key] = rows
        _page_sizes[key] = batch
        while len(state.org.locators) > 50:  # cursors are a limited resource in a real org too
            oldest = next(iter(state.org.locators))
            state.org.locators.pop(oldest)
            _page_sizes.pop(oldest, None)
        return _slice(key, rows, 0, batch)

    _page_sizes: dict[str, int] = {}

    def _page_size_for(key: str) -> int:
        return _page_sizes.get(key, state.page_size)

    def _slice(key: str, rows: list[dict[str, Any]], offset: int, batch: int) -> dict[str, Any]:
        chunk = rows[offset : offset + batch]
        nxt = offset + batch
        page: dict[str, Any] = {"totalSize": len(rows), "done": nxt >= len(rows), "records": chunk}
        if nxt < len(rows):
            page["nextRecordsUrl"] = f"/services/data/v{state.org.api_version}/query/{key}-{nxt}"
        else:
            state.org.locators.pop(key, None)
            _page_sizes.pop(key, None)
        return page

    def _batch_size(request: Request) -> int:
        size = state.page_size
        options = request.headers.get("sforce-query-options", "")
        m = re.search(r"batchSize=(\d+)", options)
        if m:
            size = min(size, max(200, min(2000, int(m.group(1)))))
        return size

    def _changes(sobject: str, kind: str, request: Request) -> dict[str, Any]:
        try:
            start = parse_datetime(request.query_params["start"])
            end = parse_datetime(request.query_params["end"])
        except (KeyError, SoqlError):
            raise SfError(400, "INVALID_REPLICATION_DATE", "start and end must be valid dateTimes") from None
        if start < datetime.now(UTC) - timedelta(days=30):
            raise SfError(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
        end = end.replace(second=0, microsecond=0)
        org = state.org
        table = org.records if kind == "updated" else org.recycle_bin
        hits = [r for r in table[sobject.lower()].values() if start <= r["SystemModstamp"] < end]
        if kind == "updated":
            return {"ids": [r["Id"] for r in hits], "latestDateCovered": format_datetime(end)}
        return {
            "deletedRecords": [
                {"id": r["Id"], "deletedDate": format_datetime(r["SystemModstamp"])} for r in hits
            ],
            "earliestDateAvailable": format_datetime(start),
            "latestDateCovered": format_datetime(end),
        }

    def _describe_brief(obj: Any) -> dict[str, Any]:
        return {
            "name": obj.name,
            "label": obj.name,
            "keyPrefix": obj.key_prefix,
            "custom": obj.name.endswith("__c"),
            "createable": obj.createable,
            "updateable": obj.createable,
            "deletable": obj.createable,
            "queryable": True,
            "urls": {"sobject": f"/services/data/v{state.org.api_version}/sobjects/{obj.name}"},
        }

    def _describe(obj: Any) -> dict[str, Any]:
        fields = []
        for f in state.org.visible_fields(obj):
            fields.append(
                {
                    "name": f.name,
                    "label": f.name,
                    "type": f.type,
                    "length": f.length,
                    "nillable": not f.required and f.type != "boolean",
                    "createable": f.createable,
                    "updateable": f.updateable,
                    "externalId": f.external_id,
                    "unique": f.unique,
                    "custom": f.name.endswith("__c"),
                    "defaultValue": f.default,
                    "restrictedPicklist": f.restricted,
                    "picklistValues": [
                        {"value": v, "label": v, "active": True, "defaultValue": v == f.default}
                        for v in f.picklist
                    ],
                    "referenceTo": [f.reference_to] if f.reference_to else [],
                    "relationshipName": f.relationship_name,
                }
            )
        children = [
            {
                "childSObject": rel.child,
                "field": rel.field,
                "relationshipName": rel.name,
                "cascadeDelete": True,
            }
            for rel in obj.children.values()
        ]
        return {**_describe_brief(obj), "fields": fields, "childRelationships": children}

    # ----------------------------------------------------------------- control API
    async def control(request: Request) -> Response:  # noqa: PLR0912
        org = state.org
        path = request.path_params["path"].strip("/").split("/")
        method = request.method
        raw = await request.body()
        body: Any = json.loads(raw) if raw.strip() else {}
        try:
            if path == ["reset"]:
                org.reset()
                state.faults.clear()
                state.counters.clear()
                state.api_used = 0
                state.page_size = 2000
                state.token_lifetime = None
                org.multi_currency, org.country_picklists = True, False
                return _json({"ok": True})
            if path == ["counters"]:
                if method == "DELETE":
                    state.counters.clear()
                return _json(dict(state.counters))
            if path == ["faults"]:
                if method == "DELETE":
                    state.faults.clear()
                else:
                    state.faults.add(Fault.from_json(body), body.get("seed"))
                return _json({"faults": len(state.faults.faults)})
            if path == ["sessions", "expire"]:
                state.sessions.clear()
                return _json({"ok": True})
            if path == ["org"]:
                if method != "GET":
                    _configure(body)
                return _json(
                    {
                        "multi_currency": org.multi_currency,
                        "country_picklists": org.country_picklists,
                        "api_used": state.api_used,
                        "api_max": state.api_max,
                        "page_size": state.page_size,
                        "token_lifetime": state.token_lifetime,
                        "instance_url": state.instance_url,
                        "hidden_fields": sorted(".".join(h) for h in org.hidden_fields),
                    }
                )
            if path == ["validation-rules"]:
                if method == "DELETE":
                    org.validation_rules.clear()
                else:
                    org.validation_rules.append(
                        ValidationRule(body["sobject"], body["field"], body.get("value"), body["message"])
                    )
                return _json({"rules": len(org.validation_rules)})
            if path[0] == "records" and len(path) >= 2:
                return _records(method, path[1:], body)
            if path[0] == "query" and method == "POST":
                rows, total = org.query(body["q"], include_deleted=bool(body.get("all", False)))
                return _json({"totalSize": total, "records": rows})
            if path[0] == "notes" and len(path) == 2:
                content = org.content.get(ids.key(path[1]))
                if content is None:
                    return _json({"error": "no such note"}, 404)
                return _json({"content": content.decode("utf-8", "replace")})
        except SfError as exc:
            return _json(exc.body(), exc.status)
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": f"bad control request: {exc}"}, 400)
        return _json({"error": "unknown control path"}, 404)

    def _configure(body: dict[str, Any]) -> None:
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
            org.hidden_fields = {tuple(h.lower().split(".", 1)) for h in body["hidden_fields"]}  # type: ignore[misc]
        if "stages" in body:
            org.set_stages(tuple(s) for s in body["stages"])
        if "clock_offset_seconds" in body:
            org.clock_offset = timedelta(seconds=float(body["clock_offset_seconds"]))

    def _records(method: str, path: list[str], body: dict[str, Any]) -> Response:
        org = state.org
        sobject = org.sobject(path[0]).name
        if len(path) == 1:
            if method == "POST":
                return _json({"id": org.create(sobject, body, user=SELLER_USER_ID)}, 201)
            return _json({"records": list(org.all_records(sobject))})
        rid = path[1]
        if len(path) == 3 and path[2] == "backdate":
            stamp = org.backdate(sobject, rid, float(body.get("seconds", 60)))
            return _json({"SystemModstamp": format_datetime(stamp)})
        if method == "PATCH":
            org.update(sobject, rid, body, user=SELLER_USER_ID)
            return _json({"id": rid})
        if method == "DELETE":
            org.delete(sobject, rid)
            return _json({"id": rid})
        return _json(org.record_json(sobject, org.get(sobject, rid)))

    routes = [
        Route("/services/oauth2/token", oauth_token, methods=["POST"]),
        Route("/services/Soap/u/{version}", soap_login, methods=["POST"]),
        Route("/services/data", versions, methods=["GET"]),
        Route("/services/data/", versions, methods=["GET"]),
        Route(
            "/services/data/{version}/{rest:path}",
            data_api,
            methods=["GET", "POST", "PATCH", "DELETE", "PUT"],
        ),
        Route("/_sim/{path:path}", control, methods=["GET", "POST", "PATCH", "DELETE"]),
    ]
    return Starlette(routes=routes)


MAX_COMPOSITE = 25
MAX_COMPOSITE_QUERIES = 5  # of the 25: query, queryAll and sObject Collections subrequests
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")


def _counts_as_query(url: str) -> bool:
    parts = [p for p in urlsplit(url).path.split("/") if p][3:]
    return bool(parts) and (parts[0] in ("query", "queryAll") or parts[:2] == ["composite", "sobjects"])


def resolve_references(value: Any, results: dict[str, Any]) -> Any:
    """Replace `@{referenceId.field[0].field}` in a subrequest's url or body with that value of an
    earlier subrequest's response (a whole-string reference keeps the value's type)."""
    if isinstance(value, dict):
        return {k: resolve_references(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_references(v, results) for v in value]
    if not isinstance(value, str) or "@{" not in value:
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole:
        return _reference_value(whole, results)
    return _REFERENCE.sub(lambda m: str(_reference_value(m, results)), value)


def _reference_value(match: re.Match[str], results: dict[str, Any]) -> Any:
    reference, path = match.group(1), match.group(2)
    if reference not in results or results[reference] is None:
        raise SfError(
            400, "INVALID_REFERENCE",
            f"Invalid reference specified. No value for {match.group(0)[2:-1]} found in {reference}",
        )  # fmt: skip
    current: Any = results[reference]
    for step in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        name, index = step
        try:
            current = current[int(index)] if index else current[name]
        except (KeyError, IndexError, TypeError):
            raise SfError(
                400, "INVALID_REFERENCE",
                f"Invalid reference specified. No value for {match.group(0)[2:-1]} found in {reference}",
            ) from None  # fmt: skip
    return current


def _check_size(count: int) -> None:
    if count > MAX_COLLECTION:
        raise SfError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call",
        )


def _endpoint_kind(method: str, parts: list[str]) -> str:
    """The counter name of a REST call; the client's `call_counts` uses the same names."""
    head = parts[0] if parts else ""
    if head in ("query", "queryAll"):
        return "query_more" if len(parts) == 2 else "query"
    if head == "composite":
        return "composite"
    if head == "limits":
        return "limits"
    if head == "sobjects":
        rest = parts[2:]
        if len(parts) <= 1:
            return "describe"
        if (rest and rest[0] == "describe") or (not rest and method == "GET"):
            return "describe"
        if rest and rest[0] in ("updated", "deleted"):
            return rest[0]
        if len(rest) == 2 and rest[1] == "Content":
            return "blob"
        if method == "GET":
            return "get"
        if method == "POST":
            return "create"
        if method == "DELETE":
            return "delete"
        if method == "PATCH":
            return "upsert" if len(rest) == 2 else "update"
    return "other"


def _basic_auth(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(user), unquote(password)


def _xml_unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )

"""`/composite`: up to 25 subrequests in order in one API call, `@{ref.path}` references to earlier
answers, and allOrNone rollback (spec/salesforce.md 2.7)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from starlette.responses import Response

from devstack.sf_sim.rest_common import RestCall, Result
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.sim_state import SimState

MAX_COMPOSITE = 25
MAX_COMPOSITE_QUERIES = 5  # of the 25: query, queryAll and sObject Collections subrequests
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_HALTED = [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back"}]

Dispatch = Callable[[SimState, RestCall], Result]


def composite(state: SimState, call: RestCall, dispatch: Dispatch) -> dict[str, Any]:
    """The /composite resource: with allOrNone a failure rolls back the earlier subrequests and
    halts the rest."""
    body = call.body
    subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(subrequests, list) or not subrequests or len(subrequests) > MAX_COMPOSITE:
        raise SfError(400, "INVALID_INPUT", f"compositeRequest must hold 1 to {MAX_COMPOSITE} subrequests")
    queries = sum(1 for sub in subrequests if _counts_as_query(str(sub.get("url", ""))))
    if queries > MAX_COMPOSITE_QUERIES:
        raise SfError(
            400,
            "INVALID_INPUT",
            f"A composite request can hold at most {MAX_COMPOSITE_QUERIES} query or collection subrequests",
        )
    all_or_none = bool(body.get("allOrNone"))
    with state.org.transaction() as transaction:
        answers = _run_subrequests(state, call, subrequests, dispatch, all_or_none=all_or_none)
        if all_or_none and any(a["httpStatusCode"] >= 300 for a in answers):
            transaction.rollback()
    return {"compositeResponse": answers}


def _answer(body: Any, status: int, reference: str) -> dict[str, Any]:
    return {"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": reference}


def _run_subrequests(
    state: SimState,
    call: RestCall,
    subrequests: list[dict[str, Any]],
    dispatch: Dispatch,
    *,
    all_or_none: bool,
) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    results: dict[str, Any] = {}  # referenceId -> response body, for @{ref.path} in later subrequests
    failed = False
    for sub in subrequests:
        reference = str(sub.get("referenceId", ""))
        if failed and all_or_none:
            answers.append(_answer(_HALTED, 400, reference))
            continue
        try:
            result = dispatch(state, subrequest_call(call, sub, results))
        except SfError as exc:
            failed = True
            answers.append(_answer(exc.body(), exc.status, reference))
            continue
        status, payload = (result.status_code, None) if isinstance(result, Response) else result
        results[reference] = payload
        answers.append(_answer(payload, status, reference))
    return answers


def subrequest_call(call: RestCall, sub: dict[str, Any], results: dict[str, Any]) -> RestCall:
    """A subrequest as a REST call, references resolved; it carries only its own `httpHeaders`."""
    url = urlsplit(str(resolve_references(str(sub.get("url", "")), results)))
    return RestCall(
        method=str(sub.get("method", "GET")).upper(),
        parts=[unquote(p) for p in url.path.split("/")[4:] if p],
        query_params=dict(parse_qsl(url.query)),
        headers=dict(sub.get("httpHeaders") or {}),
        body=resolve_references(sub.get("body"), results),
        api_version=call.api_version,
    )


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
    missing = SfError(
        400,
        "INVALID_REFERENCE",
        f"Invalid reference specified. No value for {match.group(0)[2:-1]} found in {reference}",
    )
    if reference not in results or results[reference] is None:
        raise missing
    current: Any = results[reference]
    for name, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        try:
            current = current[int(index)] if index else current[name]
        except (KeyError, IndexError, TypeError):
            raise missing from None
    return current

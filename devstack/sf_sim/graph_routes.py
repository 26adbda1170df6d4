"""`/composite/graph`: independent all-or-none graphs of sObject subrequests in one API call.

Salesforce's REST API Developer Guide, "Composite Graph" and "Composite Graph Limits"
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_graph_limits.htm):
at most 75 graphs and 500 nodes in one payload, 500 nodes in one graph; each graph is all-or-none
(a failing node rolls its graph back, the other graphs stand); a node may refer to earlier nodes of
its own graph only (`@{ref.id}`); only sObject rows are nodes (no queries); after 14 failed graphs
the rest are answered PROCESSING_HALTED."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from devstack.sf_sim.composite_routes import Dispatch, _run_subrequests
from devstack.sf_sim.rest_common import RestCall
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.sim_state import SimState

MAX_GRAPHS = 75
MAX_NODES = 500
MAX_FAILED_GRAPHS = 14
_HALTED = [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back"}]


def graph(state: SimState, call: RestCall, dispatch: Dispatch) -> dict[str, Any]:
    body = call.body
    graphs = body.get("graphs") if isinstance(body, dict) else None
    if not isinstance(graphs, list) or not graphs or len(graphs) > MAX_GRAPHS:
        raise SfError(400, "INVALID_INPUT", f"graphs must hold 1 to {MAX_GRAPHS} graphs")
    ids = [str(g.get("graphId") or "") for g in graphs]
    if len(set(ids)) != len(ids) or not all(ids):
        raise SfError(400, "INVALID_INPUT", "every graph needs a graphId unique in the payload")
    nodes = 0
    for one in graphs:
        requests = one.get("compositeRequest")
        if not isinstance(requests, list) or not requests:
            raise SfError(400, "INVALID_INPUT", "each graph needs a compositeRequest")
        if any(_not_a_node(str(r.get("url", ""))) for r in requests):
            raise SfError(400, "INVALID_INPUT", "graph nodes must be sObject rows (no queries)")
        nodes += len(requests)
    if nodes > MAX_NODES:
        raise SfError(400, "INVALID_INPUT", f"at most {MAX_NODES} nodes in one payload ({nodes} sent)")
    answers, failed = [], 0
    for graph_id, one in zip(ids, graphs, strict=True):
        requests = list(one["compositeRequest"])
        if failed > MAX_FAILED_GRAPHS - 1:
            halted = [_halted(str(r.get("referenceId", ""))) for r in requests]
            answers.append(_graph_answer(graph_id, halted, ok=False))
            continue
        with state.org.transaction() as transaction:
            responses = _run_subrequests(state, call, requests, dispatch, all_or_none=True)
            ok = all(r["httpStatusCode"] < 300 for r in responses)
            if not ok:
                transaction.rollback()
                failed += 1
        answers.append(_graph_answer(graph_id, responses, ok=ok))
    return {"graphs": answers}


def _graph_answer(graph_id: str, responses: list[dict[str, Any]], *, ok: bool) -> dict[str, Any]:
    return {"graphId": graph_id, "graphResponse": {"compositeResponse": responses}, "isSuccessful": ok}


def _halted(reference: str) -> dict[str, Any]:
    return {"body": _HALTED, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference}


def _not_a_node(url: str) -> bool:
    parts = [p for p in urlsplit(url).path.split("/") if p][3:]
    return not parts or parts[0] != "sobjects"

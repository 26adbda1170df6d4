"""The Referrals API routes: `GET/POST /v1.0/engagements/referrals` and
`GET/PATCH /v1.0/engagements/referrals/{id}`, with the selectable quirks of `pc_referral_quirks`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.pc_sim.pc_http_app import api_endpoint, body_json, json_response
from devstack.pc_sim.pc_identity import REFERRALS_AUDIENCE

if TYPE_CHECKING:
    from devstack.pc_sim.pc_http_app import SimState

BASE = "/v1.0/engagements/referrals"


def referral_routes(state: SimState) -> list[Route]:
    store, quirks = state.store, state.quirks

    async def collection(request: Request) -> Response:
        if request.method == "POST":
            created = store.create(await body_json(request))
            return json_response(201, created, {"ETag": created["eTag"]})
        params = request.query_params
        page = store.query(
            filter=params.get("$filter"),
            orderby=params.get("$orderby"),
            top=params.get("$top"),
            skiptoken=params.get("$skiptoken"),
            apply_filter=quirks.applies_filter(params.get("$filter")),
        )
        return json_response(200, page)

    async def item(request: Request) -> Response:
        referral_id = request.path_params["id"]
        if request.method == "GET":
            found = store.find(referral_id)
            quirks.check_read(referral_id, found.get("organizationId") if found else None)
            found = found or store.get(referral_id)
            return json_response(200, found, {"ETag": found["eTag"]})
        updated = store.patch(referral_id, await body_json(request), if_match=request.headers.get("if-match"))
        if "return=representation" in request.headers.get("prefer", ""):
            return json_response(200, updated, {"ETag": updated["eTag"]})
        return Response(status_code=204, headers={"ETag": updated["eTag"]})

    return [
        Route(
            BASE, api_endpoint(state, "/referrals", REFERRALS_AUDIENCE, collection), methods=["GET", "POST"]
        ),
        Route(
            BASE + "/{id}",
            api_endpoint(state, "/referrals/{id}", REFERRALS_AUDIENCE, item),
            methods=["GET", "PATCH"],
        ),
    ]

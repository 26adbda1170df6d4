"""The token endpoint routes: `/{tenant}/oauth2/token` (v1, `resource`) and
`/{tenant}/oauth2/v2.0/token` (v2, `scope`), both answered by `pc_identity.Identity`."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.pc_sim.pc_http_app import Handler, json_response
from devstack.pc_sim.pc_identity import TokenError

if TYPE_CHECKING:
    from devstack.pc_sim.pc_http_app import SimState


def token_routes(state: SimState) -> list[Route]:
    def endpoint(*, v2: bool) -> Handler:
        async def token(request: Request) -> Response:
            state.count("POST /token")
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
            identity = state.identity
            try:
                body = identity.redeem(request.path_params["tenant"], form, v2=v2)
            except TokenError as exc:
                return json_response(
                    exc.status, exc.body(identity.now(), crlf=identity.options.crlf_error_descriptions)
                )
            return json_response(200, body)

        return token

    return [
        Route("/{tenant}/oauth2/token", endpoint(v2=False), methods=["POST"]),
        Route("/{tenant}/oauth2/v2.0/token", endpoint(v2=True), methods=["POST"]),
    ]

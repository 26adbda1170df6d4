"""The simulator's HTTP surface: OAuth token endpoint, SOAP login, REST data API and the `/_sim`
control API. Wire shapes follow `spec/salesforce.md` so simple-salesforce cannot tell the difference.
Routes live in `auth_routes`, `rest_dispatch` (-> `sobject_routes`, `query_routes`,
`composite_routes`, `collection_routes`) and `control_routes`; they share a `SimState`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from devstack.sf_sim.auth_routes import oauth_token, soap_login, versions
from devstack.sf_sim.control_routes import control
from devstack.sf_sim.rest_dispatch import data_api
from devstack.sf_sim.sim_state import SimState

__all__ = ["SimState", "build_app"]


def build_app(state: SimState) -> Starlette:
    """The Starlette application serving one simulated org."""
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
    app = Starlette(routes=routes)
    app.state.sim = state
    return app

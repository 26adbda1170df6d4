"""`/_sim` switches for the ways a real tenant behaves (issue #15): identity (options, clock,
refresh-token revocation, redemption counts), `$filter` modes, per-referral read faults, unknown
status values, and the webhook signing certificate and its URL. `POST /_sim/reset` restores the
constructor's choices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from devstack.pc_sim.pc_cert_chain import CertificateOptions
from devstack.pc_sim.pc_control_api import RouteSpec, as_routes, control_body
from devstack.pc_sim.pc_identity import IdentityOptions
from devstack.pc_sim.store import ApiError

if TYPE_CHECKING:
    from starlette.routing import Route

    from devstack.pc_sim.pc_http_app import SimState


def quirk_control_routes(state: SimState) -> list[Route]:
    return as_routes(_identity_routes(state) + _referral_routes(state) + _certificate_routes(state))


def _identity_routes(state: SimState) -> list[RouteSpec]:
    identity = state.identity

    async def snapshot(request: Request) -> Any:
        if request.method == "PUT":
            merged = {**identity.options.model_dump(), **(await control_body(request))}
            identity.configure(IdentityOptions.model_validate(merged))
        return identity.snapshot()

    async def clock(request: Request) -> Any:
        body = await control_body(request)
        identity.advance(float(body.get("advance_seconds", 0)))
        return identity.snapshot()

    async def revoke(request: Request) -> Any:
        token = (await control_body(request)).get("refresh_token")
        return {"revoked": identity.revoke_refresh(str(token) if token else None)}

    return [
        ("/identity", snapshot, ["GET", "PUT"]),
        ("/identity/clock", clock, ["POST"]),
        ("/identity/refresh-tokens/revoke", revoke, ["POST"]),
    ]


def _referral_routes(state: SimState) -> list[RouteSpec]:
    quirks = state.quirks

    async def filter_modes(request: Request) -> Any:
        if request.method == "PUT":
            quirks.set_filter_modes(await control_body(request))
        elif request.method == "DELETE":
            quirks.set_filter_modes({})
        return quirks.filter_modes.modes

    async def read_faults(request: Request) -> Any:
        if request.method == "PUT":
            quirks.set_read_faults(await control_body(request))
        elif request.method == "DELETE":
            quirks.set_read_faults({})
        return quirks.read_faults.model_dump()

    async def read_fault(request: Request) -> Any:
        status = None if request.method == "DELETE" else (await control_body(request)).get("status")
        return quirks.set_read_fault(request.path_params["id"], status).model_dump()

    async def status(request: Request) -> Any:
        """Set any status/substatus, known or not (e.g. `Archived`), as the service would."""
        body = await control_body(request)
        if not isinstance(body.get("status"), str):
            raise ApiError(400, "status is required")
        operations = [{"op": "replace", "path": "/status", "value": body["status"]}]
        if "substatus" in body:
            operations.append({"op": "replace", "path": "/substatus", "value": body["substatus"]})
        return state.store.modify_as_microsoft(request.path_params["id"], operations)

    return [
        ("/filter-modes", filter_modes, ["GET", "PUT", "DELETE"]),
        ("/read-faults", read_faults, ["GET", "PUT", "DELETE"]),
        ("/referrals/{id}/read-fault", read_fault, ["PUT", "DELETE"]),
        ("/referrals/{id}/status", status, ["POST"]),
    ]


def _certificate_routes(state: SimState) -> list[RouteSpec]:
    async def certificate(request: Request) -> Any:
        if request.method == "PUT":
            state.signing.configure(CertificateOptions.model_validate(await control_body(request)))
        elif request.method == "DELETE":
            state.signing.reset()
        return state.signing.describe()

    return [("/webhooks/certificate", certificate, ["GET", "PUT", "DELETE"])]

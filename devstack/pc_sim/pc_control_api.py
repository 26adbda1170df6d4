"""The `/_sim` control API: state, Microsoft seller actions, faults, counters, webhooks, reset.
(The tenant-behaviour switches live in `pc_control_quirks`.)

Tests, the demo and benchmarks drive the simulator only through this API (see `pc_sim_client`), so
an in-thread simulator and a separate process behave the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.pc_sim.pc_http_app import Handler, body_json
from devstack.pc_sim.pc_webhook_api import registration_from
from devstack.pc_sim.seller import seed_referrals
from devstack.pc_sim.store import ApiError

if TYPE_CHECKING:
    from devstack.pc_sim.pc_http_app import SimState

ControlHandler = Callable[[Request], Awaitable[Any]]
RouteSpec = tuple[str, ControlHandler, list[str]]


async def control_body(request: Request) -> Any:
    return await body_json(request, empty={})


def _handled(handler: ControlHandler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except ApiError as exc:
            return JSONResponse(exc.body, status_code=exc.status)
        except ValidationError as exc:
            return JSONResponse({"code": 400, "description": str(exc)}, status_code=400)
        return result if isinstance(result, Response) else JSONResponse(result)

    return endpoint


def as_routes(specs: list[RouteSpec]) -> list[Route]:
    return [Route("/_sim" + path, _handled(handler), methods=methods) for path, handler, methods in specs]


def control_routes(state: SimState) -> list[Route]:
    return as_routes(_state_routes(state) + _seller_routes(state) + _webhook_routes(state))


def _state_routes(state: SimState) -> list[RouteSpec]:
    async def health(request: Request) -> Any:
        return {"ok": True, "referrals": len(state.store)}

    async def reset(request: Request) -> Any:
        state.reset()
        return {"reset": True}

    async def counters(request: Request) -> Any:
        with state.lock:
            snapshot = dict(state.counters)
            if request.method == "DELETE":
                state.counters.clear()
        return snapshot

    async def referrals(request: Request) -> Any:
        return state.store.all()

    async def referral(request: Request) -> Any:
        return state.store.get(request.path_params["id"])

    async def seed(request: Request) -> Any:
        body = await control_body(request)
        count = int(body.get("count", 0))
        return {"seeded": state.store.seed(seed_referrals(count, body.get("overrides")))}

    async def faults(request: Request) -> Any:
        if request.method == "PUT":
            return state.faults.configure(await control_body(request)).model_dump()
        if request.method == "DELETE":
            state.faults.reset()
        return state.faults.settings.model_dump()

    async def revoke_tokens(request: Request) -> Any:
        return {"revoked": state.identity.revoke_access()}

    return [
        ("/health", health, ["GET"]),
        ("/reset", reset, ["POST"]),
        ("/counters", counters, ["GET", "DELETE"]),
        ("/referrals", referrals, ["GET"]),
        ("/referrals/{id}", referral, ["GET"]),
        ("/seed", seed, ["POST"]),
        ("/faults", faults, ["GET", "PUT", "DELETE"]),
        ("/tokens/revoke", revoke_tokens, ["POST"]),
    ]


def _seller_routes(state: SimState) -> list[RouteSpec]:
    seller = state.seller

    async def send_referral(request: Request) -> Any:
        return seller.send_referral(await control_body(request))

    async def send_lead(request: Request) -> Any:
        return seller.send_marketplace_lead(await control_body(request))

    async def accept(request: Request) -> Any:
        body = await control_body(request)
        return seller.accept(request.path_params["id"], body.get("microsoftMsxId"))

    async def note(request: Request) -> Any:
        body = await control_body(request)
        if not isinstance(body.get("note"), str):
            raise ApiError(400, "note is required")
        return seller.add_note(request.path_params["id"], body["note"])

    async def related(request: Request) -> Any:
        return seller.open_related(request.path_params["id"], await control_body(request) or None)

    async def patch(request: Request) -> Any:
        operations = await control_body(request)
        if not isinstance(operations, list):
            raise ApiError(400, "body must be a JSON Patch array")
        return seller.update(request.path_params["id"], operations)

    return [
        ("/seller/referrals", send_referral, ["POST"]),
        ("/seller/leads", send_lead, ["POST"]),
        ("/seller/referrals/{id}/accept", accept, ["POST"]),
        ("/seller/referrals/{id}/notes", note, ["POST"]),
        ("/seller/referrals/{id}/related", related, ["POST"]),
        ("/seller/referrals/{id}/patch", patch, ["POST"]),
    ]


def _webhook_routes(state: SimState) -> list[RouteSpec]:
    async def webhooks(request: Request) -> Any:
        current = state.registration
        return {
            "registration": {"WebhookUrl": current.url, "WebhookEvents": current.events} if current else None,
            "signing": state.dispatcher.signed,
            "pending": state.dispatcher.pending(),
            "deliveries": state.dispatcher.deliveries(),
        }

    async def flush(request: Request) -> Any:
        return {"released": state.dispatcher.flush()}

    async def set_registration(request: Request) -> Any:
        if request.method == "DELETE":
            state.registration = None
            return {"registration": None}
        state.registration = registration_from(await control_body(request), known_events_only=False)
        return {"WebhookUrl": state.registration.url, "WebhookEvents": state.registration.events}

    async def signing(request: Request) -> Any:
        body = await control_body(request)
        state.dispatcher.signed = bool(body.get("enabled", True))
        return {"signing": state.dispatcher.signed}

    return [
        ("/webhooks", webhooks, ["GET"]),
        ("/webhooks/flush", flush, ["POST"]),
        ("/webhooks/registration", set_registration, ["PUT", "DELETE"]),
        ("/webhooks/signing", signing, ["PUT"]),
    ]

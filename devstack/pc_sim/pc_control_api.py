"""The `/_sim` control API: Microsoft seller actions, faults, counters, webhooks, state, reset.

Tests, the demo and benchmarks drive the simulator only through this API (see `control.py`), so
an in-thread simulator and a separate process behave the same.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.pc_sim.delivery import Registration
from devstack.pc_sim.seller import seed_referrals
from devstack.pc_sim.store import ApiError

if TYPE_CHECKING:
    from devstack.pc_sim.app import SimState

Handler = Callable[[Request], Awaitable[Response]]


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "body is not JSON") from None


def _handled(handler: Callable[[Request], Awaitable[Any]]) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except ApiError as exc:
            return JSONResponse(exc.body, status_code=exc.status)
        except ValidationError as exc:
            return JSONResponse({"code": 400, "description": str(exc)}, status_code=400)
        return result if isinstance(result, Response) else JSONResponse(result)

    return endpoint


def control_routes(state: SimState) -> list[Route]:
    seller = state.seller

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
        body = await _body(request)
        count = int(body.get("count", 0))
        return {"seeded": state.store.seed(seed_referrals(count, body.get("overrides")))}

    async def send_referral(request: Request) -> Any:
        return seller.send_referral(await _body(request))

    async def send_lead(request: Request) -> Any:
        return seller.send_marketplace_lead(await _body(request))

    async def accept(request: Request) -> Any:
        body = await _body(request)
        return seller.accept(request.path_params["id"], body.get("microsoftMsxId"))

    async def note(request: Request) -> Any:
        body = await _body(request)
        if not isinstance(body.get("note"), str):
            raise ApiError(400, "note is required")
        return seller.add_note(request.path_params["id"], body["note"])

    async def related(request: Request) -> Any:
        return seller.open_related(request.path_params["id"], await _body(request) or None)

    async def patch(request: Request) -> Any:
        operations = await _body(request)
        if not isinstance(operations, list):
            raise ApiError(400, "body must be a JSON Patch array")
        return seller.update(request.path_params["id"], operations)

    async def faults(request: Request) -> Any:
        if request.method == "PUT":
            return state.faults.configure(await _body(request)).model_dump()
        if request.method == "DELETE":
            state.faults.reset()
        return state.faults.settings.model_dump()

    async def webhooks(request: Request) -> Any:
        current = state.registration
        return {
            "registration": {"WebhookUrl": current.url, "WebhookEvents": current.events} if current else None,
            "signing": state.dispatcher.signing,
            "pending": state.dispatcher.pending(),
            "deliveries": state.dispatcher.deliveries(),
        }

    async def flush(request: Request) -> Any:
        return {"released": state.dispatcher.flush()}

    async def set_registration(request: Request) -> Any:
        body = await _body(request)
        if request.method == "DELETE":
            state.registration = None
            return {"registration": None}
        if not isinstance(body.get("WebhookUrl"), str):
            raise ApiError(400, "WebhookUrl is required")
        state.registration = Registration(
            url=body["WebhookUrl"], events=list(body.get("WebhookEvents") or [])
        )
        return {"WebhookUrl": state.registration.url, "WebhookEvents": state.registration.events}

    async def signing(request: Request) -> Any:
        body = await _body(request)
        state.dispatcher.signing = bool(body.get("enabled", True))
        return {"signing": state.dispatcher.signing}

    async def revoke_tokens(request: Request) -> Any:
        with state.lock:
            revoked = len(state.tokens)
            state.tokens.clear()
        return {"revoked": revoked}

    routes: list[tuple[str, Callable[[Request], Awaitable[Any]], list[str]]] = [
        ("/health", health, ["GET"]),
        ("/reset", reset, ["POST"]),
        ("/counters", counters, ["GET", "DELETE"]),
        ("/referrals", referrals, ["GET"]),
        ("/referrals/{id}", referral, ["GET"]),
        ("/seed", seed, ["POST"]),
        ("/seller/referrals", send_referral, ["POST"]),
        ("/seller/leads", send_lead, ["POST"]),
        ("/seller/referrals/{id}/accept", accept, ["POST"]),
        ("/seller/referrals/{id}/notes", note, ["POST"]),
        ("/seller/referrals/{id}/related", related, ["POST"]),
        ("/seller/referrals/{id}/patch", patch, ["POST"]),
        ("/faults", faults, ["GET", "PUT", "DELETE"]),
        ("/webhooks", webhooks, ["GET"]),
        ("/webhooks/flush", flush, ["POST"]),
        ("/webhooks/registration", set_registration, ["PUT", "DELETE"]),
        ("/webhooks/signing", signing, ["PUT"]),
        ("/tokens/revoke", revoke_tokens, ["POST"]),
    ]
    return [Route("/_sim" + path, _handled(handler), methods=methods) for path, handler, methods in routes]

"""The webhook registration API (`/webhooks/v1/registration...`, Partner Center webhooks page:
https://learn.microsoft.com/partner-center/developer/partner-center-webhooks#webhook-apis) and the
signing certificates served at `x-ms-certificate-url`-shaped paths (see `pc_cert_chain`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from devstack.pc_sim.delivery import Registration
from devstack.pc_sim.pc_http_app import Handler, api_endpoint, body_json, json_response
from devstack.pc_sim.pc_identity import WEBHOOKS_AUDIENCE
from devstack.pc_sim.store import ApiError

if TYPE_CHECKING:
    from devstack.pc_sim.pc_http_app import SimState

AVAILABLE_EVENTS = [
    "referral-created",
    "referral-updated",
    "related-referral-created",
    "related-referral-updated",
    "test-created",
]
BASE = "/webhooks/v1/registration"


def registration_wire(registration: Registration) -> dict[str, Any]:
    return {
        "SubscriberId": registration.subscriber_id,
        "WebhookUrl": registration.url,
        "WebhookEvents": registration.events,
    }


def registration_from(body: Any, *, known_events_only: bool) -> Registration:
    if not isinstance(body, dict) or not isinstance(body.get("WebhookUrl"), str):
        raise ApiError(400, "WebhookUrl is required")
    events = list(body.get("WebhookEvents") or [])
    unknown = [e for e in events if e not in AVAILABLE_EVENTS]
    if unknown and known_events_only:
        raise ApiError(400, f"unknown events: {', '.join(map(str, unknown))}")
    return Registration(url=body["WebhookUrl"], events=events)


def registration_routes(state: SimState) -> list[Route]:
    async def registration(request: Request) -> Response:
        if request.method == "GET":
            if state.registration is None:
                raise ApiError(404, "no webhook registration")
            return json_response(200, registration_wire(state.registration))
        if request.method == "DELETE":
            state.registration = None
            return Response(status_code=204)
        state.registration = registration_from(await body_json(request), known_events_only=True)
        return json_response(200, registration_wire(state.registration))

    async def events(request: Request) -> Response:
        return json_response(200, AVAILABLE_EVENTS)

    async def validation_events(request: Request) -> Response:
        current = state.registration
        if current is None or "test-created" not in current.events:
            raise ApiError(400, "register for test-created before sending validation events")
        return json_response(200, {"correlationId": state.dispatcher.publish_test()})

    async def validation_event(request: Request) -> Response:
        correlation_id = request.path_params["cid"]
        delivery = state.dispatcher.test_event(correlation_id)
        if delivery is None:
            raise ApiError(404, f"no validation event {correlation_id}")
        return json_response(
            200,
            {
                "correlationId": correlation_id,
                "partnerId": state.store.partner_org_id,
                "status": "completed" if delivery.status in ("delivered", "failed") else "pending",
                "callbackUrl": state.registration.url if state.registration else None,
                "results": delivery.results,
            },
        )

    def guarded(template: str, handler: Handler) -> Handler:
        return api_endpoint(state, template, WEBHOOKS_AUDIENCE, handler)

    return [
        Route(BASE, guarded("/registration", registration), methods=["GET", "POST", "PUT", "DELETE"]),
        Route(BASE + "/events", guarded("/registration/events", events), methods=["GET"]),
        Route(
            BASE + "/validationEvents",
            guarded("/registration/validationEvents", validation_events),
            methods=["POST"],
        ),
        Route(
            BASE + "/validationEvents/{cid}",
            guarded("/registration/validationEvents/{id}", validation_event),
            methods=["GET"],
        ),
    ]


def certificate_routes(state: SimState) -> list[Route]:
    """Last in the route list: any other GET path may be the (re)configured certificate path."""

    async def certificate(request: Request) -> Response:
        der = state.signing.certificate_at(request.url.path)
        if der is None:
            return PlainTextResponse("Not Found", status_code=404)
        return Response(der, media_type="application/pkix-cert")

    return [Route("/{path:path}", certificate, methods=["GET"])]

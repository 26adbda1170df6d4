"""The simulator's HTTP surface: identity token endpoint, Referrals API, webhook registration API,
the signing certificate, and the `/_sim` control API (seller actions, faults, counters, state)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.pc_sim.delivery import Registration, WebhookDispatcher
from devstack.pc_sim.faults import Faults
from devstack.pc_sim.seller import MicrosoftSeller
from devstack.pc_sim.signing import WebhookSigner
from devstack.pc_sim.store import ApiError, ReferralStore
from devstack.pc_sim.validation import error_body

REFERRALS_AUDIENCE = "https://api.partner.microsoft.com"
WEBHOOKS_AUDIENCE = "https://api.partnercenter.microsoft.com"
AVAILABLE_EVENTS = [
    "referral-created",
    "referral-updated",
    "related-referral-created",
    "related-referral-updated",
    "test-created",
]
CERTIFICATE_PATH = "/cert/pcnotifications.cer"


@dataclass
class Credentials:
    """What the token endpoint accepts (the sim's app registration and stored refresh token)."""

    client_id: str = "sim-client-id"
    client_secret: str = "sim-client-secret"  # noqa: S105 - the simulator's own fixed credential
    refresh_token: str = "sim-refresh-token"  # noqa: S105
    token_lifetime_seconds: int = 3600


@dataclass
class SimState:
    """Everything the routes share."""

    origin: str
    credentials: Credentials
    faults: Faults
    signer: WebhookSigner
    dispatcher: WebhookDispatcher
    store: ReferralStore
    seller: MicrosoftSeller
    registration: Registration | None = None
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, endpoint: str) -> None:
        with self.lock:
            self.counters[endpoint] += 1

    def reset(self) -> None:
        self.store.reset()
        self.dispatcher.reset()
        self.faults.reset()
        with self.lock:
            self.registration = None
            self.tokens.clear()
            self.counters.clear()


def build_state(
    origin: str, *, credentials: Credentials, webhook_signing: bool, retry_base: float
) -> SimState:
    faults = Faults()
    signer = WebhookSigner()
    holder: dict[str, SimState] = {}
    dispatcher = WebhookDispatcher(
        signer=signer,
        certificate_url=lambda: origin + CERTIFICATE_PATH,
        registration=lambda: holder["state"].registration,
        faults=faults,
        signing=webhook_signing,
        retry_base_seconds=retry_base,
    )
    store = ReferralStore(api_base_url=f"{origin}/v1.0/engagements", emit=dispatcher.publish)
    state = SimState(
        origin=origin,
        credentials=credentials,
        faults=faults,
        signer=signer,
        dispatcher=dispatcher,
        store=store,
        seller=MicrosoftSeller(store),
    )
    holder["state"] = state
    return state


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


async def _body_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "body is not JSON") from None


Handler = Callable[[Request], Awaitable[Response]]


def api_endpoint(state: SimState, template: str, audience: str, handler: Handler) -> Handler:
    """Wraps an API handler: counters, latency, faults, bearer check, error bodies, Request-ID."""

    async def endpoint(request: Request) -> Response:
        label = f"{request.method} {template}"
        state.count(label)
        request_id = str(uuid.uuid4())
        settings = state.faults.settings
        if settings.latency_ms:
            await asyncio.sleep(settings.latency_ms / 1000)
        if fault := state.faults.api_fault(label):
            headers = {"Request-ID": request_id}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            description = "Too many requests" if fault.status == 429 else "Service unavailable"
            return _json_response(fault.status, error_body(fault.status, description), headers)
        if problem := _token_problem(state, request, audience):
            return _json_response(
                401, error_body(401, problem), {"Request-ID": request_id, "WWW-Authenticate": "Bearer"}
            )
        try:
            response = await handler(request)
        except ApiError as exc:
            response = _json_response(exc.status, exc.body)
        response.headers["Request-ID"] = request_id
        return response

    return endpoint


def _token_problem(state: SimState, request: Request, audience: str) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "bearer token required"
    with state.lock:
        issued = state.tokens.get(token)
    if issued is None:
        return "token is invalid or revoked"
    token_audience, expires_at = issued
    if expires_at < time.time():
        return "token expired"
    if token_audience != audience:
        return f"token audience {token_audience} is not {audience}"
    return None


# --- identity platform ----------------------------------------------------------------------------
def token_endpoint(state: SimState) -> Handler:
    async def endpoint(request: Request) -> Response:
        state.count("POST /token")
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        creds = state.credentials
        if form.get("grant_type") != "refresh_token":
            return _aad_error(
                400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type."
            )
        if form.get("client_id") != creds.client_id:
            return _aad_error(
                400, "unauthorized_client", "AADSTS700016: Application was not found in the directory."
            )
        if form.get("client_secret") != creds.client_secret:
            return _aad_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if form.get("refresh_token") != creds.refresh_token:
            return _aad_error(
                400, "invalid_grant", "AADSTS70000: The provided refresh token is invalid or expired."
            )
        resource = form.get("resource", "")
        if resource not in (REFERRALS_AUDIENCE, WEBHOOKS_AUDIENCE):
            return _aad_error(
                400, "invalid_resource", f"AADSTS500011: The resource {resource} was not found."
            )
        token = f"sim-{uuid.uuid4().hex}"
        with state.lock:
            state.tokens[token] = (resource, time.time() + creds.token_lifetime_seconds)
        return _json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": str(creds.token_lifetime_seconds),
                "resource": resource,
                "access_token": token,
                "refresh_token": creds.refresh_token,
            },
        )

    return endpoint


def _aad_error(status: int, error: str, description: str) -> Response:
    trace = str(uuid.uuid4())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return _json_response(
        status,
        {
            "error": error,
            "error_description": f"{description} Trace ID: {trace} Timestamp: {now}",
            "error_codes": [int(description.split(":", maxsplit=1)[0].removeprefix("AADSTS"))],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
        },
    )


# --- Referrals API --------------------------------------------------------------------------------
def referral_routes(state: SimState) -> list[Route]:
    store = state.store

    async def collection(request: Request) -> Response:
        if request.method == "POST":
            created = store.create(await _body_json(request))
            return _json_response(201, created, {"ETag": created["eTag"]})
        params = request.query_params
        page = store.query(
            filter=params.get("$filter"),
            orderby=params.get("$orderby"),
            top=params.get("$top"),
            skiptoken=params.get("$skiptoken"),
        )
        return _json_response(200, page)

    async def item(request: Request) -> Response:
        referral_id = request.path_params["id"]
        if request.method == "GET":
            found = store.get(referral_id)
            return _json_response(200, found, {"ETag": found["eTag"]})
        updated = store.patch(
            referral_id, await _body_json(request), if_match=request.headers.get("if-match")
        )
        if "return=representation" in request.headers.get("prefer", ""):
            return _json_response(200, updated, {"ETag": updated["eTag"]})
        return Response(status_code=204, headers={"ETag": updated["eTag"]})

    base = "/v1.0/engagements/referrals"
    return [
        Route(
            base, api_endpoint(state, "/referrals", REFERRALS_AUDIENCE, collection), methods=["GET", "POST"]
        ),
        Route(
            base + "/{id}",
            api_endpoint(state, "/referrals/{id}", REFERRALS_AUDIENCE, item),
            methods=["GET", "PATCH"],
        ),
    ]


# --- webhook registration API ---------------------------------------------------------------------
def registration_routes(state: SimState) -> list[Route]:
    def as_wire(registration: Registration) -> dict[str, Any]:
        return {
            "SubscriberId": registration.subscriber_id,
            "WebhookUrl": registration.url,
            "WebhookEvents": registration.events,
        }

    async def registration(request: Request) -> Response:
        if request.method == "GET":
            current = state.registration
            if current is None:
                raise ApiError(404, "no webhook registration")
            return _json_response(200, as_wire(current))
        if request.method == "DELETE":
            state.registration = None
            return Response(status_code=204)
        body = await _body_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("WebhookUrl"), str):
            raise ApiError(400, "WebhookUrl is required")
        events = body.get("WebhookEvents") or []
        unknown = [e for e in events if e not in AVAILABLE_EVENTS]
        if unknown:
            raise ApiError(400, f"unknown events: {', '.join(map(str, unknown))}")
        state.registration = Registration(url=body["WebhookUrl"], events=list(events))
        return _json_response(200, as_wire(state.registration))

    async def events(request: Request) -> Response:
        return _json_response(200, AVAILABLE_EVENTS)

    async def validation_events(request: Request) -> Response:
        current = state.registration
        if current is None or "test-created" not in current.events:
            raise ApiError(400, "register for test-created before sending validation events")
        return _json_response(200, {"correlationId": state.dispatcher.publish_test()})

    async def validation_event(request: Request) -> Response:
        correlation_id = request.path_params["cid"]
        delivery = state.dispatcher.test_event(correlation_id)
        if delivery is None:
            raise ApiError(404, f"no validation event {correlation_id}")
        return _json_response(
            200,
            {
                "correlationId": correlation_id,
                "partnerId": state.store.partner_org_id,
                "status": "completed" if delivery.status in ("delivered", "failed") else "pending",
                "callbackUrl": state.registration.url if state.registration else None,
                "results": delivery.results,
            },
        )

    base = "/webhooks/v1/registration"

    def guarded(template: str, handler: Handler) -> Handler:
        return api_endpoint(state, template, WEBHOOKS_AUDIENCE, handler)

    return [
        Route(base, guarded("/registration", registration), methods=["GET", "POST", "PUT", "DELETE"]),
        Route(base + "/events", guarded("/registration/events", events), methods=["GET"]),
        Route(
            base + "/validationEvents",
            guarded("/registration/validationEvents", validation_events),
            methods=["POST"],
        ),
        Route(
            base + "/validationEvents/{cid}",
            guarded("/registration/validationEvents/{id}", validation_event),
            methods=["GET"],
        ),
    ]


def build_app(state: SimState) -> Starlette:
    from devstack.pc_sim.control_api import control_routes

    async def certificate(request: Request) -> Response:
        return Response(state.signer.certificate_der, media_type="application/pkix-cert")

    routes = [
        Route("/{tenant}/oauth2/token", token_endpoint(state), methods=["POST"]),
        Route(CERTIFICATE_PATH, certificate, methods=["GET"]),
        *referral_routes(state),
        *registration_routes(state),
        *control_routes(state),
    ]
    return Starlette(routes=routes)

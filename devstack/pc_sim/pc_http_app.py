"""The simulator's shared state and its Starlette app: the identity token endpoint, Referrals API,
webhook registration API, signing certificates and the `/_sim` control API, each in its module."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devstack.pc_sim.delivery import Registration, WebhookDispatcher
from devstack.pc_sim.pc_cert_chain import CertificateOptions, SigningIdentity
from devstack.pc_sim.pc_faults import Faults
from devstack.pc_sim.pc_identity import Credentials, Identity, IdentityOptions
from devstack.pc_sim.pc_referral_quirks import FilterMode, ReferralQuirks
from devstack.pc_sim.referral_rules import error_body
from devstack.pc_sim.seller import MicrosoftSeller
from devstack.pc_sim.store import ApiError, ReferralStore

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class SimState:
    """Everything the routes share."""

    origin: str
    credentials: Credentials
    identity: Identity
    faults: Faults
    quirks: ReferralQuirks
    signing: SigningIdentity
    dispatcher: WebhookDispatcher
    store: ReferralStore
    seller: MicrosoftSeller
    registration: Registration | None = None
    counters: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, endpoint: str) -> None:
        with self.lock:
            self.counters[endpoint] += 1

    def reset(self) -> None:
        self.store.reset()
        self.dispatcher.reset()
        self.faults.reset()
        self.quirks.reset()
        self.signing.reset()
        self.identity.reset()
        with self.lock:
            self.registration = None
            self.counters.clear()


@dataclass(frozen=True)
class SimOptions:
    """Constructor choices of `PartnerCenterSimulator` (each also switchable over `/_sim`)."""

    credentials: Credentials = field(default_factory=Credentials)
    webhook_signing: bool = True
    retry_base_seconds: float = 0.2
    identity: IdentityOptions = field(default_factory=IdentityOptions)
    filter_modes: Mapping[str, FilterMode] = field(default_factory=dict)
    certificate: CertificateOptions = field(default_factory=CertificateOptions)


def build_state(origin: str, options: SimOptions) -> SimState:
    faults = Faults()
    signing = SigningIdentity(origin, options.certificate)
    holder: dict[str, SimState] = {}
    dispatcher = WebhookDispatcher(
        signing=signing,
        registration=lambda: holder["state"].registration,
        faults=faults,
        signed=options.webhook_signing,
        retry_base_seconds=options.retry_base_seconds,
    )
    store = ReferralStore(api_base_url=f"{origin}/v1.0/engagements", emit=dispatcher.publish)
    state = SimState(
        origin=origin,
        credentials=options.credentials,
        identity=Identity(options.credentials, options.identity),
        faults=faults,
        quirks=ReferralQuirks(options.filter_modes),
        signing=signing,
        dispatcher=dispatcher,
        store=store,
        seller=MicrosoftSeller(store),
    )
    holder["state"] = state
    return state


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


async def body_json(request: Request, *, empty: Any = None) -> Any:
    raw = await request.body()
    if not raw:
        return empty
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "body is not JSON") from None


def api_endpoint(state: SimState, template: str, audience: str, handler: Handler) -> Handler:
    """Wraps an API handler: counters, latency, faults, bearer check, error bodies, Request-ID."""

    async def endpoint(request: Request) -> Response:
        label = f"{request.method} {template}"
        state.count(label)
        request_id = str(uuid.uuid4())
        if latency := state.faults.settings.latency_ms:
            await asyncio.sleep(latency / 1000)
        if early := _early_answer(state, request, label, audience):
            early.headers["Request-ID"] = request_id
            return early
        try:
            response = await handler(request)
        except ApiError as exc:
            response = json_response(exc.status, exc.body)
        response.headers["Request-ID"] = request_id
        return response

    return endpoint


def _early_answer(state: SimState, request: Request, label: str, audience: str) -> Response | None:
    """An injected fault, or 401 for a missing/invalid/expired/wrong-audience bearer token."""
    if fault := state.faults.api_fault(label):
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        description = "Too many requests" if fault.status == 429 else "Service unavailable"
        return json_response(fault.status, error_body(fault.status, description), headers)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    problem = (
        "bearer token required"
        if scheme.lower() != "bearer" or not token
        else state.identity.access_problem(token, audience)
    )
    if problem:
        return json_response(401, error_body(401, problem), {"WWW-Authenticate": "Bearer"})
    return None


def build_app(state: SimState) -> Starlette:
    from devstack.pc_sim.pc_control_api import control_routes
    from devstack.pc_sim.pc_control_quirks import quirk_control_routes
    from devstack.pc_sim.pc_identity_routes import token_routes
    from devstack.pc_sim.pc_referral_api import referral_routes
    from devstack.pc_sim.pc_webhook_api import certificate_routes, registration_routes

    routes = [
        *token_routes(state),
        *referral_routes(state),
        *registration_routes(state),
        *control_routes(state),
        *quirk_control_routes(state),
        *certificate_routes(state),
    ]
    return Starlette(routes=routes)

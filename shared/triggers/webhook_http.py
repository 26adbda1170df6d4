"""HTTP trigger: Partner Center webhook events in, jobs out (answers in well under a second).

The request runs as a span continuing an incoming `traceparent` header (a new trace otherwise); the
job made for the event carries that trace context to the queue and the sync."""

from __future__ import annotations

import azure.functions as func

from shared.config import get_settings
from shared.intake.partner_center_webhook import accept_webhook
from shared.telemetry import continue_trace

bp = func.Blueprint()


@bp.function_name("partner_center_events")
@bp.route(route="partner-center/events", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def partner_center_events(req: func.HttpRequest) -> func.HttpResponse:
    with continue_trace(req.headers.get("traceparent"), "partner-center webhook", source="webhook"):
        reply = accept_webhook(req.get_body(), dict(req.headers), get_settings())
    return func.HttpResponse(reply.body, status_code=reply.status_code, mimetype="application/json")

"""HTTP trigger: Partner Center webhook events in, jobs out (answers in well under a second)."""

from __future__ import annotations

import azure.functions as func

from shared.config import get_settings
from shared.intake.partner_center_webhook import accept_webhook

bp = func.Blueprint()


@bp.function_name("partner_center_events")
@bp.route(route="partner-center/events", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def partner_center_events(req: func.HttpRequest) -> func.HttpResponse:
    reply = accept_webhook(req.get_body(), dict(req.headers), get_settings())
    return func.HttpResponse(reply.body, status_code=reply.status_code, mimetype="application/json")

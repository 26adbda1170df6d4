"""Timer trigger: poll Salesforce for opportunities flagged Sync with Partner Center (singleton)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.config import get_settings
from shared.intake.salesforce_poll import run_scheduled_poll

bp = func.Blueprint()
log = logging.getLogger("cosell_sync.poller")


@bp.function_name("salesforce_poll")
@bp.timer_trigger(arg_name="timer", schedule="%SF_POLL_SCHEDULE%", run_on_startup=False, use_monitor=True)
def salesforce_poll(timer: func.TimerRequest) -> None:
    result = run_scheduled_poll(get_settings())
    log.info("salesforce poll: %s (past due: %s)", result, timer.past_due)

"""Timer triggers running the operations code on a schedule (singletons, like every timer)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.config import get_settings
from shared.ops.ops_clients import OpsClients
from shared.ops.reconcile import reconcile as run_reconcile
from shared.ops.webhook_health import check_webhooks

bp = func.Blueprint()  # type: ignore[no-untyped-call]  # azure.functions ships no annotations here
log = logging.getLogger("cosell_sync.ops")


@bp.function_name("reconcile")
@bp.timer_trigger(arg_name="timer", schedule="%RECONCILE_SCHEDULE%", run_on_startup=False, use_monitor=True)
def reconcile(timer: func.TimerRequest) -> None:
    settings = get_settings()
    with OpsClients(settings) as clients:
        report = run_reconcile(settings, clients)
    log.info(
        "reconcile: checked %s, drifted %s, enqueued %s (past due: %s)",
        report.checked, report.drifted, report.enqueued, timer.past_due,
    )  # fmt: skip


@bp.function_name("webhook_check")
@bp.timer_trigger(
    arg_name="timer", schedule="%WEBHOOK_CHECK_SCHEDULE%", run_on_startup=False, use_monitor=True
)
def webhook_check(timer: func.TimerRequest) -> None:
    settings = get_settings()
    with OpsClients(settings) as clients:
        result = check_webhooks(settings, clients.webhooks)
    if result.healed:
        log.warning("webhook registration healed: %s", result.before.describe())
    elif result.after.state.value != "ok":
        log.error("webhook registration unhealthy: %s", result.after.describe())

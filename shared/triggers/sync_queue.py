"""Queue trigger: one sync job per message; host.json decides retries and the poison queue."""

from __future__ import annotations

import azure.functions as func

from shared.config import SYNC_QUEUE, get_settings
from shared.sync.queue_worker import handle_message

bp = func.Blueprint()


@bp.function_name("sync_worker")
@bp.queue_trigger(arg_name="msg", queue_name=SYNC_QUEUE, connection="AzureWebJobsStorage")
def sync_worker(msg: func.QueueMessage) -> None:
    handle_message(
        msg.get_body().decode("utf-8", errors="replace"),
        dequeue_count=msg.dequeue_count or 1,
        message_id=msg.id or "",
        settings=get_settings(),
    )

"""The connector's own Salesforce API calls per UTC day, for `status` (issue #19): one entity per
process and day in the watermarks table (PartitionKey `api-usage-salesforce-YYYY-MM-DD`, RowKey the
process), holding that process's running total. Rows of different processes never collide, so the
writes need no ETag; `calls_on` sums a day's rows."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import date

from azure.data.tables import UpdateMode

from shared.config import Settings
from shared.store import tables

_PROCESS = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
_lock = threading.Lock()
_totals: dict[tuple[str, date], int] = {}


def _partition(api: str, day: date) -> str:
    return f"api-usage-{api}-{day.isoformat()}"


def add(settings: Settings, day: date, calls: int, *, api: str = "salesforce") -> None:
    """Add `calls` to this process's total for `day`."""
    with _lock:
        total = _totals[api, day] = _totals.get((api, day), 0) + calls
    entity = {"PartitionKey": _partition(api, day), "RowKey": _PROCESS, "Calls": total}
    tables.call(
        settings, settings.watermarks_table, lambda c: c.upsert_entity(entity, mode=UpdateMode.REPLACE)
    )


def calls_on(settings: Settings, day: date, *, api: str = "salesforce") -> int:
    """Every process's calls on `day`."""
    rows = tables.query(
        settings, settings.watermarks_table, "PartitionKey eq @pk", {"pk": _partition(api, day)}
    )
    return sum(int(row.get("Calls") or 0) for row in rows)

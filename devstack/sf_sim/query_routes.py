"""`query` / `queryAll` and their `nextRecordsUrl` pages (spec/salesforce.md 2.4): results over the
batch size are kept behind a query locator; at most 50 open cursors, as in a real org."""

from __future__ import annotations

import re
from typing import Any

from devstack.sf_sim import ids
from devstack.sf_sim.rest_common import RestCall, Result
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.sim_state import SimState

MAX_CURSORS = 50


def handle(state: SimState, call: RestCall) -> Result:
    if len(call.parts) == 2:
        return 200, _page(state, call.parts[1])
    soql = call.query_params.get("q", "")
    rows, total = state.org.query(soql, include_deleted=call.parts[0] == "queryAll")
    return 200, _first_page(state, rows, total, _batch_size(state, call))


def _page(state: SimState, locator: str) -> dict[str, Any]:
    key, _, offset_text = locator.rpartition("-")
    rows = state.org.store.locators.get(key)
    if rows is None or not offset_text.isdigit():
        raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return _slice(state, key, rows, int(offset_text), state.page_sizes.get(key, state.page_size))


def _first_page(state: SimState, rows: list[dict[str, Any]], total: int, batch: int) -> dict[str, Any]:
    if len(rows) <= batch:
        return {"totalSize": total, "done": True, "records": rows}
    store = state.org.store
    key = ids.mint("01g", next(store.serial))[:15]
    store.locators[key] = rows
    state.page_sizes[key] = batch
    while len(store.locators) > MAX_CURSORS:  # cursors are a limited resource in a real org too
        oldest = next(iter(store.locators))
        store.locators.pop(oldest)
        state.page_sizes.pop(oldest, None)
    return _slice(state, key, rows, 0, batch)


def _slice(state: SimState, key: str, rows: list[dict[str, Any]], offset: int, batch: int) -> dict[str, Any]:
    chunk = rows[offset : offset + batch]
    nxt = offset + batch
    page: dict[str, Any] = {"totalSize": len(rows), "done": nxt >= len(rows), "records": chunk}
    if nxt < len(rows):
        page["nextRecordsUrl"] = f"/services/data/v{state.org.api_version}/query/{key}-{nxt}"
    else:
        state.org.store.locators.pop(key, None)
        state.page_sizes.pop(key, None)
    return page


def _batch_size(state: SimState, call: RestCall) -> int:
    size = state.page_size
    m = re.search(r"batchSize=(\d+)", call.header("sforce-query-options"))
    if m:
        size = min(size, max(200, min(2000, int(m.group(1)))))
    return size

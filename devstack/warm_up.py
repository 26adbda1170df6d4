"""A process's warm start: the sync path's modules loaded (the worker loads them on its first job), the
country table read, the API clients built, their tokens fetched and the org described, as a
long-running Functions worker has them (and as the benchmark's floor measures after its own
warm-up). Failures are left to the first job, which reports them as it always does."""

from __future__ import annotations

import logging
from importlib import import_module

from shared import api_clients
from shared.config import Settings
from shared.core.countries import normalise_country
from shared.errors import CosellSyncError

log = logging.getLogger("devstack.warm_up")


def warm_up(settings: Settings) -> None:
    import_module("shared.sync.job_runner")
    normalise_country("Germany")
    try:
        api_clients.partner_center(settings).warm_up()
        api_clients.salesforce(settings).org()
    except CosellSyncError as exc:
        log.warning("warm-up failed, the first job will retry: %s", exc)

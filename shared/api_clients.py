"""The process's API clients, created once per settings object and reused (connection pools,
cached tokens). Callers that need other transports (the local stack reaching the simulators over
plain http, tests) install factories with `use_factories` before the first call."""

from __future__ import annotations

import threading
from collections.abc import Callable

from shared.config import Settings
from shared.partner_center.referral_client import PartnerCenterClient
from shared.salesforce.salesforce_client import SalesforceClient

PartnerCenterFactory = Callable[[Settings], PartnerCenterClient]
SalesforceFactory = Callable[[Settings], SalesforceClient]

_lock = threading.Lock()
_pc_factory: PartnerCenterFactory = PartnerCenterClient
_sf_factory: SalesforceFactory = SalesforceClient
_pc: dict[int, PartnerCenterClient] = {}
_sf: dict[int, SalesforceClient] = {}


def use_factories(
    *, partner_center: PartnerCenterFactory | None = None, salesforce: SalesforceFactory | None = None
) -> None:
    """Replace how clients are built (and forget the clients built so far)."""
    global _pc_factory, _sf_factory  # noqa: PLW0603 - the process-wide composition root
    with _lock:
        if partner_center is not None:
            _pc_factory = partner_center
        if salesforce is not None:
            _sf_factory = salesforce
        _pc.clear()
        _sf.clear()


def partner_center(settings: Settings) -> PartnerCenterClient:
    with _lock:
        if id(settings) not in _pc:
            _pc[id(settings)] = _pc_factory(settings)
        return _pc[id(settings)]


def salesforce(settings: Settings) -> SalesforceClient:
    with _lock:
        if id(settings) not in _sf:
            _sf[id(settings)] = _sf_factory(settings)
        return _sf[id(settings)]

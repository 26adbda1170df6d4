"""The API clients an operations command needs, built lazily from `Settings` (or injected by tests and
the demo, which point them at the simulators) and closed together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from shared import api_clients
from shared.config import Settings
from shared.partner_center.referral_client import PartnerCenterClient
from shared.partner_center.registration import WebhookRegistrationClient
from shared.salesforce.salesforce_client import SalesforceClient


def _default_pc(settings: Settings) -> PartnerCenterClient:
    return PartnerCenterClient(settings)


def _default_webhooks(settings: Settings) -> WebhookRegistrationClient:
    return WebhookRegistrationClient(settings)


def _default_sf(settings: Settings) -> SalesforceClient:
    # The process-wide client: the timers reuse its session and token, and the factories installed by
    # the local stack (Salesforce simulator on loopback) apply to it.
    return api_clients.salesforce(settings)


@dataclass
class OpsClients:
    """Creates each client on first use; `close()` closes the ones it created."""

    settings: Settings
    make_pc: Callable[[Settings], PartnerCenterClient] = _default_pc
    make_webhooks: Callable[[Settings], WebhookRegistrationClient] = _default_webhooks
    make_sf: Callable[[Settings], SalesforceClient] = _default_sf
    _pc: PartnerCenterClient | None = field(default=None, init=False, repr=False)
    _webhooks: WebhookRegistrationClient | None = field(default=None, init=False, repr=False)
    _sf: SalesforceClient | None = field(default=None, init=False, repr=False)

    @property
    def pc(self) -> PartnerCenterClient:
        if self._pc is None:
            # Backfill and reconcile build their own client: the process's rate applies to it too.
            api_clients.limit_partner_center(self.settings)
            self._pc = self.make_pc(self.settings)
        return self._pc

    @property
    def webhooks(self) -> WebhookRegistrationClient:
        if self._webhooks is None:
            api_clients.limit_partner_center(self.settings)
            self._webhooks = self.make_webhooks(self.settings)
        return self._webhooks

    @property
    def sf(self) -> SalesforceClient:
        if self._sf is None:
            self._sf = self.make_sf(self.settings)
        return self._sf

    def close(self) -> None:
        if self._pc is not None:
            self._pc.close()
        if self._webhooks is not None:
            self._webhooks.close()
        self._pc = self._webhooks = self._sf = None

    def __enter__(self) -> OpsClients:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

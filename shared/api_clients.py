"""The process's API clients, created once per settings object and reused (connection pools,
cached tokens). Callers that need other transports (the local stack reaching the simulators over
plain http, tests) install factories with `use_factories` before the first call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from shared.config import Settings
from shared.partner_center import http_policy, tokens
from shared.partner_center.referral_client import PartnerCenterClient
from shared.partner_center.token_store import KeyVaultTokenStore, RefreshTokenStore
from shared.salesforce import transport
from shared.salesforce.salesforce_client import SalesforceClient
from shared.store import api_usage
from shared.store.token_cache import TableTokenStore


def _use_sf_budget(settings: Settings) -> None:
    """The process's Salesforce daily budget, and its call count kept for `status`."""
    transport.configure_budget(settings.sf_daily_budget_percent)
    if settings.storage_connection or settings.storage_account_name:
        transport.install_usage_sink(lambda day, calls: api_usage.add(settings, day, calls))


def limit_partner_center(settings: Settings) -> None:
    """The process's Partner Center rate (PC_MAX_REQUESTS_PER_SECOND), applied wherever a Partner
    Center client is built from settings: the worker's shared client here, and the backfill's,
    reconcile's and the other operations' own clients (`OpsClients`)."""
    http_policy.limit_requests_per_second(settings.pc_max_requests_per_second)


PartnerCenterFactory = Callable[[Settings], PartnerCenterClient]
SalesforceFactory = Callable[[Settings], SalesforceClient]

_lock = threading.Lock()
_pc_factory: PartnerCenterFactory = PartnerCenterClient
_sf_factory: SalesforceFactory = SalesforceClient
T = TypeVar("T")


class _PerSettings(Generic[T]):
    """One object per Settings instance (by identity). The instance is kept beside it: an id is
    unique only while its object lives, and a Settings garbage-collected with its id then reused by
    another would otherwise be handed the first one's client."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[Settings, T]] = {}

    def get(self, settings: Settings, build: Callable[[Settings], T]) -> T:
        entry = self._items.get(id(settings))
        if entry is None or entry[0] is not settings:
            entry = (settings, build(settings))
            self._items[id(settings)] = entry
        return entry[1]

    def clear(self) -> None:
        self._items.clear()


_pc: _PerSettings[PartnerCenterClient] = _PerSettings()
_sf: _PerSettings[SalesforceClient] = _PerSettings()


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
    def build(settings: Settings) -> PartnerCenterClient:
        limit_partner_center(settings)
        return _pc_factory(settings)

    with _lock:
        return _pc.get(settings, build)


def salesforce(settings: Settings) -> SalesforceClient:
    def build(settings: Settings) -> SalesforceClient:
        _use_sf_budget(settings)
        return _sf_factory(settings)

    with _lock:
        return _sf.get(settings, build)


_stores: _PerSettings[RefreshTokenStore | None] = _PerSettings()
# Its own lock: building a Partner Center client (under `_lock`) asks for the store, and a
# threading.Lock taken twice by one thread waits forever.
_stores_lock = threading.Lock()


def refresh_token_store(settings: Settings) -> RefreshTokenStore | None:
    """Where the rotated Partner Center refresh token is written back: the Key Vault secret when
    PC_REFRESH_TOKEN_VAULT_URL is set (Azure), else a Table Storage entity when storage is
    configured (the local stack), else nowhere (memory only)."""
    with _stores_lock:
        return _stores.get(settings, _build_store)


def _build_store(settings: Settings) -> RefreshTokenStore | None:
    if settings.pc_refresh_token_vault_url:
        return KeyVaultTokenStore(
            settings.pc_refresh_token_vault_url,
            settings.pc_refresh_token_secret_name,
            access_token=_vault_token(settings),
            timeout=settings.pc_timeout_seconds,
        )
    if settings.storage_connection or settings.storage_account_name:
        return TableTokenStore(settings)
    return None


def _vault_token(settings: Settings) -> Callable[[], str]:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential  # noqa: PLC0415

    credential = (
        ManagedIdentityCredential(client_id=settings.storage_client_id)
        if settings.storage_client_id
        else DefaultAzureCredential()
    )
    return lambda: credential.get_token("https://vault.azure.net/.default").token


tokens.install_store_factory(refresh_token_store)

"""What every step of one sync shares: the settings, the two sides and the link store (ports), the
owner policy, the deal's claim, and the result a step reports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from shared.config import Settings
from shared.core.custom_mappings import custom_mappings
from shared.core.merge import OwnerPolicy
from shared.errors import TransientError
from shared.store.audit import Direction, Outcome
from shared.sync.ports import LinkStore, PartnerCenterPort, SalesforcePort

CLAIM_TTL_S = 60  # each API write retries inline for well under half of this


@dataclass(frozen=True)
class SyncResult:
    outcome: Outcome
    direction: Direction
    action: str
    referral_id: str = ""
    opportunity_id: str = ""
    changed_fields: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    error: str = ""
    audited: bool = True
    """False for bookkeeping nobody needs to see (the poll's echo of our own write recognised from
    the link): logged and counted, no audit row."""


@dataclass
class SyncContext:
    settings: Settings
    pc: PartnerCenterPort
    sf: SalesforcePort
    store: LinkStore
    policy: OwnerPolicy
    cached_referrals: bool = True
    """Use the referral as last seen (the link's `pc_state`) for updates from Salesforce, sent with
    If-Match; cleared after a conflict, so the retry reads Partner Center fresh."""
    _write_deadlines: list[float] = field(default_factory=list)

    @classmethod
    def build(
        cls, settings: Settings, pc: PartnerCenterPort, sf: SalesforcePort, store: LinkStore
    ) -> SyncContext:
        custom_mappings(settings)  # CUSTOM_MAPPINGS / CREATE_DEFAULTS are checked before any sync
        return cls(settings, pc, sf, store, OwnerPolicy.from_settings(settings))

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold the deal's claim. A claim expires (so a dead worker cannot block a deal forever);
        writes are only started while it is young enough to outlive them (`check_claim`)."""
        with self.store.claim(key, ttl_seconds=CLAIM_TTL_S):
            self._write_deadlines.append(time.monotonic() + CLAIM_TTL_S / 2)
            try:
                yield
            finally:
                self._write_deadlines.pop()

    def check_claim(self) -> None:
        """Refuse to start a write once the claim is half-way to expiry: another worker may take it
        over at expiry, and a write started later could land after that worker's (a lost update)."""
        if self._write_deadlines and time.monotonic() > min(self._write_deadlines):
            raise TransientError("the sync took too long to write safely; it runs again with fresh reads")

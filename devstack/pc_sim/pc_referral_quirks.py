"""Ways a real tenant's Referrals API is awkward, each selectable (default: none of them).

- `$filter` modes per property: `honour` (the filter applies), `ignore` (the whole `$filter` is
  ignored and the unfiltered collection comes back, paged, as from a server that does not support
  that filter) or `refuse` (400). The referral list page documents `$filter` examples on
  engagementId, status, qualification, customerProfile/address/country, direction, type, substatus
  and team/any(...) only (https://learn.microsoft.com/partner-center/developer/get-a-list-of-referrals);
  `externalReferenceId` and `updatedDateTime` filters are not documented, so a tenant may ignore or
  refuse them. The refusal text is the standard OData one ("The query specified in the URI is not
  valid. The property '...' cannot be used in the $filter query option.").
- Read faults per referral id: GET answers 403 ("Access denied to the requested resource. The user
  might not have enough permission.") or 404 ("The requested resource doesn't exist."), wording from
  https://learn.microsoft.com/partner-center/developer/referrals-api-response-codes; Microsoft's side
  of an engagement (related referrals) can be 403 to the partner. Bodies use Partner Center's error
  shape (code, description, data, source: https://learn.microsoft.com/partner-center/developer/error-codes).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from devstack.pc_sim.odata import FilterError, parse_filter
from devstack.pc_sim.store import MICROSOFT_ORG_ID, ApiError

FilterMode = Literal["honour", "ignore", "refuse"]
ANY_PROPERTY = "*"
FORBIDDEN = "Access denied to the requested resource. The user might not have enough permission."
NOT_FOUND = "The requested resource doesn't exist."


class FilterModes(BaseModel):
    """Mode per `$filter` property path (e.g. `externalReferenceId`, `updatedDateTime`,
    `customerProfile/address/country`); `*` sets the mode of every property not named."""

    modes: dict[str, FilterMode] = Field(default_factory=dict)

    def mode(self, path: str) -> FilterMode:
        return self.modes.get(path) or self.modes.get(ANY_PROPERTY) or "honour"


class ReadFaults(BaseModel):
    referrals: dict[str, Literal[403, 404]] = Field(default_factory=dict)
    related_referrals: Literal[403] | None = Field(
        default=None, description="403: Microsoft's side of every engagement is forbidden to the partner"
    )


class ReferralQuirks:
    """The current filter modes and read faults, switchable at run time."""

    def __init__(self, filter_modes: Mapping[str, FilterMode] | None = None) -> None:
        self._lock = threading.Lock()
        self._default_modes = FilterModes(modes=dict(filter_modes or {}))
        self.filter_modes = self._default_modes
        self.read_faults = ReadFaults()

    def reset(self) -> None:
        with self._lock:
            self.filter_modes = self._default_modes
            self.read_faults = ReadFaults()

    def set_filter_modes(self, modes: dict[str, Any]) -> FilterModes:
        parsed = FilterModes(modes=modes)
        with self._lock:
            self.filter_modes = parsed
        return parsed

    def set_read_faults(self, faults: dict[str, Any]) -> ReadFaults:
        parsed = ReadFaults.model_validate(faults)
        with self._lock:
            self.read_faults = parsed
        return parsed

    def set_read_fault(self, referral_id: str, status: int | None) -> ReadFaults:
        with self._lock:
            referrals = dict(self.read_faults.referrals)
            referrals.pop(referral_id, None)
            if status is not None:
                referrals[referral_id] = status  # type: ignore[assignment]
            self.read_faults = ReadFaults.model_validate(
                {**self.read_faults.model_dump(), "referrals": referrals}
            )
            return self.read_faults

    def applies_filter(self, text: str | None) -> bool:
        """Whether `$filter` is applied (False: ignored); raises the refusal for a refused property.
        A filter that does not parse is left to the store's own 400."""
        if not text:
            return True
        try:
            _, paths = parse_filter(text)
        except FilterError:
            return True
        modes = {path: self.filter_modes.mode(path) for path in sorted(paths)}
        refused = [path for path, mode in modes.items() if mode == "refuse"]
        if refused:
            raise ApiError(
                400,
                "The query specified in the URI is not valid. "
                f"The property '{refused[0]}' cannot be used in the $filter query option.",
            )
        return "ignore" not in modes.values()

    def check_read(self, referral_id: str, organization_id: str | None) -> None:
        """Raise the configured 403/404 for a GET of this referral."""
        faults = self.read_faults
        status = faults.referrals.get(referral_id)
        if status is None and organization_id == MICROSOFT_ORG_ID:
            status = faults.related_referrals
        if status == 403:
            raise ApiError(403, FORBIDDEN)
        if status == 404:
            raise ApiError(404, NOT_FOUND)

"""The simulator's referrals, held as wire-format dicts behind one lock.

Each engagement may hold the partner's referral and Microsoft's side of the same deal; Microsoft's
side is listed only through an `engagementId` filter (the related-referrals link), read by id, and
never writable by the partner.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from devstack.pc_sim.odata import FilterError, parse_filter
from devstack.pc_sim.patch import PatchError, apply_patch
from devstack.pc_sim.referral_rules import (
    READ_ONLY_PATHS,
    error_body,
    is_cosell,
    referral_problems,
    transition_problems,
)

MICROSOFT_ORG_ID = "msft"
PAGE_SIZE = 100
ORDERABLE = ("createdDateTime", "updatedDateTime")

EmitEvent = Callable[[str, str], None]
"""(event name, referral id) -> None; queues a webhook delivery."""


class ApiError(Exception):
    """An error answer: HTTP status and a Partner-Center-shaped body."""

    def __init__(self, status: int, description: str, problems: list[str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.body = error_body(status, description, problems)


class ReferralStore:
    """Thread-safe referral storage with the service's rules (eTags, validation, paging)."""

    def __init__(
        self,
        *,
        api_base_url: str,
        emit: EmitEvent,
        partner_org_id: str = "4f6e8c1a-partner-org",
        partner_org_name: str = "Contoso Partner",
    ) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self.partner_org_id = partner_org_id
        self.partner_org_name = partner_org_name
        self._emit = emit
        self._lock = threading.RLock()
        self._items: dict[str, dict[str, Any]] = {}
        self._last_stamp = datetime.now(UTC)

    # --- reading ---------------------------------------------------------------------------------
    def get(self, referral_id: str) -> dict[str, Any]:
        with self._lock:
            item = self._items.get(referral_id)
            if item is None:
                raise ApiError(404, f"referral {referral_id} not found")
            return copy.deepcopy(item)

    def find(self, referral_id: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(referral_id)
            return copy.deepcopy(item) if item is not None else None

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def query(
        self,
        *,
        filter: str | None,
        orderby: str | None,
        top: str | None,
        skiptoken: str | None,
        apply_filter: bool = True,
    ) -> dict[str, Any]:
        """One page of the OData collection, with `@odata.count` and `@odata.nextLink`. With
        `apply_filter=False` the `$filter` is ignored (but still echoed in the next link)."""
        try:
            use_filter = filter if apply_filter else None
            predicate, paths = parse_filter(use_filter) if use_filter else (None, set[str]())
        except FilterError as exc:
            raise ApiError(400, f"invalid $filter: {exc}") from None
        key, descending = _orderby(orderby)
        size = _page_size(top)
        skip = _decode_skiptoken(skiptoken) if skiptoken else 0
        include_microsoft = "engagementId" in paths
        with self._lock:
            matches = [
                item
                for item in self._items.values()
                if (include_microsoft or item.get("organizationId") != MICROSOFT_ORG_ID)
                and (predicate is None or predicate(item))
            ]
            matches.sort(key=lambda item: (str(item.get(key) or ""), item["id"]), reverse=descending)
            page = copy.deepcopy(matches[skip : skip + size])
        body: dict[str, Any] = {
            "@odata.context": f"{self.api_base_url}/$metadata#Referrals",
            "@odata.count": len(matches),
            "value": page,
        }
        if skip + size < len(matches):
            params = {"$skiptoken": _encode_skiptoken(skip + size), "$top": str(size)}
            if filter:
                params["$filter"] = filter
            if orderby:
                params["$orderby"] = orderby
            body["@odata.nextLink"] = f"{self.api_base_url}/referrals?{urlencode(params)}"
        return body

    # --- partner writes (the public API) ---------------------------------------------------------
    def create(self, body: Any) -> dict[str, Any]:
        """POST /referrals by the partner; a co-sell referral also opens Microsoft's side."""
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a referral object")
        referral = {k: v for k, v in copy.deepcopy(body).items() if f"/{k}" not in READ_ONLY_PATHS}
        referral.setdefault("status", "Active")
        referral.setdefault("substatus", "Accepted")
        referral.setdefault("qualification", "SalesQualified")
        referral["direction"] = "Outgoing"
        if problems := referral_problems(referral):
            raise ApiError(400, "The referral is not valid.", problems)
        with self._lock:
            created = self._insert(referral, org_id=self.partner_org_id, org_name=self.partner_org_name)
            if is_cosell(created):
                self._open_microsoft_side(created)
            return copy.deepcopy(created)

    def patch(self, referral_id: str, operations: Any, *, if_match: str | None) -> dict[str, Any]:
        """PATCH /referrals/{id} by the partner (JSON Patch, optional If-Match)."""
        if not isinstance(operations, list):
            raise ApiError(400, "body must be a JSON Patch array")
        for operation in operations:
            path = str(operation.get("path", "")) if isinstance(operation, dict) else ""
            if any(path == p or path.startswith(p + "/") for p in READ_ONLY_PATHS):
                raise ApiError(400, f"{path} is read-only")
        with self._lock:
            current = self._items.get(referral_id)
            if current is None:
                raise ApiError(404, f"referral {referral_id} not found")
            if current.get("organizationId") != self.partner_org_id:
                raise ApiError(403, "the referral belongs to another organization")
            if if_match is not None and if_match not in (current["eTag"], "*"):
                raise ApiError(412, "the eTag does not match the current referral")
            try:
                updated = apply_patch(current, operations)
            except PatchError as exc:
                raise ApiError(400, str(exc)) from None
            if problems := referral_problems(updated) + transition_problems(current, updated):
                raise ApiError(400, "The referral is not valid.", problems)
            self._replace(updated)
            if is_cosell(updated) and not self._microsoft_side(updated["engagementId"]):
                self._open_microsoft_side(updated)
            return copy.deepcopy(updated)

    # --- Microsoft's writes (seller actions; no ownership or transition rules) -------------------
    def insert_from_microsoft(self, referral: dict[str, Any], *, with_microsoft_side: bool) -> dict[str, Any]:
        """A referral Microsoft sends to the partner (direction Incoming, invited by msft)."""
        referral = copy.deepcopy(referral)
        referral["direction"] = "Incoming"
        with self._lock:
            created = self._insert(referral, org_id=self.partner_org_id, org_name=self.partner_org_name)
            if with_microsoft_side:
                self._open_microsoft_side(created, status="Active", substatus="Accepted")
            return copy.deepcopy(created)

    def modify_as_microsoft(self, referral_id: str, operations: list[Any]) -> dict[str, Any]:
        with self._lock:
            current = self._items.get(referral_id)
            if current is None:
                raise ApiError(404, f"referral {referral_id} not found")
            try:
                updated = apply_patch(current, operations)
            except PatchError as exc:
                raise ApiError(400, str(exc)) from None
            self._replace(updated)
            return copy.deepcopy(updated)

    def microsoft_side(self, engagement_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._microsoft_side(engagement_id)
            return copy.deepcopy(found) if found else None

    def open_microsoft_side(
        self, referral_id: str, overrides: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Create (or return) Microsoft's related referral in the referral's engagement."""
        with self._lock:
            partner_side = self._items.get(referral_id)
            if partner_side is None:
                raise ApiError(404, f"referral {referral_id} not found")
            existing = self._microsoft_side(partner_side["engagementId"])
            if existing:
                return copy.deepcopy(existing)
            return copy.deepcopy(self._open_microsoft_side(partner_side, overrides=overrides))

    def reset(self) -> None:
        with self._lock:
            self._items.clear()

    def seed(self, referrals: Iterator[dict[str, Any]]) -> int:
        """Insert partner referrals without events (benchmarks preload thousands)."""
        count = 0
        with self._lock:
            for referral in referrals:
                self._insert(referral, org_id=self.partner_org_id, org_name=self.partner_org_name, emit=False)
                count += 1
        return count

    # --- internals (callers hold the lock) ---------------------------------------------------------
    def _insert(
        self,
        referral: dict[str, Any],
        *,
        org_id: str,
        org_name: str,
        engagement_id: str | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        referral_id = str(uuid.uuid4())
        stamp = self._next_stamp()
        engagement = engagement_id or str(uuid.uuid4())
        referral.update(
            id=referral_id,
            engagementId=engagement,
            organizationId=org_id,
            organizationName=org_name,
            createdDateTime=stamp,
            updatedDateTime=stamp,
            eTag=_new_etag(),
            links={
                "self": {"uri": f"{self.api_base_url}/referrals/{referral_id}", "method": "GET"},
                "relatedReferrals": {
                    "uri": f"{self.api_base_url}/referrals?$filter=engagementId eq '{engagement}'",
                    "method": "GET",
                },
            },
        )
        referral.setdefault("trackingInfo", {"microsoftMsxId": None})
        self._items[referral_id] = referral
        if emit:
            self._emit(_event(referral, "created"), referral_id)
        return referral

    def _replace(self, updated: dict[str, Any]) -> None:
        updated["updatedDateTime"] = self._next_stamp()
        updated["eTag"] = _new_etag()
        self._items[updated["id"]] = updated
        self._emit(_event(updated, "updated"), updated["id"])

    def _microsoft_side(self, engagement_id: str) -> dict[str, Any] | None:
        for item in self._items.values():
            if item["engagementId"] == engagement_id and item.get("organizationId") == MICROSOFT_ORG_ID:
                return item
        return None

    def _open_microsoft_side(
        self,
        partner_side: dict[str, Any],
        *,
        status: str = "New",
        substatus: str = "Pending",
        overrides: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        details = copy.deepcopy(partner_side.get("details") or {})
        related: dict[str, Any] = {
            "name": partner_side.get("name"),
            "type": "Shared",
            "qualification": "SalesQualified",
            "direction": "Incoming",
            "status": status,
            "substatus": substatus,
            "customerProfile": copy.deepcopy(partner_side.get("customerProfile")),
            "consent": {"consentToShareReferralWithMicrosoftSellers": True},
            "details": {k: details.get(k) for k in ("dealValue", "currency", "closingDateTime", "notes")},
            "team": [{"firstName": "Mia", "lastName": "Seller", "email": "mia.seller@microsoft.example"}],
            **(overrides or {}),
        }
        return self._insert(
            related,
            org_id=MICROSOFT_ORG_ID,
            org_name="Microsoft",
            engagement_id=partner_side["engagementId"],
        )

    def _next_stamp(self) -> str:
        # Strictly increasing, so updatedDateTime watermarks never see two writes at one instant.
        now = datetime.now(UTC)
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        return now.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _event(referral: dict[str, Any], action: str) -> str:
    prefix = "related-referral" if referral.get("organizationId") == MICROSOFT_ORG_ID else "referral"
    return f"{prefix}-{action}"


def _new_etag() -> str:
    return f'"{uuid.uuid4()}"'


def _orderby(text: str | None) -> tuple[str, bool]:
    if not text:
        return "createdDateTime", False
    parts = text.split()
    if len(parts) > 2 or parts[0] not in ORDERABLE or (len(parts) == 2 and parts[1] not in ("asc", "desc")):
        raise ApiError(400, f"$orderby supports {', '.join(ORDERABLE)} with asc or desc")
    return parts[0], len(parts) == 2 and parts[1] == "desc"


def _page_size(top: str | None) -> int:
    if top is None:
        return PAGE_SIZE
    try:
        value = int(top)
    except ValueError:
        raise ApiError(400, "$top must be a number") from None
    if value < 1:
        raise ApiError(400, "$top must be positive")
    return min(value, PAGE_SIZE)


def _encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"skip": offset}).encode()).decode()


def _decode_skiptoken(token: str) -> int:
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["skip"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "invalid $skiptoken") from None

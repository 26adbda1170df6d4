"""The Partner Center Referrals API: get, list (streamed across pages), create, update, lookups."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from shared.core.referral import Referral
from shared.core.referral_ids import path_segment, referral_id_problem
from shared.errors import PermanentError
from shared.partner_center.api_base import PROVIDER, PartnerCenterApi

log = logging.getLogger(__name__)

FILTER_PAGE = 100
"""Page size asked for when we page the whole collection ourselves (a refused or ignored filter)."""


@dataclass(frozen=True)
class ReferralRequest:
    """One write to the Referrals API, built before it is sent: the client sends exactly this, and
    the dry run prints it, so what is previewed is what would be sent."""

    method: str
    url: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    template: str = "/referrals"
    record_id: str | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "path": self.path, "headers": self.headers,
                "body": self.body}  # fmt: skip


def odata_quote(value: str) -> str:
    """An OData string literal: single quotes doubled inside single quotes."""
    return "'" + value.replace("'", "''") + "'"


class PartnerCenterClient(PartnerCenterApi):
    """Referrals API client. Errors follow `shared.errors`: 412 is a `ConflictError`, 429/5xx are
    retried and then a `TransientError`, 401 refreshes the token once and then a `ConfigError`."""

    url_setting = "pc_api_base_url"
    url_path = "/referrals"
    audience_setting = "pc_referrals_resource"

    @cached_property
    def filter_fallbacks(self) -> Counter[str]:
        """How often a `$filter` was refused or ignored by the server (tests and logs read it)."""
        return Counter()

    @property
    def call_counts(self) -> Counter[str]:
        """Requests sent per "METHOD path-template", retries included."""
        return self._api.call_counts

    def referral_url(self, referral_id: str) -> str:
        """`…/referrals/{id}` for a GUID id; anything else raises `PermanentError` (code
        `InvalidReferralId`) before a URL exists. The segment is quoted regardless."""
        problem = referral_id_problem(referral_id)
        if problem:
            raise PermanentError(problem, provider=PROVIDER, code="InvalidReferralId", record_id=None)
        return f"{self._url}/{path_segment(referral_id)}"

    def get_referral(self, referral_id: str) -> Referral:
        """One referral. A 404 or 403 (a referral this user may not read, such as Microsoft's side
        of an engagement) raises `PermanentError` with that status; a non-GUID id raises
        `PermanentError` with code `InvalidReferralId` without any request."""
        url = self.referral_url(referral_id)
        response = self._api.request("GET", url, template="/referrals/{id}", record_id=referral_id)
        return _referral_from(response)

    def iter_referrals(
        self, *, filter: str | None = None, orderby: str | None = None, top: int | None = None
    ) -> Iterator[Referral]:
        """Every referral matching the query, one page in memory at a time (`@odata.nextLink`)."""
        params: dict[str, str] = {}
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        if top:
            params["$top"] = str(top)
        while True:
            response = self._api.request("GET", self._url, template="/referrals", params=params)
            page = _json(response)
            for item in page.get("value") or []:
                yield Referral.model_validate(item)
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            # The documented nextLink uses http:// and a path without /engagements: keep only its
            # query (the $skiptoken and the original options) and send it to our own base URL.
            params = dict(parse_qsl(urlsplit(str(next_link)).query, keep_blank_values=True))
            if not params:
                raise PermanentError(f"nextLink without a query: {next_link}", provider=PROVIDER)

    def create_request(self, referral: Referral | dict[str, Any]) -> ReferralRequest:
        body = referral.to_wire() if isinstance(referral, Referral) else referral
        return ReferralRequest("POST", self._url, body, {"Content-Type": "application/json"})

    def update_request(
        self, referral_id: str, operations: list[dict[str, Any]], *, etag: str | None
    ) -> ReferralRequest:
        headers = {"Content-Type": "application/json", "Prefer": "return=representation"}
        if etag:
            headers["If-Match"] = etag
        url = self.referral_url(referral_id)
        return ReferralRequest("PATCH", url, operations, headers, "/referrals/{id}", referral_id)

    def create_referral(self, referral: Referral | dict[str, Any]) -> Referral:
        """Create; not resent after an ambiguous failure (callers look up `externalReferenceId`)."""
        return _referral_from(self._send(self.create_request(referral), idempotent=False))

    def update_referral(
        self, referral_id: str, operations: list[dict[str, Any]], *, etag: str | None
    ) -> Referral:
        """Apply JSON Patch `operations`; with `etag`, a stale eTag raises `ConflictError`."""
        # Resending a patch without If-Match could apply an "add /team/-" twice.
        response = self._send(self.update_request(referral_id, operations, etag=etag), idempotent=bool(etag))
        if response.status_code == 204 or not response.content:
            return self.get_referral(referral_id)
        return _referral_from(response)

    def _send(self, request: ReferralRequest, *, idempotent: bool) -> httpx.Response:
        return self._api.request(
            request.method,
            request.url,
            template=request.template,
            json=request.body,
            headers=request.headers,
            idempotent=idempotent,
            record_id=request.record_id,
        )

    def select(
        self,
        filter: str,
        keep: Callable[[Referral], bool],
        *,
        orderby: str | None = None,
        top: int | None = FILTER_PAGE,
    ) -> Iterator[Referral]:
        """Referrals matching `filter`, each verified with `keep` on our side: a server that
        ignores the filter returns the whole collection, and one that refuses it (400) gets the
        unfiltered query instead, paged to the end. Only `engagementId`, `status`, `direction`,
        `type`, `qualification`, `substatus`, the customer's country and `team/any(...)` filters
        are documented (https://learn.microsoft.com/partner-center/developer/get-a-list-of-referrals);
        anything else may be ignored or refused by a tenant."""
        try:
            pages = self.iter_referrals(filter=filter, orderby=orderby, top=top)
            first = next(pages, None)
        except PermanentError as exc:
            if exc.status != 400:
                raise
            self.filter_fallbacks["refused"] += 1
            log.warning(
                "partner center refused $filter %r (%s); paging and filtering on our side", filter, exc
            )
            yield from (r for r in self.iter_referrals(orderby=orderby, top=top) if keep(r))
            return
        if first is None:
            return
        ignored = False
        for referral in _chain(first, pages):
            if keep(referral):
                yield referral
            elif not ignored:
                ignored = True
                self.filter_fallbacks["ignored"] += 1
                log.warning("partner center ignored $filter %r; filtering on our side", filter)

    def related_referrals(self, engagement_id: str) -> list[Referral]:
        """All referrals of the engagement (ours and Microsoft's side), verified on our side."""
        query = f"engagementId eq {odata_quote(engagement_id)}"
        return list(self.select(query, lambda r: r.engagement_id == engagement_id, top=None))

    def find_by_external_reference(self, external_reference_id: str) -> Referral | None:
        """The referral carrying our CRM id (the oldest if, wrongly, several do), or None.

        `externalReferenceId` is not among the documented filters, so every result is checked for
        equality and every page is read: a server that ignores the filter must never make the
        engine adopt someone else's referral."""
        query = f"externalReferenceId eq {odata_quote(external_reference_id)}"
        matches = [
            referral
            for referral in self.select(
                query,
                lambda r: r.external_reference_id == external_reference_id,
                orderby="createdDateTime asc",
            )
            if referral.id
        ]
        if len(matches) > 1:
            log.warning(
                "%d referrals carry externalReferenceId %s; using the oldest",
                len(matches),
                external_reference_id,
            )
        return min(matches, key=_created_key, default=None)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise PermanentError(
            f"expected JSON, got {response.headers.get('content-type')}", provider=PROVIDER
        ) from None
    if not isinstance(data, dict):
        raise PermanentError("expected a JSON object", provider=PROVIDER)
    return data


def _referral_from(response: httpx.Response) -> Referral:
    referral = Referral.model_validate(_json(response))
    if not referral.e_tag and (header := response.headers.get("ETag")):
        referral.e_tag = header
    return referral


def _chain(first: Referral, rest: Iterator[Referral]) -> Iterator[Referral]:
    yield first
    yield from rest


def _created_key(referral: Referral) -> tuple[float, str]:
    created = referral.created_date_time
    return (created.timestamp() if created else float("inf"), referral.id or "")

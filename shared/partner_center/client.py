"""The Partner Center Referrals API: get, list (streamed across pages), create, update, lookups."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from shared.config import Settings
from shared.errors import PermanentError
from shared.partner_center.auth import TokenProvider
from shared.partner_center.base import PROVIDER, PartnerCenterApi
from shared.partner_center.http import RetryPolicy
from shared.partner_center.models import Referral


def odata_quote(value: str) -> str:
    """An OData string literal: single quotes doubled inside single quotes."""
    return "'" + value.replace("'", "''") + "'"


class PartnerCenterClient(PartnerCenterApi):
    """Referrals API client. Errors follow `shared.errors`: 412 is a `ConflictError`, 429/5xx are
    retried and then a `TransientError`, 401 refreshes the token once and then a `ConfigError`."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        token_provider: TokenProvider | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self._referrals_url = settings.pc_api_base_url.rstrip("/") + "/referrals"
        super().__init__(
            settings,
            resource=settings.pc_referrals_resource,
            transport=transport,
            token_provider=token_provider,
            sleep=sleep,
            retry_policy=retry_policy,
        )

    @property
    def call_counts(self) -> Counter[str]:
        """Requests sent per "METHOD path-template", retries included."""
        return self._api.call_counts

    def get_referral(self, referral_id: str) -> Referral:
        """One referral; a 404 raises `PermanentError` with status 404."""
        response = self._api.request(
            "GET", f"{self._referrals_url}/{referral_id}", template="/referrals/{id}", record_id=referral_id
        )
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
            response = self._api.request("GET", self._referrals_url, template="/referrals", params=params)
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

    def create_referral(self, referral: Referral | dict[str, Any]) -> Referral:
        """Create; not resent after an ambiguous failure (callers look up `externalReferenceId`)."""
        body = referral.to_wire() if isinstance(referral, Referral) else referral
        response = self._api.request(
            "POST",
            self._referrals_url,
            template="/referrals",
            json=body,
            headers={"Content-Type": "application/json"},
            idempotent=False,
        )
        return _referral_from(response)

    def update_referral(
        self, referral_id: str, operations: list[dict[str, Any]], *, etag: str | None
    ) -> Referral:
        """Apply JSON Patch `operations`; with `etag`, a stale eTag raises `ConflictError`."""
        headers = {"Content-Type": "application/json", "Prefer": "return=representation"}
        if etag:
            headers["If-Match"] = etag
        response = self._api.request(
            "PATCH",
            f"{self._referrals_url}/{referral_id}",
            template="/referrals/{id}",
            json=operations,
            headers=headers,
            # Resending a patch without If-Match could apply an "add /team/-" twice.
            idempotent=etag is not None,
            record_id=referral_id,
        )
        if response.status_code == 204 or not response.content:
            return self.get_referral(referral_id)
        return _referral_from(response)

    def related_referrals(self, engagement_id: str) -> list[Referral]:
        """All referrals of the engagement (ours and Microsoft's side)."""
        return list(self.iter_referrals(filter=f"engagementId eq {odata_quote(engagement_id)}"))

    def find_by_external_reference(self, external_reference_id: str) -> Referral | None:
        """The referral carrying our CRM id, oldest first if (wrongly) several do."""
        query = f"externalReferenceId eq {odata_quote(external_reference_id)}"
        return next(self.iter_referrals(filter=query, orderby="createdDateTime asc", top=1), None)


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

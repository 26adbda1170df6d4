"""The Partner Center Referrals API: get, list (streamed across pages), create, update, lookups."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from shared.config import Settings
from shared.core.referral import Referral
from shared.errors import PermanentError
from shared.partner_center.api_base import PROVIDER, PartnerCenterApi
from shared.partner_center.http_policy import RetryPolicy
from shared.partner_center.tokens import TokenProvider


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

    def create_request(self, referral: Referral | dict[str, Any]) -> ReferralRequest:
        body = referral.to_wire() if isinstance(referral, Referral) else referral
        return ReferralRequest("POST", self._referrals_url, body, {"Content-Type": "application/json"})

    def update_request(
        self, referral_id: str, operations: list[dict[str, Any]], *, etag: str | None
    ) -> ReferralRequest:
        headers = {"Content-Type": "application/json", "Prefer": "return=representation"}
        if etag:
            headers["If-Match"] = etag
        url = f"{self._referrals_url}/{referral_id}"
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

"""What every Partner Center API client shares: one pooled httpx client, a token provider for one
audience, the retrying `ApiCaller`, and closing what it owns."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import ClassVar, Self

import httpx

from shared.config import Settings
from shared.partner_center.http_policy import ApiCaller, RetryPolicy
from shared.partner_center.tokens import RefreshTokenProvider, TokenProvider

PROVIDER = "partner-center"


class PartnerCenterApi:
    """Base of the referrals and webhook-registration clients: they differ in the settings naming
    their base URL and token audience (`url_setting`, `url_path`, `audience_setting`)."""

    url_setting: ClassVar[str]
    url_path: ClassVar[str]
    audience_setting: ClassVar[str]
    provider: ClassVar[str] = PROVIDER

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        token_provider: TokenProvider | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self._url = str(getattr(settings, self.url_setting)).rstrip("/") + self.url_path
        resource = self._resource = str(getattr(settings, self.audience_setting))
        self._http = httpx.Client(transport=transport, timeout=settings.pc_timeout_seconds)
        self._owned_tokens = token_provider is None
        self._tokens = token_provider or RefreshTokenProvider(settings, transport=transport)
        self._api = ApiCaller(
            self._http,
            tokens=self._tokens,
            resource=resource,
            provider=self.provider,
            policy=retry_policy or RetryPolicy(max_retries=settings.pc_max_retries),
            sleep=sleep,
        )

    def warm_up(self) -> None:
        """Fetch the access token now (a process's start), not on the first call."""
        self._tokens.token(self._resource)

    def close(self) -> None:
        self._http.close()
        if self._owned_tokens and isinstance(self._tokens, RefreshTokenProvider):
            self._tokens.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

"""The production HTTP session for Salesforce: pooled, with a default timeout (simple-salesforce's
create/update/upsert/delete accept no timeout argument, so the adapter supplies it)."""

from __future__ import annotations

from collections.abc import Mapping

import requests
from requests.adapters import HTTPAdapter

CALL_OPTIONS = "client=cosell-sync"


class TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout: float) -> None:
        # As many pooled connections as the host runs jobs at once (host.json batchSize + newBatchThreshold).
        super().__init__(pool_connections=4, pool_maxsize=16)
        self.timeout = timeout

    def send(  # type: ignore[override]  # noqa: PLR0917 - requests' adapter signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request, stream=stream, timeout=timeout or self.timeout, verify=verify, cert=cert, proxies=proxies
        )


def default_session(timeout: float) -> requests.Session:
    session = requests.Session()
    session.mount("https://", TimeoutAdapter(timeout))
    return session

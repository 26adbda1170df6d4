"""Reaching the simulator with production code paths unchanged: simple-salesforce hard-codes
`https://{host}/...`, so this adapter rewrites every https URL to the simulator's plain-http
loopback port while keeping path, query and the original Host header (test/demo code only)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import requests

from shared.salesforce.transport import TimeoutAdapter


class LoopbackAdapter(TimeoutAdapter):
    """Sends https://<any host>/path?query to http://127.0.0.1:<port>/path?query."""

    def __init__(self, port: int, *, timeout: float = 30.0) -> None:
        super().__init__(timeout)
        self.port = port

    def send(  # type: ignore[override]  # noqa: PLR0917 - requests' adapter signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))
        return super().send(
            request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )


def loopback_session(port: int, *, timeout: float = 30.0) -> requests.Session:
    """A requests.Session whose https traffic goes to the simulator on 127.0.0.1:`port`."""
    session = requests.Session()
    session.trust_env = False  # no proxies for loopback traffic
    session.mount("https://", LoopbackAdapter(port, timeout=timeout))
    return session

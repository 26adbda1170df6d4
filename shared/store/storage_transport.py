"""The HTTP transport of the Table and Queue clients: azure-core's requests transport, with the
requests that make up the app's Storage traffic sent straight through urllib3 (issue #19).

`requests` is a per-call layer over urllib3 (session and environment merging, cookie jars, hooks,
header re-validation): about a quarter of the CPU of each Table or Queue call the app makes, and a
backfilled record makes several. Storage calls need none of it: no cookies, no redirects (azure-core
follows them itself), no proxy from the environment (read once, `storage_clients.transport_options`).
So a plain request (an `azure.core.rest.HttpRequest` with a body in memory, no proxy) goes to its
origin's urllib3 connection pool, and its answer is read whole, as azure-core's own transport reads
every non-streamed answer; anything else (a proxy, a file upload, custom TLS, the legacy request type)
takes the inherited requests path unchanged. An answer asked for as a stream is read whole too: this
transport serves only the Table and Queue clients (`storage_clients.transport_options`), whose answers
the service bounds (an entity 1 MiB, a transaction's answer its 100 operations' status lines), and
which stream only to keep azure-core's JSON decoding off an answer (a transaction's multipart, the
app's own `entity_requests`) — not a blob download.

Errors map as azure-core's requests transport maps them (its retry policy tells them apart):
connecting fails → `ServiceRequestError` (timeout: `ServiceRequestTimeoutError`), the answer breaks
→ `ServiceResponseError` (timeout: `ServiceResponseTimeoutError`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import certifi
import urllib3
import urllib3.connection
from azure.core.exceptions import (
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.core.rest._http_response_impl import HttpResponseImpl
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

POOL_SIZE = 32  # connections kept per host: the backfill's Storage threads and the host's workers
# A kept connection idle this long is not reused. A server may close an idle keep-alive connection
# just as a request goes out on it (Azurite runs on Node: `server.keepAliveTimeout`, 5 s by default,
# https://nodejs.org/api/http.html#serverkeepalivetimeout; Azure Load Balancer drops idle flows
# after 4 minutes by default, https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-reset):
# the request then fails, and azure-core does not retry a POST (an insert, a queue send) after a
# broken connection. Well below 5 s, so Azurite's close never races a request (a full test run hit
# it twice in four before this).
IDLE_REUSE_LIMIT_S = 3.0
# azure-storage-queue's defaults for the transport it builds (a client given one applies none):
# the Table client alone would wait 300 s for a dead connection.
CONNECT_TIMEOUT_S = 20
READ_TIMEOUT_S = 60


class _FreshConnection(urllib3.connection.HTTPConnection):
    """A connection the pool reuses only while it is open and has been idle less than
    IDLE_REUSE_LIMIT_S (urllib3 asks `is_connected` before it reuses a kept connection)."""

    _answered_at = 0.0

    @property
    def is_connected(self) -> bool:
        fresh = time.monotonic() - self._answered_at < IDLE_REUSE_LIMIT_S
        return fresh and bool(super().is_connected)

    def getresponse(self) -> urllib3.HTTPResponse:  # type: ignore[override] # as urllib3 declares it
        try:
            return super().getresponse()
        finally:
            self._answered_at = time.monotonic()


class _FreshTLSConnection(_FreshConnection, urllib3.connection.HTTPSConnection):
    pass


def _whole(response: HttpResponseImpl, pipeline: Any = None, **kwargs: Any) -> Iterator[bytes]:
    """The stream generator azure-core asks for: the answer was read whole already."""
    yield response.content


class _Response(HttpResponseImpl):
    """An answer read whole: `content` is set, so nothing reads the closed urllib3 response again."""

    def __init__(self, request: HttpRequest, raw: urllib3.BaseHTTPResponse) -> None:
        headers = raw.headers
        super().__init__(
            request=request,
            internal_response=raw,
            status_code=raw.status,
            headers=headers,
            reason=raw.reason or "",
            content_type=headers.get("content-type"),
            stream_download_generator=_whole,
        )
        self._content = raw.data
        self._is_closed = True
        self._is_stream_consumed = True


class StorageTransport(RequestsTransport):  # type: ignore[misc] # the package exports it lazily (Any)
    """azure-core's requests transport; plain in-memory requests go straight through urllib3."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("use_env_settings", False)
        kwargs.setdefault("connection_timeout", CONNECT_TIMEOUT_S)
        kwargs.setdefault("read_timeout", READ_TIMEOUT_S)
        super().__init__(**kwargs)
        config = self.connection_config
        # With use_env_settings on, requests applies NO_PROXY per URL; custom TLS stays with requests.
        self._direct = not kwargs["use_env_settings"] and config.verify is True and config.cert is None
        self._origins: dict[str, urllib3.HTTPConnectionPool] = {}
        self._origins_lock = threading.Lock()

    def close(self) -> None:
        with self._origins_lock:
            pools, self._origins = list(self._origins.values()), {}
        for pool in pools:
            pool.close()
        super().close()

    def _connections(self, url: str) -> tuple[urllib3.HTTPConnectionPool, str]:
        """The origin's connection pool, kept for the transport's life and looked up by the URL's
        text (a pool manager parses and normalises every URL, and may evict a pool), and the request
        target."""
        scheme, _, rest = url.partition("://")
        host, _, target = rest.partition("/")
        origin = f"{scheme}://{host}"
        pool = self._origins.get(origin)
        if pool is None:
            with self._origins_lock:
                pool = self._origins.get(origin)
                if pool is None:
                    tls = {"ca_certs": certifi.where()} if scheme == "https" else {}
                    pool = urllib3.connection_from_url(
                        origin, maxsize=POOL_SIZE, block=False, retries=False, **tls
                    )
                    pool.ConnectionCls = _FreshTLSConnection if tls else _FreshConnection
                    self._origins[origin] = pool
        return pool, f"/{target}"

    def send(  # type: ignore[override]
        self,
        request: Any,
        *,
        proxies: MutableMapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        if not self._direct or proxies or not _plain(request, kwargs):
            return super().send(request, proxies=proxies, **kwargs)
        config = self.connection_config
        connect = kwargs.pop("connection_timeout", config.timeout)
        read = kwargs.pop("read_timeout", config.read_timeout)
        pool, target = self._connections(request.url)
        try:
            raw = pool.urlopen(
                request.method,
                target,
                body=request.content,
                headers=dict(request.headers),
                timeout=urllib3.Timeout(connect=connect, read=read),
                redirect=False,
                retries=False,
                assert_same_host=False,
                preload_content=True,
            )
        except (NewConnectionError, SSLError) as err:  # before ConnectTimeoutError: its subclass
            raise ServiceRequestError(err, error=err) from err
        except ConnectTimeoutError as err:
            raise ServiceRequestTimeoutError(err, error=err) from err
        except ReadTimeoutError as err:
            raise ServiceResponseTimeoutError(err, error=err) from err
        except ProtocolError as err:
            raise ServiceResponseError(err, error=err) from err
        except HTTPError as err:
            raise ServiceResponseError(err, error=err) from err
        return _Response(request, raw)


def _plain(request: Any, kwargs: dict[str, Any]) -> bool:
    """A request the direct path sends as requests would: the rest type, its body in memory, no
    per-call TLS options."""
    if not isinstance(request, HttpRequest):
        return False
    if any(kwargs.get(k) is not None for k in ("connection_verify", "connection_cert")):
        return False
    body = request.content
    return body is None or isinstance(body, (bytes, str))

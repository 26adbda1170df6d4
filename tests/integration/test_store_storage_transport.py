"""The Storage clients' transport (`storage_transport`): plain requests go straight through urllib3 and
answer exactly as through azure-core's requests transport — entities, ETag conflicts, missing rows,
transactions, queue messages — while a proxied request keeps the requests path, and a failing
connection raises the same azure-core error either way (the SDKs' retry policies tell them apart)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.data.tables import UpdateMode
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.store import entity_requests, insert_batches, storage_transport, tables
from shared.store.storage_clients import queue_client
from shared.store.storage_transport import StorageTransport

pytestmark = [pytest.mark.integration]


@pytest.fixture
def requests_sends(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every call that reached azure-core's requests transport (the inherited path)."""
    calls: list[dict[str, Any]] = []
    inherited = RequestsTransport.send

    def spy(self: RequestsTransport, request: Any, **kwargs: Any) -> Any:
        calls.append({"url": request.url, **kwargs})
        return inherited(self, request, **kwargs)

    monkeypatch.setattr(RequestsTransport, "send", spy)
    return calls


def test_table_and_queue_calls_take_the_direct_path_and_answer_as_the_sdk_expects(settings, requests_sends):
    client = tables.table(settings, settings.links_table)
    created = client.create_entity({"PartitionKey": "p", "RowKey": "r", "Name": "Zoë 東京", "N": 42})
    entity = client.get_entity("p", "r")
    assert (entity["Name"], entity["N"]) == ("Zoë 東京", 42)
    assert entity.metadata["etag"] == created["etag"]

    client.update_entity({"PartitionKey": "p", "RowKey": "r", "Name": "again"}, mode=UpdateMode.MERGE)
    with pytest.raises(ResourceModifiedError):  # the stale ETag: 412, as through requests
        client.update_entity(
            {"PartitionKey": "p", "RowKey": "r", "Name": "stale"},
            etag=created["etag"], match_condition=MatchConditions.IfNotModified,
        )  # fmt: skip
    with pytest.raises(ResourceNotFoundError):
        client.get_entity("p", "missing")
    client.submit_transaction([("upsert", {"PartitionKey": "t", "RowKey": str(n)}) for n in range(120 // 2)])
    rows = list(client.query_entities("PartitionKey eq 't'", results_per_page=7))  # paged: continuation
    assert len(rows) == 60

    queue = queue_client(settings, "transport-test")
    queue.create_queue()
    try:
        queue.send_message("ünïcode ✔")
        [message] = list(queue.receive_messages(max_messages=1))
        assert message.content == "ünïcode ✔"
        queue.delete_message(message)
    finally:
        queue.delete_queue()
    # The app's own entity requests and insert transactions, asked for as streams, go direct too.
    etag = entity_requests.insert(client, {"PartitionKey": "e", "RowKey": "r", "V": "ü"})
    assert entity_requests.get(client, "e", "r") == ({"PartitionKey": "e", "RowKey": "r", "V": "ü"}, etag)
    insert_batches.insert_all(client, [{"PartitionKey": "b", "RowKey": str(n)} for n in range(5)])
    assert len(list(client.query_entities("PartitionKey eq 'b'"))) == 5
    assert requests_sends == []


def test_a_proxied_request_takes_the_requests_path(requests_sends):
    transport = StorageTransport()
    with pytest.raises(ServiceRequestError):  # nothing listens at the proxy
        transport.send(HttpRequest("GET", "http://example.invalid/"), proxies={"http": f"http://{_dead()}"})
    assert len(requests_sends) == 1 and requests_sends[0]["proxies"]


def test_environment_proxy_settings_keep_the_requests_path(requests_sends, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with _server("answer") as address:
        StorageTransport(use_env_settings=True).send(HttpRequest("GET", f"http://{address}/"))
    assert len(requests_sends) == 1


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("refuse", ServiceRequestError),  # nothing listens: the request never left
        ("close", ServiceResponseError),  # the connection closed before an answer
        ("hang", ServiceResponseTimeoutError),  # no answer within the read timeout
    ],
)
@pytest.mark.parametrize("transport_class", [StorageTransport, RequestsTransport])
def test_a_failing_connection_raises_what_azure_cores_requests_transport_raises(
    behaviour: str, error: type[Exception], transport_class: type[RequestsTransport]
):
    with _server(behaviour) as address:
        transport = transport_class(read_timeout=0.5, connection_timeout=2)
        with pytest.raises(error):
            transport.send(HttpRequest("GET", f"http://{address}/"))


@pytest.mark.parametrize("transport_class", [StorageTransport, RequestsTransport])
def test_a_certificate_nobody_vouches_for_is_refused(tmp_path, transport_class: type[RequestsTransport]):
    """Azure is reached over HTTPS: the direct path verifies certificates as requests does."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    refused = r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"
    with _server("answer", tls=context) as address, pytest.raises(ServiceRequestError, match=refused):
        transport_class(connection_timeout=5, read_timeout=5).send(HttpRequest("GET", f"https://{address}/"))


def _self_signed(folder: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


def test_answers_are_read_whole_and_the_connection_is_reused():
    with _server("answer") as address:
        transport = StorageTransport()
        first = transport.send(HttpRequest("GET", f"http://{address}/"))
        second = transport.send(HttpRequest("PUT", f"http://{address}/x", content=b"body"))
    assert (first.status_code, first.text(), first.headers["x-test"]) == (200, "ok", "yes")
    assert second.read() == b"ok" and list(second.iter_bytes()) == [b"ok"]
    assert _Server.connections == 1


IDLE_CLOSE_S = 0.3


def test_a_connection_idle_past_the_reuse_limit_is_not_reused(monkeypatch):
    """The request goes out on a new connection rather than on one the server may be closing (a
    broken POST is not retried by azure-core)."""
    monkeypatch.setattr(storage_transport, "IDLE_REUSE_LIMIT_S", IDLE_CLOSE_S / 2)
    with _server("idle-close") as address:
        transport = StorageTransport()
        transport.send(HttpRequest("POST", f"http://{address}/", content=b"first"))
        time.sleep(IDLE_CLOSE_S * 2)
        second = transport.send(HttpRequest("POST", f"http://{address}/", content=b"second"))
    assert second.status_code == 200 and _Server.connections == 2


def _dead() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


class _Server:
    connections = 0


class _server:
    """A one-behaviour HTTP server on loopback: 'answer' (200 "ok", keep-alive), 'close' (reads the
    request and hangs up), 'hang' (reads it and never answers), 'refuse' (nothing listening),
    'idle-close' (answers, but hangs up on a request that comes after IDLE_CLOSE_S of quiet, as a
    keep-alive timeout firing at that moment would)."""

    def __init__(self, behaviour: str, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.tls = tls
        self.stop = threading.Event()
        self.sock: socket.socket | None = None

    def __enter__(self) -> str:
        if self.behaviour == "refuse":
            return _dead()
        _Server.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        threading.Thread(target=self._serve, daemon=True).start()
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.sock is not None:
            self.sock.close()

    def _serve(self) -> None:
        assert self.sock is not None
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            _Server.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                return  # the client refused our certificate
        answered = 0.0
        with conn:
            for _ in _requests(conn):
                if self.behaviour == "close":
                    return
                if self.behaviour == "hang":
                    self.stop.wait(5)
                    return
                if self.behaviour == "idle-close" and answered and time.monotonic() - answered > IDLE_CLOSE_S:
                    return  # as a keep-alive timeout firing just as the request came in
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Test: yes\r\n\r\nok")
                answered = time.monotonic()


def _requests(conn: socket.socket) -> Iterator[bytes]:
    """Each request's head on a keep-alive connection, once its whole body arrived."""
    conn.settimeout(5)
    buffer = b""
    while True:
        while b"\r\n\r\n" in buffer:
            head, rest = buffer.split(b"\r\n\r\n", 1)
            length = _content_length(head)
            if len(rest) < length:
                break
            buffer = rest[length:]
            yield head
        try:
            chunk = conn.recv(65536)
        except OSError:
            return
        if not chunk:
            return
        buffer += chunk


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0

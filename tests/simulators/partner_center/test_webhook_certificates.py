"""Webhook signing over HTTP: the default signer chains to the simulator's test root CA with a
Microsoft-shaped subject; a forger's certificate and a moved certificate URL are selectable."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.ports import free_port

pytestmark = pytest.mark.integration


@dataclass
class Capture:
    """A loopback webhook endpoint that records each request's headers and raw body."""

    port: int = field(default_factory=free_port)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"


@pytest.fixture
def capture() -> Iterator[Capture]:
    sink = Capture()

    async def events(request: Request) -> Response:
        sink.received.append((dict(request.headers), await request.body()))
        return Response(status_code=200)

    app = Starlette(routes=[Route("/events", events, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=sink.port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    yield sink
    server.should_exit = True
    thread.join(timeout=5)


def delivered(control, capture: Capture) -> tuple[dict[str, str], bytes]:
    control.register_webhook(capture.url, ["referral-created"])
    control.send_marketplace_lead()
    control.wait_for_deliveries()
    assert capture.received
    return capture.received[-1]


def fetch_certificate(url: str) -> x509.Certificate:
    response = httpx.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pkix-cert"
    return x509.load_der_x509_certificate(response.content)


def verify_signature(certificate: x509.Certificate, headers: dict[str, str], body: bytes) -> None:
    scheme, _, signature = headers["authorization"].partition(" ")
    assert scheme == "Signature" and headers["x-ms-signature-algorithm"] == "rsa-sha256"
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(signature), body, padding.PKCS1v15(), hashes.SHA256())


def organisation(name: x509.Name) -> str:
    return str(name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value)


def test_default_signer_chains_to_the_test_root(sim, control, capture):
    headers, body = delivered(control, capture)
    url = headers["x-ms-certificate-url"]
    assert urlsplit(url).path == "/cert/pcnotifications-dispatch.microsoft.com.cer"
    leaf = fetch_certificate(url)
    verify_signature(leaf, headers, body)
    assert json.loads(body)["EventName"] == "referral-created"
    assert (
        leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        == "pcnotifications-dispatch.microsoft.com"
    )
    assert organisation(leaf.subject) == organisation(leaf.issuer) == "Microsoft Corporation"

    described = control.certificate()
    assert described["root_pem"] == sim.root_ca_pem == sim.root_ca_pem_path.read_text()
    root = x509.load_pem_x509_certificate(described["root_pem"].encode())
    intermediate = x509.load_pem_x509_certificate(described["intermediate_pem"].encode())
    verifier = (
        PolicyBuilder()
        .store(Store([root]))
        .time(datetime.now(UTC))
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
        .build_client_verifier()
    )
    chain = verifier.verify(leaf, [intermediate]).chain
    assert chain[-1] == root


def test_evil_signer_is_self_signed_by_another_organisation_on_the_same_host(sim, control, capture):
    control.set_certificate(signer="evil")
    headers, body = delivered(control, capture)
    url = headers["x-ms-certificate-url"]
    assert urlsplit(url).netloc == urlsplit(sim.origin).netloc
    evil = fetch_certificate(url)
    verify_signature(evil, headers, body)  # a valid signature ...
    assert organisation(evil.subject) == organisation(evil.issuer) == "Evil Corp"  # ... by the wrong org
    assert evil.subject == evil.issuer
    root = x509.load_pem_x509_certificate(sim.root_ca_pem.encode())
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store([root])).build_client_verifier().verify(evil, [])


def test_certificate_url_can_move_to_another_path_port_query_or_host(sim, control, capture):
    control.set_certificate(path="/elsewhere/pc.cer", query="sv=2024&sig=x")
    headers, body = delivered(control, capture)
    url = headers["x-ms-certificate-url"]
    assert url == f"{sim.origin}/elsewhere/pc.cer?sv=2024&sig=x"
    verify_signature(fetch_certificate(url), headers, body)  # the moved URL is served too

    control.set_certificate(port=1, host="localhost")
    assert control.certificate()["certificate_url"] == (
        "http://localhost:1/cert/pcnotifications-dispatch.microsoft.com.cer"
    )
    control.reset()
    assert control.certificate()["certificate_url"] == sim.certificate_url
    assert urlsplit(sim.certificate_url).port == sim.port

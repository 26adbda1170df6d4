"""Webhook verification and parsing over a real certificate, served by a MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from devstack.pc_sim.pc_cert_chain import TestPki, build_test_pki
from devstack.pc_sim.signing import WebhookSigner
from shared.config import load_settings
from shared.intake.partner_center_webhook import job_for
from shared.jobs import JobSource, RecordKind
from shared.partner_center.webhook_events import (
    CertificateCache,
    certificate_url_problem,
    receive_event,
    referral_id_from_uri,
)

CERT_HOST = "3psostorageacct.blob.core.windows.net"
CERT_URL = f"https://{CERT_HOST}/cert/pcnotifications.microsoft.com.cer"
REFERRAL_ID = "5dd4dc44-2c1a-4e16-8478-f783ebe815de"


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return build_test_pki()


@pytest.fixture(scope="module")
def signer(pki: TestPki) -> WebhookSigner:
    """Partner Center's signer: a Microsoft-shaped leaf issued under the test root CA."""
    return pki.microsoft


@pytest.fixture
def fetched() -> list[str]:
    return []


@pytest.fixture
def certificates(signer, fetched) -> CertificateCache:
    def serve(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        if request.url.path.endswith("missing.cer"):
            return httpx.Response(404)
        return httpx.Response(200, content=signer.certificate_der)

    return CertificateCache(transport=httpx.MockTransport(serve))


@pytest.fixture
def settings(pki: TestPki):
    return load_settings(
        pc_webhook_cert_hosts=CERT_HOST,
        pc_webhook_max_body_bytes=4096,
        pc_webhook_test_trust_anchor_pem=pki.root_pem + pki.intermediate_pem,
    )


def event(name="referral-updated", **changes) -> bytes:
    body = {
        "EventName": name,
        "ResourceUri": f"https://api.partnercenter.microsoft.com/engagements/v1/referrals/{REFERRAL_ID}",
        "ResourceName": "referral",
        "AuditUri": None,
        "ResourceChangeUtcDate": "2025-02-17T00:05:39.5485487+00:00",
        **changes,
    }
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def signed(signer, body: bytes, **header_changes) -> dict[str, str]:
    headers = {
        "Authorization": f"Signature {signer.sign(body)}",
        "x-ms-certificate-url": CERT_URL,
        "x-ms-signature-algorithm": "rsa-sha256",
        "Content-Type": "application/json",
    }
    headers.update(header_changes)
    return {k: v for k, v in headers.items() if v is not None}


@pytest.mark.parametrize(
    "name", ["referral-created", "referral-updated", "related-referral-created", "related-referral-updated"]
)
def test_signed_referral_event_becomes_a_job(signer, certificates, settings, name):
    body = event(name)
    outcome = receive_event(body, signed(signer, body), settings, certificates=certificates)
    assert outcome.status_code == 202
    assert outcome.event is not None
    job = job_for(outcome.event)
    assert job.kind is RecordKind.REFERRAL
    assert job.record_id == REFERRAL_ID
    assert job.source is JobSource.WEBHOOK
    assert job.event == name
    assert job.observed_at == datetime(2025, 2, 17, 0, 5, 39, 548548, tzinfo=UTC)


def test_header_names_are_case_insensitive(signer, certificates, settings):
    body = event()
    headers = {k.upper(): v for k, v in signed(signer, body).items()}
    assert receive_event(body, headers, settings, certificates=certificates).event is not None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Authorization": None}, "missing Signature"),
        ({"Authorization": "Bearer abc"}, "missing Signature"),
        ({"Authorization": "Signature "}, "missing Signature"),
        ({"Authorization": "Signature not*base64"}, "not base64"),
        ({"x-ms-certificate-url": None}, "missing x-ms-certificate-url"),
        ({"x-ms-signature-algorithm": None}, "algorithm"),
        ({"x-ms-signature-algorithm": "rsa-sha1"}, "algorithm"),
        ({"x-ms-certificate-url": "https://evil.example/cert.cer"}, "not allowed"),
        ({"x-ms-certificate-url": f"http://{CERT_HOST}/cert.cer"}, "https"),
    ],
)
def test_unauthentic_requests_are_refused_with_401(signer, certificates, settings, fetched, changes, reason):  # noqa: PLR0917
    body = event()
    outcome = receive_event(body, signed(signer, body, **changes), settings, certificates=certificates)
    assert outcome.status_code == 401
    assert reason in outcome.message
    assert outcome.event is None
    assert fetched == []


def test_signature_over_another_body_is_refused(signer, certificates, settings):
    original = event()
    tampered = event(ResourceUri="https://api.partnercenter.microsoft.com/engagements/v1/referrals/other")
    outcome = receive_event(tampered, signed(signer, original), settings, certificates=certificates)
    assert outcome.status_code == 401
    assert "does not match" in outcome.message


def test_signature_by_another_key_is_refused(certificates, settings):
    forger = WebhookSigner()
    body = event()
    outcome = receive_event(body, signed(forger, body), settings, certificates=certificates)
    assert outcome.status_code == 401


def test_expired_certificate_is_refused(signer, settings):
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    expired = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.private_key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=10))
        .not_valid_after(now - timedelta(days=1))
        .sign(signer.private_key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    cache = CertificateCache(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, content=expired.public_bytes(Encoding.PEM))
        )
    )
    body = event()
    outcome = receive_event(body, signed(signer, body), settings, certificates=cache)
    assert outcome.status_code == 401
    assert "not trusted" in outcome.message  # the chain is judged at the certificate's expiry too


def test_unavailable_certificate_asks_partner_center_to_retry(signer, certificates, settings):
    body = event()
    headers = signed(signer, body, **{"x-ms-certificate-url": f"https://{CERT_HOST}/cert/missing.cer"})
    outcome = receive_event(body, headers, settings, certificates=certificates)
    assert outcome.status_code == 503
    assert outcome.event is None


def test_certificate_is_fetched_once_and_cached(signer, certificates, settings, fetched):
    for name in ("referral-created", "referral-updated"):
        body = event(name)
        assert receive_event(body, signed(signer, body), settings, certificates=certificates).event
    assert fetched == [CERT_URL]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "EventName missing"),
        (event(EventName=...), "EventName missing"),
        (event(ResourceUri=...), "ResourceUri"),
        (event(ResourceChangeUtcDate=...), "ResourceChangeUtcDate"),
        (event(ResourceName=""), "ResourceName"),
        (event(ResourceChangeUtcDate="yesterday"), "not a date"),
        (event(ResourceUri="https://api.partnercenter.microsoft.com/"), "referral id"),
    ],
)
def test_malformed_signed_events_are_refused_with_400(signer, certificates, settings, body, reason):
    outcome = receive_event(body, signed(signer, body), settings, certificates=certificates)
    assert outcome.status_code == 400
    assert reason in outcome.message
    assert outcome.event is None


def test_oversized_body_is_refused_with_413_before_any_verification(signer, certificates, settings, fetched):
    body = event(Padding="x" * 5000)
    outcome = receive_event(body, signed(signer, body), settings, certificates=certificates)
    assert outcome.status_code == 413
    assert fetched == []


@pytest.mark.parametrize("name", ["customer-created", "invoice-ready"])
def test_unknown_events_are_acknowledged_and_ignored(signer, certificates, settings, name):
    body = event(name)
    outcome = receive_event(body, signed(signer, body), settings, certificates=certificates)
    assert outcome.status_code == 202
    assert "ignored" in outcome.message
    assert outcome.event is None


def test_test_event_is_acknowledged_without_a_job(signer, certificates, settings):
    body = event("test-created", ResourceUri="https://api.partnercenter.microsoft.com/webhooks/v1/x")
    outcome = receive_event(body, signed(signer, body), settings, certificates=certificates)
    assert (outcome.status_code, outcome.event) == (202, None)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        (CERT_URL, True),
        ("http://127.0.0.1:8000/cert/pc.cer", True),
        ("http://localhost:8000/cert/pc.cer", True),
        ("http://127.0.0.1:8001/cert/pc.cer", False),
        ("http://127.0.0.1/cert/pc.cer", False),
        (f"https://{CERT_HOST}:443/cert/pc.cer", True),
        (f"https://{CERT_HOST}:8443/cert/pc.cer", False),
        (f"https://{CERT_HOST}/cert/pc.cer?sv=1", False),
        (f"https://{CERT_HOST}/cert/pc.cer?", False),
        (f"https://{CERT_HOST}/cert/pc.cer#x", False),
        (f"https://user:pw@{CERT_HOST}/cert/pc.cer", False),
        (f"https://{CERT_HOST}/elsewhere/pc.cer", False),
        (f"https://{CERT_HOST}/cert/evil/pc.cer", False),
        (f"https://{CERT_HOST}/cert/../x.cer", False),
        (f"https://{CERT_HOST}/cert/pc.pem", False),
        ("http://3psostorageacct.blob.core.windows.net/cert.cer", False),
        ("https://3psostorageacct.blob.core.windows.net.evil.example/cert.cer", False),
        ("https://evil.example/?h=3psostorageacct.blob.core.windows.net", False),
        ("file:///etc/passwd", False),
    ],
)
def test_certificate_url_rules(url, allowed):
    hosts = [CERT_HOST, "127.0.0.1:8000", "localhost:8000"]
    assert (certificate_url_problem(url, hosts) is None) is allowed


def test_referral_id_is_the_last_path_segment():
    assert referral_id_from_uri(f"https://x/engagements/v1/referrals/{REFERRAL_ID}/") == REFERRAL_ID
    assert referral_id_from_uri("https://x/") is None


# ------------------------------------------------------------------- issue #15 hardening
def test_a_self_signed_evil_corp_certificate_from_an_allowed_host_is_refused(pki, settings, fetched):
    cache = CertificateCache(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=pki.evil.certificate_der))
    )
    body = event()
    outcome = receive_event(body, signed(pki.evil, body), settings, certificates=cache)
    assert outcome.status_code == 401
    assert "not trusted" in outcome.message


def test_a_certificate_from_the_production_trust_store_alone_is_refused(signer, certificates, pki):
    """Without the test anchor the simulator's chain is untrusted (the default is certifi/OS roots)."""
    production = load_settings(pc_webhook_cert_hosts=CERT_HOST)
    body = event()
    outcome = receive_event(body, signed(signer, body), production, certificates=certificates)
    assert outcome.status_code == 401 and "not trusted" in outcome.message


def test_a_trusted_chain_with_another_organisation_is_refused(settings):
    from devstack.pc_sim.signing import WebhookSigner as Signer

    root = build_test_pki()
    other = Signer("pcnotifications-dispatch.microsoft.com", organization="Contoso", issuer=None)
    anchors = load_settings(
        pc_webhook_cert_hosts=CERT_HOST,
        pc_webhook_test_trust_anchor_pem=root.root_pem + root.intermediate_pem + _pem(other),
    )
    cache = CertificateCache(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=other.certificate_der))
    )
    body = event()
    outcome = receive_event(body, signed(other, body), anchors, certificates=cache)
    assert outcome.status_code == 401 and "organisation" in outcome.message


def _pem(signer: WebhookSigner) -> str:
    from devstack.pc_sim.signing import pem

    return pem(signer.certificate)


def test_five_hundred_unsigned_posts_fetch_nothing(certificates, settings, fetched):
    body = event()
    for i in range(500):
        headers = {
            "x-ms-certificate-url": f"https://{CERT_HOST}/cert/{i}.cer",
            "x-ms-signature-algorithm": "rsa-sha256",
        }
        assert receive_event(body, headers, settings, certificates=certificates).status_code == 401
    assert fetched == []


def test_five_hundred_forged_posts_on_distinct_urls_fetch_a_bounded_number(
    signer, certificates, settings, fetched
):
    body = event()
    statuses = set()
    for i in range(500):
        headers = signed(WebhookSigner(), body) if i == 0 else signed(signer, body + b" ")
        headers["x-ms-certificate-url"] = f"https://{CERT_HOST}/cert/forged-{i}.cer"
        statuses.add(receive_event(body, headers, settings, certificates=certificates).status_code)
    assert len(fetched) <= 10
    assert len(certificates) <= 16
    assert statuses <= {401, 503}


def test_a_declared_content_length_over_the_cap_is_413_before_the_body_is_read(
    signer, certificates, settings
):
    from shared.partner_center.webhook_events import declared_too_large

    assert declared_too_large({"Content-Length": "5000"}, settings)
    assert not declared_too_large({"content-length": "100"}, settings)
    assert not declared_too_large({}, settings)
    outcome = receive_event(b"", {"Content-Length": "5000"}, settings, certificates=certificates)
    assert outcome.status_code == 413


def test_refusals_are_logged_once_per_reason_per_minute_with_a_count(certificates, settings, caplog):
    from shared.partner_center import webhook_events

    clock = [0.0]
    monkey = webhook_events.SampledLog(clock=lambda: clock[0])
    original, webhook_events._refusals = webhook_events._refusals, monkey
    try:
        with caplog.at_level("WARNING", logger="shared.partner_center.webhook_events"):
            for _ in range(50):
                receive_event(event(), {}, settings, certificates=certificates)
            clock[0] = 61.0
            receive_event(event(), {}, settings, certificates=certificates)
    finally:
        webhook_events._refusals = original
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 2
    assert "(1 in the last minute)" in lines[0] and "(50 in the last minute)" in lines[1]


def test_a_resource_uri_that_does_not_end_in_a_guid_is_400(signer, certificates, settings):
    for tail in ("..", "x", f"{REFERRAL_ID}%2F..", "%2e%2e"):
        body = event(ResourceUri=f"https://api.partnercenter.microsoft.com/engagements/v1/referrals/{tail}")
        outcome = receive_event(body, signed(signer, body), settings, certificates=certificates)
        assert outcome.status_code == 400, tail


def test_a_certificate_url_serving_the_leaf_alone_is_completed_from_the_leafs_issuer_url():
    from devstack.pc_sim.pc_cert_chain import LEAF_COMMON_NAME, MICROSOFT_ORGANIZATION
    from devstack.pc_sim.signing import issue_certificate, new_key, pem, subject_name

    root_key, intermediate_key, leaf_key = new_key(), new_key(), new_key()
    root = issue_certificate(subject_name("Test Root", MICROSOFT_ORGANIZATION), root_key, None, ca=True)
    intermediate = issue_certificate(
        subject_name("Test Issuing CA", MICROSOFT_ORGANIZATION), intermediate_key, (root, root_key), ca=True
    )
    leaf = issue_certificate(
        subject_name(LEAF_COMMON_NAME, MICROSOFT_ORGANIZATION), leaf_key, (intermediate, intermediate_key),
        dns_name=LEAF_COMMON_NAME, issuer_url="http://pki.test/certs/issuing-ca.crt",
    )  # fmt: skip
    from cryptography.hazmat.primitives.serialization import Encoding

    served = {
        "https://api.partnercenter.microsoft.com/cert/leaf.cer": pem(leaf).encode(),
        "http://pki.test/certs/issuing-ca.crt": intermediate.public_bytes(Encoding.DER),
    }
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=served[str(r.url)]))
    url = "https://api.partnercenter.microsoft.com/cert/leaf.cer"

    completed = CertificateCache(transport=transport, issuer_hosts=("pki.test",))
    certificate, problem = completed.verified(url, pem(root))
    refused = CertificateCache(transport=transport)  # the issuer URL is not on Microsoft's PKI host
    _, not_trusted = refused.verified(url, pem(root))

    assert (certificate, problem) == (leaf, None) and completed.fetches == 2
    assert not_trusted is not None and "chain" in not_trusted and refused.fetches == 1

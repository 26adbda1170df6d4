"""Partner Center webhook events: verify the signature over the raw body, parse into an event.

Partner Center signs each POST with RSA-SHA256 (PKCS#1 v1.5) and names the signing certificate
in `x-ms-certificate-url`. The certificate is only fetched from allow-listed hosts over https
(loopback is allowed plain http, for the simulator): the allow-list plus TLS to that host is
what makes the certificate trustworthy.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.config import Settings
from shared.partner_center.registration import REFERRAL_EVENTS, TEST_EVENT

log = logging.getLogger(__name__)

REQUIRED_FIELDS = ("EventName", "ResourceUri", "ResourceName", "ResourceChangeUtcDate")


@dataclass(frozen=True)
class ReferralEvent:
    """An authentic referral event: which referral changed, how, and when Partner Center saw it."""

    name: str
    referral_id: str
    changed_at: datetime


@dataclass(frozen=True)
class WebhookOutcome:
    """What the HTTP trigger answers (`status_code`, `message`) and, for a referral event, the event."""

    status_code: int
    message: str
    event: ReferralEvent | None = None


class CertificateUnavailable(Exception):
    """The signing certificate could not be fetched or read."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def certificate_url_problem(url: str, allowed_hosts: list[str]) -> str | None:
    """Why this certificate URL must not be used, or None when it may be fetched."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return "certificate url has no host"
    if host not in allowed_hosts:
        return f"certificate host {host!r} not allowed"
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
        return "certificate url must use https"
    return None


class CertificateCache:
    """Signing certificates by URL, kept for `ttl_seconds` (rotation means a new URL)."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        ttl_seconds: float = 24 * 3600,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._ttl = ttl_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, x509.Certificate]] = {}
        self.fetches = 0

    def get(self, url: str) -> x509.Certificate:
        with self._lock:
            entry = self._entries.get(url)
            if entry and entry[0] > self._clock():
                return entry[1]
        certificate = self._fetch(url)
        with self._lock:
            self._entries[url] = (self._clock() + self._ttl, certificate)
        return certificate

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _fetch(self, url: str) -> x509.Certificate:
        self.fetches += 1
        try:
            with httpx.Client(transport=self._transport, timeout=self._timeout) as http:
                response = http.get(url)
        except httpx.HTTPError as exc:
            raise CertificateUnavailable(f"fetching {url} failed: {exc!r}") from None
        if response.status_code != 200:
            raise CertificateUnavailable(f"fetching {url} answered {response.status_code}")
        data = response.content
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                return x509.load_pem_x509_certificate(data)
            return x509.load_der_x509_certificate(data)
        except ValueError:
            raise CertificateUnavailable(f"{url} does not hold an X.509 certificate") from None


_default_certificates = CertificateCache()


def decode_signature(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_signature(body: bytes, signature: bytes, certificate: x509.Certificate) -> str | None:
    """None when `signature` is a valid RSA-SHA256 (PKCS#1 v1.5) signature of `body`, else the reason."""
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        return "certificate expired or not yet valid"
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return "certificate key is not RSA"
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return "signature does not match the body"
    return None


def referral_id_from_uri(resource_uri: str) -> str | None:
    """The last path segment of a ResourceUri (`.../engagements/v1/referrals/{id}`)."""
    segments = [s for s in urlsplit(resource_uri).path.split("/") if s]
    return segments[-1] if segments else None


def receive_event(
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings,
    *,
    certificates: CertificateCache | None = None,
) -> WebhookOutcome:
    """Judge one webhook POST: 413 too large, 401 not authentic, 400 malformed, 202 otherwise
    (with the event for referral events). Nothing here enqueues: the intake does."""
    if len(body) > settings.pc_webhook_max_body_bytes:
        return _refuse(413, f"body of {len(body)} bytes exceeds {settings.pc_webhook_max_body_bytes}")
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        reason = signature_problem(body, lowered, settings, certificates or _default_certificates)
    except CertificateUnavailable as exc:
        # We cannot verify right now; 503 makes Partner Center deliver the event again later.
        log.error("partner center webhook: %s", exc)
        return WebhookOutcome(503, "signing certificate unavailable")
    if reason:
        return _refuse(401, reason)
    return parse_event(body)


def signature_problem(
    body: bytes, headers: Mapping[str, str], settings: Settings, certificates: CertificateCache
) -> str | None:
    """Why the request is not authentic (None when it is). `headers` keys must be lower case.
    Raises `CertificateUnavailable` when the allowed certificate cannot be fetched."""
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    signature = decode_signature(encoded)
    algorithm = headers.get("x-ms-signature-algorithm", "").strip().lower()
    url = headers.get("x-ms-certificate-url", "").strip()
    if scheme.lower() != "signature" or not encoded.strip():
        reason: str | None = "missing Signature authorization"
    elif not signature:
        reason = "signature is not base64"
    elif algorithm != "rsa-sha256":
        reason = f"unsupported signature algorithm {algorithm[:40]!r}"
    elif not url:
        reason = "missing x-ms-certificate-url"
    else:
        reason = certificate_url_problem(url, settings.pc_webhook_cert_hosts)
    if reason or not signature:
        return reason
    return verify_signature(body, signature, certificates.get(url))


def parse_event(body: bytes) -> WebhookOutcome:
    """An authentic body: 400 when malformed, 202 ignored, or 202 with the event for a referral event."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _refuse(400, "body is not JSON")
    if not isinstance(event, dict) or not isinstance(event.get("EventName"), str):
        return _refuse(400, "body is not an event (EventName missing)")
    name = event["EventName"]
    if name == TEST_EVENT:
        log.info("partner center test event received")
        return WebhookOutcome(202, "test event acknowledged")
    if name not in REFERRAL_EVENTS:
        log.warning("partner center event %r ignored: not a referral event", name[:100])
        return WebhookOutcome(202, f"event {name[:100]!r} ignored")
    missing = [f for f in REQUIRED_FIELDS if not isinstance(event.get(f), str) or not event[f]]
    if missing:
        return _refuse(400, f"event lacks {', '.join(missing)}")
    return _event_outcome(name, event)


def _event_outcome(name: str, event: dict[str, object]) -> WebhookOutcome:
    referral_id = referral_id_from_uri(str(event["ResourceUri"]))
    if not referral_id or any(ord(c) < 32 or c in "\\#?" for c in referral_id) or len(referral_id) > 200:
        return _refuse(400, "ResourceUri does not end in a referral id")
    try:
        changed_at = datetime.fromisoformat(str(event["ResourceChangeUtcDate"]).replace("Z", "+00:00"))
    except ValueError:
        return _refuse(400, "ResourceChangeUtcDate is not a date")
    if changed_at.tzinfo is None:
        changed_at = changed_at.replace(tzinfo=UTC)
    return WebhookOutcome(202, "accepted", ReferralEvent(name, referral_id, changed_at))


def _refuse(status: int, reason: str) -> WebhookOutcome:
    log.warning("partner center webhook refused with %d: %s", status, reason)
    return WebhookOutcome(status, reason)

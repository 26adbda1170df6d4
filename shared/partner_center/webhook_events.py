"""Partner Center webhook events: verify the signature over the raw body, parse into an event.

Partner Center's webhooks page ("Authenticate the callback",
https://learn.microsoft.com/partner-center/developer/partner-center-webhooks) lists the receiver's
checks, which `signature_problem` follows in this order, cheapest first:
1. the headers: `Authorization: Signature <base64>`, `x-ms-signature-algorithm: rsa-sha256`,
   `x-ms-certificate-url` (refused before anything is fetched);
2. the certificate URL's shape: https, an allow-listed host (PC_WEBHOOK_CERT_HOSTS; an entry may
   name a port, else only the default port), a `/cert/<name>.cer` path as in the documented URL
   `https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer`,
   no query, fragment or user info (loopback may use plain http, for the simulator);
3. "verify the certificate chain": to the OS/certifi roots, or, in tests and the local stack only,
   to PC_WEBHOOK_TEST_TRUST_ANCHOR_PEM (never set by infra; tests/infra/test_pc_trust_anchor.py);
4. "verify the certificate Organization": Microsoft's sample checks the issuer contains
   `O=Microsoft Corporation`; we also require a `*.microsoft.com` subject CN;
5. the RSA-SHA256 (PKCS#1 v1.5) signature over the raw body.
Certificates (and refusals) are cached per URL in a bounded, time-limited cache, and fetches are
rate-limited, so unsigned or forged posts cannot make us fetch without limit. Refusals are logged
sampled: one line per reason per minute, with a count.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import certifi
import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

from shared.config import Settings
from shared.core.referral_ids import referral_id_problem
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


# Where Microsoft publishes its intermediate CA certificates (the "CA Issuers" URLs of its
# certificates point at www.microsoft.com/pkiops/certs/...; fetched over http as RFC 5280 allows:
# the certificate is signed, and the chain is verified either way).
ISSUER_CERTIFICATE_HOSTS = ("www.microsoft.com",)


class CertificateUnavailable(Exception):
    """The signing certificate could not be fetched or read."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


CERTIFICATE_PATH = re.compile(r"/cert/[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.cer")
ISSUER_ORGANIZATION = "Microsoft Corporation"
SUBJECT_DOMAIN = ".microsoft.com"
_DEFAULT_PORTS = {"https": 443, "http": 80}


def certificate_url_problem(url: str, allowed_hosts: list[str]) -> str | None:
    """Why this certificate URL must not be fetched, or None when it may be. `allowed_hosts`
    entries are `host` (default port only) or `host:port`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "certificate url is malformed"
    host = (parts.hostname or "").lower()
    if not host:
        return "certificate url has no host"
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
        return "certificate url must use https"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "certificate url must not carry user info"
    effective = port or _DEFAULT_PORTS.get(parts.scheme)
    allowed = {_host_port(entry, parts.scheme) for entry in allowed_hosts}
    if (host, effective) not in allowed:
        hosts = {h for h, _ in allowed}
        return (
            f"certificate host {host!r} not allowed"
            if host not in hosts
            else f"certificate port {effective} not allowed"
        )
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        return "certificate url must not have a query or fragment"
    if not CERTIFICATE_PATH.fullmatch(parts.path):
        return "certificate url path is not /cert/<name>.cer"
    return None


def _host_port(entry: str, scheme: str) -> tuple[str, int | None]:
    host, _, port = entry.strip().lower().rpartition(":") if ":" in entry else (entry.strip().lower(), "", "")
    return host, int(port) if port.isdigit() else _DEFAULT_PORTS.get(scheme)


def trust_store(anchor_pem: str) -> tuple[Store, list[x509.Certificate]]:
    """The roots to validate signing certificates against, and extra intermediates: the
    certifi/OS bundle, or (tests, local stack) the PEM certificates given, self-signed ones as
    roots and the others as intermediates."""
    return _trust_store(anchor_pem)


@lru_cache(maxsize=4)
def _trust_store(anchor_pem: str) -> tuple[Store, list[x509.Certificate]]:
    if not anchor_pem.strip():
        with warnings.catch_warnings():  # a few bundle roots carry non-positive serial numbers
            warnings.simplefilter("ignore")
            roots = x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes())
        return Store(roots), []
    certificates = x509.load_pem_x509_certificates(anchor_pem.encode("ascii"))
    roots = [c for c in certificates if c.subject == c.issuer]
    return Store(roots), [c for c in certificates if c.subject != c.issuer]


def chain_problem(
    leaf: x509.Certificate,
    extra: list[x509.Certificate],
    anchor_pem: str,
    *,
    now: datetime | None = None,
) -> str | None:
    """None when `leaf` chains to a trusted root and names Microsoft as documented, else why not."""
    store, intermediates = trust_store(anchor_pem)
    verifier = (
        PolicyBuilder()
        .store(store)
        .time(now or datetime.now(UTC))
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, [*extra, *intermediates])
    except VerificationError as exc:
        return f"certificate chain not trusted ({str(exc)[:120]})"
    issuer_orgs = [str(a.value) for a in leaf.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if ISSUER_ORGANIZATION not in issuer_orgs:
        return f"certificate issuer organisation is not {ISSUER_ORGANIZATION}"
    names = [str(a.value).lower() for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not names or not names[0].endswith(SUBJECT_DOMAIN):
        return f"certificate subject is not a {SUBJECT_DOMAIN} name"
    return None


@dataclass(frozen=True)
class _Entry:
    expires_at: float
    certificate: x509.Certificate | None
    problem: str | None


class CertificateCache:
    """Verified signing certificates by URL: at most `max_entries` kept (least recently used
    dropped), each for `ttl_seconds`; a refused or unreadable certificate is remembered for
    `negative_ttl_seconds`; at most `max_fetches_per_minute` downloads, so distinct URLs cannot
    make us fetch without bound."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        ttl_seconds: float = 6 * 3600,
        negative_ttl_seconds: float = 300,
        max_entries: int = 16,
        max_fetches_per_minute: int = 10,
        timeout_seconds: float = 5.0,
        max_bytes: int = 64 * 1024,
        clock: Callable[[], float] = time.monotonic,
        issuer_hosts: tuple[str, ...] = ISSUER_CERTIFICATE_HOSTS,
    ) -> None:
        self._transport = transport
        self._ttl = ttl_seconds
        self._negative_ttl = negative_ttl_seconds
        self._max_entries = max_entries
        self._max_fetches = max_fetches_per_minute
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes
        self._clock = clock
        self._issuer_hosts = issuer_hosts
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._fetch_times: list[float] = []
        self.fetches = 0

    def verified(self, url: str, anchor_pem: str) -> tuple[x509.Certificate | None, str | None]:
        """(certificate, None) when the certificate at `url` is trusted, else (None, why).
        Raises `CertificateUnavailable` when it cannot be fetched right now."""
        key = (url, anchor_pem)
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry.expires_at > self._clock():
                self._entries.move_to_end(key)
                return entry.certificate, entry.problem
            now = self._clock()
            self._fetch_times = [t for t in self._fetch_times if t > now - 60]
            if len(self._fetch_times) >= self._max_fetches:
                raise CertificateUnavailable("certificate fetch budget exhausted (too many distinct urls)")
            self._fetch_times.append(now)
        certificates = self._fetch(url)
        problem = chain_problem(certificates[0], certificates[1:], anchor_pem)
        if problem and (issuer := self._issuer_of(certificates[0])) is not None:
            # The URL served the leaf alone: complete the chain from the leaf's own issuer URL.
            problem = chain_problem(certificates[0], [*certificates[1:], issuer], anchor_pem)
        ttl = self._negative_ttl if problem else self._ttl
        entry = _Entry(self._clock() + ttl, None if problem else certificates[0], problem)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return entry.certificate, entry.problem

    def _issuer_of(self, leaf: x509.Certificate) -> x509.Certificate | None:
        """The intermediate named by the leaf's Authority Information Access "CA Issuers" URL (RFC 5280
        4.2.2.1), fetched only from Microsoft's PKI repository hosts: a certificate URL serving the
        leaf alone would otherwise fail on a root store that lacks the intermediate. The fetched
        certificate is only a candidate: the chain is verified with it as with any other."""
        try:
            access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        except x509.ExtensionNotFound:
            return None
        for description in access:
            location = description.access_location
            if description.access_method != AuthorityInformationAccessOID.CA_ISSUERS or not isinstance(
                location, x509.UniformResourceIdentifier
            ):
                continue
            parts = urlsplit(location.value)
            if parts.scheme in ("http", "https") and (parts.hostname or "").lower() in self._issuer_hosts:
                try:
                    return self._fetch(location.value)[0]
                except CertificateUnavailable:
                    return None
        return None

    def get(self, url: str) -> x509.Certificate:
        """The certificate at `url`, unverified (kept for callers that only need the key)."""
        return self._fetch(url)[0]

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._fetch_times.clear()

    def _fetch(self, url: str) -> list[x509.Certificate]:
        self.fetches += 1
        try:
            with httpx.Client(
                transport=self._transport, timeout=self._timeout, follow_redirects=False
            ) as http:
                response = http.get(url)
        except httpx.HTTPError as exc:
            raise CertificateUnavailable(f"fetching {url} failed: {exc!r}") from None
        if response.status_code != 200:
            raise CertificateUnavailable(f"fetching {url} answered {response.status_code}")
        data = response.content[: self._max_bytes + 1]
        if len(data) > self._max_bytes:
            raise CertificateUnavailable(f"{url} is larger than a certificate")
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                return x509.load_pem_x509_certificates(data)
            return [x509.load_der_x509_certificate(data)]
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


def declared_too_large(headers: Mapping[str, str], settings: Settings) -> bool:
    """True when the declared `Content-Length` exceeds the cap: answer 413 before reading the body."""
    lowered = {name.lower(): value for name, value in headers.items()}
    declared = str(lowered.get("content-length", "")).strip()
    return declared.isdigit() and int(declared) > settings.pc_webhook_max_body_bytes


def receive_event(
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings,
    *,
    certificates: CertificateCache | None = None,
) -> WebhookOutcome:
    """Judge one webhook POST: 413 too large, 401 not authentic, 400 malformed, 202 otherwise
    (with the event for referral events). Nothing here enqueues: the intake does."""
    if declared_too_large(headers, settings) or len(body) > settings.pc_webhook_max_body_bytes:
        return _refuse(413, "body too large", f"body exceeds {settings.pc_webhook_max_body_bytes} bytes")
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        reason = signature_problem(
            body, lowered, settings, certificates if certificates is not None else _default_certificates
        )
    except CertificateUnavailable as exc:
        # We cannot verify right now; 503 makes Partner Center deliver the event again later.
        return _refuse(503, "signing certificate unavailable", str(exc))
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
        reason = "unsupported signature algorithm"
    elif not url:
        reason = "missing x-ms-certificate-url"
    else:
        reason = certificate_url_problem(url, settings.pc_webhook_cert_hosts)
    if reason or not signature:
        return reason
    certificate, problem = certificates.verified(url, settings.pc_webhook_test_trust_anchor_pem)
    if problem or certificate is None:
        return problem or "certificate not trusted"
    return verify_signature(body, signature, certificate)


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
    if referral_id is None or referral_id_problem(referral_id):
        return _refuse(400, "ResourceUri does not end in a referral id (a GUID)")
    try:
        changed_at = datetime.fromisoformat(str(event["ResourceChangeUtcDate"]).replace("Z", "+00:00"))
    except ValueError:
        return _refuse(400, "ResourceChangeUtcDate is not a date")
    if changed_at.tzinfo is None:
        changed_at = changed_at.replace(tzinfo=UTC)
    return WebhookOutcome(202, "accepted", ReferralEvent(name, referral_id, changed_at))


class SampledLog:
    """At most one log line per reason per `window` seconds, carrying how many were seen."""

    def __init__(self, *, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int]] = {}

    def count(self, reason: str) -> int | None:
        """The number to log now (this one included), or None while the window is open."""
        now = self._clock()
        with self._lock:
            started, seen = self._seen.get(reason, (now - self._window, 0))
            if now - started >= self._window:
                self._seen[reason] = (now, 0)
                return seen + 1
            self._seen[reason] = (started, seen + 1)
            return None


_refusals = SampledLog()


def _refuse(status: int, reason: str, detail: str | None = None) -> WebhookOutcome:
    if (count := _refusals.count(f"{status} {reason}")) is not None:
        level = logging.ERROR if status == 503 else logging.WARNING
        log.log(level, "partner center webhook refused with %d: %s (%d in the last minute)%s",
                status, reason, count, f"; {detail}" if detail else "")  # fmt: skip
    return WebhookOutcome(status, reason)

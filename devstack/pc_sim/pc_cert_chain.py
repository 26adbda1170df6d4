"""Which certificate signs the webhooks, and the URL announced in `x-ms-certificate-url`.

Partner Center's webhooks page ("How to authenticate the callback",
https://learn.microsoft.com/partner-center/developer/partner-center-webhooks#how-to-authenticate-the-callback)
says every event is "digitally signed with a certificate that chains to the Microsoft Root", gives
the certificate URL as `https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer`,
and lists the receiver's checks: the required headers, download the certificate from
`x-ms-certificate-url`, verify the certificate chain, verify the certificate's "Organization"
(the sample code checks `Issuer.Contains("O=Microsoft Corporation")`), then the RSA-SHA256 signature.

The simulator therefore holds a test root CA and an intermediate (both `O=Microsoft Corporation`)
and a leaf `CN=pcnotifications-dispatch.microsoft.com, O=Microsoft Corporation` served at a path of
the same shape. The root's PEM is the test-only trust anchor for the app's tests. Alternatives:
`signer="evil"` signs with a self-signed `O=Evil Corp` certificate from the same host, and the URL
can be moved to another host name, path, port or query, so the app's refusals can be tested.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, Field

from devstack.pc_sim.signing import WebhookSigner, issue_certificate, new_key, pem, subject_name

MICROSOFT_ORGANIZATION = "Microsoft Corporation"
LEAF_COMMON_NAME = "pcnotifications-dispatch.microsoft.com"
CERTIFICATE_PATH = f"/cert/{LEAF_COMMON_NAME}.cer"
LEGACY_CERTIFICATE_PATH = "/cert/pcnotifications.cer"
EVIL_CERTIFICATE_PATH = f"/cert/evil/{LEAF_COMMON_NAME}.cer"
INTERMEDIATE_PATH = "/cert/intermediate.cer"
ROOT_PATH = "/cert/root.cer"

SignerName = Literal["microsoft", "evil"]


class CertificateOptions(BaseModel):
    """Who signs and where the announced certificate URL points (None: the signer's own path on
    the simulator's origin)."""

    signer: SignerName = "microsoft"
    host: str | None = Field(default=None, description='e.g. "localhost" instead of 127.0.0.1')
    port: int | None = Field(default=None, ge=1, le=65535)
    path: str | None = Field(default=None, pattern=r"^/")
    query: str | None = Field(default=None, description="appended after '?'")


@dataclass(frozen=True)
class TestPki:
    """A root CA, an intermediate CA, the Microsoft-shaped signing leaf and a forger's identity."""

    root_pem: str
    intermediate_pem: str
    microsoft: WebhookSigner
    evil: WebhookSigner
    root_der: bytes
    intermediate_der: bytes


def build_test_pki() -> TestPki:
    root_key, intermediate_key = new_key(), new_key()
    root = issue_certificate(
        subject_name("Simulated Microsoft Root Certificate Authority 2011", MICROSOFT_ORGANIZATION),
        root_key,
        None,
        ca=True,
        days=3650,
    )
    intermediate = issue_certificate(
        subject_name("Simulated Microsoft Partner Center Issuing CA 01", MICROSOFT_ORGANIZATION),
        intermediate_key,
        (root, root_key),
        ca=True,
        days=365,
    )
    der = serialization.Encoding.DER
    return TestPki(
        root_pem=pem(root),
        intermediate_pem=pem(intermediate),
        microsoft=WebhookSigner(
            LEAF_COMMON_NAME, organization=MICROSOFT_ORGANIZATION, issuer=(intermediate, intermediate_key)
        ),
        evil=WebhookSigner(LEAF_COMMON_NAME, organization="Evil Corp"),
        root_der=root.public_bytes(der),
        intermediate_der=intermediate.public_bytes(der),
    )


class SigningIdentity:
    """The current signer and certificate URL, switchable at run time (thread-safe)."""

    def __init__(self, origin: str, defaults: CertificateOptions | None = None) -> None:
        self._origin = origin
        self._defaults = defaults or CertificateOptions()
        self._lock = threading.Lock()
        self.options = self._defaults
        self.pki = build_test_pki()
        self._directory = Path(tempfile.mkdtemp(prefix="pc-sim-pki-"))
        self.root_pem_path = self._directory / "pc-sim-root-ca.pem"
        self.root_pem_path.write_text(self.pki.root_pem, encoding="ascii")

    def configure(self, options: CertificateOptions) -> None:
        with self._lock:
            self.options = options

    def reset(self) -> None:
        self.configure(self._defaults)

    @property
    def signer(self) -> WebhookSigner:
        return self.pki.evil if self.options.signer == "evil" else self.pki.microsoft

    def own_path(self) -> str:
        return EVIL_CERTIFICATE_PATH if self.options.signer == "evil" else CERTIFICATE_PATH

    def certificate_url(self) -> str:
        options = self.options
        scheme, _, authority = self._origin.partition("://")
        default_host, _, default_port = authority.partition(":")
        url = f"{scheme}://{options.host or default_host}:{options.port or default_port}"
        url += options.path or self.own_path()
        return url + (f"?{options.query}" if options.query else "")

    def certificate_at(self, path: str) -> bytes | None:
        """The DER served at `path` (the configured path serves the current signer's certificate)."""
        fixed = {
            CERTIFICATE_PATH: self.pki.microsoft.certificate_der,
            LEGACY_CERTIFICATE_PATH: self.pki.microsoft.certificate_der,
            EVIL_CERTIFICATE_PATH: self.pki.evil.certificate_der,
            INTERMEDIATE_PATH: self.pki.intermediate_der,
            ROOT_PATH: self.pki.root_der,
        }
        if self.options.path and path == self.options.path:
            return self.signer.certificate_der
        return fixed.get(path)

    def describe(self) -> dict[str, object]:
        return {
            **self.options.model_dump(),
            "certificate_url": self.certificate_url(),
            "root_pem": self.pki.root_pem,
            "root_pem_path": str(self.root_pem_path),
            "intermediate_pem": self.pki.intermediate_pem,
            "leaf_pem": pem(self.pki.microsoft.certificate),
            "evil_pem": pem(self.pki.evil.certificate),
        }

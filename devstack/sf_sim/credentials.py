"""Credentials the simulator accepts: a connected app, an integration user and a JWT key pair with
its self-signed certificate (what an admin uploads to the connected app)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def generate_key_and_certificate() -> tuple[str, str]:
    """(private key PEM, certificate PEM), RSA 2048, valid for a day."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cosell-sync simulator")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class SimCredentials:
    client_id: str = field(default_factory=lambda: "3MVG9sim" + secrets.token_hex(12))
    client_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    username: str = "integration@cosell.example"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(8))
    security_token: str = field(default_factory=lambda: secrets.token_hex(6))
    private_key_pem: str = ""
    certificate_pem: str = ""
    org_id: str = "00D5g0000000001EAA"

    def __post_init__(self) -> None:
        if not self.private_key_pem:
            self.private_key_pem, self.certificate_pem = generate_key_and_certificate()

    def public_key(self) -> object:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode()).public_key()

"""RS256 ID tokens for tests, signed with a locally generated key whose certificate the
stand-ins serve in Google's x509 format, so google-auth verifies them for real."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any


def key_pair() -> tuple[bytes, str]:
    """A private key (PEM) and a self-signed certificate for it (PEM), as Google serves."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-certs")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()


def sign(private_pem: bytes, claims: dict[str, Any], *, key_id: str) -> str:
    from google.auth import crypt, jwt

    signer = crypt.RSASigner.from_string(private_pem, key_id=key_id)
    return jwt.encode(signer, claims).decode()  # type: ignore[no-untyped-call,no-any-return]


def unsigned(claims: dict[str, Any]) -> str:
    """A token whose header says `alg: none`: it must never be accepted."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."

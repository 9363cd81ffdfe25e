"""RS256 ID tokens for tests, signed with a locally generated key whose certificate the
stand-ins serve in Google's x509 format, so google-auth verifies them for real."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from devstack.signin import SignedKey


def key_pair() -> tuple[bytes, str]:
    """A private key (PEM) and a self-signed certificate for it (PEM), as Google serves."""
    key = SignedKey.generate("test-key")
    return key.private_pem, key.certificate_pem


def claims(audience: str, email: str, /, **changes: Any) -> dict[str, Any]:
    """The claims of Google's ID token for `email`, valid for an hour from now; `changes`
    replace claims, and a change to None drops that claim."""
    now = int(time.time())
    base = {
        "iss": "https://accounts.google.com",
        "aud": audience,
        "sub": "112233445566778899",
        "email": email,
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(private_pem: bytes, claims: dict[str, Any], *, key_id: str) -> str:
    from google.auth import crypt, jwt

    signer = crypt.RSASigner.from_string(private_pem, key_id=key_id)
    return jwt.encode(signer, claims).decode()  # type: ignore[no-untyped-call,no-any-return]


def unsigned(claims: dict[str, Any]) -> str:
    """A token whose header says `alg: none`: it must never be accepted."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."

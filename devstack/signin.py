"""The local sign-in stand-in: Google's sign-in for the team console, on the emulator.

The console checks a Google ID token on every API call (RS256, Google's issuer, its own
OAuth client as audience, a verified address in TEAM_EMAILS). Locally there is no
Google, so this issuer, with an RSA key of its own, signs such a token for whatever
address is typed in, and publishes its certificate in Google's x509 format for
TEAM_CERTS_URL; the console then verifies exactly as it does in production, and
TEAM_EMAILS alone decides who gets in. It is served by the stand-ins (`standins.py`):

    POST /signin/token {"email"}   -> {"credential": "<ID token>"}, CORS for the console;
                                      it also remembers the address in a cookie
    POST /signin/auto              -> {"credential"} for the remembered address, or 204
    POST /signin/forget            -> 204, the remembered address forgotten
    GET  /signin/certs             -> {key id: PEM certificate}, as Google serves them

Google keeps a browser signed in with a cookie of its own origin, so that its sign-in
script hands a returning member a fresh token without a click (`auto_select`), until
the page calls `disableAutoSelect` on sign-out. The stand-in does the same: its cookie
lives on its own origin, HttpOnly and only under /signin, and holds a random handle
rather than the address; the console's page never sees it and sets no cookie itself.
The cookie is SameSite=Lax, so it goes with the page's calls only when the console and
the stand-in are the same site: the same host name (ports do not count).

Its certificates are kept apart from the sweep's (`/oauth2/v1/certs`), so that a token
signed here can never pass the sweep's check.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

ISSUE_PATH = "/signin/token"
AUTO_PATH = "/signin/auto"
FORGET_PATH = "/signin/forget"
CERTS_PATH = "/signin/certs"
BROWSER_PATHS = (ISSUE_PATH, AUTO_PATH, FORGET_PATH)
"""What the console's page calls, cross-origin, with the stand-in's cookie."""
COOKIE = "local_signin"
COOKIE_PATH = "/signin"
REMEMBER_SECONDS = 30 * 24 * 3600
"""How long a browser stays signed in, as a Google session lasts weeks."""
LOCAL_CLIENT_ID = "factoryops-console.local"
"""The console's OAuth client id on the local stack: a name, since no Google client exists."""
ISSUER = "https://accounts.google.com"
TOKEN_SECONDS = 3600
"""As Google's: an hour, after which the console asks to sign in again."""


@dataclass
class SignedKey:
    """An RSA key and a self-signed certificate of it, the form Google publishes."""

    key_id: str
    private_pem: bytes
    certificate_pem: str

    @classmethod
    def generate(cls, key_id: str) -> SignedKey:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local sign-in")])
        today = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(today - dt.timedelta(days=1))
            .not_valid_after(today + dt.timedelta(days=30))
            .sign(key, hashes.SHA256())
        )
        return cls(
            key_id=key_id,
            private_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        )


@dataclass
class Issuer:
    """Signs ID tokens for the console's audience with a key made on first use (making
    one takes a moment, and most runs of the stand-ins never sign anybody in)."""

    audience: str = LOCAL_CLIENT_ID
    origins: list[str] = field(default_factory=list)
    """The console origins whose pages may ask for a token (CORS)."""
    key_id: str = "local-signin-1"
    _key: SignedKey | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _remembered: dict[str, str] = field(default_factory=dict, repr=False)
    """Cookie handle -> the address signed in with it."""

    def key(self) -> SignedKey:
        with self._lock:
            if self._key is None:
                self._key = SignedKey.generate(self.key_id)
            return self._key

    def certificates(self) -> dict[str, str]:
        key = self.key()
        return {key.key_id: key.certificate_pem}

    def token(self, email: str, *, now: float | None = None) -> str:
        from google.auth import crypt, jwt

        issued = int(time.time() if now is None else now)
        address = email.strip()
        claims = {
            "iss": ISSUER,
            "aud": self.audience,
            # Google's subject is a stable account number; one per address will do here.
            "sub": str(int(hashlib.sha256(address.lower().encode()).hexdigest()[:15], 16)),
            "email": address,
            "email_verified": True,
            "name": display_name(address),
            "iat": issued,
            "exp": issued + TOKEN_SECONDS,
        }
        key = self.key()
        signer = crypt.RSASigner.from_string(key.private_pem, key_id=key.key_id)  # type: ignore[no-untyped-call]
        return jwt.encode(signer, claims).decode()  # type: ignore[no-untyped-call,no-any-return]

    def allows(self, origin: str | None) -> bool:
        return origin is not None and origin.rstrip("/") in self.origins

    def remember(self, email: str) -> str:
        """A new cookie handle for a browser that signed in as `email`."""
        handle = secrets.token_urlsafe(24)
        with self._lock:
            self._remembered[handle] = email.strip()
        return handle

    def recall(self, handle: str | None) -> str | None:
        """The address a browser's cookie handle signed in as, if any."""
        with self._lock:
            return self._remembered.get(handle or "")

    def forget(self, handle: str | None = None) -> None:
        """Forget one browser's sign-in, or with no handle every browser's."""
        with self._lock:
            if handle is None:
                self._remembered.clear()
            else:
                self._remembered.pop(handle, None)


def display_name(address: str) -> str:
    """A name as Google's token gives one, made from the address: its local part up to
    the first '.', '+' or '-', capitalised (priya.k@… is "Priya")."""
    local = address.strip().partition("@")[0]
    return (re.split(r"[.+-]", local, maxsplit=1)[0] or local).capitalize()


def cookie(handle: str) -> str:
    """The Set-Cookie value that keeps a browser signed in."""
    return (
        f"{COOKIE}={handle}; Path={COOKIE_PATH}; Max-Age={REMEMBER_SECONDS}; HttpOnly; SameSite=Lax"
    )


def expired_cookie() -> str:
    return f"{COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax"


def looks_like_address(value: object) -> bool:
    """Enough of an address to sign: the console's own check decides the rest."""
    if not isinstance(value, str):
        return False
    local, at, domain = value.strip().partition("@")
    return bool(local and at and domain) and len(value) <= 254 and " " not in value.strip()

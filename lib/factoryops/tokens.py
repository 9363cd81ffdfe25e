"""Google-signed ID tokens, as Cloud Scheduler and Google sign-in send them.

google-auth checks a token's signature against Google's certificates, its expiry, and
its audience. The certificates are fetched once and kept for as long as Google's
`Cache-Control: max-age` allows, so a stream of tokens costs no stream of fetches; and a
token that does not even parse as a JWT is refused before any fetch.

A private Cloud Run service checks its callers' ID tokens itself (the invoker IAM
check) and forwards each with its signature replaced by `SIGNATURE_REMOVED_BY_GOOGLE`.
Behind that check (`checked_by_cloud_run`), such a token's claims are checked as a signed
token's are, and its signature is taken as Cloud Run verified it; any other token still
gets the whole check. That trust holds only while the service is private: `deploy.sh
--verify` checks that Cloud Run refuses a call without a token.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, cast

from factoryops import errors, logs
from factoryops.parsers import mailbox

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
GOOGLE_ALGORITHM = "RS256"
"""How Google signs its ID tokens; a forwarded token's header still names it."""
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"
"""What Cloud Run puts in place of the signature of a token its IAM check verified."""
CERTS_TIMEOUT = 5.0
CLOCK_SKEW_SECONDS = 10
NAME_MAX = 100
"""Characters of a display name kept (Google's are shorter; a token is ours to trust)."""
_MAX_AGE = re.compile(r"max-age=(\d+)")


@dataclass(frozen=True)
class _Fetched:
    """What google-auth reads of a certificates response."""

    status: int
    headers: Mapping[str, str]
    data: bytes


@dataclass(frozen=True)
class Caller:
    """Who a checked ID token names: the verified address (case-folded) and, when the token
    carries one, the account's display name (`display_name`)."""

    email: str
    name: str | None = None


_cache: dict[str, tuple[float, _Fetched]] = {}
_cache_lock = threading.Lock()


@functools.cache
def _session() -> Any:
    import requests

    return requests.Session()


def _fetch(url: str, method: str = "GET", **kwargs: Any) -> Any:
    """google-auth's transport for the certificates: cached for their max-age."""
    with _cache_lock:
        cached = _cache.get(url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
    from google.auth.transport import requests as google_requests

    kwargs.setdefault("timeout", CERTS_TIMEOUT)
    response = google_requests.Request(session=_session())(url, method=method, **kwargs)
    fetched = _Fetched(response.status, dict(response.headers), response.data)
    match = _MAX_AGE.search(fetched.headers.get("Cache-Control", "") or "")
    if fetched.status == 200 and match:
        with _cache_lock:
            _cache[url] = (time.monotonic() + int(match.group(1)), fetched)
    return fetched


def forget_certificates() -> None:
    """Drop the cached certificates (tests, and a key rotation seen as a bad signature)."""
    with _cache_lock:
        _cache.clear()


def caller(
    headers: Mapping[str, str],
    *,
    audience: str,
    certs_url: str,
    allowed: Collection[str],
    function: str,
    refusal: str,
    checked_by_cloud_run: bool = False,
) -> Caller:
    """The caller whose Google ID token is in `headers`, if its verified address is one of
    `allowed`, compared exactly as given but for letter case (`parsers.mailbox`: an
    address NFKC would change, or one holding a control character, matches nothing);
    raise Unauthenticated for no or a bad token, AccessDenied with `refusal` for anyone
    else, Unavailable without certificates.
    `checked_by_cloud_run`: the function is private behind Cloud Run's IAM check (`verify`)."""
    token = bearer(headers)
    if token is None:
        logs.caller_refused(function=function, reason="missing")
        raise errors.Unauthenticated()
    claims = verify(
        token,
        audience=audience,
        certs_url=certs_url,
        function=function,
        checked_by_cloud_run=checked_by_cloud_run,
    )
    email = mailbox(str(claims.get("email", "")))
    if (
        claims.get("email_verified") is not True
        or email is None
        or email not in {mailbox(address) for address in allowed}
    ):
        # Nothing of the address, not even a hash of it: it may be a person's, and a
        # plain hash confirms a guess.
        reason = "unverified" if claims.get("email_verified") is not True else "not_allowed"
        logs.caller_refused(function=function, reason=reason)
        raise errors.AccessDenied(refusal)
    return Caller(email, display_name(claims))


def display_name(claims: Mapping[str, Any]) -> str | None:
    """What the visitor sees a member's replies signed with: the account's first name
    (Google's `given_name`), else its `name`; None when the token carries neither."""
    for claim in ("given_name", "name"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:NAME_MAX]
    return None


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer` header (lower-cased names), or None."""
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def verify(
    token: str,
    *,
    audience: str,
    certs_url: str,
    function: str,
    checked_by_cloud_run: bool = False,
) -> Mapping[str, Any]:
    """The claims of a Google-signed ID token for `audience`; raise Unauthenticated for a
    token that does not parse, verify or come from Google, and Unavailable when the
    certificates cannot be fetched. With `checked_by_cloud_run`, a token whose signature
    part is `SIGNATURE_REMOVED` has its claims checked alone (`forwarded_claims`)."""
    if checked_by_cloud_run and token.rpartition(".")[2] == SIGNATURE_REMOVED:
        return forwarded_claims(token, audience=audience, function=function)
    from google.auth import exceptions as auth_exceptions
    from google.auth import jwt
    from google.oauth2 import id_token

    try:
        jwt.decode(token, verify=False)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, auth_exceptions.GoogleAuthError):
        logs.caller_refused(function=function, reason="malformed")
        raise errors.Unauthenticated("The bearer token is not valid.", invalid_token=True) from None
    try:
        claims = id_token.verify_token(
            token,
            cast(Any, _fetch),
            audience=audience,
            certs_url=certs_url or GOOGLE_CERTS_URL,
            clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
        )
    except auth_exceptions.TransportError as exc:
        logs.certificates_unreachable(function=function, error=exc)
        raise errors.Unavailable() from None
    except (ValueError, auth_exceptions.GoogleAuthError):
        logs.caller_refused(function=function, reason="invalid")
        raise errors.Unauthenticated("The bearer token is not valid.", invalid_token=True) from None
    if claims.get("iss") not in GOOGLE_ISSUERS:
        logs.caller_refused(function=function, reason="issuer")
        raise errors.Unauthenticated("The bearer token is not valid.", invalid_token=True)
    return claims


def forwarded_claims(token: str, *, audience: str, function: str) -> Mapping[str, Any]:
    """The claims of a token Cloud Run's IAM check verified and forwarded without its
    signature: its header names Google's algorithm, and its issuer, audience, expiry and
    issue time are checked as google-auth checks a signed token's. Raise Unauthenticated
    otherwise."""
    decoded = _unverified(token)
    if decoded is None or decoded[0].get("alg") != GOOGLE_ALGORITHM:
        logs.caller_refused(function=function, reason="malformed")
        raise errors.Unauthenticated("The bearer token is not valid.", invalid_token=True)
    claims = decoded[1]
    if claims.get("iss") not in GOOGLE_ISSUERS:
        logs.caller_refused(function=function, reason="issuer")
        raise errors.Unauthenticated("The bearer token is not valid.", invalid_token=True)
    now = time.time()
    issued, expires = claims.get("iat"), claims.get("exp")
    timed = all(isinstance(t, int | float) and not isinstance(t, bool) for t in (issued, expires))
    if (
        claims.get("aud") != audience
        or not timed
        or now > cast(float, expires) + CLOCK_SKEW_SECONDS
        or now < cast(float, issued) - CLOCK_SKEW_SECONDS
    ):
        logs.caller_refused(function=function, reason="invalid")
        raise errors.Unauthenticated("The bearer token is not valid.", invalid_token=True)
    return claims


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A JWT's header and claims, read without any check; None when they do not parse."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = (
            json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            for part in parts[:2]
        )
    except ValueError:
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims

"""The secret keys of the project's keyed hashes (and of the signatures on requests to
the Apps Script CRM), and the hashes themselves.

Each key is a secret in Secret Manager that deploy.sh generates and gives, as a pinned
version, to the functions that read it. On the emulator a key left unset is random per
process (nothing outlives the process there). `siteadmin`, which runs on the team's own
machines, reads the privacy-trace key from Secret Manager when it is not set.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
from typing import Any

from factoryops.config import ConfigError, settings

MANAGER_API = "https://secretmanager.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
FETCH_TIMEOUT = 10.0
_fetched: dict[str, bytes] = {}
_fetch_lock = threading.Lock()


@functools.cache
def _process_key(name: str) -> bytes:
    del name  # one random key per name, for the life of this process
    return secrets.token_bytes(32)


def _key(name: str, value: str, *, fetch: bool = False) -> bytes:
    if value:
        return value.encode()
    if settings().emulator_host:
        return _process_key(name)
    if fetch:
        return _from_secret_manager(name)
    raise ConfigError(name, "required outside the emulator (a random secret in Secret Manager)")


def rate_limit() -> bytes:
    return _key("RATE_LIMIT_KEY", settings().rate_limit_key)


def crm_apps_script() -> bytes:
    """The key crm.py signs each request to the Apps Script web app with; the script holds
    the same key in its properties."""
    return _key("CRM_APPS_SCRIPT_KEY", settings().crm_apps_script_key)


def altcha() -> bytes:
    """The key that signs the proof-of-work challenges (proof.py)."""
    return _key("ALTCHA_HMAC_KEY", settings().altcha_hmac_key)


def privacy_trace() -> bytes:
    return _key("PRIVACY_TRACE_KEY", settings().privacy_trace_key, fetch=True)


def keyed_hash(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 of the parts, NUL-separated, as hex."""
    return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def _from_secret_manager(name: str) -> bytes:
    """The newest enabled version of secret `name` in the project, read with application
    default credentials (`gcloud auth application-default login`)."""
    with _fetch_lock:
        if name not in _fetched:
            _fetched[name] = _access(name)
        return _fetched[name]


def _access(name: str) -> bytes:
    import google.auth
    import requests
    from google.auth.transport.requests import AuthorizedSession

    project = settings().project
    url = f"{MANAGER_API}/v1/projects/{project}/secrets/{name}/versions/latest:access"
    how = (
        f"set {name}, or give this account roles/secretmanager.secretAccessor on it "
        f"(gcloud secrets versions access latest --secret={name} --project={project})"
    )
    try:
        credentials, _ = google.auth.default(scopes=SCOPES)
        session: Any = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        response = session.get(url, timeout=FETCH_TIMEOUT)
    except (google.auth.exceptions.GoogleAuthError, requests.RequestException) as exc:
        raise ConfigError(
            name, f"could not be read from Secret Manager ({type(exc).__name__}): {how}"
        ) from None
    if response.status_code != 200:
        raise ConfigError(name, f"Secret Manager answered {response.status_code}: {how}")
    try:
        return base64.b64decode(response.json()["payload"]["data"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(name, "Secret Manager's answer holds no payload") from None

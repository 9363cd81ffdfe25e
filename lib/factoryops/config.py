"""The one typed configuration object, read from the environment once.

A bad value fails at first use with the variable's name; secrets never appear in
`repr` or in logs (they are shown as `<omitted>`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EMAILJS_DEFAULT_ENDPOINT = "https://api.emailjs.com/api/v1.0/email/send"
SHEETS_DEFAULT_ENDPOINT = "https://sheets.googleapis.com/"


class ConfigError(ValueError):
    """A configuration variable holds a value that cannot be used."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


@dataclass(frozen=True)
class RateLimit:
    count: int
    seconds: int


def _secret() -> Any:
    return field(default="", repr=False, metadata={"secret": True})


@dataclass(frozen=True)
class Settings:
    project: str = "demo-factoryops"
    emulator_host: str = ""
    allowed_origins: tuple[str, ...] = ()
    emailjs_endpoint: str = EMAILJS_DEFAULT_ENDPOINT
    emailjs_service_id: str = ""
    emailjs_public_key: str = ""
    emailjs_private_key: str = _secret()
    emailjs_contact_template_id: str = ""
    emailjs_chat_template_id: str = ""
    crm_backend: str = "none"
    crm_spreadsheet_id: str = ""
    crm_sheet_name: str = "Leads"
    sheets_endpoint: str = SHEETS_DEFAULT_ENDPOINT
    crm_apps_script_url: str = _secret()
    site_url: str = "http://localhost:8000"
    retention_days: int = 730
    max_delivery_attempts: int = 8
    contact_rate_limit: RateLimit = RateLimit(5, 600)
    chat_rate_limit: RateLimit = RateLimit(30, 60)
    access_rate_limit: RateLimit = RateLimit(10, 60)
    max_body_bytes: int = 32768
    trusted_proxy_hops: int = 1
    contact_redirect_url: str = ""
    rate_limit_key: str = _secret()
    sweep_audience: str = ""
    sweep_invoker: str = ""
    sweep_auth: bool = True
    sweep_certs_url: str = ""
    chat_max_messages: int = 200

    @property
    def emailjs_configured(self) -> bool:
        return bool(self.emailjs_service_id and self.emailjs_public_key)

    @property
    def crm_configured(self) -> bool:
        if self.crm_backend == "sheets":
            return bool(self.crm_spreadsheet_id)
        if self.crm_backend == "apps_script":
            return bool(self.crm_apps_script_url)
        return False

    @property
    def sheets_is_google(self) -> bool:
        return self.sheets_endpoint.rstrip("/") == SHEETS_DEFAULT_ENDPOINT.rstrip("/")

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict fit for a log line: secrets shown as `<omitted>`."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value:
                value = "<omitted>"
            elif isinstance(value, RateLimit):
                value = f"{value.count}/{value.seconds}"
            out[f.name] = value
        return out


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, "").strip() or default


def _positive_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}")
    return value


def _rate(env: Mapping[str, str], name: str, default: RateLimit) -> RateLimit:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    count, sep, seconds = raw.partition("/")
    try:
        limit = RateLimit(int(count), int(seconds))
    except ValueError:
        raise ConfigError(name, f"expected COUNT/SECONDS such as 5/600, got {raw!r}") from None
    if not sep or limit.count < 1 or limit.seconds < 1:
        raise ConfigError(name, f"expected COUNT/SECONDS such as 5/600, got {raw!r}")
    return limit


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("ALLOWED_ORIGINS", "")
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if not origin.startswith(("https://", "http://")):
            raise ConfigError("ALLOWED_ORIGINS", f"{origin!r} is not an http(s) origin")
    return origins


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _text(env, name, default).lower()
    if value not in choices:
        raise ConfigError(name, f"expected one of {', '.join(choices)}, got {value!r}")
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = _text(env, name, default)
    if value and not value.startswith(("https://", "http://")):
        raise ConfigError(name, f"expected an http(s) URL, got {value!r}")
    return value


def from_env(env: Mapping[str, str]) -> Settings:
    emulator_host = _text(env, "FIRESTORE_EMULATOR_HOST", "")
    sweep_auth = _choice(env, "SWEEP_AUTH", "on", ("on", "off")) == "on"
    if not sweep_auth and not emulator_host:
        raise ConfigError("SWEEP_AUTH", "'off' is only allowed with FIRESTORE_EMULATOR_HOST")
    return Settings(
        project=_text(env, "GOOGLE_CLOUD_PROJECT", "demo-factoryops"),
        emulator_host=emulator_host,
        allowed_origins=_origins(env),
        emailjs_endpoint=_url(env, "EMAILJS_ENDPOINT", EMAILJS_DEFAULT_ENDPOINT),
        emailjs_service_id=_text(env, "EMAILJS_SERVICE_ID", ""),
        emailjs_public_key=_text(env, "EMAILJS_PUBLIC_KEY", ""),
        emailjs_private_key=_text(env, "EMAILJS_PRIVATE_KEY", ""),
        emailjs_contact_template_id=_text(env, "EMAILJS_CONTACT_TEMPLATE_ID", ""),
        emailjs_chat_template_id=_text(env, "EMAILJS_CHAT_TEMPLATE_ID", ""),
        crm_backend=_choice(env, "CRM_BACKEND", "none", ("sheets", "apps_script", "none")),
        crm_spreadsheet_id=_text(env, "CRM_SPREADSHEET_ID", ""),
        crm_sheet_name=_text(env, "CRM_SHEET_NAME", "Leads"),
        sheets_endpoint=_url(env, "SHEETS_ENDPOINT", SHEETS_DEFAULT_ENDPOINT),
        crm_apps_script_url=_url(env, "CRM_APPS_SCRIPT_URL", ""),
        site_url=_url(env, "SITE_URL", "http://localhost:8000").rstrip("/"),
        retention_days=_positive_int(env, "RETENTION_DAYS", 730),
        max_delivery_attempts=_positive_int(env, "MAX_DELIVERY_ATTEMPTS", 8),
        contact_rate_limit=_rate(env, "CONTACT_RATE_LIMIT", RateLimit(5, 600)),
        chat_rate_limit=_rate(env, "CHAT_RATE_LIMIT", RateLimit(30, 60)),
        access_rate_limit=_rate(env, "ACCESS_RATE_LIMIT", RateLimit(10, 60)),
        max_body_bytes=_positive_int(env, "MAX_BODY_BYTES", 32768),
        trusted_proxy_hops=_positive_int(env, "TRUSTED_PROXY_HOPS", 1, minimum=0),
        contact_redirect_url=_url(env, "CONTACT_REDIRECT_URL", ""),
        rate_limit_key=_text(env, "RATE_LIMIT_KEY", ""),
        sweep_audience=_text(env, "SWEEP_AUDIENCE", ""),
        sweep_invoker=_text(env, "SWEEP_INVOKER", ""),
        sweep_auth=sweep_auth,
        sweep_certs_url=_url(env, "SWEEP_CERTS_URL", ""),
        chat_max_messages=_positive_int(env, "CHAT_MAX_MESSAGES", 200),
    )


@functools.cache
def settings() -> Settings:
    """The process's settings, read on first use."""
    return from_env(os.environ)


def reset() -> None:
    """Forget the cached settings (tests and the dev stack change the environment)."""
    settings.cache_clear()

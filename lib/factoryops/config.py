"""The settings the functions read, each declared once, and the one typed object read
from the environment.

A setting's declaration is its field on `Settings`: the environment variable, the
parser, the default and what it means. `from_env` reads the environment through those
declarations, on every cold start, so this module holds nothing else: where a value
comes from at deploy time and which functions get it is `deployment/manifest.py`, which
no function imports or ships.

A bad value fails at first use with the variable's name. Secrets (and the team's
addresses) never appear in `repr` or in a log line: `redacted()` shows them as
`<omitted>`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from factoryops import hours
from factoryops.parsers import (
    ConfigError,
    Parser,
    RateLimit,
    address,
    addresses,
    base_url,
    one_of,
    origins,
    rate,
    team_hours,
    text,
    timezone,
    url,
    whole,
)

# The parsers and types other modules reach through this one (deploy-time settings too).
__all__ = ["ConfigError", "Parser", "RateLimit", "address", "origins", "text", "whole"]

EMAILJS_DEFAULT_ENDPOINT = "https://api.emailjs.com/api/v1.0/email/send"
OMITTED = "<omitted>"

# The functions, by the name of their folder under functions/ (and their entry point).
CONTACT = "contact_submit"
CHAT = "chat_message"
ACCESS = "access_grant"
SWEEP = "retention_sweep"
CONSOLE = "team_console"
FORWARDER = "forward_record"
FUNCTIONS = (CONTACT, CHAT, ACCESS, CONSOLE, SWEEP, FORWARDER)

SWEEP_AUTH_ON, SWEEP_AUTH_IAM, SWEEP_AUTH_OFF = "on", "iam", "off"
"""The sweep's caller check: the token's signature and claims; its claims alone, behind
Cloud Run's IAM check, which verified the signature and replaced it; none (emulator)."""


@dataclass(frozen=True)
class Setting:
    """One declared setting."""

    env: str
    default: Any
    parse: Parser
    meaning: str
    private: bool = False
    """Never logged, even redacted to a summary: secrets and the team's addresses."""


# -- the declarations ----------------------------------------------------------------


def declare(env: str, default: Any, parse: Parser, meaning: str, *, private: bool = False) -> Any:
    """A `Settings` field, carrying its declaration."""
    setting = Setting(env, default, parse, meaning, private)
    return dataclasses.field(default=default, repr=not private, metadata={"setting": setting})


@dataclass(frozen=True)
class Settings:
    project: str = declare(
        "GOOGLE_CLOUD_PROJECT", "demo-factoryops", text, "project id (`demo-…` locally)"
    )
    emulator_host: str = declare(
        "FIRESTORE_EMULATOR_HOST", "", text, "the Firestore emulator, locally and in tests"
    )
    allowed_origins: tuple[str, ...] = declare(
        "ALLOWED_ORIGINS", (), origins, "comma-separated origins allowed by CORS"
    )
    emailjs_endpoint: str = declare(
        "EMAILJS_ENDPOINT", EMAILJS_DEFAULT_ENDPOINT, url, "EmailJS REST endpoint"
    )
    emailjs_service_id: str = declare(
        "EMAILJS_SERVICE_ID", "", text, "EmailJS service; unset: email deliveries are `disabled`"
    )
    emailjs_public_key: str = declare(
        "EMAILJS_PUBLIC_KEY", "", text, "EmailJS public key (`user_id`)"
    )
    emailjs_private_key: str = declare(
        "EMAILJS_PRIVATE_KEY", "", text, "EmailJS private key (`accessToken`)", private=True
    )
    emailjs_contact_template_id: str = declare(
        "EMAILJS_CONTACT_TEMPLATE_ID", "", text, "template of the contact email"
    )
    emailjs_chat_template_id: str = declare(
        "EMAILJS_CHAT_TEMPLATE_ID", "", text, "template of the first chat message"
    )
    crm_apps_script_url: str = declare(
        "CRM_APPS_SCRIPT_URL", "", url, "the web app of the `apps_script` backend", private=True
    )
    crm_apps_script_key: str = declare(
        "CRM_APPS_SCRIPT_KEY",
        "",
        text,
        "key that signs every request to the Apps Script web app (also in its script"
        " properties; random per process on the emulator)",
        private=True,
    )
    site_url: str = declare("SITE_URL", "http://localhost:8000", base_url, "base of per-lead URLs")
    retention_days: int = declare(
        "RETENTION_DAYS",
        730,
        whole(maximum=730, why=": the privacy notice keeps data up to two years"),
        "retention window in days (at most 730)",
    )
    max_delivery_attempts: int = declare(
        "MAX_DELIVERY_ATTEMPTS", 8, whole(), "attempts before a delivery is `failed`"
    )
    contact_rate_limit: RateLimit = declare(
        "CONTACT_RATE_LIMIT", RateLimit(5, 600), rate, "`count/seconds` per client"
    )
    chat_rate_limit: RateLimit = declare(
        "CHAT_RATE_LIMIT",
        RateLimit(30, 60),
        rate,
        "`count/seconds` per client: chat starts and messages",
    )
    chat_poll_rate_limit: RateLimit = declare(
        "CHAT_POLL_RATE_LIMIT",
        RateLimit(120, 60),
        rate,
        "`count/seconds` per client: reading a chat (the widget polls every 4 s per tab)",
    )
    access_rate_limit: RateLimit = declare(
        "ACCESS_RATE_LIMIT", RateLimit(10, 60), rate, "`count/seconds` per client"
    )
    console_refused_limit: RateLimit = declare(
        "CONSOLE_REFUSED_LIMIT",
        RateLimit(20, 600),
        rate,
        "`count/seconds` per client: calls the team console refuses (no, a bad or another's"
        " token) before it answers 429 without checking the token",
    )
    max_body_bytes: int = declare(
        "MAX_BODY_BYTES", 32768, whole(), "request body limit, checked before parsing"
    )
    trusted_proxy_hops: int = declare(
        "TRUSTED_PROXY_HOPS",
        1,
        whole(0),
        "which `X-Forwarded-For` entry from the right is the client",
    )
    contact_redirect_url: str = declare(
        "CONTACT_REDIRECT_URL", "", url, "where a no-JavaScript form post is sent after success"
    )
    rate_limit_key: str = declare(
        "RATE_LIMIT_KEY",
        "",
        text,
        "key of the hashes naming rate-limit counters (random per process on the emulator)",
        private=True,
    )
    privacy_trace_key: str = declare(
        "PRIVACY_TRACE_KEY",
        "",
        text,
        "key of the hash of an address a privacy request's trace keeps (random per process"
        " on the emulator; `siteadmin` reads it from Secret Manager)",
        private=True,
    )
    sweep_audience: str = declare(
        "SWEEP_AUDIENCE", "", text, "the sweep's own URL, its tokens' audience"
    )
    sweep_invoker: str = declare("SWEEP_INVOKER", "", text, "the scheduler's service account")
    sweep_auth: str = declare(
        "SWEEP_AUTH",
        SWEEP_AUTH_ON,
        one_of(SWEEP_AUTH_ON, SWEEP_AUTH_IAM, SWEEP_AUTH_OFF),
        "the sweep's token check: `on`, signature and claims; `iam`, claims only, of a token"
        " Cloud Run's IAM check verified and forwarded with its signature replaced (the"
        " deployed sweep, private); `off` only on the emulator",
    )
    sweep_certs_url: str = declare(
        "SWEEP_CERTS_URL", "", url, "certificates of the sweep's tokens (emulator only)"
    )
    team_emails: tuple[str, ...] = declare(
        "TEAM_EMAILS",
        (),
        addresses,
        "who may use the team console: comma-separated Google accounts",
        private=True,
    )
    team_oauth_client_id: str = declare(
        "TEAM_OAUTH_CLIENT_ID",
        "",
        text,
        "the console's Google OAuth client id, its sign-in tokens' audience",
    )
    team_certs_url: str = declare(
        "TEAM_CERTS_URL",
        "",
        url,
        "certificates of the console's sign-in tokens: the local sign-in stand-in (emulator only)",
    )
    console_url: str = declare(
        "CONSOLE_URL",
        "http://localhost:8086",
        base_url,
        "the team console's address, for the nudge's link",
    )
    emailjs_notify_template_id: str = declare(
        "EMAILJS_NOTIFY_TEMPLATE_ID",
        "",
        text,
        "template of the nudge to the team's inbox; unset: no nudges",
    )
    notify_after: int = declare(
        "NOTIFY_AFTER",
        300,
        whole(),
        "seconds an unanswered visitor message waits before the team is nudged",
    )
    chat_max_messages: int = declare(
        "CHAT_MAX_MESSAGES", 200, whole(), "visitor messages per chat session"
    )
    emailjs_reply_template_id: str = declare(
        "EMAILJS_REPLY_TEMPLATE_ID",
        "",
        text,
        "template of the emails that take the team's unseen chat replies (and a transcript"
        " on close) to the visitor; unset: none are sent",
    )
    reply_email_after: int = declare(
        "REPLY_EMAIL_AFTER",
        180,
        whole(),
        "seconds a team reply waits unseen before it goes to the visitor by email",
    )
    reply_email_every: int = declare(
        "REPLY_EMAIL_EVERY",
        900,
        whole(),
        "seconds between two reply emails of one chat, at the least",
    )
    team_inbox: str = declare(
        "TEAM_INBOX",
        "",
        address,
        "the team's address, the reply emails' `reply_to`; unset: no reply emails",
        private=True,
    )
    team_hours: hours.TeamHours = declare(
        "TEAM_HOURS",
        hours.parse("Mon-Fri 09:00-18:00"),
        team_hours,
        "when the team is in, told to visitors: days (Mon..Sun, ranges or lists) and"
        " 24 h times, `;` between spans",
    )
    team_timezone: str = declare(
        "TEAM_TIMEZONE", "Asia/Kolkata", timezone, "the IANA time zone of TEAM_HOURS"
    )
    altcha_hmac_key: str = declare(
        "ALTCHA_HMAC_KEY",
        "",
        text,
        "key that signs the proof-of-work challenges (random per process on the emulator)",
        private=True,
    )
    altcha_complexity: int = declare(
        "ALTCHA_COMPLEXITY",
        20000,
        whole(1),
        "hashes a visitor's browser may need to solve a challenge (half of it on average)",
    )
    quarantine_days: int = declare(
        "QUARANTINE_DAYS",
        30,
        whole(1, maximum=730),
        "days a quarantined contact post is kept for the team to review",
    )
    spam_threshold: int = declare(
        "SPAM_THRESHOLD",
        5,
        whole(1),
        "score from which a post's content reads as spam (spam.py weighs its signals)",
    )
    forward_budget: int = declare(
        "FORWARD_BUDGET",
        5,
        whole(1),
        "emails sent per hour at most; past it, posts are stored and their emails held for"
        " later hours. 5 suits EmailJS's free plan, 200 emails a month (about 7 a day): a"
        " busy hour's real leads, nudges and replies get through, and a flood needs 40 hours"
        " to spend the month, time to answer the alert",
    )

    @property
    def emailjs_configured(self) -> bool:
        return bool(self.emailjs_service_id and self.emailjs_public_key)

    @property
    def crm_configured(self) -> bool:
        return bool(self.crm_apps_script_url)

    def redacted(self) -> dict[str, str]:
        """The settings by variable name, fit for a log line: private ones `<omitted>`."""
        out: dict[str, str] = {}
        for item in dataclasses.fields(self):
            setting: Setting = item.metadata["setting"]
            value = getattr(self, item.name)
            if setting.private:
                out[setting.env] = OMITTED if value else ""
            elif isinstance(value, tuple):
                out[setting.env] = ",".join(value)
            else:
                out[setting.env] = str(value)
        return out


def declared() -> tuple[Setting, ...]:
    """Every setting the functions read, in declaration order."""
    return tuple(item.metadata["setting"] for item in dataclasses.fields(Settings))


def from_env(env: Mapping[str, str]) -> Settings:
    values: dict[str, Any] = {}
    for item in dataclasses.fields(Settings):
        setting: Setting = item.metadata["setting"]
        raw = env.get(setting.env, "").strip()
        values[item.name] = setting.parse(setting.env, raw) if raw else setting.default
    loaded = Settings(**values)
    if not loaded.emulator_host:
        if loaded.sweep_auth == SWEEP_AUTH_OFF:
            raise ConfigError("SWEEP_AUTH", "'off' is only allowed with FIRESTORE_EMULATOR_HOST")
        # Certificates from anywhere but Google would let anyone mint accepted tokens.
        for name in ("SWEEP_CERTS_URL", "TEAM_CERTS_URL"):
            if env.get(name, "").strip():
                raise ConfigError(name, "is only allowed with FIRESTORE_EMULATOR_HOST")
    return loaded


@functools.cache
def settings() -> Settings:
    """The process's settings, read on first use."""
    return from_env(os.environ)


def reset() -> None:
    """Forget the cached settings (tests and the dev stack change the environment)."""
    settings.cache_clear()

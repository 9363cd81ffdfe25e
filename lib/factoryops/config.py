"""Every setting, declared once, and the one typed object read from the environment.

A setting's declaration is its field on `Settings`: the environment variable, the
parser, the default, what it means, where its value comes from (`Source`) and which
functions read it. `from_env` reads the environment through those declarations;
deploy.sh asks them which variables and secrets each function gets; the README's
configuration table and `deploy.env.example` are checked against them by tests.

A bad value fails at first use with the variable's name. Secrets (and the team's
addresses) never appear in `repr` or in a log line: `redacted()` shows them as
`<omitted>`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

EMAILJS_DEFAULT_ENDPOINT = "https://api.emailjs.com/api/v1.0/email/send"
OMITTED = "<omitted>"

# The functions, by the name of their folder under functions/ (and their entry point).
CONTACT = "contact_submit"
CHAT = "chat_message"
ACCESS = "access_grant"
SWEEP = "retention_sweep"
CONSOLE = "team_console"
FUNCTIONS = (CONTACT, CHAT, ACCESS, CONSOLE, SWEEP)
PUBLIC = (CONTACT, CHAT, ACCESS)
"""Called from visitors' browsers; the sweep is called by Cloud Scheduler only, the
console by the team (behind Google sign-in)."""
SENDERS = (CONTACT, CHAT, SWEEP)
"""The functions that forward records by email and to the CRM."""
TEAM_TOOLS = (CONSOLE,)
"""What the team works through besides `siteadmin`: it reads and changes every store."""
CRM_USERS = (*SENDERS, *TEAM_TOOLS)
"""The functions that read or change CRM rows (the console answers privacy requests)."""


class ConfigError(ValueError):
    """A configuration variable holds a value that cannot be used."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


class Source(enum.Enum):
    """Where a setting's value comes from in production."""

    DEPLOY_ENV = "deploy.env"
    """deploy.env (or the environment of deploy.sh), given to the functions that read it."""
    SECRET = "Secret Manager"  # noqa: S105 (where the value lives, not the value)
    """A secret, given to the functions that read it as a pinned version; never in a file."""
    DEPLOY_SH = "set by deploy.sh"
    """Worked out by deploy.sh itself (the project, the sweep's own URL and caller)."""
    LOCAL = "local only"
    """The emulator, stand-ins and tests; deploy.sh refuses it in deploy.env."""
    DEPLOYMENT = "deployment"
    """Read by deploy.sh alone, to shape the deployment; no function reads it."""


@dataclass(frozen=True)
class RateLimit:
    count: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds}"


Parser = Callable[[str, str], Any]
"""(variable name, trimmed non-empty value) -> the typed value, or ConfigError."""


@dataclass(frozen=True)
class Setting:
    """One declared setting."""

    env: str
    default: Any
    parse: Parser
    meaning: str
    source: Source
    functions: tuple[str, ...] = ()
    when: str = ""
    """For a secret: the setting (`NAME`, or `NAME=value`) without which no function needs it."""
    private: bool = False
    """Never logged, even redacted to a summary: secrets and the team's addresses."""
    required: bool = False
    """A deployment must set it (deploy.sh stops before changing anything otherwise)."""

    @property
    def secret(self) -> bool:
        return self.source is Source.SECRET

    def needed(self, values: Mapping[str, str]) -> bool:
        """Whether a deployment with these values needs this setting (see `when`)."""
        if not self.when:
            return True
        name, equals, wanted = self.when.partition("=")
        given = values.get(name, "").strip()
        return bool(given == wanted) if equals else bool(given)

    def shown_default(self) -> str:
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        if isinstance(self.default, tuple):
            return ",".join(self.default)
        return str(self.default)


# -- parsers -------------------------------------------------------------------------


def text(name: str, raw: str) -> str:
    del name
    return raw


def whole(minimum: int = 1, maximum: int | None = None, why: str = "") -> Parser:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(name, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise ConfigError(name, f"must be at most {maximum}{why}")
        return value

    return parse


def rate(name: str, raw: str) -> RateLimit:
    count, sep, seconds = raw.partition("/")
    problem = f"expected COUNT/SECONDS such as 5/600, got {raw!r}"
    try:
        limit = RateLimit(int(count), int(seconds))
    except ValueError:
        raise ConfigError(name, problem) from None
    if not sep or limit.count < 1 or limit.seconds < 1:
        raise ConfigError(name, problem)
    return limit


def url(name: str, raw: str) -> str:
    if not raw.startswith(("https://", "http://")):
        raise ConfigError(name, f"expected an http(s) URL, got {raw!r}")
    return raw


def base_url(name: str, raw: str) -> str:
    """A URL that paths are appended to: without its trailing slash."""
    return url(name, raw).rstrip("/")


def origins(name: str, raw: str) -> tuple[str, ...]:
    found = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in found:
        if not origin.startswith(("https://", "http://")):
            raise ConfigError(name, f"{origin!r} is not an http(s) origin")
    return found


def choice(*choices: str) -> Parser:
    def parse(name: str, raw: str) -> str:
        value = raw.lower()
        if value not in choices:
            raise ConfigError(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def addresses(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated email addresses, compared case-insensitively (so kept lower-case)."""
    found = tuple(a.strip().lower() for a in raw.split(",") if a.strip())
    for address in found:
        local, at, domain = address.partition("@")
        if not (local and at and "." in domain) or " " in address:
            raise ConfigError(name, "expected comma-separated email addresses")
    return found


def switch(name: str, raw: str) -> bool:
    value: str = choice("on", "off")(name, raw)
    return value == "on"


# -- the declarations ----------------------------------------------------------------


def declare(
    env: str,
    default: Any,
    parse: Parser,
    meaning: str,
    source: Source,
    functions: tuple[str, ...] = FUNCTIONS,
    *,
    when: str = "",
    private: bool = False,
    required: bool = False,
) -> Any:
    """A `Settings` field, carrying its declaration."""
    private = private or source is Source.SECRET
    setting = Setting(env, default, parse, meaning, source, functions, when, private, required)
    return dataclasses.field(
        default=default, repr=not setting.private, metadata={"setting": setting}
    )


@dataclass(frozen=True)
class Settings:
    project: str = declare(
        "GOOGLE_CLOUD_PROJECT",
        "demo-factoryops",
        text,
        "project id (`demo-…` locally)",
        Source.DEPLOY_SH,
    )
    emulator_host: str = declare(
        "FIRESTORE_EMULATOR_HOST",
        "",
        text,
        "the Firestore emulator, locally and in tests",
        Source.LOCAL,
    )
    allowed_origins: tuple[str, ...] = declare(
        "ALLOWED_ORIGINS",
        (),
        origins,
        "comma-separated origins allowed by CORS",
        Source.DEPLOY_ENV,
        PUBLIC,
        required=True,
    )
    emailjs_endpoint: str = declare(
        "EMAILJS_ENDPOINT",
        EMAILJS_DEFAULT_ENDPOINT,
        url,
        "EmailJS REST endpoint",
        Source.DEPLOY_ENV,
        SENDERS,
    )
    emailjs_service_id: str = declare(
        "EMAILJS_SERVICE_ID",
        "",
        text,
        "EmailJS service; unset: email deliveries are `disabled`",
        Source.DEPLOY_ENV,
        SENDERS,
    )
    emailjs_public_key: str = declare(
        "EMAILJS_PUBLIC_KEY", "", text, "EmailJS public key (`user_id`)", Source.DEPLOY_ENV, SENDERS
    )
    emailjs_private_key: str = declare(
        "EMAILJS_PRIVATE_KEY",
        "",
        text,
        "EmailJS private key (`accessToken`)",
        Source.SECRET,
        SENDERS,
        when="EMAILJS_SERVICE_ID",
    )
    emailjs_contact_template_id: str = declare(
        "EMAILJS_CONTACT_TEMPLATE_ID",
        "",
        text,
        "template of the contact email",
        Source.DEPLOY_ENV,
        (CONTACT, SWEEP),
    )
    emailjs_chat_template_id: str = declare(
        "EMAILJS_CHAT_TEMPLATE_ID",
        "",
        text,
        "template of the first chat message",
        Source.DEPLOY_ENV,
        (CHAT, SWEEP),
    )
    crm_apps_script_url: str = declare(
        "CRM_APPS_SCRIPT_URL",
        "",
        url,
        "the web app of the `apps_script` backend",
        Source.SECRET,
        CRM_USERS,
    )
    crm_apps_script_key: str = declare(
        "CRM_APPS_SCRIPT_KEY",
        "",
        text,
        "key that signs every request to the Apps Script web app (also in its script"
        " properties; random per process on the emulator)",
        Source.SECRET,
        CRM_USERS,
    )
    site_url: str = declare(
        "SITE_URL",
        "http://localhost:8000",
        base_url,
        "base of per-lead URLs",
        Source.DEPLOY_ENV,
        TEAM_TOOLS,
    )
    retention_days: int = declare(
        "RETENTION_DAYS",
        730,
        whole(maximum=730, why=": the privacy notice keeps data up to two years"),
        "retention window in days (at most 730)",
        Source.DEPLOY_ENV,
    )
    max_delivery_attempts: int = declare(
        "MAX_DELIVERY_ATTEMPTS",
        8,
        whole(),
        "attempts before a delivery is `failed`",
        Source.DEPLOY_ENV,
        SENDERS,
    )
    contact_rate_limit: RateLimit = declare(
        "CONTACT_RATE_LIMIT",
        RateLimit(5, 600),
        rate,
        "`count/seconds` per client",
        Source.DEPLOY_ENV,
        (CONTACT,),
    )
    chat_rate_limit: RateLimit = declare(
        "CHAT_RATE_LIMIT",
        RateLimit(30, 60),
        rate,
        "`count/seconds` per client: chat starts and messages",
        Source.DEPLOY_ENV,
        (CHAT,),
    )
    chat_poll_rate_limit: RateLimit = declare(
        "CHAT_POLL_RATE_LIMIT",
        RateLimit(120, 60),
        rate,
        "`count/seconds` per client: reading a chat (the widget polls every 4 s per tab)",
        Source.DEPLOY_ENV,
        (CHAT,),
    )
    access_rate_limit: RateLimit = declare(
        "ACCESS_RATE_LIMIT",
        RateLimit(10, 60),
        rate,
        "`count/seconds` per client",
        Source.DEPLOY_ENV,
        (ACCESS,),
    )
    max_body_bytes: int = declare(
        "MAX_BODY_BYTES",
        32768,
        whole(),
        "request body limit, checked before parsing",
        Source.DEPLOY_ENV,
    )
    trusted_proxy_hops: int = declare(
        "TRUSTED_PROXY_HOPS",
        1,
        whole(0),
        "which `X-Forwarded-For` entry from the right is the client",
        Source.DEPLOY_ENV,
    )
    contact_redirect_url: str = declare(
        "CONTACT_REDIRECT_URL",
        "",
        url,
        "where a no-JavaScript form post is sent after success",
        Source.DEPLOY_ENV,
        (CONTACT,),
    )
    rate_limit_key: str = declare(
        "RATE_LIMIT_KEY",
        "",
        text,
        "key of the hashes naming rate-limit counters (random per process on the emulator)",
        Source.SECRET,
        PUBLIC,
    )
    privacy_trace_key: str = declare(
        "PRIVACY_TRACE_KEY",
        "",
        text,
        "key of the hash of an address a privacy request's trace keeps (random per process"
        " on the emulator; `siteadmin` reads it from Secret Manager)",
        Source.SECRET,
        TEAM_TOOLS,
    )
    sweep_audience: str = declare(
        "SWEEP_AUDIENCE",
        "",
        text,
        "the sweep's own URL, its tokens' audience",
        Source.DEPLOY_SH,
        (SWEEP,),
    )
    sweep_invoker: str = declare(
        "SWEEP_INVOKER", "", text, "the scheduler's service account", Source.DEPLOY_SH, (SWEEP,)
    )
    sweep_auth: bool = declare(
        "SWEEP_AUTH",
        True,
        switch,
        "the sweep's token check; `off` only on the emulator",
        Source.LOCAL,
        (SWEEP,),
    )
    sweep_certs_url: str = declare(
        "SWEEP_CERTS_URL",
        "",
        url,
        "certificates of the sweep's tokens (emulator only)",
        Source.LOCAL,
        (SWEEP,),
    )
    team_emails: tuple[str, ...] = declare(
        "TEAM_EMAILS",
        (),
        addresses,
        "who may use the team console: comma-separated Google accounts",
        Source.DEPLOY_ENV,
        TEAM_TOOLS,
        private=True,
    )
    team_oauth_client_id: str = declare(
        "TEAM_OAUTH_CLIENT_ID",
        "",
        text,
        "the console's Google OAuth client id, its sign-in tokens' audience",
        Source.DEPLOY_ENV,
        TEAM_TOOLS,
    )
    team_certs_url: str = declare(
        "TEAM_CERTS_URL",
        "",
        url,
        "certificates of the console's sign-in tokens: the local sign-in stand-in (emulator only)",
        Source.LOCAL,
        TEAM_TOOLS,
    )
    console_url: str = declare(
        "CONSOLE_URL",
        "http://localhost:8086",
        base_url,
        "the team console's address, for the nudge's link",
        Source.DEPLOY_SH,
        (SWEEP,),
    )
    emailjs_notify_template_id: str = declare(
        "EMAILJS_NOTIFY_TEMPLATE_ID",
        "",
        text,
        "template of the nudge to the team's inbox; unset: no nudges",
        Source.DEPLOY_ENV,
        (CHAT, SWEEP),
    )
    notify_after: int = declare(
        "NOTIFY_AFTER",
        300,
        whole(),
        "seconds an unanswered visitor message waits before the team is nudged",
        Source.DEPLOY_ENV,
        (CHAT,),
    )
    chat_max_messages: int = declare(
        "CHAT_MAX_MESSAGES",
        200,
        whole(),
        "visitor messages per chat session",
        Source.DEPLOY_ENV,
        (CHAT,),
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


_ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>.]+(\.[^@\s,;<>.]+)+")


def email_address(name: str, raw: str) -> str:
    """One address, as a notification channel takes it: no name, list or brackets."""
    if not _ADDRESS.fullmatch(raw):
        raise ConfigError(name, f"expected one email address, got {raw!r}")
    return raw


def _deployment(env: str, meaning: str, default: str = "", parse: Parser = text) -> Setting:
    return Setting(env, default, parse, meaning, Source.DEPLOYMENT, ())


DEPLOYMENT_SETTINGS = (
    *(
        _deployment(f"MAX_INSTANCES_{name.upper()}", f"most instances of {name}", str(n))
        for name, n in ((CONTACT, 10), (CHAT, 20), (ACCESS, 10), (SWEEP, 2), (CONSOLE, 2))
    ),
    _deployment(
        "BUILD_SERVICE_ACCOUNT",
        "the account Cloud Build builds the functions as, as an email (given the builder role)",
        "the project's default compute account",
        email_address,
    ),
    _deployment(
        "ALERT_EMAIL",
        "where Cloud Monitoring emails alerts (failed deliveries, missed sweeps, 5xx answers)",
        "no alerts (the plan says so)",
        email_address,
    ),
)
"""Settings of deploy.sh itself. A supplied secret NAME also has NAME_FILE (see `secret_files`)."""


def declared() -> tuple[Setting, ...]:
    """Every setting the functions read, in declaration order."""
    return tuple(item.metadata["setting"] for item in dataclasses.fields(Settings))


def secret_files() -> tuple[Setting, ...]:
    """NAME_FILE for each secret that the team supplies (RATE_LIMIT_KEY is generated)."""
    return tuple(
        _deployment(f"{s.env}_FILE", f"a file holding {s.env}, read when it has no version yet")
        for s in declared()
        if s.secret and s.env not in GENERATED_SECRETS
    )


GENERATED_SECRETS = ("RATE_LIMIT_KEY", "CRM_APPS_SCRIPT_KEY", "PRIVACY_TRACE_KEY")
"""Secrets deploy.sh makes itself (random bytes) on the first deployment."""


def from_env(env: Mapping[str, str]) -> Settings:
    values: dict[str, Any] = {}
    for item in dataclasses.fields(Settings):
        setting: Setting = item.metadata["setting"]
        raw = env.get(setting.env, "").strip()
        values[item.name] = setting.parse(setting.env, raw) if raw else setting.default
    loaded = Settings(**values)
    if not loaded.emulator_host:
        if not loaded.sweep_auth:
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

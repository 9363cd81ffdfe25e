"""What deploy.sh does with each setting: where its value comes from and which functions
get it, keyed by variable; and deploy.sh's own settings, which no function reads.

`factoryops.config` declares what a setting is (variable, parser, default, meaning);
it is imported on every cold start, so the deployment's facts live here instead, where
no function imports them and no bundle carries them. `variables()` joins the two for
deployment/plan.py; a test holds them to the same variables.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from factoryops import config, store
from factoryops.config import (
    ACCESS,
    CHAT,
    CONSOLE,
    CONTACT,
    FORWARDER,
    FUNCTIONS,
    SWEEP,
    ConfigError,
    Parser,
    Setting,
    text,
)

PUBLIC = (CONTACT, CHAT, ACCESS)
"""Called from visitors' browsers; the sweep is called by Cloud Scheduler only, the
forwarder by Eventarc only, the console by the team (behind Google sign-in)."""
EVENT_DRIVEN = (FORWARDER,)
"""Called by Eventarc when Firestore reports a write (`TRIGGERS`), and by nobody else."""
RECORDERS = (CONTACT, CHAT)
"""The functions that store records with their deliveries pending: they send nothing,
and read only whether each channel is configured (a channel that is not is `disabled`)."""
SENDERS = (SWEEP, FORWARDER)
"""The functions that forward records by email and to the CRM: the forwarder as soon as
a record is written, the sweep whatever is left (retries, and what no event reached)."""
TEAM_TOOLS = (CONSOLE,)
"""What the team works through besides `siteadmin`: it reads and changes every store."""
CRM_USERS = (*SENDERS, *TEAM_TOOLS)
"""The functions that read or change CRM rows (the console answers privacy requests)."""


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
class Deploy:
    """How one variable is deployed."""

    source: Source
    functions: tuple[str, ...] = FUNCTIONS
    """The functions that read it: each is given only these."""
    when: str = ""
    """For a secret: the setting without which no function needs it."""
    required: bool = False
    """A deployment must set it (deploy.sh stops before changing anything otherwise)."""

    @property
    def secret(self) -> bool:
        return self.source is Source.SECRET

    def needed(self, values: Mapping[str, str]) -> bool:
        """Whether a deployment with these values needs this variable (see `when`)."""
        return not self.when or bool(values.get(self.when, "").strip())


MANIFEST: dict[str, Deploy] = {
    "GOOGLE_CLOUD_PROJECT": Deploy(Source.DEPLOY_SH),
    "FIRESTORE_EMULATOR_HOST": Deploy(Source.LOCAL),
    "ALLOWED_ORIGINS": Deploy(Source.DEPLOY_ENV, PUBLIC, required=True),
    "EMAILJS_ENDPOINT": Deploy(Source.DEPLOY_ENV, SENDERS),
    # access_grant schedules the link-opened note, the console the reply emails.
    "EMAILJS_SERVICE_ID": Deploy(Source.DEPLOY_ENV, (*RECORDERS, ACCESS, CONSOLE, *SENDERS)),
    "EMAILJS_PUBLIC_KEY": Deploy(Source.DEPLOY_ENV, (*RECORDERS, ACCESS, CONSOLE, *SENDERS)),
    "EMAILJS_PRIVATE_KEY": Deploy(Source.SECRET, SENDERS, when="EMAILJS_SERVICE_ID"),
    "EMAILJS_CONTACT_TEMPLATE_ID": Deploy(Source.DEPLOY_ENV, SENDERS),
    "EMAILJS_CHAT_TEMPLATE_ID": Deploy(Source.DEPLOY_ENV, SENDERS),
    # The recorders read the URL only to know whether a CRM is configured.
    "CRM_APPS_SCRIPT_URL": Deploy(Source.SECRET, (*RECORDERS, *CRM_USERS)),
    "CRM_APPS_SCRIPT_KEY": Deploy(Source.SECRET, CRM_USERS),
    "SITE_URL": Deploy(Source.DEPLOY_ENV, (*TEAM_TOOLS, SWEEP)),
    "RETENTION_DAYS": Deploy(Source.DEPLOY_ENV),
    "MAX_DELIVERY_ATTEMPTS": Deploy(Source.DEPLOY_ENV, SENDERS),
    "CONTACT_RATE_LIMIT": Deploy(Source.DEPLOY_ENV, (CONTACT,)),
    "CHAT_RATE_LIMIT": Deploy(Source.DEPLOY_ENV, (CHAT,)),
    "CHAT_POLL_RATE_LIMIT": Deploy(Source.DEPLOY_ENV, (CHAT,)),
    "ACCESS_RATE_LIMIT": Deploy(Source.DEPLOY_ENV, (ACCESS,)),
    "CONSOLE_REFUSED_LIMIT": Deploy(Source.DEPLOY_ENV, TEAM_TOOLS),
    "MAX_BODY_BYTES": Deploy(Source.DEPLOY_ENV),
    "TRUSTED_PROXY_HOPS": Deploy(Source.DEPLOY_ENV),
    "CONTACT_REDIRECT_URL": Deploy(Source.DEPLOY_ENV, (CONTACT,)),
    # The console names the counters of its refused calls with it.
    "RATE_LIMIT_KEY": Deploy(Source.SECRET, (*PUBLIC, *TEAM_TOOLS)),
    "PRIVACY_TRACE_KEY": Deploy(Source.SECRET, TEAM_TOOLS),
    "SWEEP_AUDIENCE": Deploy(Source.DEPLOY_SH, (SWEEP,)),
    "SWEEP_INVOKER": Deploy(Source.DEPLOY_SH, (SWEEP,)),
    # `iam`: the deployed sweep is private, and Cloud Run's IAM check replaces the
    # signature of the token it verified before the function sees it.
    "SWEEP_AUTH": Deploy(Source.DEPLOY_SH, (SWEEP,)),
    "SWEEP_CERTS_URL": Deploy(Source.LOCAL, (SWEEP,)),
    "TEAM_EMAILS": Deploy(Source.DEPLOY_ENV, TEAM_TOOLS),
    "TEAM_OAUTH_CLIENT_ID": Deploy(Source.DEPLOY_ENV, TEAM_TOOLS),
    "TEAM_CERTS_URL": Deploy(Source.LOCAL, TEAM_TOOLS),
    "CONSOLE_URL": Deploy(Source.DEPLOY_SH, (SWEEP,)),
    "EMAILJS_NOTIFY_TEMPLATE_ID": Deploy(Source.DEPLOY_ENV, (CHAT, ACCESS, SWEEP)),
    "NOTIFY_AFTER": Deploy(Source.DEPLOY_ENV, (CHAT,)),
    "CHAT_MAX_MESSAGES": Deploy(Source.DEPLOY_ENV, (CHAT,)),
    # Team replies are written by the console (and siteadmin); the sweep sends them.
    "EMAILJS_REPLY_TEMPLATE_ID": Deploy(Source.DEPLOY_ENV, (CONSOLE, SWEEP)),
    "REPLY_EMAIL_AFTER": Deploy(Source.DEPLOY_ENV, (CONSOLE,)),
    "REPLY_EMAIL_EVERY": Deploy(Source.DEPLOY_ENV, (CONSOLE,)),
    "TEAM_INBOX": Deploy(Source.DEPLOY_ENV, (CONSOLE, SWEEP)),
    "TEAM_HOURS": Deploy(Source.DEPLOY_ENV, (CONTACT, CHAT)),
    "TEAM_TIMEZONE": Deploy(Source.DEPLOY_ENV, (CONTACT, CHAT)),
    "ALTCHA_HMAC_KEY": Deploy(Source.SECRET, RECORDERS),
    "ALTCHA_COMPLEXITY": Deploy(Source.DEPLOY_ENV, RECORDERS),
    # The console and siteadmin show a quarantined post's end, and release it.
    "QUARANTINE_DAYS": Deploy(Source.DEPLOY_ENV, (CONTACT, *TEAM_TOOLS)),
    "SPAM_THRESHOLD": Deploy(Source.DEPLOY_ENV, RECORDERS),
    "FORWARD_BUDGET": Deploy(Source.DEPLOY_ENV, (*SENDERS, *TEAM_TOOLS)),
}
"""Every setting `factoryops.config` declares, by variable."""

GENERATED_SECRETS = (
    "RATE_LIMIT_KEY",
    "CRM_APPS_SCRIPT_KEY",
    "PRIVACY_TRACE_KEY",
    "ALTCHA_HMAC_KEY",
)
"""Secrets deploy.sh makes itself (random bytes) on the first deployment."""


# -- the forwarder's triggers --------------------------------------------------------

FIRESTORE_EVENT = "google.cloud.firestore.document.v1."
DATABASE = "(default)"
EVENT_DATA_CONTENT_TYPE = "application/protobuf"
"""How Eventarc sends a Firestore event's data: a `DocumentEventData` message."""


@dataclass(frozen=True)
class Trigger:
    """An Eventarc trigger that calls the forwarder when Firestore reports a write."""

    name: str
    event: str
    """The CloudEvent type (google.cloud.firestore.document.v1.*)."""
    collection: str
    wildcard: str
    function: str = FORWARDER

    @property
    def document(self) -> str:
        """The trigger's path pattern: any document of the collection."""
        return f"{self.collection}/{{{self.wildcard}}}"


TRIGGERS = (
    # `written`, for both: a quarantined contact post is sent once the team releases it,
    # and a chat's first message may come after its start, as an update.
    Trigger(
        "forward-contact-submissions",
        FIRESTORE_EVENT + "written",
        store.CONTACT_SUBMISSIONS,
        "record",
    ),
    Trigger(
        "forward-chat-sessions",
        FIRESTORE_EVENT + "written",
        store.CHAT_SESSIONS,
        "session",
    ),
)
"""The events forwarding.py handles, one trigger each (a function deployed with
--trigger-event-filters takes one trigger only, hence triggers of their own)."""


@dataclass(frozen=True)
class Variable:
    """A variable deploy.sh handles: what it is, and how it is deployed."""

    setting: Setting
    deploy: Deploy

    @property
    def env(self) -> str:
        return self.setting.env


def variables() -> tuple[Variable, ...]:
    """Every setting the functions read, in declaration order, with its manifest entry."""
    declared = config.declared()
    unplaced = [s.env for s in declared if s.env not in MANIFEST]
    if unplaced:
        raise LookupError(f"no entry in deployment/manifest.py for {', '.join(unplaced)}")
    return tuple(Variable(s, MANIFEST[s.env]) for s in declared)


# -- deploy.sh's own settings ------------------------------------------------------------

_ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>.]+(\.[^@\s,;<>.]+)+")


def email_address(name: str, raw: str) -> str:
    """One address, as a notification channel takes it: no name, list or brackets."""
    if not _ADDRESS.fullmatch(raw):
        raise ConfigError(name, f"expected one email address, got {raw!r}")
    return raw


def _own(env: str, meaning: str, default: str = "", parse: Parser = text) -> Variable:
    return Variable(Setting(env, default, parse, meaning), Deploy(Source.DEPLOYMENT, ()))


DEPLOYMENT_SETTINGS = (
    *(
        _own(f"MAX_INSTANCES_{name.upper()}", f"most instances of {name}", str(n))
        for name, n in (
            (CONTACT, 10),
            (CHAT, 20),
            (ACCESS, 10),
            (SWEEP, 2),
            (CONSOLE, 2),
            (FORWARDER, 2),
        )
    ),
    # With MAX_INSTANCES_FORWARD_RECORD, the most sends EmailJS (about one email a second)
    # and the Apps Script web app (a few executions at once) see from the forwarder.
    _own(
        f"CONCURRENCY_{FORWARDER.upper()}",
        f"events one instance of {FORWARDER} handles at once (on one vCPU)",
        "4",
        config.whole(1, 8, ": one vCPU, and EmailJS takes about one email a second"),
    ),
    _own(
        "BUILD_SERVICE_ACCOUNT",
        "the account Cloud Build builds the functions as, as an email (given the builder role)",
        "the project's default compute account",
        email_address,
    ),
    _own(
        "ALERT_EMAIL",
        "where Cloud Monitoring emails alerts (failed deliveries, missed sweeps, 5xx answers,"
        " emails held by the hourly budget)",
        "no alerts (the plan says so)",
        email_address,
    ),
)
"""Settings of deploy.sh itself. A supplied secret NAME also has NAME_FILE (see `secret_files`)."""


def secret_files() -> tuple[Variable, ...]:
    """NAME_FILE for each secret that the team supplies (RATE_LIMIT_KEY is generated)."""
    return tuple(
        _own(f"{v.env}_FILE", f"a file holding {v.env}, read when it has no version yet")
        for v in variables()
        if v.deploy.secret and v.env not in GENERATED_SECRETS
    )

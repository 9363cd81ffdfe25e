"""Every log line the project writes, each behind a named function.

The convention that keeps personal data out of the logs (no email, name, message text,
token, session id or IP): a line is written only through one of the functions below,
and each takes keyword-only arguments of four sorts and no other:

- names from a fixed vocabulary of the code's own (function, kind, channel, state,
  reason, author, task names);
- ids the code minted itself (a record's random id, a chat's lead id, the first
  characters of a grant's hash), never an id a visitor holds as a secret, nor a hash
  of anything a person gave (a plain hash confirms a guess);
- numbers, booleans and counts;
- an exception, which is logged as its class name only (`error_name`): an exception's
  text may quote what a visitor sent.

A new message is a new function here, of the same sorts; `tests/test_logs.py` fails on
a parameter that is not one of them. Lines are JSON in Cloud Logging's shape, with
`severity`.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from factoryops.errors import DownstreamError

_LOGGER_NAME = "factoryops"
_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": record.getMessage(),
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[1] is not None:
            entry["stack_trace"] = stack_trace(record.exc_info[1])
        return json.dumps(entry, default=str)


def stack_trace(exc: BaseException) -> str:
    """The traceback's frames and the exception's class, without its text (which may
    quote a visitor's input)."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"Traceback (most recent call last):\n{frames}{error_name(exc)}"


def logger() -> logging.Logger:
    log = logging.getLogger(_LOGGER_NAME)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = True
    return log


class WordsFormatter(logging.Formatter):
    """A line for a person at a terminal: `warning: delivery pending (channel email)`."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        detail = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in fields.items())
        line = f"{record.levelname.lower()}: {record.getMessage()}"
        return f"{line} ({detail})" if detail else line


def to_terminal(stream: Any = None) -> None:
    """Log for a person reading a terminal (`siteadmin`): warnings and worse, in words,
    instead of the JSON lines meant for Cloud Logging."""
    log = logging.getLogger(_LOGGER_NAME)
    for handler in list(log.handlers):
        log.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(WordsFormatter())
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    log.propagate = False


def _emit(level: int, message: str, *, exc: bool = False, **fields: Any) -> None:
    logger().log(level, message, exc_info=exc, extra={"fields": fields})


def error_name(exc: BaseException) -> str:
    """How a log line names an error: a downstream's service and status (its own words
    stay out), anything else by its class."""
    if isinstance(exc, DownstreamError):
        return f"{exc.service} {exc.reason}"
    return type(exc).__name__


# -- the HTTP edge ---------------------------------------------------------------------


def request_failed(*, function: str) -> None:
    """An unexpected error; the caller got a 500 with no detail (must be called inside an
    `except` block: the frames are logged, the exception's text is not)."""
    _emit(logging.ERROR, "unhandled error while serving a request", exc=True, function=function)


def event_ignored(*, function: str, reason: str) -> None:
    """An event that names nothing this function forwards (`reason`: what did not fit)."""
    _emit(logging.INFO, "event ignored", function=function, reason=reason)


def config_loaded(*, function: str, settings: Mapping[str, str]) -> None:
    """Once per instance; `settings` comes from `Settings.redacted()`."""
    _emit(logging.INFO, "configuration loaded", function=function, settings=dict(settings))


def firestore_unavailable(*, function: str, error: BaseException) -> None:
    _emit(logging.WARNING, "firestore unavailable", function=function, error=error_name(error))


def rate_limited(*, function: str) -> None:
    _emit(logging.INFO, "rate limit reached", function=function)


def idempotent_replay(*, function: str) -> None:
    _emit(logging.INFO, "idempotent replay", function=function)


def idempotent_response_not_stored(*, function: str, error: BaseException) -> None:
    _emit(
        logging.WARNING,
        "idempotent response not stored",
        function=function,
        error=error_name(error),
    )


def caller_refused(*, function: str, reason: str) -> None:
    """A bearer token was refused (`reason`: missing, malformed, invalid, issuer, unverified,
    not_allowed); nothing of the caller's address is logged."""
    _emit(logging.WARNING, "caller refused", function=function, reason=reason)


def refused_calls_limited(*, function: str, budget: int) -> None:
    """A client's calls were refused `budget` times in a window: its further calls in the
    window are answered 429 unchecked, and not logged one by one."""
    _emit(logging.WARNING, "refused calls limited", function=function, budget=budget)


def certificates_unreachable(*, function: str, error: BaseException) -> None:
    _emit(
        logging.WARNING,
        "token certificates unreachable",
        function=function,
        error=error_name(error),
    )


# -- records and their deliveries -------------------------------------------------------


def record_stored(*, kind: str, record_id: str) -> None:
    _emit(logging.INFO, "record stored", kind=kind, record_id=record_id)


def record_quarantined(*, kind: str, record_id: str, reason: str) -> None:
    """A post kept from the inbox: `reason` is `honeypot` (its hidden field was filled),
    `proof` (it came without the proof of work) or `content` (it reads as spam; which
    words stays on the record)."""
    _emit(logging.INFO, "record quarantined", kind=kind, record_id=record_id, reason=reason)


def delivery_result(
    *, kind: str, record_id: str, channel: str, state: str, attempts: int, last_error: str = ""
) -> None:
    """`last_error` is the delivery record's (a `DownstreamError`'s service and reason)."""
    level = logging.WARNING if state in ("pending", "failed") else logging.INFO
    _emit(
        level,
        "delivery attempt",
        kind=kind,
        record_id=record_id,
        channel=channel,
        state=state,
        attempts=attempts,
        error=last_error,
    )


def delivery_not_recorded(*, kind: str, record_id: str, error: BaseException) -> None:
    """The attempt's outcome could not be written; the lease lapses and the sweep retries."""
    _emit(
        logging.WARNING,
        "delivery result not written",
        kind=kind,
        record_id=record_id,
        error=error_name(error),
    )


def delivery_sender_failed(*, kind: str, record_id: str, error: BaseException) -> None:
    """A sender raised something other than a DownstreamError: a bug, retried as an outage."""
    _emit(
        logging.ERROR,
        "delivery sender raised",
        kind=kind,
        record_id=record_id,
        error=error_name(error),
    )


def forward_budget_spent(*, budget: int, hour: str) -> None:
    """The first email of the UTC hour `hour` (`YYYYMMDDHH`) that found its `budget`
    (FORWARD_BUDGET) spent: it and the emails after it are held for later hours. Once an
    hour at most; the alert counts these lines."""
    _emit(logging.WARNING, "forward budget spent", budget=budget, hour=hour)


# -- chat ------------------------------------------------------------------------------


def chat_started(*, lead_id: str, with_text: bool) -> None:
    _emit(logging.INFO, "chat session started", lead_id=lead_id, with_text=with_text)


def chat_message_stored(*, lead_id: str, author: str, seq: int) -> None:
    _emit(logging.INFO, "chat message stored", lead_id=lead_id, author=author, seq=seq)


def chat_cap_reached(*, lead_id: str) -> None:
    _emit(logging.INFO, "chat message cap reached", lead_id=lead_id)


def chat_count_not_given_back(*, lead_id: str, error: BaseException) -> None:
    _emit(
        logging.WARNING,
        "chat message count not given back",
        lead_id=lead_id,
        error=error_name(error),
    )


def chat_message_not_placed(*, lead_id: str, attempts: int) -> None:
    _emit(logging.WARNING, "chat message not placed", lead_id=lead_id, attempts=attempts)


def chat_first_not_queued(*, lead_id: str, error: BaseException) -> None:
    _emit(
        logging.WARNING,
        "chat first message stored but not queued for delivery",
        lead_id=lead_id,
        error=error_name(error),
    )


def nudge_not_scheduled(*, lead_id: str, error: BaseException) -> None:
    _emit(logging.WARNING, "chat nudge not scheduled", lead_id=lead_id, error=error_name(error))


def presence_not_forgotten(*, error: BaseException) -> None:
    _emit(logging.WARNING, "chat presence not forgotten", error=error_name(error))


def index_not_ready(*, function: str, error: BaseException) -> None:
    what = "firestore index not ready"
    _emit(logging.ERROR, what, function=function, error=error_name(error))


def chat_seen_not_recorded(*, lead_id: str, error: BaseException) -> None:
    _emit(logging.WARNING, "chat seen point not recorded", lead_id=lead_id, error=error_name(error))


def reply_email_not_scheduled(*, lead_id: str, error: BaseException) -> None:
    what = "chat reply email not scheduled"
    _emit(logging.WARNING, what, lead_id=lead_id, error=error_name(error))


def grant_note_not_scheduled(*, grant: str, error: BaseException) -> None:
    """`grant` is the first characters of the grant's id."""
    _emit(logging.WARNING, "grant opened note not scheduled", grant=grant, error=error_name(error))


def chat_first_recovered(*, lead_id: str) -> None:
    _emit(logging.WARNING, "chat first message queued by a later post", lead_id=lead_id)


# -- access grants ---------------------------------------------------------------------


def access_denied(*, reason: str, grant: str) -> None:
    """`grant` is the first characters of the grant's id (a hash of its token), or ""."""
    _emit(logging.INFO, "access denied", reason=reason, grant=grant)


def access_redeemed(*, grant: str, redemptions: int) -> None:
    _emit(logging.INFO, "access grant redeemed", grant=grant, redemptions=redemptions)


def access_not_recorded(*, grant: str, what: str, error: BaseException) -> None:
    """A redemption's bookkeeping (`what`: give_back, times) failed after its count."""
    _emit(
        logging.WARNING,
        "access grant bookkeeping not written",
        grant=grant,
        what=what,
        error=error_name(error),
    )


# -- retention, sweep and privacy ----------------------------------------------------------


def retention_crm_failed(*, error: BaseException) -> None:
    _emit(
        logging.WARNING,
        "retention: CRM rows not deleted; their records are kept",
        error=error_name(error),
    )


def retention_finished(*, dry_run: bool, deleted: Mapping[str, int]) -> None:
    _emit(logging.INFO, "retention run finished", dry_run=dry_run, deleted=dict(deleted))


def sweep_finished(
    *,
    dry_run: bool,
    tasks: Sequence[str],
    outcome: str,
    deleted: Mapping[str, int],
    deliveries: Mapping[str, int],
) -> None:
    """The line deploy.sh's log-based metrics count: `outcome` is `ok`, or `crm_unavailable`
    when the CRM could not be reached (its records were kept for the next run)."""
    _emit(
        logging.INFO if outcome == "ok" else logging.WARNING,
        "sweep finished",
        dry_run=dry_run,
        tasks=list(tasks),
        outcome=outcome,
        deleted=dict(deleted),
        deliveries=dict(deliveries),
    )


def sweep_run_not_recorded(*, error: BaseException) -> None:
    _emit(logging.WARNING, "sweep run not recorded", error=error_name(error))


def privacy_request_handled(*, kind: str, counts: Mapping[str, int]) -> None:
    _emit(logging.INFO, "privacy request handled", kind=kind, counts=dict(counts))


def privacy_erasure_cut_short(*, error: BaseException) -> None:
    """An erasure stopped at a page that the CRM or a bulk delete failed; its trace says
    `started`, and the next erasure of the address continues it."""
    _emit(logging.WARNING, "privacy erasure cut short", error=error_name(error))


def privacy_crm_recheck_failed(*, error: BaseException) -> None:
    """An erasure's last delete of CRM rows failed after its documents were deleted; the
    hand-over sends the team to the sheet."""
    _emit(logging.WARNING, "privacy crm recheck failed", error=error_name(error))

"""JSON-line logging in Cloud Logging's shape, and every recurring message by name.

Nothing personal goes into a log line: no email, name, message text, token, session
id or IP. Where a record must be traceable, log its random document id or a short
hash (`fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import traceback
from typing import Any

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
        if record.exc_info:
            entry["stack_trace"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str)


def logger() -> logging.Logger:
    log = logging.getLogger(_LOGGER_NAME)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = True
    return log


def _emit(level: int, message: str, exc: bool = False, **fields: Any) -> None:
    logger().log(level, message, exc_info=exc, extra={"fields": fields})


def fingerprint(secret: str) -> str:
    """A short, stable, non-reversible tag for a secret, for correlating log lines."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


# Named messages ---------------------------------------------------------------------


def request_failed(*, function: str) -> None:
    _emit(logging.ERROR, "unhandled error while serving a request", exc=True, function=function)


def firestore_unavailable(*, function: str, error: str) -> None:
    _emit(logging.WARNING, "firestore unavailable", function=function, error=error)


def rate_limited(*, scope: str) -> None:
    _emit(logging.INFO, "rate limit reached", scope=scope)


def honeypot_tripped(*, function: str) -> None:
    _emit(logging.INFO, "honeypot filled; request dropped", function=function)


def record_stored(*, kind: str, record_id: str) -> None:
    _emit(logging.INFO, "record stored", kind=kind, record_id=record_id)


def delivery_result(
    *, kind: str, record_id: str, channel: str, state: str, attempts: int, error: str = ""
) -> None:
    level = logging.WARNING if state in ("pending", "failed") else logging.INFO
    _emit(
        level,
        "delivery attempt",
        kind=kind,
        record_id=record_id,
        channel=channel,
        state=state,
        attempts=attempts,
        error=error,
    )


def idempotent_replay(*, scope: str) -> None:
    _emit(logging.INFO, "idempotent replay", scope=scope)


def config_loaded(*, settings: dict[str, Any]) -> None:
    _emit(logging.INFO, "configuration loaded", settings=settings)


def event(message: str, **fields: Any) -> None:
    """A one-off informational line; fields must hold no personal data."""
    _emit(logging.INFO, message, **fields)


def warning(message: str, **fields: Any) -> None:
    _emit(logging.WARNING, message, **fields)

"""Firestore access: the cached client, explicit deadlines, and outage mapping.

Every call on a request path passes `RETRY` and `TIMEOUT`: with the client's default
retry a write to an unreachable Firestore takes close to a minute to fail, while a
visitor should get a 503 within a few seconds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from factoryops import errors, logs
from factoryops.config import settings

if TYPE_CHECKING:
    from google.cloud import firestore

CONTACT_SUBMISSIONS = "contact_submissions"
CHAT_SESSIONS = "chat_sessions"
MESSAGES = "messages"
ACCESS_GRANTS = "access_grants"
IDEMPOTENCY_KEYS = "idempotency_keys"
RATE_LIMITS = "rate_limits"
PRIVACY_REQUESTS = "privacy_requests"

TIMEOUT = 3.0
"""Seconds for one Firestore RPC on the request path."""

DEADLINE = 4.0
"""Seconds for all retries of one Firestore call on the request path."""


@functools.cache
def _retry() -> Any:
    from google.api_core import exceptions, retry

    return retry.Retry(
        predicate=retry.if_exception_type(
            exceptions.ServiceUnavailable,
            exceptions.DeadlineExceeded,
            exceptions.InternalServerError,
            exceptions.Aborted,
        ),
        initial=0.1,
        maximum=1.0,
        multiplier=2.0,
        timeout=DEADLINE,
    )


def call_options() -> dict[str, Any]:
    """Keyword arguments that bound a Firestore call: `doc.get(**store.call_options())`."""
    return {"retry": _retry(), "timeout": TIMEOUT}


@functools.cache
def _client(project: str, emulator_host: str) -> firestore.Client:
    from google.cloud import firestore

    del emulator_host  # part of the cache key: the client reads it from the environment
    return firestore.Client(project=project)


def client() -> firestore.Client:
    cfg = settings()
    return _client(cfg.project, cfg.emulator_host)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def expire_at(*, days: int | None = None, seconds: int | None = None) -> dt.datetime:
    """The `expire_at` a new document carries, for the TTL policy backstop."""
    if seconds is not None:
        return now() + dt.timedelta(seconds=seconds)
    return now() + dt.timedelta(days=days if days is not None else settings().retention_days)


def is_outage(exc: BaseException) -> bool:
    from google.api_core import exceptions

    return isinstance(
        exc,
        exceptions.RetryError
        | exceptions.ServiceUnavailable
        | exceptions.DeadlineExceeded
        | exceptions.InternalServerError
        | exceptions.Unknown
        | TimeoutError,
    )


@contextlib.contextmanager
def outage_as_unavailable(function: str) -> Iterator[None]:
    """Turn a Firestore outage inside the block into `errors.Unavailable` (503)."""
    try:
        yield
    except errors.AppError:
        raise
    except Exception as exc:
        if not is_outage(exc):
            raise
        logs.firestore_unavailable(function=function, error=type(exc).__name__)
        raise errors.Unavailable() from exc

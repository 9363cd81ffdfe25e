"""Firestore: the client, the collections, deadlines, and the mechanics every module shares.

- Every call on a request path passes `call_options()`: with the client's default retry
  a write to an unreachable Firestore takes close to a minute to fail, while a visitor
  should get a 503 within a few seconds.
- `transform_results` reads the values a write's field transforms produced (an
  `Increment`'s new count, the server's time), which is how hot counters avoid
  transactions.
- `BulkDeleter` deletes documents and whole trees of them.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from factoryops import documents, errors, logs
from factoryops.config import settings

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.firestore_v1.bulk_writer import BulkWriteFailure, BulkWriter

# -- collections -----------------------------------------------------------------------

CONTACT_SUBMISSIONS = "contact_submissions"
CHAT_SESSIONS = "chat_sessions"
MESSAGES = "messages"
"""A subcollection of each chat session."""
GATE = "gate"
"""A subcollection of each chat session: its one document, `open`, is there while the
chat takes visitor messages (chat/thread.py)."""
ACCESS_GRANTS = "access_grants"
IDEMPOTENCY_KEYS = "idempotency_keys"
RATE_LIMITS = "rate_limits"
PRIVACY_REQUESTS = "privacy_requests"
SWEEP_RUNS = "sweep_runs"
TEAM_AUDIT = "team_audit"
SPENT_CHALLENGES = "spent_challenges"
FORWARD_BUDGET = "forward_budget"

COLLECTIONS = (
    CONTACT_SUBMISSIONS,
    CHAT_SESSIONS,
    MESSAGES,
    GATE,
    ACCESS_GRANTS,
    IDEMPOTENCY_KEYS,
    RATE_LIMITS,
    PRIVACY_REQUESTS,
    SWEEP_RUNS,
    TEAM_AUDIT,
    SPENT_CHALLENGES,
    FORWARD_BUDGET,
)
"""Every collection (group) the project writes."""

SHAPES: dict[str, type[documents.Document]] = {
    CONTACT_SUBMISSIONS: documents.ContactSubmission,
    CHAT_SESSIONS: documents.ChatSession,
    MESSAGES: documents.ChatMessage,
    GATE: documents.ChatGate,
    ACCESS_GRANTS: documents.AccessGrant,
    IDEMPOTENCY_KEYS: documents.IdempotencyKey,
    RATE_LIMITS: documents.RateLimitCounter,
    PRIVACY_REQUESTS: documents.PrivacyRequest,
    SWEEP_RUNS: documents.SweepRun,
    TEAM_AUDIT: documents.AuditEntry,
    SPENT_CHALLENGES: documents.SpentChallenge,
    FORWARD_BUDGET: documents.ForwardBudget,
}
"""The shape of each collection's documents (documents.py)."""

TTL_GROUPS = COLLECTIONS
"""Collection groups whose documents all carry `expire_at`, under a TTL policy: a
backstop to the sweep (TTL deletes no subcollections and may lag a day)."""

# -- deadlines -------------------------------------------------------------------------

TIMEOUT = 3.0
"""Seconds for one Firestore RPC on the request path."""

DEADLINE = 4.0
"""Seconds for all retries of one Firestore call, outside a request's deadline."""

REQUEST_DEADLINE = 4.5
"""Seconds for all of a request's Firestore calls before it answers: with Firestore
hanging, a visitor gets a 503 within about this long, whatever number of calls."""

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "request_deadline", default=None
)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound every Firestore call in the block, together, to `seconds` from now. Inside
    another deadline's block, this one replaces it for the block: a privacy request's
    is longer than the request's own."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


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
    """Keyword arguments that bound a Firestore call: `doc.get(**store.call_options())`.
    Inside `deadline`, the call gets what is left of it (none left: TimeoutError, an
    outage)."""
    until = _deadline.get()
    if until is None:
        return {"retry": _retry(), "timeout": TIMEOUT}
    left = until - time.monotonic()
    if left <= 0.05:
        raise TimeoutError("the request's Firestore deadline has passed")
    # The client turns a number into a deadline for the call's attempts together (each
    # gets what is left of it); a shorter one would let a second attempt start with a
    # fresh timeout past the deadline.
    return {"retry": _retry().with_timeout(left), "timeout": left}


@functools.cache
def _client(project: str, emulator_host: str) -> firestore.Client:
    from google.cloud import firestore

    del emulator_host  # part of the cache key: the client reads it from the environment
    return firestore.Client(project=project)


def client() -> firestore.Client:
    cfg = settings()
    return _client(cfg.project, cfg.emulator_host)


def collection(name: str) -> firestore.CollectionReference:
    return client().collection(name)


T = TypeVar("T")
IN_LIMIT = 30
"""Values one `in` filter may hold."""


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in consecutive runs of at most `size` (for `in` filters and batches)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_document_id(value: str) -> bool:
    """Whether Firestore takes `value` as one document's id: not empty, no `/`, not `.`
    or `..`, not `__name__`-shaped (reserved), at most 1,500 bytes. Anything else is
    refused as an argument error, which must not become a 500."""
    return (
        bool(value)
        and "/" not in value
        and value not in (".", "..")
        and not (len(value) >= 4 and value.startswith("__") and value.endswith("__"))
        and len(value.encode()) <= 1500
    )


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_ready(value: Any) -> Any:
    """Stored values as JSON takes them: times as RFC 3339, containers walked."""
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


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
        logs.firestore_unavailable(function=function, error=exc)
        raise errors.Unavailable() from exc


# -- what a write's transforms produced ----------------------------------------------


def transform_results(result: Any, transforms: Iterable[str]) -> dict[str, Any]:
    """The values that the field transforms of one write produced, by field path.

    `result` is the write's `WriteResult` and `transforms` the paths of the fields it
    set with a transform (`Increment`, `Maximum`, `SERVER_TIMESTAMP`, ...). The client
    sends a write's transforms sorted by field path, and the commit answers their
    results in that order.
    """
    from google.cloud.firestore_v1.field_path import FieldPath

    paths = sorted(transforms, key=FieldPath.from_string)
    return {
        path: _decoded(value) for path, value in zip(paths, result.transform_results, strict=True)
    }


def _decoded(value: Any) -> Any:
    for kind in ("integer_value", "double_value", "timestamp_value"):
        if kind in value:
            return getattr(value, kind)
    return None


# -- deleting documents and trees ----------------------------------------------------

WRITE_ATTEMPTS = 5


class DeletionFailed(RuntimeError):
    """Firestore refused some deletions after retries; running the work again retries them."""


class BulkDeleter:
    """Deletes through a BulkWriter, or only counts when `dry_run`.

    A BulkWriter cannot be reused once flushed (its executor is shut down and later
    writes are silently dropped), so each `flush` closes one writer and the next
    `delete` opens another.
    """

    def __init__(self, *, dry_run: bool = False) -> None:
        self._dry_run = dry_run
        self._writer: BulkWriter | None = None
        self._failures = 0

    def delete(self, ref: firestore.DocumentReference) -> None:
        if self._dry_run:
            return
        if self._writer is None:
            self._writer = client().bulk_writer()
            self._writer.on_write_error(self._on_error)
        self._writer.delete(ref)

    def delete_tree(self, ref: firestore.DocumentReference) -> Counter[str]:
        """Delete a document and every document under it; returns how many were under it,
        by the id of their collection."""
        [below] = self.delete_trees([ref])
        return below

    def delete_trees(self, refs: Sequence[firestore.DocumentReference]) -> list[Counter[str]]:
        """`delete_tree` of each document, their subtrees listed concurrently."""
        listed = concurrently(lambda ref: list(documents_under(ref)), refs)
        counted: list[Counter[str]] = []
        for ref, under in zip(refs, listed, strict=True):
            below: Counter[str] = Counter()
            for doc in under:
                self.delete(doc)
                below[doc.parent.id] += 1
            self.delete(ref)
            counted.append(below)
        return counted

    def flush(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()  # type: ignore[no-untyped-call]
        if self._failures:
            failures, self._failures = self._failures, 0
            raise DeletionFailed(f"{failures} deletions failed")

    def _on_error(self, failure: BulkWriteFailure, writer: BulkWriter) -> bool:
        if failure.attempts < WRITE_ATTEMPTS:
            return True
        self._failures += 1
        return False


def documents_under(ref: firestore.DocumentReference) -> Iterator[firestore.DocumentReference]:
    """Every document in every subcollection below `ref`, at any depth (ids only read)."""
    from google.cloud.firestore_v1.field_path import FieldPath

    for sub in ref.collections(**call_options()):
        query = sub.recursive().select([FieldPath.document_id()])
        for snap in query.stream(**call_options()):
            yield snap.reference


Item = TypeVar("Item")
Result = TypeVar("Result")
WORKERS = 8
"""Firestore calls `concurrently` keeps in flight at once."""


def concurrently(work: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """`work` on each item, up to WORKERS at a time, each in a copy of the caller's
    context (so inside its `deadline`); the results in the order of `items`, or the
    first exception raised, once the items under way end (those not begun never do).
    For work that is one or two Firestore calls an item, as an erasure's per-record
    steps are, where waiting on each in turn is what takes time."""
    if len(items) < 2:
        return [work(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, work, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            # The first failure ends the work: what has not started does not.
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def paged(query: Any, *, size: int) -> Iterator[Any]:
    """Every document that `query` (ordered) finds, read `size` at a time, each page
    after the last document of the one before: no one read holds more than a page."""
    base = query.limit(size)
    last: Any = None
    while True:
        page = base if last is None else base.start_after(last)
        snaps = list(page.stream(**call_options()))
        yield from snaps
        if len(snaps) < size:
            return
        last = snaps[-1]


def field_filter(path: str, op: str, value: Any) -> Any:
    """A query filter (`query.where(filter=store.field_filter("a", "==", 1))`)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    return FieldFilter(path, op, value)

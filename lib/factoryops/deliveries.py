"""The delivery state machine that forwards stored records downstream.

Each record holds `deliveries.<channel>` for the channels `email` and `crm`:

    pending -> processing (lease, 60 s) -> sent
            \\-> pending again (attempts, last_error, backoff) ... -> failed
    disabled, where the downstream is not configured

`due_at` is set while a delivery is pending or leased and removed once it is final, so
"what is due" is one single-field range query. Leases are taken atomically (a write
conditioned on the document being unchanged since it was read), so two sweeps never
send the same thing; the request path creates its record already
leased, makes one short attempt and leaves the rest to the sweep.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from factoryops import logs, store
from factoryops.config import settings
from factoryops.errors import DownstreamError

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference


class Record(Protocol):
    """A stored record as the senders see it: a document snapshot, or the data just
    written by the request that created it (`JustWritten`, which saves a read back)."""

    @property
    def id(self) -> str: ...

    def to_dict(self) -> dict[str, Any] | None: ...


CHANNELS = ("email", "crm")
"""The channels of a stored record (a contact submission, a chat's first message)."""
LEASE = dt.timedelta(seconds=60)
REQUEST_TIMEOUT = 4.0
"""Seconds for the request path's one attempt at each downstream."""
SWEEP_TIMEOUT = 15.0
BACKOFF_BASE = 30.0
BACKOFF_CAP = 6 * 3600.0

PENDING = "pending"
PROCESSING = "processing"
SENT = "sent"
FAILED = "failed"
DISABLED = "disabled"
SKIPPED = "skipped"
"""No longer needed when its time came (a nudge about a chat the team has answered)."""
STATES = (PENDING, PROCESSING, SENT, FAILED, DISABLED, SKIPPED)
SETTLED = (SENT, FAILED, SKIPPED)
ERROR_LIMIT = 200


@dataclass(frozen=True)
class Attempt:
    timeout: float
    """Seconds the downstream may take."""


Sender = Callable[[Attempt], None]
"""Sends one delivery; raises DownstreamError."""

IDEMPOTENT_CHANNELS = ("crm",)
"""Channels whose downstream can tell a repeat (a CRM row by its record_id). An email
cannot: after one unknown outcome it is sent again at most once, then marked failed for
the team to check (`siteadmin deliveries retry`)."""


@dataclass(frozen=True)
class DeliverySource:
    """A collection whose records are forwarded, and how to forward one of them."""

    name: str
    """What the records are called in log lines and listings (`contact`, `chat`)."""
    collection: str
    senders: Callable[[Record], dict[str, Sender]]
    """The record's sender for each channel, rebuilt from the stored record alone."""
    log_id: Callable[[Record], str] | None = None
    """What log lines call a record, where its document id is a secret (a chat session)."""
    channels: tuple[str, ...] = CHANNELS

    def label(self, record: Record) -> str:
        return self.log_id(record) if self.log_id is not None else record.id


class NotNeeded(Exception):
    """Raised by a sender whose delivery has become pointless; it settles as `skipped`."""


class JustWritten:
    """A record this request has just written, as a `Record`, to skip reading it back."""

    def __init__(self, doc_id: str, data: dict[str, Any]) -> None:
        self.id = doc_id
        self._data = data

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)


def backoff(attempts: int) -> dt.timedelta:
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=delay * random.uniform(0.8, 1.2))


def initial(enabled: dict[str, bool], *, lease_id: str) -> dict[str, Any]:
    """The `deliveries` map of a new record, leased to the request that creates it."""
    now = store.now()
    out: dict[str, Any] = {}
    for channel in CHANNELS:
        if enabled.get(channel):
            out[channel] = {
                "state": PROCESSING,
                "attempts": 0,
                "lease_id": lease_id,
                "due_at": now + LEASE,
            }
        else:
            out[channel] = {"state": DISABLED, "attempts": 0}
    return out


def new_lease_id() -> str:
    return secrets.token_hex(8)


def _error_fields(error: DownstreamError) -> dict[str, Any]:
    return {"last_error": str(error)[:ERROR_LIMIT], "last_error_detail": error.detail[:ERROR_LIMIT]}


def _outcome(
    channel_state: dict[str, Any], error: DownstreamError | NotNeeded | None
) -> dict[str, Any]:
    attempts = int(channel_state.get("attempts", 0)) + 1
    now = store.now()
    if isinstance(error, NotNeeded):
        return {"state": SKIPPED, "attempts": attempts - 1, "skipped_at": now}
    if error is None:
        return {
            "state": SENT,
            "attempts": attempts,
            "sent_at": now,
            "last_error": None,
            "last_error_detail": None,
        }
    if error.retryable and attempts < settings().max_delivery_attempts:
        due = now + backoff(attempts)
        return {
            "state": PENDING,
            "attempts": attempts,
            **_error_fields(error),
            "next_attempt_at": due,
            "due_at": due,
        }
    return {
        "state": FAILED,
        "attempts": attempts,
        **_error_fields(error),
        "failed_at": now,
    }


def _run(
    send: Sender, attempt: Attempt, source: DeliverySource, record_id: str
) -> DownstreamError | NotNeeded | None:
    try:
        send(attempt)
    except (DownstreamError, NotNeeded) as exc:
        return exc
    except Exception as exc:  # a bug in a sender must not strand the record
        logs.delivery_sender_failed(kind=source.name, record_id=record_id, error=exc)
        return DownstreamError("sender", type(exc).__name__, retryable=True)
    return None


def _write(
    ref: DocumentReference,
    source: DeliverySource,
    record_id: str,
    results: dict[str, dict[str, Any]],
) -> None:
    from google.cloud import firestore

    update: dict[str, Any] = {}
    for channel, result in results.items():
        for key, value in result.items():
            update[f"deliveries.{channel}.{key}"] = value
        if result["state"] in SETTLED:
            update[f"deliveries.{channel}.due_at"] = firestore.DELETE_FIELD
            update[f"deliveries.{channel}.next_attempt_at"] = firestore.DELETE_FIELD
        update[f"deliveries.{channel}.lease_id"] = firestore.DELETE_FIELD
        logs.delivery_result(
            kind=source.name,
            record_id=record_id,
            channel=channel,
            state=result["state"],
            attempts=result["attempts"],
            last_error=result.get("last_error") or "",
        )
    if update:
        ref.update(update, **store.call_options())


def attempt_new(
    *, source: DeliverySource, ref: DocumentReference, record: Record, channels: Iterable[str]
) -> None:
    """The request path's one short attempt at the channels it leased on creation.

    Never raises for a downstream failure: the record is stored and the sweep retries.
    """
    senders = source.senders(record)
    data = record.to_dict() or {}
    label = source.label(record)
    results = {
        channel: _outcome(
            data["deliveries"][channel],
            _run(senders[channel], Attempt(REQUEST_TIMEOUT), source, label),
        )
        for channel in channels
        if channel in senders
    }
    try:
        # Its own bound: the downstream attempts may have used up the request's.
        with store.deadline(store.DEADLINE):
            _write(ref, source, label, results)
    except Exception as exc:
        # The record keeps its lease; when it runs out, the sweep takes the delivery up.
        logs.delivery_not_recorded(kind=source.name, record_id=label, error=exc)


@dataclass
class SweepCounts:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    due: int = 0
    """Deliveries found due; a dry run only counts these."""

    def add(self, state: str | None) -> None:
        if state == SENT:
            self.sent += 1
        elif state == PENDING:
            self.retrying += 1
        elif state == FAILED:
            self.failed += 1

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def _lease(ref: DocumentReference, channel: str, lease_id: str) -> Any:
    """Take the channel's lease; None when it is not due, or another sweep took it.

    The lease is a compare-and-set: the write applies only if the document is unchanged
    since it was read (its update time is the precondition), so of two sweeps reading
    the same due delivery exactly one lease is written. Unlike a transaction this holds
    no lock, so overlapping sweeps never queue behind each other's reads.
    """
    from google.api_core import exceptions

    snap = ref.get(**store.call_options())
    if not snap.exists:
        return None
    state = (snap.to_dict() or {}).get("deliveries", {}).get(channel, {})
    due_at = state.get("due_at")
    if state.get("state") not in (PENDING, PROCESSING) or due_at is None:
        return None
    now = store.now()
    if due_at > now:
        return None
    taken: dict[str, Any] = {
        f"deliveries.{channel}.state": PROCESSING,
        f"deliveries.{channel}.lease_id": lease_id,
        f"deliveries.{channel}.due_at": now + LEASE,
    }
    if state.get("state") == PROCESSING:
        # A lease that ran out: whatever its holder sent, its outcome was never written.
        taken[f"deliveries.{channel}.unknown_outcomes"] = int(state.get("unknown_outcomes", 0)) + 1
    try:
        ref.update(
            taken,
            option=store.client().write_option(last_update_time=snap.update_time),
            **store.call_options(),
        )
    except (exceptions.FailedPrecondition, exceptions.NotFound):
        return None
    return snap


def run_due(
    sources: Sequence[DeliverySource], *, limit: int = 500, dry_run: bool = False
) -> SweepCounts:
    """Send every delivery of `sources` whose time has come, once each, under a lease.

    Pages through everything due when the run starts; what falls due meanwhile is left
    to the next run. A dry run counts what is due and sends nothing.
    """
    counts = SweepCounts()
    now = store.now()
    for source in sources:
        for channel in source.channels:
            query = (
                store.collection(source.collection)
                .where(filter=store.field_filter(f"deliveries.{channel}.due_at", "<=", now))
                .order_by(f"deliveries.{channel}.due_at")
                .limit(limit)
            )
            last: Any = None
            while True:
                page = query if last is None else query.start_after(last)
                snaps = list(page.stream(**store.call_options()))
                for due in snaps:
                    counts.due += 1
                    if not dry_run:
                        counts.add(_deliver(source, channel, due.reference))
                if len(snaps) < limit:
                    break
                last = snaps[-1]
    return counts


def _deliver(source: DeliverySource, channel: str, ref: DocumentReference) -> str | None:
    """One due delivery, if its lease can be taken; returns the state it ends in."""
    snap = _lease(ref, channel, new_lease_id())
    if snap is None:
        return None
    label = source.label(snap)
    try:
        senders = source.senders(snap)
    except Exception as exc:  # a record the sender cannot read is failed, not retried
        logs.delivery_sender_failed(kind=source.name, record_id=label, error=exc)
        senders = {}
    state = (snap.to_dict() or {}).get("deliveries", {}).get(channel, {})
    unknown = int(state.get("unknown_outcomes", 0)) + (state.get("state") == PROCESSING)
    attempt = Attempt(SWEEP_TIMEOUT)
    error: DownstreamError | NotNeeded | None
    if channel not in senders:
        error = DownstreamError(channel, "no sender for this record", retryable=False)
    elif unknown > 1 and channel not in IDEMPOTENT_CHANNELS:
        # Sent once more already after an unknown outcome: a third copy is worse than
        # asking the team (the failed delivery alerts them) to check the mailbox.
        error = DownstreamError(channel, "outcome unknown twice; not sent again", retryable=False)
    else:
        error = _run(senders[channel], attempt, source, label)
    result = _outcome(state, error)
    try:
        _write(ref, source, label, {channel: result})
    except Exception as exc:
        # The lease runs out and a later sweep tries again: at least once, never lost.
        logs.delivery_not_recorded(kind=source.name, record_id=label, error=exc)
        return None
    return str(result["state"])


def retry_failed(sources: Sequence[DeliverySource]) -> int:
    """Put every failed delivery back to pending, due now (the team's `deliveries retry`)."""
    count = 0
    for source in sources:
        for channel in source.channels:
            query = store.collection(source.collection).where(
                filter=store.field_filter(f"deliveries.{channel}.state", "==", FAILED)
            )
            for snap in query.stream(**store.call_options()):
                _start_over(snap.reference, channel)
                count += 1
    return count


def retry_one(source: DeliverySource, snap: Any) -> int:
    """Put the failed deliveries of one record (`snap`) back to pending, due now."""
    count = 0
    state = (snap.to_dict() or {}).get("deliveries", {})
    for channel in source.channels:
        if state.get(channel, {}).get("state") == FAILED:
            _start_over(snap.reference, channel)
            count += 1
    return count


def _start_over(ref: DocumentReference, channel: str) -> None:
    from google.cloud import firestore

    now = store.now()
    ref.update(
        {
            f"deliveries.{channel}.state": PENDING,
            f"deliveries.{channel}.attempts": 0,
            f"deliveries.{channel}.due_at": now,
            f"deliveries.{channel}.next_attempt_at": now,
            f"deliveries.{channel}.failed_at": firestore.DELETE_FIELD,
            f"deliveries.{channel}.unknown_outcomes": firestore.DELETE_FIELD,
        },
        **store.call_options(),
    )


ATTENTION = (PENDING, PROCESSING, FAILED)
"""The states `overview` lists by default: the deliveries not yet settled."""


def overview(
    sources: Sequence[DeliverySource], *, states: Iterable[str] = ATTENTION
) -> list[dict[str, Any]]:
    """One line per delivery in `states`, with no personal data: kind, record label,
    channel, state, attempts, last error and when it is next tried."""
    wanted = sorted(set(states))
    lines: list[dict[str, Any]] = []
    for source in sources:
        for channel in source.channels:
            query = store.collection(source.collection).where(
                filter=store.field_filter(f"deliveries.{channel}.state", "in", wanted)
            )
            for snap in query.stream(**store.call_options()):
                state = (snap.to_dict() or {}).get("deliveries", {}).get(channel, {})
                lines.append(
                    {
                        "kind": source.name,
                        "id": source.label(snap),
                        "channel": channel,
                        "state": state.get("state"),
                        "attempts": int(state.get("attempts", 0)),
                        "last_error": state.get("last_error"),
                        "next_attempt_at": state.get("due_at"),
                    }
                )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    lines.sort(key=lambda line: (line["next_attempt_at"] or far, line["kind"], line["id"]))
    return lines

"""The delivery state machine that forwards stored records downstream.

Each record holds `deliveries.<channel>` (documents.Delivery): a contact submission and
a chat's first message for the channels `email` and `crm`, a chat session also for the
`nudge` to the team's inbox (chat/nudge.py). Each channel goes:

    pending -> processing (lease, 60 s) -> sent
            \\-> pending again (attempts, last_error, backoff) ... -> failed
            \\-> pending, held for a later hour (no attempt counted)
    disabled, where the downstream is not configured

`due_at` is set while a delivery is pending or leased and removed once it is final, so
"what is due" is one single-field range query. Leases are taken atomically (a write
conditioned on the document being unchanged since it was read), so two sweeps (or a
sweep and the forwarding function) never send the same thing. The request path creates
its record with its deliveries pending and due; the forwarding function makes the first
attempt as soon as the record is written (forwarding.py), and the sweep retries.

An email past the hour's forwarding budget (budget.py) is *held*: its lease is given
back and it stays pending, `held_at` set and due in a later hour, with neither an
attempt nor an error counted, so a flood delays emails but never fails one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from factoryops import budget, logs, store
from factoryops.config import settings
from factoryops.documents import Delivery, DeliveryFields, Forwarded, delivery_path
from factoryops.errors import DownstreamError, Unavailable

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference


class Record(Protocol):
    """A stored record as the senders see it: a document snapshot."""

    @property
    def id(self) -> str: ...

    def to_dict(self) -> dict[str, Any] | None: ...


CHANNELS = ("email", "crm")
"""The channels of a stored record (a contact submission, a chat's first message)."""
LEASE = dt.timedelta(seconds=60)
SWEEP_TIMEOUT = 15.0
BACKOFF_BASE = 30.0
BACKOFF_CAP = 6 * 3600.0
FORWARD_PATIENCE = 45.0
"""Seconds the forwarding function keeps trying a throttled send before leaving it to
the sweep's backoff."""
FORWARD_LEASE = dt.timedelta(seconds=FORWARD_PATIENCE + 3 * SWEEP_TIMEOUT + 30)
"""The forwarding function's lease: its patience, then one last attempt that may take a
request and its redirect (the Apps Script web app answers through one) and a read of the
message it sends, each up to SWEEP_TIMEOUT, and a margin. Two channels in a row stay
within the function's timeout (deploy.sh)."""

PENDING = "pending"
PROCESSING = "processing"
SENT = "sent"
FAILED = "failed"
DISABLED = "disabled"
SKIPPED = "skipped"
"""No longer needed when its time came (a nudge about a chat the team has answered)."""
STATES = (PENDING, PROCESSING, SENT, FAILED, DISABLED, SKIPPED)
SETTLED = (SENT, FAILED, SKIPPED)
HELD = "held"
"""How listings and counts name a pending delivery whose email waits for a later hour's
budget (stored `pending`, with `held_at`)."""
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
    """What the records are called in log lines and listings (`contact`, `chat`, `nudge`)."""
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


def backoff(attempts: int) -> dt.timedelta:
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=delay * random.uniform(0.8, 1.2))


def initial(enabled: dict[str, bool]) -> dict[str, Delivery]:
    """The `deliveries` map of a new record: each configured channel pending and due now,
    for the forwarding function (or, failing it, the sweep) to take up."""
    now = store.now()
    return {
        channel: Delivery(state=PENDING, due_at=now)
        if enabled.get(channel)
        else Delivery(state=DISABLED)
        for channel in CHANNELS
    }


def new_lease_id() -> str:
    return secrets.token_hex(8)


def _error_fields(error: DownstreamError) -> dict[str, Any]:
    return {
        DeliveryFields.LAST_ERROR: str(error)[:ERROR_LIMIT],
        DeliveryFields.LAST_ERROR_DETAIL: error.detail[:ERROR_LIMIT],
    }


Failure = DownstreamError | NotNeeded | budget.Spent
"""What can keep an attempt from sending: a downstream's error, a delivery no longer
needed, or an email held by the hour's budget."""


def _outcome(state: Delivery, error: Failure | None) -> dict[str, Any]:
    """The fields of the channel's delivery that an attempt's outcome sets."""
    f = DeliveryFields
    attempts = state.attempts + 1
    now = store.now()
    if isinstance(error, budget.Spent):
        # Not an attempt: nothing reached EmailJS, and the flood is not this record's doing.
        return {
            f.STATE: PENDING,
            f.ATTEMPTS: state.attempts,
            f.HELD_AT: now,
            f.NEXT_ATTEMPT_AT: error.until,
            f.DUE_AT: error.until,
        }
    if isinstance(error, NotNeeded):
        return {f.STATE: SKIPPED, f.ATTEMPTS: attempts - 1, f.SKIPPED_AT: now}
    if error is None:
        return {
            f.STATE: SENT,
            f.ATTEMPTS: attempts,
            f.SENT_AT: now,
            f.LAST_ERROR: None,
            f.LAST_ERROR_DETAIL: None,
        }
    if error.retryable and attempts < settings().max_delivery_attempts:
        due = now + backoff(attempts)
        return {
            f.STATE: PENDING,
            f.ATTEMPTS: attempts,
            **_error_fields(error),
            f.NEXT_ATTEMPT_AT: due,
            f.DUE_AT: due,
        }
    return {f.STATE: FAILED, f.ATTEMPTS: attempts, **_error_fields(error), f.FAILED_AT: now}


def _run(send: Sender, attempt: Attempt, source: DeliverySource, record_id: str) -> Failure | None:
    try:
        send(attempt)
    except (DownstreamError, NotNeeded, budget.Spent) as exc:
        return exc
    except Exception as exc:  # a bug in a sender must not strand the record
        logs.delivery_sender_failed(kind=source.name, record_id=record_id, error=exc)
        return DownstreamError("sender", type(exc).__name__, retryable=True)
    return None


def _outcome_update(channel: str, result: dict[str, Any]) -> dict[str, Any]:
    """The fields of a record's update that write one channel's outcome (`_outcome`)."""
    from google.cloud import firestore

    f = DeliveryFields
    update = {delivery_path(channel, name): value for name, value in result.items()}
    if result[f.STATE] in SETTLED:
        update[delivery_path(channel, f.DUE_AT)] = firestore.DELETE_FIELD
        update[delivery_path(channel, f.NEXT_ATTEMPT_AT)] = firestore.DELETE_FIELD
    if f.HELD_AT not in result:
        update[delivery_path(channel, f.HELD_AT)] = firestore.DELETE_FIELD
    update[delivery_path(channel, f.LEASE_ID)] = firestore.DELETE_FIELD
    return update


def _named(result: dict[str, Any]) -> str:
    """The state an outcome is counted and logged as: a hold is named `held`."""
    f = DeliveryFields
    return HELD if f.HELD_AT in result else str(result[f.STATE])


def skipped_now(channel: str, state: Delivery) -> dict[str, Any]:
    """The fields that settle a waiting delivery `skipped` now, as its sender would when
    its time came: for the write that makes it pointless to send (a team reply settles
    the nudge about the message it answers), so that no one counts it as waiting."""
    return _outcome_update(channel, _outcome(state, NotNeeded()))


FENCE_ATTEMPTS = 5


def fence(ref: DocumentReference, *, also: dict[str, Any] | None = None) -> bool:
    """Settle every delivery of a record not yet settled as `skipped`, with `also` (more
    fields of the record) in the same write: an erasure's first step, after which no sweep
    or forwarding function starts a send of the record (a lease needs a delivery pending
    or leased, and a due time). A send already under way goes on; its outcome's write
    fails once the record is deleted, and a CRM row it delivered (or may have: its
    answer lost) is deleted again (`_withdraw`).

    Conditioned, as a lease is, on the record unchanged since it was read, so that a
    delivery scheduled or leased meanwhile is read again, not missed. False when the
    record is gone."""
    from google.api_core import exceptions

    for _ in range(FENCE_ATTEMPTS):
        snap = ref.get(**store.call_options())
        if not snap.exists:
            return False
        update = dict(also or {})
        for channel, state in Forwarded.from_snapshot(snap).deliveries.items():
            if state.state in (PENDING, PROCESSING):
                update.update(skipped_now(channel, state))
        if not update:
            return True
        try:
            ref.update(
                update,
                option=store.client().write_option(last_update_time=snap.update_time),
                **store.call_options(),
            )
        except exceptions.FailedPrecondition:
            continue  # written meanwhile: read it again
        except exceptions.NotFound:
            return False
        return True
    raise Unavailable()


def _write(
    ref: DocumentReference,
    source: DeliverySource,
    record_id: str,
    results: dict[str, dict[str, Any]],
) -> None:
    f = DeliveryFields
    update: dict[str, Any] = {}
    for channel, result in results.items():
        update.update(_outcome_update(channel, result))
        logs.delivery_result(
            kind=source.name,
            record_id=record_id,
            channel=channel,
            state=_named(result),
            attempts=result[f.ATTEMPTS],
            last_error=result.get(f.LAST_ERROR) or "",
        )
    if update:
        ref.update(update, **store.call_options())


@dataclass
class SweepCounts:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    """Emails that found the hour's budget spent, and wait for a later hour."""
    due: int = 0
    """Deliveries found due; a dry run only counts these."""

    def add(self, state: str | None) -> None:
        if state == SENT:
            self.sent += 1
        elif state == PENDING:
            self.retrying += 1
        elif state == FAILED:
            self.failed += 1
        elif state == HELD:
            self.held += 1

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def _lease(
    ref: DocumentReference, channel: str, lease_id: str, *, hold: dt.timedelta = LEASE
) -> Any:
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
    state = Forwarded.from_snapshot(snap).delivery(channel)
    if state is None or state.state not in (PENDING, PROCESSING) or state.due_at is None:
        return None
    now = store.now()
    if state.due_at > now:
        return None
    f = DeliveryFields
    taken: dict[str, Any] = {
        delivery_path(channel, f.STATE): PROCESSING,
        delivery_path(channel, f.LEASE_ID): lease_id,
        delivery_path(channel, f.DUE_AT): now + hold,
    }
    if state.state == PROCESSING:
        # A lease that ran out: whatever its holder sent, its outcome was never written.
        taken[delivery_path(channel, f.UNKNOWN_OUTCOMES)] = state.unknown_outcomes + 1
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
            due_at = delivery_path(channel, DeliveryFields.DUE_AT)
            query = (
                store.collection(source.collection)
                .where(filter=store.field_filter(due_at, "<=", now))
                .order_by(due_at)
            )
            for due in store.paged(query, size=limit):
                counts.due += 1
                if not dry_run:
                    counts.add(_deliver(source, channel, due.reference))
    return counts


def forward_now(
    source: DeliverySource, ref: DocumentReference, channels: Iterable[str]
) -> dict[str, str | None]:
    """The first attempt at a record's due deliveries, made by the forwarding function
    right after the record was written; returns the state each channel ends in (None:
    not due, or another attempt holds it; `held` past the hour's budget). A throttled
    send is tried again for a while (`FORWARD_PATIENCE`) under a lease long enough to
    cover it; a held one is not, and gives its lease back at once."""
    return {
        channel: _deliver(source, channel, ref, hold=FORWARD_LEASE, patience=FORWARD_PATIENCE)
        for channel in channels
    }


def _patient(send: Sender, patience: float) -> Sender:
    """`send`, tried again with backoff while the downstream says it is busy (429, 503).
    Only a DownstreamError that says so is tried again: a held email (budget.Spent) is
    not, since the budget does not come back within the patience."""
    if patience <= 0:
        return send
    from google.api_core import retry as api_retry

    policy = api_retry.Retry(
        predicate=lambda exc: isinstance(exc, DownstreamError) and exc.throttled,
        initial=1.0,
        maximum=8.0,
        multiplier=2.0,
        timeout=patience,
    )

    def patient_send(attempt: Attempt) -> None:
        from google.api_core import exceptions

        try:
            policy(send)(attempt)
        except exceptions.RetryError as exc:
            raise exc.cause from None  # the last DownstreamError

    return patient_send


def _deliver(
    source: DeliverySource,
    channel: str,
    ref: DocumentReference,
    *,
    hold: dt.timedelta = LEASE,
    patience: float = 0.0,
) -> str | None:
    """One due delivery, if its lease can be taken; returns the state it ends in (`held`
    for an email past the hour's budget)."""
    snap = _lease(ref, channel, new_lease_id(), hold=hold)
    if snap is None:
        return None
    label = source.label(snap)
    try:
        senders = source.senders(snap)
    except Exception as exc:  # a record the sender cannot read is failed, not retried
        logs.delivery_sender_failed(kind=source.name, record_id=label, error=exc)
        senders = {}
    state = Forwarded.from_snapshot(snap).delivery(channel) or Delivery(state=PENDING)
    unknown = state.unknown_outcomes + (state.state == PROCESSING)
    attempt = Attempt(SWEEP_TIMEOUT)
    error: Failure | None
    if channel not in senders:
        error = DownstreamError(channel, "no sender for this record", retryable=False)
    elif unknown > 1 and channel not in IDEMPOTENT_CHANNELS:
        # Sent once more already after an unknown outcome: a third copy is worse than
        # asking the team (the failed delivery alerts them) to check the mailbox.
        error = DownstreamError(channel, "outcome unknown twice; not sent again", retryable=False)
    else:
        with budget.one_email():  # a throttled send tried again takes no second unit
            error = _run(_patient(senders[channel], patience), attempt, source, label)
    result = _outcome(state, error)
    try:
        _write(ref, source, label, {channel: result})
    except Exception as exc:
        # The lease runs out and a later sweep tries again: at least once, never lost.
        logs.delivery_not_recorded(kind=source.name, record_id=label, error=exc)
        if _erased(exc):
            # Sent, or failed with an outcome unknown (a row appended, its answer lost):
            # either way the row may be there.
            _withdraw(source, channel, label)
        return None
    return _named(result)


def _erased(exc: Exception) -> bool:
    from google.api_core import exceptions

    return isinstance(exc, exceptions.NotFound)


def _withdraw(source: DeliverySource, channel: str, label: str) -> None:
    """What a send delivered for a record erased while it was under way: a CRM row is
    deleted again (by its record id); an email cannot be, and the erasure's hand-over
    already sends the team to its mailbox."""
    if channel != "crm":
        return
    from factoryops import crm

    try:
        crm.delete_rows(crm.Match(record_ids=frozenset({label})))
    except Exception as exc:
        logs.delivery_not_recorded(kind=source.name, record_id=label, error=exc)


def retry_failed(sources: Sequence[DeliverySource]) -> int:
    """Put every failed delivery back to pending, due now (the team's `deliveries retry`)."""
    count = 0
    for source in sources:
        for channel in source.channels:
            path = delivery_path(channel, DeliveryFields.STATE)
            query = store.collection(source.collection).where(
                filter=store.field_filter(path, "==", FAILED)
            )
            for snap in query.stream(**store.call_options()):
                _start_over(snap.reference, channel)
                count += 1
    return count


def retry_one(source: DeliverySource, snap: Any) -> int:
    """Put the failed deliveries of one record (`snap`) back to pending, due now."""
    count = 0
    record = Forwarded.from_snapshot(snap)
    for channel in source.channels:
        state = record.delivery(channel)
        if state is not None and state.state == FAILED:
            _start_over(snap.reference, channel)
            count += 1
    return count


def _start_over(ref: DocumentReference, channel: str) -> None:
    from google.cloud import firestore

    f = DeliveryFields
    now = store.now()
    fresh = {
        f.STATE: PENDING,
        f.ATTEMPTS: 0,
        f.DUE_AT: now,
        f.NEXT_ATTEMPT_AT: now,
        f.FAILED_AT: firestore.DELETE_FIELD,
        f.UNKNOWN_OUTCOMES: firestore.DELETE_FIELD,
    }
    update = {delivery_path(channel, name): value for name, value in fresh.items()}
    ref.update(update, **store.call_options())


ATTENTION = (PENDING, PROCESSING, FAILED)
"""The states `overview` lists by default: the deliveries not yet settled."""


def listed_state(state: Delivery) -> str:
    """A delivery's state as listings show it: `held` for a pending one whose email waits
    for a later hour's budget."""
    return HELD if state.state == PENDING and state.held_at is not None else state.state


def overview(
    sources: Sequence[DeliverySource], *, states: Iterable[str] = ATTENTION
) -> list[dict[str, Any]]:
    """One line per delivery in `states`, with no personal data: kind, record label,
    channel, state, attempts, last error and when it is next tried. A held delivery is
    listed as `held`, with `pending` (or as `held` alone)."""
    asked = set(states)
    wanted = sorted({PENDING if name == HELD else name for name in asked})
    lines: list[dict[str, Any]] = []
    for source in sources:
        for channel in source.channels:
            path = delivery_path(channel, DeliveryFields.STATE)
            query = store.collection(source.collection).where(
                filter=store.field_filter(path, "in", wanted)
            )
            for snap in query.stream(**store.call_options()):
                state = Forwarded.from_snapshot(snap).delivery(channel) or Delivery(state="")
                listed = listed_state(state)
                if listed not in asked and not (listed == HELD and PENDING in asked):
                    continue
                lines.append(
                    {
                        "kind": source.name,
                        "id": source.label(snap),
                        "channel": channel,
                        "state": listed,
                        "attempts": state.attempts,
                        "last_error": state.last_error,
                        "next_attempt_at": state.due_at,
                    }
                )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    lines.sort(key=lambda line: (line["next_attempt_at"] or far, line["kind"], line["id"]))
    return lines

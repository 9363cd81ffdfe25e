"""Every Firestore document's shape, declared once: its fields, their types, their names.

Each collection (`store.SHAPES` names which shape a collection holds) has a frozen
dataclass whose attributes are the stored fields, and beside it a class of the stored
names, for the code that reads, writes or queries single fields:
`ref.update({SessionFields.LAST_SEQ: ...})`, or in a record's `deliveries` map
`delivery_path(channel, DeliveryFields.STATE)`. `to_dict` is what a whole write stores;
`from_dict` (or `from_snapshot`) reads a stored document, and gives a field the
document lacks its default.

Two kinds of field are not always written:
- `server_time()`: stamped by Firestore when the document is written. None on a
  document not yet written, for which `to_dict` asks for the server's time.
- `when_set(default)`: stored only once it holds something other than its default (a
  session's `closes`, a grant's `receipts`); read as the default while it is absent.

Standard library only, since every function imports it on its cold start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

_SERVER_TIME = "server_time"
_WHEN_SET = "when_set"


def server_time() -> Any:
    """A time Firestore stamps when the document is written (its SERVER_TIMESTAMP)."""
    return field(default=None, metadata={_SERVER_TIME: True})


def when_set(default: Any = None, *, factory: Callable[[], Any] | None = None) -> Any:
    """A field stored only once it holds something other than `default` (or `factory()`)."""
    if factory is not None:
        return field(default_factory=factory, metadata={_WHEN_SET: True})
    return field(default=default, metadata={_WHEN_SET: True})


def names(fields_class: type) -> frozenset[str]:
    """The stored names a class of field names declares (its own and those it inherits)."""
    return frozenset(
        getattr(fields_class, attribute) for attribute in dir(fields_class) if attribute.isupper()
    )


@dataclass(frozen=True, kw_only=True)
class Shape:
    """What every shape shares: the stored fields are the attributes that its class of
    names (`FIELDS`) names; a subclass may add others (a document's id, its reference),
    which are not stored."""

    FIELDS: ClassVar[type]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **extra: Any) -> Self:
        """The shape of stored `data`; `extra` gives a subclass's own attributes. A field
        that `data` lacks (or holds null, where its type takes none) reads as its default,
        else as its type's empty value (`""`, 0, `[]`, `{}`)."""
        read = {name: _read(hint, spec, data.get(name)) for name, spec, hint in _hints(cls)}
        return cls(**read, **extra)

    @classmethod
    def from_snapshot(cls, snap: Any, **extra: Any) -> Self:
        """The shape of a document snapshot (or of anything else with `to_dict()`)."""
        return cls.from_dict(snap.to_dict() or {}, **extra)

    @classmethod
    def stored_fields(cls) -> Iterator[dataclasses.Field[Any]]:
        stored = names(cls.FIELDS)
        return (f for f in dataclasses.fields(cls) if f.name in stored)

    def to_dict(self) -> dict[str, Any]:
        """What a whole write of this shape stores."""
        out: dict[str, Any] = {}
        for spec in self.stored_fields():
            value = getattr(self, spec.name)
            if spec.metadata.get(_WHEN_SET) and value == _default(spec):
                continue
            if value is None and spec.metadata.get(_SERVER_TIME):
                value = _server_timestamp()
            out[spec.name] = _stored(value)
        return out


_HINTS: dict[type, tuple[tuple[str, dataclasses.Field[Any], Any], ...]] = {}


def _hints(shape: type[Shape]) -> tuple[tuple[str, dataclasses.Field[Any], Any], ...]:
    """Each stored field of `shape` with its type, as this module declares it (a subclass
    elsewhere may add attributes whose types only a type checker resolves)."""
    if shape not in _HINTS:
        declared = next(k for k in shape.__mro__ if k.__module__ == __name__)
        hints = typing.get_type_hints(declared)
        _HINTS[shape] = tuple((f.name, f, hints[f.name]) for f in shape.stored_fields())
    return _HINTS[shape]


def _read(hint: Any, spec: dataclasses.Field[Any], value: Any) -> Any:
    """A stored value as the type its field declares."""
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    kind = next(a for a in args if a is not type(None)) if optional else hint
    origin = typing.get_origin(kind)
    if value is None:
        default = _default(spec)
        if default is not dataclasses.MISSING:
            return default
        return None if optional else {str: "", int: 0, list: [], Mapping: {}}.get(origin or kind)
    if isinstance(kind, type) and issubclass(kind, Shape):
        return kind.from_dict(value)
    if origin is Mapping:
        item_kind = typing.get_args(kind)[1]
        if isinstance(item_kind, type) and issubclass(item_kind, Shape):
            return {key: item_kind.from_dict(item or {}) for key, item in value.items()}
        return dict(value)
    if origin is list:
        return list(value)
    if kind in (int, str):
        return kind(value)
    return value


def _default(spec: dataclasses.Field[Any]) -> Any:
    """The field's default (a fresh one, for a factory), or MISSING."""
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


def _server_timestamp() -> Any:
    from google.cloud import firestore

    return firestore.SERVER_TIMESTAMP


def _stored(value: Any) -> Any:
    if isinstance(value, Shape):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {key: _stored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_stored(item) for item in value]
    return value


# -- every document ----------------------------------------------------------------------


class DocumentFields:
    EXPIRE_AT = "expire_at"


@dataclass(frozen=True, kw_only=True)
class Document(Shape):
    """A stored document of any collection."""

    FIELDS: ClassVar[type] = DocumentFields
    expire_at: dt.datetime | None
    """When the TTL policy may delete the document: a backstop to the sweep (TTL deletes
    no subcollections and may lag a day), which stays authoritative."""


# -- the deliveries of a record forwarded downstream ------------------------------------


class DeliveryFields:
    STATE = "state"
    ATTEMPTS = "attempts"
    LEASE_ID = "lease_id"
    DUE_AT = "due_at"
    NEXT_ATTEMPT_AT = "next_attempt_at"
    LAST_ERROR = "last_error"
    LAST_ERROR_DETAIL = "last_error_detail"
    UNKNOWN_OUTCOMES = "unknown_outcomes"
    SENT_AT = "sent_at"
    FAILED_AT = "failed_at"
    SKIPPED_AT = "skipped_at"
    HELD_AT = "held_at"


@dataclass(frozen=True, kw_only=True)
class Delivery(Shape):
    """One channel's state in a record's `deliveries` map: deliveries.py's state machine.
    No personal data: the errors are the downstream's status, not what it quoted."""

    FIELDS: ClassVar[type] = DeliveryFields
    state: str
    """pending, processing, sent, failed, disabled or skipped (deliveries.STATES)."""
    attempts: int = 0
    lease_id: str | None = when_set()
    """The holder of the lease while `processing`."""
    due_at: dt.datetime | None = when_set()
    """When the sweep takes it up next; present while pending or leased, so that what is
    due is one range query."""
    next_attempt_at: dt.datetime | None = when_set()
    last_error: str | None = when_set()
    last_error_detail: str | None = when_set()
    unknown_outcomes: int = when_set(0)
    """Leases that ran out with their attempt's outcome never written."""
    sent_at: dt.datetime | None = when_set()
    failed_at: dt.datetime | None = when_set()
    skipped_at: dt.datetime | None = when_set()
    held_at: dt.datetime | None = when_set()
    """When its email found the hour's budget spent (budget.py): it waits, pending, for a
    later hour, with no attempt counted. Removed by the attempt's next outcome."""


class ForwardedFields(DocumentFields):
    CREATED_AT = "created_at"
    DELIVERIES = "deliveries"


@dataclass(frozen=True, kw_only=True)
class Forwarded(Document):
    """A record forwarded downstream (a contact submission, a chat session), as the
    deliveries machinery and the status page read either."""

    FIELDS: ClassVar[type] = ForwardedFields
    created_at: dt.datetime | None = server_time()
    deliveries: Mapping[str, Delivery] = when_set(factory=dict)
    """Each channel's delivery (`email`, `crm`; a chat's `nudge` too)."""

    def delivery(self, channel: str) -> Delivery | None:
        return self.deliveries.get(channel)


def delivery_path(channel: str, name: str | None = None) -> str:
    """The field path of a channel's delivery, or of one of its fields:
    `delivery_path("email", DeliveryFields.STATE)` is `deliveries.email.state`."""
    path = f"{ForwardedFields.DELIVERIES}.{channel}"
    return path if name is None else f"{path}.{name}"


# -- contact_submissions -------------------------------------------------------------


class ContactFields(ForwardedFields):
    NAME = "name"
    EMAIL = "email"
    EMAIL_KEY = "email_key"
    COMPANY = "company"
    MESSAGE = "message"
    SEARCH_TERMS = "search_terms"
    QUARANTINED_AT = "quarantined_at"
    QUARANTINE_REASON = "quarantine_reason"


@dataclass(frozen=True, kw_only=True)
class ContactSubmission(Forwarded):
    FIELDS: ClassVar[type] = ContactFields
    name: str
    email: str
    email_key: str
    """The normalised address (trimmed, lower-cased) the privacy tools find it by."""
    company: str
    message: str
    search_terms: list[str]
    """The words of the name and the company, case-folded (validation.search_terms): what
    the team's inbox finds the person by, with one `array_contains` query."""
    quarantined_at: dt.datetime | None = when_set()
    """Set while the post waits in the quarantine (quarantine.py): it has no deliveries,
    and expires after QUARANTINE_DAYS unless the team releases it."""
    quarantine_reason: str | None = when_set()
    """Why, in words the team reads: "no proof of work", "3 links, 'backlinks'"."""


# -- chat_sessions and their messages ----------------------------------------------------


class SessionFields(ForwardedFields):
    EMAIL = "email"
    EMAIL_KEY = "email_key"
    PAGE = "page"
    STATUS = "status"
    LEAD_ID = "lead_id"
    LAST_ACTIVITY_AT = "last_activity_at"
    MESSAGE_COUNT = "message_count"
    LAST_SEQ = "last_seq"
    LAST_AUTHOR = "last_author"
    UNANSWERED = "unanswered"
    CLOSES = "closes"
    FIRST_MESSAGE_ID = "first_message_id"
    LAST_TEAM_SEQ = "last_team_seq"
    SEEN_THROUGH = "seen_through"
    REPLY_EMAILED_THROUGH = "reply_emailed_through"
    AWAITING_SINCE = "awaiting_since"
    LAST_MESSAGE_AT = "last_message_at"
    LAST_TEXT = "last_text"
    LAST_NAME = "last_name"
    POLLED_AT = "polled_at"


@dataclass(frozen=True, kw_only=True)
class ChatSession(Forwarded):
    """A chat session; its document id is the session id, the visitor's bearer secret,
    so nothing stored in it repeats the id (`lead_id` names it everywhere else)."""

    FIELDS: ClassVar[type] = SessionFields
    email: str
    email_key: str
    page: str
    """The page the chat started on."""
    status: str
    """open or closed."""
    lead_id: str
    last_activity_at: dt.datetime | None = server_time()
    message_count: int = 0
    """Visitor messages taken (against CHAT_MAX_MESSAGES), by `Increment`."""
    last_seq: int = 0
    """The newest message's sequence number, by `Maximum`."""
    last_author: str | None = when_set()
    """Who wrote the newest message (visitor or team)."""
    unanswered: int = when_set(0)
    """Visitor messages since the team's last reply: what the nudge counts."""
    closes: int = when_set(0)
    """Not zero while the team has the session closed (each close adds one, a reopening
    sets it to 0): a number, so that a visitor's reservation reads it in the same write
    that takes its place (an `Increment` by 0)."""
    first_message_id: str | None = when_set()
    """The first visitor message's id, written with the deliveries that forward it."""
    last_team_seq: int = when_set(0)
    """The newest team message's sequence number, by `Maximum`."""
    seen_through: int = when_set(0)
    """The visitor's seen point: the number (its id, unpadded) of the newest team message
    a poll has given them, by `Maximum`, written only when it advances."""
    reply_emailed_through: int = when_set(0)
    """The newest team message a reply email (or a transcript) has carried: the next
    reply email carries only newer ones."""
    awaiting_since: int | None = None
    """Since when the team owes an answer: the time (epoch milliseconds) of the oldest
    visitor message after the team's last one, by `Minimum` (which sets an absent or null
    field), so concurrent posts keep the earliest; null once the team writes. Stored,
    null, on every session, so that the inbox can ask for the chats not awaiting one."""
    last_message_at: dt.datetime | None = server_time()
    """When the newest message was written (the session's start, before any)."""
    last_text: str | None = when_set()
    """The newest message's first line, cut to `thread.PREVIEW_MAX` characters: the
    inbox's preview."""
    last_name: str | None = when_set()
    """The team member's display name, when the newest message is a named team reply."""
    polled_at: dt.datetime | None = when_set()
    """When the visitor's widget last asked for news (a poll or a peek), written at most
    every PRESENCE_REFRESH: whether they are on the page now."""

    @property
    def unseen_possible(self) -> bool:
        """Whether a team message may lie beyond the seen point."""
        return self.last_team_seq > self.seen_through


class MessageFields(DocumentFields):
    AUTHOR = "author"
    TEXT = "text"
    SEQ = "seq"
    CREATED_AT = "created_at"
    NAME = "name"


@dataclass(frozen=True, kw_only=True)
class ChatMessage(Document):
    """A message of `chat_sessions/{id}/messages`, whose id is its `seq`, zero-padded."""

    FIELDS: ClassVar[type] = MessageFields
    author: str
    """visitor or team."""
    text: str
    seq: int
    created_at: dt.datetime | None = server_time()
    name: str | None = when_set()
    """A team message's writer, as the visitor sees them: the member's display name."""


class GateFields(DocumentFields):
    pass


@dataclass(frozen=True, kw_only=True)
class ChatGate(Document):
    """`chat_sessions/{id}/gate/open`: there while the chat takes visitor messages. Each
    visitor message's commit updates it, so a close, which deletes it, fails every message
    not yet written. Its `expire_at` moves with the session's. Nothing else."""

    FIELDS: ClassVar[type] = GateFields


# -- access_grants -------------------------------------------------------------------


class GrantFields(DocumentFields):
    LEAD = "lead"
    EMAIL = "email"
    EMAIL_KEY = "email_key"
    COMPANY = "company"
    SECTIONS = "sections"
    CREATED_AT = "created_at"
    EXPIRES_AT = "expires_at"
    REVOKED_AT = "revoked_at"
    MAX_USES = "max_uses"
    REDEMPTIONS = "redemptions"
    FIRST_REDEEMED_AT = "first_redeemed_at"
    LAST_REDEEMED_AT = "last_redeemed_at"
    RECEIPTS = "receipts"
    DELIVERIES = "deliveries"
    SEARCH_TERMS = "search_terms"


@dataclass(frozen=True, kw_only=True)
class AccessGrant(Document):
    """A per-lead link's grant; its document id is the SHA-256 of the token."""

    FIELDS: ClassVar[type] = GrantFields
    lead: str
    email: str | None
    email_key: str | None
    company: str | None
    sections: list[str]
    created_at: dt.datetime | None = server_time()
    expires_at: dt.datetime | None
    """When the link stops working; None: it works until revoked or deleted."""
    revoked_at: dt.datetime | None = None
    max_uses: int | None
    redemptions: int = 0
    """Uses counted, by `Increment`."""
    first_redeemed_at: dt.datetime | None = None
    last_redeemed_at: dt.datetime | None = None
    receipts: list[str] = when_set(factory=list)
    """Hashes of the receipts of the uses counted, for a grant with max uses."""
    deliveries: Mapping[str, Delivery] = when_set(factory=dict)
    """The note to the team's inbox that the lead opened their link (`opened`)."""
    search_terms: list[str]
    """The words of the lead and the company, case-folded (validation.search_terms): what
    the team's inbox finds the person by."""

    def delivery(self, channel: str) -> Delivery | None:
        return self.deliveries.get(channel)


# -- idempotency_keys and rate_limits ----------------------------------------------------


class ResponseFields:
    STATUS = "status"
    BODY = "body"
    HEADERS = "headers"


@dataclass(frozen=True, kw_only=True)
class StoredResponse(Shape):
    """The first answer to a request with an Idempotency-Key, replayed for a repeat."""

    FIELDS: ClassVar[type] = ResponseFields
    status: int
    body: str
    """The body as JSON text (ids only, where the answer holds a secret or a person's data)."""
    headers: Mapping[str, str]


class IdempotencyFields(DocumentFields):
    REQUEST_HASH = "request_hash"
    STATE = "state"
    CLAIMED_AT = "claimed_at"
    RESPONSE = "response"


@dataclass(frozen=True, kw_only=True)
class IdempotencyKey(Document):
    """A claimed Idempotency-Key; its document id is a hash of the function and the key."""

    FIELDS: ClassVar[type] = IdempotencyFields
    request_hash: str
    """What tells a repeat from another request under the same key (an HMAC keyed by it)."""
    state: str
    """in_progress, then done."""
    claimed_at: dt.datetime | None
    response: StoredResponse | None = when_set()


class RateLimitFields(DocumentFields):
    COUNT = "count"


@dataclass(frozen=True, kw_only=True)
class RateLimitCounter(Document):
    """One client's requests in one window; its id is a keyed hash of scope, client and
    window, so the client's address is stored nowhere."""

    FIELDS: ClassVar[type] = RateLimitFields
    count: int
    """Counted by `Increment`."""


class SpentChallengeFields(DocumentFields):
    pass


@dataclass(frozen=True, kw_only=True)
class SpentChallenge(Document):
    """A proof-of-work challenge already used (proof.py); its id is a hash of the
    challenge's signature, and it expires when the challenge does. Nothing else."""

    FIELDS: ClassVar[type] = SpentChallengeFields


class ForwardBudgetFields(DocumentFields):
    SENT = "sent"
    HELD = "held"


@dataclass(frozen=True, kw_only=True)
class ForwardBudget(Document):
    """The emails sent in one hour against FORWARD_BUDGET (budget.py); its id is the
    hour. Counts only."""

    FIELDS: ClassVar[type] = ForwardBudgetFields
    sent: int
    held: int = when_set(0)
    """Emails that found the hour's budget spent and wait for a later hour."""


# -- the records of what was done: privacy_requests, sweep_runs, team_audit ---------------


class PrivacyRequestFields(DocumentFields):
    KIND = "kind"
    EMAIL_HMAC = "email_hmac"
    COUNTS = "counts"
    AT = "at"
    OUTCOME = "outcome"
    RECORD_IDS = "record_ids"


@dataclass(frozen=True, kw_only=True)
class PrivacyRequest(Document):
    """The trace of a privacy request: no address, only a keyed hash of it."""

    FIELDS: ClassVar[type] = PrivacyRequestFields
    kind: str
    """export, correct or delete."""
    email_hmac: str
    counts: Mapping[str, int]
    """Records and rows found, corrected or deleted, per store."""
    at: dt.datetime | None
    outcome: str | None = when_set()
    """An erasure's: `started` from its first step (its counts follow each page), then
    `done`; one left `started` is continued by the next erasure of the address."""
    record_ids: list[str] | None = when_set()
    """An erasure's while it runs: the ids of the records it deleted (no address, no
    content), for the mailbox searches and the CRM's last look at its end. The `done`
    trace that replaces it keeps none."""


class SweepRunFields(DocumentFields):
    TASKS = "tasks"
    OUTCOME = "outcome"
    DELETED = "deleted"
    DELIVERIES = "deliveries"
    STARTED_AT = "started_at"
    FINISHED_AT = "finished_at"


@dataclass(frozen=True, kw_only=True)
class SweepRun(Document):
    """One run of the sweep: its tasks, counts and outcome; no personal data."""

    FIELDS: ClassVar[type] = SweepRunFields
    tasks: list[str]
    outcome: str
    """ok, crm_unavailable, or failed when the run stopped on an error."""
    deleted: Mapping[str, int]
    """Documents and rows deleted, per store."""
    deliveries: Mapping[str, int]
    """Deliveries sent, retrying, failed and found due."""
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class AuditFields(DocumentFields):
    MEMBER = "member"
    MEMBER_NAME = "member_name"
    ACTION = "action"
    TARGET = "target"
    AT = "at"


@dataclass(frozen=True, kw_only=True)
class AuditEntry(Document):
    """What a team member did in the console; no visitor data."""

    FIELDS: ClassVar[type] = AuditFields
    member: str
    """The team member's address."""
    member_name: str | None = when_set()
    """Their display name, from their ID token, when it carries one."""
    action: str
    target: str
    """A chat's lead id, a grant's id, a record's id, or a privacy request's keyed hash."""
    at: dt.datetime | None = server_time()

"""Chat sessions and their messages: ids, the typed session, appending and reading.

Order: every message carries a sequence number `seq`, and its id is that number
zero-padded, so ids sort as the messages do. A writer claims number n by creating
message n in one batch with the session's update, and tries n only once it knows that
n-1 exists (from the session's `last_seq`, or from losing n-1 to another writer). So
the numbers have no gaps and no message appears behind one a poll has already seen: a
poll with `?after=<id>` never skips or repeats a message.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from factoryops import errors, logs, store
from factoryops.validation import SESSION_ID_MAX

if TYPE_CHECKING:
    from google.cloud import firestore

SESSION_HEADER = "X-Chat-Session"
OPEN = "open"
CLOSED = "closed"
CLOSES = "closes"
"""How many times the team closed the session (absent or 0 while open): a number, so that
a visitor's reservation reads it in the same write that takes its place."""
VISITOR = "visitor"
TEAM = "team"

SESSION_BYTES = 32
"""`secrets.token_urlsafe(32)`: 256 bits, 43 characters."""
LEAD_ID_BYTES = 8
PAGE_LIMIT = 100
"""Messages per poll; a longer thread arrives over the next polls."""
LIMIT_RETRY_AFTER = 24 * 3600
"""Retry-After of `chat_limit_reached`: the cap does not lift, so the answer is long."""
CLAIM_ATTEMPTS = 64
"""Sequence numbers one post may try before giving up (each loss means another write won)."""

SESSION_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{SESSION_ID_MAX}}}")
MESSAGE_ID = re.compile(r"[0-9]{8}")
LEAD_ID = re.compile(rf"[0-9a-f]{{{2 * LEAD_ID_BYTES}}}")


def message_id(seq: int) -> str:
    return f"{seq:08d}"


def sessions() -> firestore.CollectionReference:
    return store.collection(store.CHAT_SESSIONS)


def parse_session_id(raw: object) -> str:
    """A session id of the shape we issue, or SessionNotFound: a malformed id gets the very
    answer an unknown one gets, and never reaches Firestore (whose errors quote paths)."""
    value = raw.strip() if isinstance(raw, str) else ""
    if not SESSION_ID.fullmatch(value) or not store.is_document_id(value):
        raise errors.SessionNotFound()
    return value


@dataclass(frozen=True)
class Message:
    id: str
    seq: int
    author: str
    text: str
    created_at: dt.datetime

    def wire(self) -> dict[str, str]:
        return {
            "id": self.id,
            "author": self.author,
            "text": self.text,
            "created_at": store.rfc3339(self.created_at) or "",
        }

    @classmethod
    def from_snapshot(cls, snap: Any) -> Message:
        data = snap.to_dict() or {}
        return cls(
            id=snap.id,
            seq=int(data["seq"]),
            author=str(data["author"]),
            text=str(data["text"]),
            created_at=data["created_at"],
        )


@dataclass(frozen=True)
class Session:
    """A stored session as the team sees it. Its document id is the visitor's secret, so
    it is named by `lead_id`; `ref` reaches the document without showing the id."""

    lead_id: str
    email: str
    page: str
    status: str
    visitor_messages: int
    last_seq: int
    created_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    deliveries: dict[str, str]
    """The first message's delivery state per channel (`email`, `crm`)."""
    last_author: str | None
    """Who wrote the newest message (`visitor` or `team`); None before the first."""
    ref: firestore.DocumentReference = field(repr=False, compare=False)

    @classmethod
    def from_snapshot(cls, snap: Any) -> Session:
        data = snap.to_dict() or {}
        return cls(
            lead_id=str(data.get("lead_id", "")),
            email=str(data.get("email", "")),
            page=str(data.get("page", "")),
            status=str(data.get("status", OPEN)),
            visitor_messages=int(data.get("message_count", 0)),
            last_seq=int(data.get("last_seq", 0)),
            created_at=data.get("created_at"),
            last_activity_at=data.get("last_activity_at"),
            deliveries={
                channel: str(state.get("state"))
                for channel, state in sorted((data.get("deliveries") or {}).items())
            },
            last_author=data.get("last_author"),
            ref=snap.reference,
        )

    @property
    def closed(self) -> bool:
        return self.status == CLOSED

    @property
    def awaiting_reply(self) -> bool:
        """Open, with the visitor's message the newest: the team owes an answer."""
        return self.status == OPEN and self.last_author == VISITOR

    def summary(self) -> dict[str, Any]:
        """A line of a list of sessions."""
        return {
            "lead_id": self.lead_id,
            "status": self.status,
            "email": self.email,
            "page": self.page,
            "visitor_messages": self.visitor_messages,
            "last_activity_at": self.last_activity_at,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "created_at": self.created_at,
            "deliveries": dict(self.deliveries),
        }


def reserve_visitor_message(ref: firestore.DocumentReference, *, cap: int, lead_id: str) -> int:
    """Take one of the session's `cap` visitor messages before writing it; return its
    number (1 for the first). The count comes from the write itself (an `Increment` whose
    commit returns the new value), so concurrent posts never take more than `cap` between
    them: one that takes the count past it gives it back and is refused. The same write
    reads whether the team has closed the session (an `Increment` by 0 returns the value),
    so a post that read the session open before a close is refused after it."""
    from google.api_core import exceptions
    from google.cloud import firestore

    taken = {"message_count": firestore.Increment(1), CLOSES: firestore.Increment(0)}
    try:
        result = ref.update(taken, **store.call_options())
    except exceptions.NotFound:
        raise errors.SessionNotFound() from None
    now = store.transform_results(result, taken)
    if int(now[CLOSES]):
        give_back_visitor_message(ref, lead_id=lead_id)
        raise errors.SessionClosed()
    count = int(now["message_count"])
    if count > cap:
        give_back_visitor_message(ref, lead_id=lead_id)
        logs.chat_cap_reached(lead_id=lead_id)
        raise errors.ChatLimitReached(retry_after=LIMIT_RETRY_AFTER)
    return count


def give_back_visitor_message(ref: firestore.DocumentReference, *, lead_id: str) -> None:
    """Return a reserved visitor message that was refused or not written."""
    from google.cloud import firestore

    try:
        ref.update({"message_count": firestore.Increment(-1)}, **store.call_options())
    except Exception as exc:
        # Kept, the extra count only refuses sooner what the cap refuses anyway.
        logs.chat_count_not_given_back(lead_id=lead_id, error=exc)


def append(
    ref: firestore.DocumentReference, *, author: str, text: str, last_seq: int, lead_id: str
) -> Message:
    """Store one message after the newest one (a visitor's after `reserve_visitor_message`).

    `last_seq` is the session's `last_seq` as last read: a stale value costs a few lost
    claims, never a gap or a reused number.
    """
    from google.api_core import exceptions
    from google.cloud import firestore

    client = store.client()
    options = store.call_options()
    seq = last_seq + 1
    for _ in range(CLAIM_ATTEMPTS):
        transforms: dict[str, Any] = {
            "last_activity_at": firestore.SERVER_TIMESTAMP,
            "last_seq": firestore.Maximum(seq),
        }
        batch = client.batch()
        batch.create(
            ref.collection(store.MESSAGES).document(message_id(seq)),
            {
                "author": author,
                "text": text,
                "seq": seq,
                "created_at": firestore.SERVER_TIMESTAMP,
                "expire_at": store.expire_at(),
            },
        )
        # How many visitor messages wait for the team: the nudge says so.
        if author == VISITOR:
            transforms["unanswered"] = firestore.Increment(1)
        waiting = {} if author == VISITOR else {"unanswered": 0}
        batch.update(
            ref,
            {**transforms, **waiting, "last_author": author, "expire_at": store.expire_at()},
        )
        try:
            written, _ = batch.commit(**options)
        except exceptions.AlreadyExists:
            seq += 1
            continue
        except exceptions.NotFound:
            raise errors.SessionNotFound() from None
        return Message(
            id=message_id(seq),
            seq=seq,
            author=author,
            text=text,
            created_at=store.transform_results(written, ["created_at"])["created_at"],
        )
    logs.chat_message_not_placed(lead_id=lead_id, attempts=CLAIM_ATTEMPTS)
    raise errors.Unavailable()


def read(
    ref: firestore.DocumentReference, *, after: int = 0, limit: int | None = PAGE_LIMIT
) -> list[Message]:
    """The session's messages after sequence number `after`, oldest first."""
    query = (
        ref.collection(store.MESSAGES)
        .where(filter=store.field_filter("seq", ">", after))
        .order_by("seq")
    )
    if limit is not None:
        query = query.limit(limit)
    return [Message.from_snapshot(snap) for snap in query.stream(**store.call_options())]


def read_one(ref: firestore.DocumentReference, message_id: str) -> Message | None:
    """One message of the session by its id, or None when it is not (or no longer) stored."""
    if not MESSAGE_ID.fullmatch(message_id):
        return None
    snap = ref.collection(store.MESSAGES).document(message_id).get(**store.call_options())
    return Message.from_snapshot(snap) if snap.exists else None

"""Chat sessions and their messages: ids, the typed session, appending and reading.

Order: every message carries a sequence number `seq`, and its id is that number
zero-padded, so ids sort as the messages do. A writer claims number n by creating
message n in one batch with the session's update, and tries n only once it knows that
n-1 exists (from the session's `last_seq`, or from losing n-1 to another writer). So
the numbers have no gaps and no message appears behind one a poll has already seen: a
poll with `?after=<id>` never skips or repeats a message.

Open: a session takes visitor messages while its gate, `gate/open`, exists. A visitor
message's commit updates the gate as it creates the message, and a close deletes it in
the close's own commit, so a message is either written before the close or refused with
it (409 `session_closed`): a post that read the session open cannot land after the
team closed it, however long it took between its read and its write.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from factoryops import errors, logs, store
from factoryops.documents import (
    ChatGate,
    ChatMessage,
    ChatSession,
    GateFields,
    MessageFields,
    SessionFields,
)
from factoryops.validation import SESSION_ID_MAX

if TYPE_CHECKING:
    from google.cloud import firestore

SESSION_HEADER = "X-Chat-Session"
OPEN = "open"
CLOSED = "closed"
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
PREVIEW_MAX = 140
"""Characters of the newest message's first line that the session keeps for the inbox."""
PRESENCE_WINDOW = dt.timedelta(seconds=30)
"""A visitor whose open chat panel asked for news this recently is in the chat now."""
PRESENCE_REFRESH = dt.timedelta(seconds=15)
"""How stale `polled_at` may grow before a poll writes it again: one write in a quarter
of a minute rather than one a poll. The widget with its panel open polls every few
seconds (web/factoryops.js), which keeps it inside the window."""

SESSION_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{SESSION_ID_MAX}}}")
MESSAGE_ID = re.compile(r"[0-9]{8}")
LEAD_ID = re.compile(rf"[0-9a-f]{{{2 * LEAD_ID_BYTES}}}")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def message_id(seq: int) -> str:
    return f"{seq:08d}"


def new_message(*, author: str, text: str, seq: int, name: str | None = None) -> ChatMessage:
    """A message to store as number `seq`; the server stamps its time. `name` is a team
    message's writer, the member's display name (a visitor's message has none)."""
    named = name if author == TEAM else None
    return ChatMessage(author=author, text=text, seq=seq, name=named, expire_at=store.expire_at())


def preview(text: str) -> str:
    """What the inbox shows of a message: its first line, cut to PREVIEW_MAX characters."""
    lines = text.strip().splitlines()
    return lines[0].strip()[:PREVIEW_MAX] if lines else ""


def epoch_ms(moment: dt.datetime) -> int:
    """A time as `awaiting_since` stores it."""
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


def from_epoch_ms(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=value)


def lead_label(record: Any) -> str:
    """What log lines and listings call a chat: its lead id, since the session's document
    id is the visitor's secret."""
    return ChatSession.from_snapshot(record).lead_id or "unknown"


def sessions() -> firestore.CollectionReference:
    return store.collection(store.CHAT_SESSIONS)


GATE_ID = "open"


def gate(ref: firestore.DocumentReference) -> firestore.DocumentReference:
    """The session's gate: there while it takes visitor messages (see the module)."""
    gate: firestore.DocumentReference = ref.collection(store.GATE).document(GATE_ID)
    return gate


def open_gate() -> dict[str, Any]:
    """A gate's fields: only the `expire_at` it shares with its session."""
    return ChatGate(expire_at=store.expire_at()).to_dict()


def parse_session_id(raw: object) -> str:
    """A session id of the shape we issue, or SessionNotFound: a malformed id gets the very
    answer an unknown one gets, and never reaches Firestore (whose errors quote paths)."""
    value = raw.strip() if isinstance(raw, str) else ""
    if not SESSION_ID.fullmatch(value) or not store.is_document_id(value):
        raise errors.SessionNotFound()
    return value


@dataclass(frozen=True, kw_only=True)
class Message(ChatMessage):
    """A stored message, with its id (its `seq`, zero-padded)."""

    id: str

    def wire(self) -> dict[str, str]:
        wired = {
            "id": self.id,
            "author": self.author,
            "text": self.text,
            "created_at": store.rfc3339(self.created_at) or "",
        }
        if self.name:
            wired["name"] = self.name
        return wired

    @classmethod
    def from_snapshot(cls, snap: Any, **extra: Any) -> Self:
        return cls.from_dict(snap.to_dict() or {}, id=snap.id, **extra)


@dataclass(frozen=True, kw_only=True)
class Session(ChatSession):
    """A stored session as the team sees it. Its document id is the visitor's secret, so
    it is named by `lead_id`; `ref` reaches the document without showing the id."""

    ref: firestore.DocumentReference = field(repr=False, compare=False)

    @classmethod
    def from_snapshot(cls, snap: Any, **extra: Any) -> Self:
        return cls.from_dict(snap.to_dict() or {}, ref=snap.reference, **extra)

    @property
    def visitor_messages(self) -> int:
        return self.message_count

    @property
    def closed(self) -> bool:
        return self.status == CLOSED

    def online(self, now: dt.datetime) -> bool:
        """Whether the visitor's open chat panel asked for news within PRESENCE_WINDOW of
        `now` (a folded widget records nothing: see chat.endpoint._record_poll)."""
        return self.polled_at is not None and now - self.polled_at <= PRESENCE_WINDOW

    @property
    def awaiting_reply(self) -> bool:
        """Open, with a visitor's message after the team's last: the team owes an answer."""
        return self.status == OPEN and self.awaiting_since is not None

    def delivery_states(self) -> dict[str, str]:
        """The state of each delivery (the first message's `email` and `crm`, the nudge)."""
        return {channel: state.state for channel, state in sorted(self.deliveries.items())}

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
            "deliveries": self.delivery_states(),
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

    taken = {
        SessionFields.MESSAGE_COUNT: firestore.Increment(1),
        SessionFields.CLOSES: firestore.Increment(0),
    }
    try:
        result = ref.update(taken, **store.call_options())
    except exceptions.NotFound:
        raise errors.SessionNotFound() from None
    now = store.transform_results(result, taken)
    if int(now[SessionFields.CLOSES]):
        give_back_visitor_message(ref, lead_id=lead_id)
        raise errors.SessionClosed()
    count = int(now[SessionFields.MESSAGE_COUNT])
    if count > cap:
        give_back_visitor_message(ref, lead_id=lead_id)
        logs.chat_cap_reached(lead_id=lead_id)
        raise errors.ChatLimitReached(retry_after=LIMIT_RETRY_AFTER)
    return count


def give_back_visitor_message(ref: firestore.DocumentReference, *, lead_id: str) -> None:
    """Return a reserved visitor message that was refused or not written."""
    from google.cloud import firestore

    try:
        given_back = {SessionFields.MESSAGE_COUNT: firestore.Increment(-1)}
        ref.update(given_back, **store.call_options())
    except Exception as exc:
        # Kept, the extra count only refuses sooner what the cap refuses anyway.
        logs.chat_count_not_given_back(lead_id=lead_id, error=exc)


@dataclass(frozen=True)
class Appended:
    """A message stored by `append`, and what its write did to the session."""

    message: Message
    opened_wait: bool
    """A visitor's message that found the team owing no answer: the wait begins with it
    (`awaiting_since` is its time), so nothing scheduled for an earlier wait stands."""


def append(
    ref: firestore.DocumentReference,
    *,
    author: str,
    text: str,
    last_seq: int,
    lead_id: str,
    name: str | None = None,
    also: Mapping[str, Any] | None = None,
) -> Appended:
    """Store one message after the newest one (a visitor's after `reserve_visitor_message`).

    `last_seq` is the session's `last_seq` as last read: a stale value costs a few lost
    claims, never a gap or a reused number. `name` is the team member's display name (a
    team message's); `also` holds more fields of the session to write in the same update,
    plain values and deletions, no transforms (a team reply settles the nudge there).

    The session's update keeps the inbox's fields: the preview of the newest message, and
    `awaiting_since`, which a visitor's message sets by `Minimum` (the first of concurrent
    posts wins, and a later one leaves it) and the team's clears.

    A visitor's message is written only through the session's open gate, in the same
    commit: one that finds the chat closed is refused (SessionClosed).
    """
    from google.api_core import exceptions
    from google.cloud import firestore

    client = store.client()
    options = store.call_options()
    seq = last_seq + 1
    shown = name if author == TEAM else None
    for _ in range(CLAIM_ATTEMPTS):
        sent_at = epoch_ms(store.now())
        transforms: dict[str, Any] = {
            SessionFields.LAST_ACTIVITY_AT: firestore.SERVER_TIMESTAMP,
            SessionFields.LAST_MESSAGE_AT: firestore.SERVER_TIMESTAMP,
            SessionFields.LAST_SEQ: firestore.Maximum(seq),
        }
        document = new_message(author=author, text=text, seq=seq, name=name)
        batch = client.batch()
        batch.create(ref.collection(store.MESSAGES).document(message_id(seq)), document.to_dict())
        # How many visitor messages wait for the team: the nudge says so.
        if author == VISITOR:
            transforms[SessionFields.UNANSWERED] = firestore.Increment(1)
            transforms[SessionFields.AWAITING_SINCE] = firestore.Minimum(sent_at)
            waiting: dict[str, Any] = {}
        else:
            transforms[SessionFields.LAST_TEAM_SEQ] = firestore.Maximum(seq)
            waiting = {SessionFields.UNANSWERED: 0, SessionFields.AWAITING_SINCE: None}
        batch.update(
            ref,
            {
                **(also or {}),
                **transforms,
                **waiting,
                SessionFields.LAST_AUTHOR: author,
                SessionFields.LAST_TEXT: preview(text),
                SessionFields.LAST_NAME: firestore.DELETE_FIELD if shown is None else shown,
                SessionFields.EXPIRE_AT: store.expire_at(),
            },
        )
        if author == VISITOR:
            # Fails the whole commit once a close has removed the gate.
            batch.update(gate(ref), {GateFields.EXPIRE_AT: store.expire_at()})
        try:
            written, updated = batch.commit(**options)[:2]
        except exceptions.AlreadyExists:
            seq += 1
            continue
        except exceptions.NotFound:
            if author == VISITOR and _gate_restored(ref):
                continue
            raise errors.SessionNotFound() from None
        created = MessageFields.CREATED_AT
        message = Message(
            id=message_id(seq),
            seq=seq,
            author=author,
            text=text,
            name=document.name,
            created_at=store.transform_results(written, [created])[created],
            expire_at=document.expire_at,
        )
        opened = False
        if author == VISITOR:
            awaiting = SessionFields.AWAITING_SINCE
            opened = store.transform_results(updated, transforms)[awaiting] == sent_at
        return Appended(message=message, opened_wait=opened)
    logs.chat_message_not_placed(lead_id=lead_id, attempts=CLAIM_ATTEMPTS)
    raise errors.Unavailable()


def _gate_restored(ref: firestore.DocumentReference) -> bool:
    """After a visitor's commit found no gate or no session: raise SessionClosed for a
    closed session; for an open one without its gate (one stored before sessions had
    gates, or whose gate the TTL policy took after RETENTION_DAYS without a visitor
    message while team replies kept the session), put the gate back, conditioned on the
    session unchanged since it was read open, so a close in between still wins, and
    return True to try again. False when the session is gone."""
    from google.api_core import exceptions

    snap = ref.get(**store.call_options())
    if not snap.exists:
        return False
    if ChatSession.from_snapshot(snap).status != OPEN:
        raise errors.SessionClosed()
    client = store.client()
    batch = client.batch()
    batch.set(gate(ref), open_gate())
    unchanged = client.write_option(last_update_time=snap.update_time)
    batch.update(ref, {SessionFields.EXPIRE_AT: store.expire_at()}, option=unchanged)
    with contextlib.suppress(exceptions.FailedPrecondition):
        batch.commit(**store.call_options())
    return True


def read(
    ref: firestore.DocumentReference, *, after: int = 0, limit: int | None = PAGE_LIMIT
) -> list[Message]:
    """The session's messages after sequence number `after`, oldest first."""
    query = (
        ref.collection(store.MESSAGES)
        .where(filter=store.field_filter(MessageFields.SEQ, ">", after))
        .order_by(MessageFields.SEQ)
    )
    if limit is not None:
        query = query.limit(limit)
    return [Message.from_snapshot(snap) for snap in query.stream(**store.call_options())]


def unseen(ref: firestore.DocumentReference, session: ChatSession) -> int:
    """Team messages after the visitor's seen point; no read when there can be none."""
    if not session.unseen_possible:
        return 0
    query = (
        ref.collection(store.MESSAGES)
        .where(filter=store.field_filter(MessageFields.SEQ, ">", session.seen_through))
        .select([MessageFields.AUTHOR])
    )
    found = query.stream(**store.call_options())
    return sum(1 for snap in found if (snap.to_dict() or {}).get(MessageFields.AUTHOR) == TEAM)


def read_one(ref: firestore.DocumentReference, message_id: str) -> Message | None:
    """One message of the session by its id, or None when it is not (or no longer) stored."""
    if not MESSAGE_ID.fullmatch(message_id):
        return None
    snap = ref.collection(store.MESSAGES).document(message_id).get(**store.call_options())
    return Message.from_snapshot(snap) if snap.exists else None


FORGOTTEN_AT_ONCE = 500
"""Stale presences one sweep forgets (one batch's worth); any more go in the next."""


def forget_presence(now: dt.datetime) -> int:
    """Remove `polled_at` from the sessions whose chat panel has gone quiet: the time
    someone was in the chat is a trace of their visit, which the privacy notice does not
    keep, so it is kept only while it says they are there (the deliveries sweep, every
    minute). Returns how many were forgotten; a failure is logged, never raised, since
    the sweep's own work is done."""
    from google.cloud import firestore

    stale = store.field_filter(SessionFields.POLLED_AT, "<", now - PRESENCE_WINDOW)
    query = sessions().where(filter=stale).select([SessionFields.POLLED_AT])
    client = store.client()
    forgotten = 0
    try:
        while found := list(query.limit(FORGOTTEN_AT_ONCE).stream(**store.call_options())):
            batch = client.batch()
            for snap in found:
                # Only as read: a session asked again or deleted meanwhile fails the
                # batch, which the next sweep, a minute on, tries again.
                unchanged = client.write_option(last_update_time=snap.update_time)
                forget = {SessionFields.POLLED_AT: firestore.DELETE_FIELD}
                batch.update(snap.reference, forget, option=unchanged)
            batch.commit(**store.call_options())
            forgotten += len(found)
    except Exception as exc:
        logs.presence_not_forgotten(error=exc)
    return forgotten

"""The team's side of the chat: find, read, reply, close, reopen (the list is inbox.py's).
`siteadmin chats` and the team console both work through these functions."""

from __future__ import annotations

from factoryops import errors, logs, store
from factoryops.chat import nudge, replies
from factoryops.chat.thread import (
    CLOSED,
    LEAD_ID,
    OPEN,
    TEAM,
    Message,
    Session,
    append,
    gate,
    open_gate,
    parse_session_id,
    read,
    sessions,
)
from factoryops.documents import SessionFields
from factoryops.validation import CHAT_TEXT, Field, check

TEXT_SPEC: dict[str, Field] = {"text": CHAT_TEXT}


def find_by_lead(lead_id: str) -> Session | None:
    """The session with this lead id, or None."""
    if not LEAD_ID.fullmatch(lead_id):
        return None
    by_lead = store.field_filter(SessionFields.LEAD_ID, "==", lead_id)
    query = sessions().where(filter=by_lead).limit(1)
    snap = next(iter(query.stream(**store.call_options())), None)
    return None if snap is None else Session.from_snapshot(snap)


def find(handle: str) -> Session | None:
    """A session by its lead id (what the team's tools, the email and the CRM row show)
    or by its session id; None when there is none."""
    handle = handle.strip()
    found = find_by_lead(handle)
    if found is not None:
        return found
    try:
        session_id = parse_session_id(handle)
    except errors.SessionNotFound:
        return None
    snap = sessions().document(session_id).get(**store.call_options())
    return Session.from_snapshot(snap) if snap.exists else None


def messages(session: Session, *, after: int = 0, limit: int | None = None) -> list[Message]:
    """The session's messages after sequence number `after`, oldest first."""
    return read(session.ref, after=after, limit=limit)


def reply(session: Session, text: str, *, name: str | None = None) -> Message:
    """A team message in the session's thread, signed `name` (the member's display name,
    which the visitor sees); it reaches the visitor's next poll. Raises InvalidRequest for
    text the visitor's widget would not accept either."""
    values = check({"text": text}, TEXT_SPEC)
    message = append(
        session.ref,
        author=TEAM,
        text=values["text"],
        last_seq=session.last_seq,
        lead_id=session.lead_id,
        name=name,
        also=nudge.settled(session),
    ).message
    logs.chat_message_stored(lead_id=session.lead_id, author=TEAM, seq=message.seq)
    # Unseen after REPLY_EMAIL_AFTER, it goes to the visitor by email (replies.py).
    replies.schedule_reply(session.ref, session)
    return message


def close(session: Session, *, transcript: bool = False) -> bool:
    """Close the session to visitor messages; False when it was closed already. With
    `transcript`, the whole thread goes to the visitor by email (replies.py)."""
    from google.api_core import exceptions
    from google.cloud import firestore

    if session.status == CLOSED:
        return False
    try:
        # `closes` is what a visitor's reservation reads, in its own write; removing the
        # gate in the same commit refuses every visitor message not yet written (thread.py).
        # A close is activity: the inbox's `changed_after` finds it.
        closing = {
            **nudge.settled(session),
            SessionFields.STATUS: CLOSED,
            SessionFields.CLOSES: firestore.Increment(1),
            # Activity, so the retention clock (the sweep's and the TTL's) restarts too.
            SessionFields.LAST_ACTIVITY_AT: firestore.SERVER_TIMESTAMP,
            SessionFields.EXPIRE_AT: store.expire_at(),
        }
        batch = store.client().batch()
        batch.update(session.ref, closing)
        batch.delete(gate(session.ref))
        batch.commit(**store.call_options())
    except exceptions.NotFound:
        raise errors.SessionNotFound() from None
    if transcript:
        replies.schedule_transcript(session.ref, session)
    return True


def reopen(session: Session) -> bool:
    """Open a closed session again, so that the visitor's widget can write to it; False
    when it was open already."""
    from google.api_core import exceptions
    from google.cloud import firestore

    if session.status != CLOSED:
        return False
    opening = {
        SessionFields.STATUS: OPEN,
        # What a visitor's reservation reads (see `close`): zero lets its posts in again.
        SessionFields.CLOSES: 0,
        SessionFields.LAST_ACTIVITY_AT: firestore.SERVER_TIMESTAMP,
        SessionFields.EXPIRE_AT: store.expire_at(),
    }
    batch = store.client().batch()
    batch.update(session.ref, opening)
    batch.set(gate(session.ref), open_gate())
    try:
        batch.commit(**store.call_options())
    except exceptions.NotFound:
        raise errors.SessionNotFound() from None
    return True

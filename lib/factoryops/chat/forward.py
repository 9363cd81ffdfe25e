"""The first visitor message of a session: forwarded by email and as a CRM row, once.

A visitor's post takes its place with an `Increment` of `message_count` before it
stores the message (thread.reserve_visitor_message), and only the post whose increment
returns 1 writes `deliveries` on the session (a start with text writes them in its own
commit). That write is the forwarding function's cue (forwarding.py); the sweep retries
from the stored session. EmailJS and the CRM are imported by the senders alone, so the
visitor's request never loads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from factoryops import deliveries, logs, store
from factoryops.chat.thread import MESSAGE_ID, VISITOR, Message, lead_label, read
from factoryops.config import settings
from factoryops.documents import ChatSession, Delivery, SessionFields
from factoryops.errors import DownstreamError

if TYPE_CHECKING:
    from google.cloud import firestore

RECOVERY_SCAN = 50
"""How far into a thread a later post looks for a first message left unqueued."""


class _FirstMessage:
    """The session's first visitor message, read once and only when a send needs it."""

    def __init__(self, record: deliveries.Record, session: ChatSession) -> None:
        self._record = record
        self._session = session
        self._message: Message | None = None

    def load(self) -> Message:
        if self._message is None:
            first_id = self._session.first_message_id
            if not isinstance(first_id, str) or not MESSAGE_ID.fullmatch(first_id):
                raise DownstreamError("chat", "session has no first message", retryable=False)
            snap = (
                store.collection(store.CHAT_SESSIONS)
                .document(self._record.id)
                .collection(store.MESSAGES)
                .document(first_id)
                .get(**store.call_options())
            )
            if not snap.exists:
                raise DownstreamError("chat", "first message no longer stored", retryable=False)
            self._message = Message.from_snapshot(snap)
        return self._message


def email_params(session: ChatSession, message: Message) -> dict[str, str]:
    """The first chat message's template parameters: the notice's fields and the lead id."""
    return {
        "record_id": session.lead_id,
        "email": session.email,
        "reply_to": session.email,
        "page": session.page,
        "message": message.text,
        "started_at": store.rfc3339(session.created_at) or "",
    }


def senders(record: deliveries.Record) -> dict[str, deliveries.Sender]:
    """The email and the CRM row for a session's first message, from the stored session."""
    from factoryops import crm, mailer

    session = ChatSession.from_snapshot(record)
    first = _FirstMessage(record, session)

    def send_email(attempt: deliveries.Attempt) -> None:
        params = email_params(session, first.load())
        template = settings().emailjs_chat_template_id
        mailer.send(template_id=template, params=params, timeout=attempt.timeout)

    def send_row(attempt: deliveries.Attempt) -> None:
        message = first.load()
        row = crm.Row(
            received_at=store.rfc3339(message.created_at) or "",
            source="chat",
            record_id=session.lead_id,
            name="",
            email=session.email,
            company="",
            message=message.text,
            page=session.page,
        )
        crm.append(row, timeout=attempt.timeout)

    return {"email": send_email, "crm": send_row}


DELIVERIES = deliveries.DeliverySource(
    name="chat", collection=store.CHAT_SESSIONS, senders=senders, log_id=lead_label
)


def new_deliveries() -> dict[str, Delivery]:
    """The `deliveries` map of a first message, pending for the forwarding function."""
    cfg = settings()
    return deliveries.initial({"email": cfg.emailjs_configured, "crm": cfg.crm_configured})


def _queue(first: Message) -> dict[str, Any]:
    """The update that writes the first message's deliveries on its session."""
    return {
        SessionFields.FIRST_MESSAGE_ID: first.id,
        SessionFields.DELIVERIES: {c: d.to_dict() for c, d in new_deliveries().items()},
    }


def queue_first(ref: firestore.DocumentReference, session: ChatSession, first: Message) -> None:
    """Write `deliveries` for the first visitor message (this post's count was 1)."""
    from google.api_core import exceptions

    try:
        ref.update(_queue(first), **store.call_options())
    except Exception as exc:
        if not (store.is_outage(exc) or isinstance(exc, exceptions.NotFound)):
            raise
        # The message is stored, which is what the visitor asked for; a later post
        # recovers the delivery (see recover_first).
        logs.chat_first_not_queued(lead_id=session.lead_id, error=exc)


def earliest_visitor_message(ref: firestore.DocumentReference) -> Message | None:
    """The thread's first visitor message. Once a post's message has number n, every
    number below n is written (see thread.py), so read right after a post, this is final."""
    return next((m for m in read(ref, limit=RECOVERY_SCAN) if m.author == VISITOR), None)


def recover_first(ref: firestore.DocumentReference, snap: Any) -> None:
    """Queue a first message whose own post stored it but died before writing `deliveries`.

    Its post writes `deliveries` within seconds of storing it, so one older than a lease
    is stranded. The write is conditional on the session being unchanged since `snap`,
    so two later posts cannot both queue it.
    """
    from google.api_core import exceptions

    first = earliest_visitor_message(ref)
    if first is None or first.created_at is None:
        return
    if store.now() - first.created_at < deliveries.LEASE:
        return
    try:
        ref.update(
            _queue(first),
            option=store.client().write_option(last_update_time=snap.update_time),
            **store.call_options(),
        )
    except (exceptions.FailedPrecondition, exceptions.NotFound):
        return
    logs.chat_first_recovered(lead_id=ChatSession.from_snapshot(snap).lead_id)

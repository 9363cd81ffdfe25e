"""The conversation reaches the visitor when they have left: reply emails and transcripts.

A team reply (team.py `reply`, from the console or `siteadmin chats reply`) schedules a
`reply` delivery on the session, due REPLY_EMAIL_AFTER seconds on and at least
REPLY_EMAIL_EVERY after the last reply email sent; one already pending is left alone,
so the replies of one window go together. When it falls due (the deliveries sweep runs
every minute), its sender reads the team messages the visitor has not seen (the poll's
seen point) and that no earlier email carried (`reply_emailed_through`); none left: it
settles `skipped` and sends nothing. Otherwise ONE email, to the visitor's address,
with exactly `to_email`, `replies` (the messages with their times, oldest first, as one
text block), `page_url` (SITE_URL + the chat's page) and `reply_to` (TEAM_INBOX): never
the session id, a token or a link that opens the chat.

A close with a transcript (`team.close(session, transcript=True)`) schedules a
`transcript` delivery, due now: the whole thread, who wrote each message and when,
through the same template and parameters.

Nothing is scheduled unless EmailJS, EMAILJS_REPLY_TEMPLATE_ID and TEAM_INBOX are set.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from factoryops import deliveries, hours, logs, store
from factoryops.chat.thread import TEAM, VISITOR, Message, lead_label, read
from factoryops.config import settings
from factoryops.documents import ChatSession, Delivery, SessionFields, delivery_path

if TYPE_CHECKING:
    from google.cloud import firestore

REPLY = "reply"
TRANSCRIPT = "transcript"
AUTHORS = {VISITOR: "You", TEAM: "FactoryOps AI"}
"""Who wrote a message, as the email names them."""


def configured() -> bool:
    cfg = settings()
    return bool(cfg.emailjs_configured and cfg.emailjs_reply_template_id and cfg.team_inbox)


def _pending(state: Delivery | None) -> bool:
    return state is not None and state.state in (deliveries.PENDING, deliveries.PROCESSING)


def schedule_reply(ref: firestore.DocumentReference, session: ChatSession) -> None:
    """After a team reply: a reply email, unless one is pending (`session` as read before
    the reply). Never fails the reply: it is stored."""
    if not configured():
        return
    state = session.delivery(REPLY)
    if _pending(state):
        return  # it will carry this reply too
    cfg = settings()
    due = store.now() + dt.timedelta(seconds=cfg.reply_email_after)
    last_sent = None if state is None else state.sent_at
    if last_sent is not None:
        due = max(due, last_sent + dt.timedelta(seconds=cfg.reply_email_every))
    _write(ref, session, REPLY, Delivery(state=deliveries.PENDING, due_at=due, sent_at=last_sent))


def schedule_transcript(ref: firestore.DocumentReference, session: ChatSession) -> None:
    """On a close that asks for it: the whole thread by email to the visitor, due now."""
    if not configured():
        return
    state = session.delivery(TRANSCRIPT)
    if _pending(state):
        return
    last_sent = None if state is None else state.sent_at
    fresh = Delivery(state=deliveries.PENDING, due_at=store.now(), sent_at=last_sent)
    _write(ref, session, TRANSCRIPT, fresh)


def _write(
    ref: firestore.DocumentReference, session: ChatSession, channel: str, fresh: Delivery
) -> None:
    try:
        ref.update({delivery_path(channel): fresh.to_dict()}, **store.call_options())
    except Exception as exc:
        logs.reply_email_not_scheduled(lead_id=session.lead_id, error=exc)


def _stamp(message: Message) -> str:
    """When a message was written, in the team's time zone (the visitor's local time, for
    this site's visitors): `2026-12-07 16:08 IST`."""
    when = message.created_at
    if when is None:
        return ""
    local = when.astimezone(hours.zone(settings().team_timezone))
    return local.strftime("%Y-%m-%d %H:%M %Z")


def text_block(messages: list[Message], *, authors: bool) -> str:
    """The messages as one text block, oldest first, each with its time."""
    parts = []
    for message in messages:
        head = _stamp(message)
        if authors:
            head = f"{AUTHORS.get(message.author, message.author)}, {head}"
        parts.append(f"{head}\n{message.text}")
    return "\n\n".join(parts)


def email_params(session: ChatSession, block: str) -> dict[str, str]:
    """The reply email's template parameters: exactly these four."""
    cfg = settings()
    return {
        "to_email": session.email,
        "replies": block,
        "page_url": f"{cfg.site_url}{session.page}",
        "reply_to": cfg.team_inbox,
    }


def unsent_replies(ref: Any, session: ChatSession) -> list[Message]:
    """Team messages the visitor has not seen and no reply email carried, oldest first."""
    after = max(session.seen_through, session.reply_emailed_through)
    if session.last_team_seq <= after:
        return []
    return [m for m in read(ref, after=after, limit=None) if m.author == TEAM]


def senders(record: deliveries.Record) -> dict[str, deliveries.Sender]:
    from factoryops import mailer

    session = ChatSession.from_snapshot(record)
    ref = record.reference  # type: ignore[attr-defined]

    def send(messages: list[Message], block: str, timeout: float) -> None:
        if not configured():
            raise deliveries.NotNeeded()
        template = settings().emailjs_reply_template_id
        mailer.send(template_id=template, params=email_params(session, block), timeout=timeout)
        carried = max((m.seq for m in messages if m.author == TEAM), default=0)
        if carried:
            _carried(ref, session, carried)

    def send_replies(attempt: deliveries.Attempt) -> None:
        waiting = unsent_replies(ref, session)
        if not waiting:
            raise deliveries.NotNeeded()  # seen (or carried) meanwhile
        send(waiting, text_block(waiting, authors=False), attempt.timeout)

    def send_transcript(attempt: deliveries.Attempt) -> None:
        thread = read(ref, limit=None)
        if not thread:
            raise deliveries.NotNeeded()
        send(thread, text_block(thread, authors=True), attempt.timeout)

    return {REPLY: send_replies, TRANSCRIPT: send_transcript}


def _carried(ref: Any, session: ChatSession, seq: int) -> None:
    """Record that an email carried the team messages up to `seq`; failing that, the
    next reply email carries them again (at least once, never lost)."""
    from google.cloud import firestore

    try:
        carried = {SessionFields.REPLY_EMAILED_THROUGH: firestore.Maximum(seq)}
        ref.update(carried, **store.call_options())
    except Exception as exc:
        logs.delivery_not_recorded(kind="reply", record_id=session.lead_id, error=exc)


REPLIES = deliveries.DeliverySource(
    name="reply",
    collection=store.CHAT_SESSIONS,
    senders=senders,
    log_id=lead_label,
    channels=(REPLY, TRANSCRIPT),
)

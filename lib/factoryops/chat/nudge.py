"""The nudge: one email to the team's inbox when a visitor's later message waits.

A chat's first message reaches the inbox as its own email (forward.py); a visitor who
writes again later would wait until someone looked. So each later visitor message
schedules a nudge on the session, due NOTIFY_AFTER seconds on (and at least 30 minutes
after the last one sent), unless one is on its way already. When it falls due, the
deliveries sweep (every minute) sends it through the delivery machinery, so it is
retried and never sent twice. A team reply or a close settles a pending nudge `skipped`
in its own write (`settled`); one the sweep holds already settles `skipped` when it
finds the chat answered or closed. It says how many messages wait and links to the chat
in the team console: no message text, name or email, so the privacy notice's "a copy of
new contact submissions and first chat messages" stays the whole of what the inbox gets.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from factoryops import deliveries, logs, store
from factoryops.chat.thread import OPEN, VISITOR, lead_label
from factoryops.config import settings
from factoryops.documents import ChatSession, Delivery, delivery_path

if TYPE_CHECKING:
    from google.cloud import firestore

CHANNEL = "nudge"
SPACING = dt.timedelta(minutes=30)
"""At most one nudge per chat in this long."""


def _waiting(state: Delivery | None) -> bool:
    return state is not None and state.state in (deliveries.PENDING, deliveries.PROCESSING)


def schedule(
    ref: firestore.DocumentReference, session: ChatSession, *, opened_wait: bool = False
) -> None:
    """After a visitor's later message: a nudge, due NOTIFY_AFTER from now (`session` as
    the post read it). Never fails the post: the message is stored.

    A message that began a wait (`thread.Appended.opened_wait`: the team had answered
    everything before it) schedules one whatever the post read: a nudge pending then was
    about the earlier wait, which the team's answer settled, perhaps after the read."""
    cfg = settings()
    if not (cfg.emailjs_configured and cfg.emailjs_notify_template_id):
        return
    state = session.delivery(CHANNEL)
    if _waiting(state) and not opened_wait:
        return  # one is on its way; it will count this message too
    due = store.now() + dt.timedelta(seconds=cfg.notify_after)
    last_sent = None if state is None else state.sent_at
    if last_sent is not None:
        due = max(due, last_sent + SPACING)
    fresh = Delivery(state=deliveries.PENDING, attempts=0, due_at=due, sent_at=last_sent)
    try:
        ref.update({delivery_path(CHANNEL): fresh.to_dict()}, **store.call_options())
    except Exception as exc:
        logs.nudge_not_scheduled(lead_id=session.lead_id, error=exc)


def settled(session: ChatSession) -> dict[str, Any]:
    """The fields that settle the session's pending nudge `skipped`, for the write that
    answers or closes the chat (`session` as read before it); none when none is pending.
    So the status page never counts a nudge pending beside a chat no longer awaiting a
    reply. One the sweep has leased already settles as its sender decides."""
    state = session.delivery(CHANNEL)
    if state is None or state.state != deliveries.PENDING:
        return {}
    return deliveries.skipped_now(CHANNEL, state)


def email_params(session: ChatSession) -> dict[str, str]:
    """The nudge's template parameters: the chat's lead id, how many messages wait, and
    the console's link to it. Nothing the visitor wrote or gave."""
    return {
        "lead_id": session.lead_id,
        "waiting": str(session.unanswered),
        "console_url": f"{settings().console_url}/#/chats/{session.lead_id}",
    }


def senders(record: deliveries.Record) -> dict[str, deliveries.Sender]:
    from factoryops import mailer

    session = ChatSession.from_snapshot(record)

    def send(attempt: deliveries.Attempt) -> None:
        if session.status != OPEN or session.last_author != VISITOR:
            raise deliveries.NotNeeded()  # answered or closed meanwhile
        template = settings().emailjs_notify_template_id
        mailer.send(template_id=template, params=email_params(session), timeout=attempt.timeout)

    return {CHANNEL: send}


NUDGES = deliveries.DeliverySource(
    name="nudge",
    collection=store.CHAT_SESSIONS,
    senders=senders,
    log_id=lead_label,
    channels=(CHANNEL,),
)

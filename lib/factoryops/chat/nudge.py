"""The nudge: one email to the team's inbox when a visitor's later message waits.

A chat's first message reaches the inbox as its own email (forward.py); a visitor who
writes again later would wait until someone looked. So each later visitor message
schedules a nudge on the session, due NOTIFY_AFTER seconds on (and at least 30 minutes
after the last one sent), unless one is on its way already. When it falls due, the
deliveries sweep (every 10 minutes) sends it through the delivery machinery, so it is
retried and never sent twice; if by then the team has answered or the chat is closed,
it settles as `skipped`. It says how many messages wait and links to the chat in the
team console: no message text, name or email, so the privacy notice's "a copy of new
contact submissions and first chat messages" stays the whole of what the inbox gets.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from factoryops import deliveries, logs, store
from factoryops.chat.thread import OPEN, VISITOR
from factoryops.config import settings

if TYPE_CHECKING:
    from google.cloud import firestore

CHANNEL = "nudge"
SPACING = dt.timedelta(minutes=30)
"""At most one nudge per chat in this long."""


def schedule(ref: firestore.DocumentReference, data: dict[str, Any]) -> None:
    """After a visitor's later message: a nudge, due NOTIFY_AFTER from now (`data` is the
    session as the post read it). Never fails the post: the message is stored."""
    cfg = settings()
    if not (cfg.emailjs_configured and cfg.emailjs_notify_template_id):
        return
    state = (data.get("deliveries") or {}).get(CHANNEL) or {}
    if state.get("state") in (deliveries.PENDING, deliveries.PROCESSING):
        return  # one is on its way; it will count this message too
    due = store.now() + dt.timedelta(seconds=cfg.notify_after)
    last_sent = state.get("sent_at")
    if last_sent is not None:
        due = max(due, last_sent + SPACING)
    fresh: dict[str, Any] = {"state": deliveries.PENDING, "attempts": 0, "due_at": due}
    if last_sent is not None:
        fresh["sent_at"] = last_sent
    try:
        ref.update({f"deliveries.{CHANNEL}": fresh}, **store.call_options())
    except Exception as exc:
        logs.nudge_not_scheduled(lead_id=str(data.get("lead_id", "")), error=exc)


def email_params(data: dict[str, Any]) -> dict[str, str]:
    """The nudge's template parameters: the chat's lead id, how many messages wait, and
    the console's link to it. Nothing the visitor wrote or gave."""
    lead_id = str(data.get("lead_id", ""))
    return {
        "lead_id": lead_id,
        "waiting": str(int(data.get("unanswered", 0))),
        "console_url": f"{settings().console_url}/#/chats/{lead_id}",
    }


def senders(record: deliveries.Record) -> dict[str, deliveries.Sender]:
    from factoryops import mailer

    data = record.to_dict() or {}

    def send(attempt: deliveries.Attempt) -> None:
        if data.get("status") != OPEN or data.get("last_author") != VISITOR:
            raise deliveries.NotNeeded()  # answered or closed meanwhile
        template = settings().emailjs_notify_template_id
        mailer.send(template_id=template, params=email_params(data), timeout=attempt.timeout)

    return {CHANNEL: send}


def _lead_id(record: deliveries.Record) -> str:
    return str((record.to_dict() or {}).get("lead_id", "unknown"))


NUDGES = deliveries.DeliverySource(
    name="nudge",
    collection=store.CHAT_SESSIONS,
    senders=senders,
    log_id=_lead_id,
    channels=(CHANNEL,),
)

"""A crowd of answered chats behind one real lead, for the scale test and the bench.

`answered_chats` writes them straight to Firestore, shaped as the code stores a chat
(the lead's own session, copied and renamed), in batches of 500: thousands in seconds,
where the chat function would take minutes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

BATCH = 500


def answered_chats(client: Any, lead: Any, count: int, *, step: dt.timedelta) -> None:
    """`count` open chats the team has answered, each `step` more recently active than
    the one before, the first `step` after `lead` (a `team.find` Session), which stays
    the one awaiting a reply. Their lead ids are `count` hex numbers from 0."""
    from factoryops import store
    from factoryops.documents import ChatSession

    assert lead.last_activity_at is not None
    base = dataclasses.replace(
        ChatSession.from_snapshot(lead.ref.get()), awaiting_since=None, deliveries={}
    )
    chats = client.collection(store.CHAT_SESSIONS)
    for first in range(0, count, BATCH):
        batch = client.batch()
        for n in range(first, min(first + BATCH, count)):
            at = lead.last_activity_at + step * (n + 1)
            answered = dataclasses.replace(
                base,
                email=f"visitor{n}@plant.example",
                email_key=f"visitor{n}@plant.example",
                lead_id=f"{n:016x}",
                last_author="team",
                last_text="Thanks, we will call you.",
                created_at=at,
                last_activity_at=at,
                last_message_at=at,
            )
            batch.create(chats.document(f"crowd-{n}"), answered.to_dict())
        batch.commit()

"""What the team did, kept as long as the records it touched: `team_audit`.

Every action of the team console writes one record: the team member's address, the
action, the id of its target (a chat's lead id, a grant's id, a record's id, or for a
privacy request the keyed hash its trace holds) and the time. No visitor data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from factoryops import store
from factoryops.config import settings


def record(*, member: str, action: str, target: str) -> None:
    from google.cloud import firestore

    now = store.now()
    store.collection(store.TEAM_AUDIT).add(
        {
            "member": member,
            "action": action,
            "target": target,
            "at": firestore.SERVER_TIMESTAMP,
            "expire_at": now + dt.timedelta(days=settings().retention_days),
        },
        **store.call_options(),
    )


def recent(*, limit: int = 200) -> list[dict[str, Any]]:
    """The latest records, newest first."""
    from google.cloud import firestore

    query = (
        store.collection(store.TEAM_AUDIT)
        .order_by("at", direction=firestore.Query.DESCENDING)
        .limit(limit)
    )
    return [
        {k: v for k, v in (snap.to_dict() or {}).items() if k != "expire_at"}
        for snap in query.stream(**store.call_options())
    ]

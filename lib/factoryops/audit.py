"""What the team did, kept as long as the records it touched: `team_audit`.

Every action of the team console writes one record: the team member's address, the
action, the id of its target (a chat's lead id, a grant's id, a record's id, or for a
privacy request the keyed hash its trace holds) and the time. No visitor data.
"""

from __future__ import annotations

from typing import Any

from factoryops import store
from factoryops.documents import AuditEntry, AuditFields


def record(*, member: str, action: str, target: str) -> None:
    entry = AuditEntry(member=member, action=action, target=target, expire_at=store.expire_at())
    store.collection(store.TEAM_AUDIT).add(entry.to_dict(), **store.call_options())


def recent(*, limit: int = 200) -> list[dict[str, Any]]:
    """The latest records, newest first."""
    from google.cloud import firestore

    query = (
        store.collection(store.TEAM_AUDIT)
        .order_by(AuditFields.AT, direction=firestore.Query.DESCENDING)
        .limit(limit)
    )
    return [
        {k: v for k, v in (snap.to_dict() or {}).items() if k != AuditFields.EXPIRE_AT}
        for snap in query.stream(**store.call_options())
    ]

"""The inbox's fields on records stored before it had them, filled in once.

The inbox's open view asks for chats with `awaiting_since` above 0 or null: a session
stored without the field matches neither, so it would be missing from the view until
its next message. Its search asks contact submissions and grants for `search_terms`.
`siteadmin chats backfill` writes both where they are missing, and only there, so it
can be run again at any time; new records carry them from the start.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from factoryops import store
from factoryops.chat.thread import VISITOR, epoch_ms
from factoryops.documents import ContactFields, GrantFields, SessionFields
from factoryops.validation import search_terms

PAGE = 500
FAILED_PRECONDITION = 9
"""gRPC's code for a write whose document changed since it was read."""
ATTEMPTS = 15
"""Tries of a write that failed for any other reason (BulkWriter's own default)."""


@dataclass
class Filled:
    """Records given the fields they lacked (or, in a dry run, that lack them); one that
    changed between the read and the write is not counted, since that change filled it."""

    chat_sessions: int = 0
    contact_submissions: int = 0
    access_grants: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _every(collection: str, fields: list[str]) -> Iterator[Any]:
    """Every document of `collection`, a page at a time, holding only `fields`."""
    from google.cloud.firestore_v1.field_path import FieldPath

    query = store.collection(collection).order_by(FieldPath.document_id()).select(fields)
    return store.paged(query, size=PAGE)


def _awaiting_since(data: dict[str, Any]) -> int | None:
    """A session's wait as the code would have kept it: since its last activity, when
    the visitor wrote last (its earlier unanswered messages are not read for this)."""
    at = data.get(SessionFields.LAST_ACTIVITY_AT)
    if data.get(SessionFields.LAST_AUTHOR) != VISITOR or at is None:
        return None
    return epoch_ms(at)


def run(*, dry_run: bool = False) -> Filled:
    """Fill what is missing. Each write holds only if its record is as read: one written
    meanwhile (a visitor's message, a team reply, a correction) has its fields from that
    write, which a value computed from the older read must not overwrite."""
    filled = Filled()
    client = store.client()
    writer = None if dry_run else client.bulk_writer()
    s, c, g = SessionFields, ContactFields, GrantFields

    def refused(error: Any, _writer: Any) -> bool:
        if error.code == FAILED_PRECONDITION:
            collection = error.operation.reference.parent.id
            setattr(filled, collection, getattr(filled, collection) - 1)
            return False
        return bool(error.attempts < ATTEMPTS)

    if writer is not None:
        writer.on_write_error(refused)

    def write(snap: Any, fields: dict[str, Any]) -> None:
        if writer is not None:
            as_read = client.write_option(last_update_time=snap.update_time)
            writer.update(snap.reference, fields, option=as_read)

    for snap in _every(store.CHAT_SESSIONS, [s.AWAITING_SINCE, s.LAST_AUTHOR, s.LAST_ACTIVITY_AT]):
        data = snap.to_dict() or {}
        if s.AWAITING_SINCE not in data:
            write(snap, {s.AWAITING_SINCE: _awaiting_since(data)})
            filled.chat_sessions += 1
    for collection, words in (
        (store.CONTACT_SUBMISSIONS, (c.NAME, c.COMPANY)),
        (store.ACCESS_GRANTS, (g.LEAD, g.COMPANY)),
    ):
        for snap in _every(collection, [*words, c.SEARCH_TERMS]):
            data = snap.to_dict() or {}
            if c.SEARCH_TERMS not in data:
                terms = search_terms(*(data.get(name) for name in words))
                write(snap, {c.SEARCH_TERMS: terms})
                setattr(filled, collection, getattr(filled, collection) + 1)
    if writer is not None:
        writer.close()  # type: ignore[no-untyped-call]
    return filled

"""Retention: delete what is older than RETENTION_DAYS.

What goes, and by which field (each an indexed range query, read a page at a time, so
a run costs what has expired rather than what is kept):

- contact submissions by `created_at`;
- chat sessions, with every document under them, by `last_activity_at`;
- single messages by their own `created_at`, even in a live session;
- access grants by `created_at`: a link's expiry is at most RETENTION_DAYS after it
  was made (grants.create refuses more), so by then every link has stopped working,
  and a link without expiry ends when the TTL backstop on its `expire_at` (creation
  plus RETENTION_DAYS) would remove it anyway;
- CRM rows whose `received_at` is past the window, and the rows of every record
  deleted here (by `record_id`: a contact's document id, a chat's `lead_id`);
- idempotency keys, rate-limit counters and the forwarding budget's hourly counts
  whose `expire_at` has passed.

Order makes it resumable: CRM rows go before the records they belong to, so a run
stopped half way leaves every remaining row still findable by a remaining record,
and the next run finishes the job. When the CRM cannot be reached, the records that
own CRM rows are kept for the next run and everything else proceeds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from factoryops import crm, logs, store
from factoryops.config import settings
from factoryops.documents import (
    ChatSession,
    ContactFields,
    DocumentFields,
    GrantFields,
    MessageFields,
    SessionFields,
)
from factoryops.errors import DownstreamError
from factoryops.privacy import Counts

PAGE = 300
"""Documents read per query page."""


@dataclass
class Deleted(Counts):
    """What a run deleted: the records about people, and the bookkeeping that expired."""

    idempotency_keys: int = 0
    rate_limits: int = 0
    privacy_requests: int = 0
    sweep_runs: int = 0
    team_audit: int = 0
    spent_challenges: int = 0
    forward_budget: int = 0


@dataclass
class Outcome:
    deleted: Deleted
    dry_run: bool
    crm_error: str | None = None
    """Why the CRM step failed; the records owning CRM rows were then kept."""


def expired(query: Any, field: str, before: dt.datetime, *extra: str) -> Iterator[Any]:
    """Documents of `query` (a collection, collection group or query) whose `field` is
    before `before`, oldest first, a page at a time; each snapshot holds only `field`
    and `extra`."""
    query = (
        query.where(filter=store.field_filter(field, "<", before))
        .order_by(field)
        .select([field, *extra])
    )
    return store.paged(query, size=PAGE)


def run(*, dry_run: bool = False, now: dt.datetime | None = None) -> Outcome:
    """Delete (or with `dry_run` only count) everything past the retention window."""
    now = now or store.now()
    cutoff = now - dt.timedelta(days=settings().retention_days)
    client = store.client()
    deleted = Deleted()
    deleter = store.BulkDeleter(dry_run=dry_run)
    outcome = Outcome(deleted=deleted, dry_run=dry_run)

    submissions = client.collection(store.CONTACT_SUBMISSIONS)
    contacts = list(expired(submissions, ContactFields.CREATED_AT, cutoff))
    # Quarantined posts have the shorter life of QUARANTINE_DAYS (quarantine.py).
    held_since = now - dt.timedelta(days=settings().quarantine_days)
    known = {snap.id for snap in contacts}
    contacts += [
        snap
        for snap in expired(submissions, ContactFields.QUARANTINED_AT, held_since)
        if snap.id not in known
    ]
    sessions = list(
        expired(
            client.collection(store.CHAT_SESSIONS),
            SessionFields.LAST_ACTIVITY_AT,
            cutoff,
            SessionFields.LEAD_ID,
        )
    )
    record_ids = {snap.id for snap in contacts}
    leads = (ChatSession.from_snapshot(snap).lead_id for snap in sessions)
    record_ids |= {lead for lead in leads if lead}
    match = crm.Match(record_ids=frozenset(record_ids), received_before=cutoff)
    try:
        deleted.crm_rows = len(crm.find_rows(match)) if dry_run else crm.delete_rows(match)
    except DownstreamError as exc:
        outcome.crm_error = str(exc)
        logs.retention_crm_failed(error=exc)
    if outcome.crm_error is None:
        for snap in contacts:
            deleter.delete(snap.reference)
            deleted.contact_submissions += 1
        for snap in sessions:
            deleted.chat_messages += deleter.delete_tree(snap.reference)[store.MESSAGES]
            deleted.chat_sessions += 1
        deleter.flush()

    expired_sessions = {snap.id for snap in sessions}
    messages = client.collection_group(store.MESSAGES)
    for snap in expired(messages, MessageFields.CREATED_AT, cutoff):
        session = snap.reference.parent.parent
        if session is None or session.parent.id != store.CHAT_SESSIONS:
            continue
        if session.id in expired_sessions:
            continue  # counted with its session (or kept with it when the CRM failed)
        deleter.delete(snap.reference)
        deleted.chat_messages += 1

    # Whole documents with nothing under them and no CRM row, each counted under its
    # collection's name. A privacy request's trace holds a hash of an address, so it
    # too goes with the window.
    expire_at = DocumentFields.EXPIRE_AT
    single_documents = (
        (store.ACCESS_GRANTS, GrantFields.CREATED_AT, cutoff),
        (store.IDEMPOTENCY_KEYS, expire_at, now),
        (store.RATE_LIMITS, expire_at, now),
        (store.PRIVACY_REQUESTS, expire_at, now),
        (store.SWEEP_RUNS, expire_at, now),
        (store.TEAM_AUDIT, expire_at, now),
        (store.SPENT_CHALLENGES, expire_at, now),
        (store.FORWARD_BUDGET, expire_at, now),
    )
    for collection, field, before in single_documents:
        for snap in expired(client.collection(collection), field, before):
            deleter.delete(snap.reference)
            setattr(deleted, collection, getattr(deleted, collection) + 1)
    deleter.flush()

    logs.retention_finished(dry_run=dry_run, deleted=deleted.as_dict())
    return outcome

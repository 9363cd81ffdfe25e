"""The quarantine: contact posts kept from the inbox until the team looks at them.

A contact post is quarantined when its hidden honeypot field is filled (only a bot sees
it), when it carries no proof of work (a bot, or a browser without JavaScript posting
the plain form: proof.py) or when its content reads as spam (spam.py). It is stored as
any post is, in `contact_submissions`, and answered as any post is, but with
`quarantined_at` and `quarantine_reason` set and no deliveries: it is never emailed nor
appended to the CRM, and it expires after QUARANTINE_DAYS (the sweep and the TTL policy
delete it by its `expire_at`, as every record).

The team decides (the console's Spam view, `siteadmin spam`): `release` ("Not spam")
takes it out of the quarantine with its deliveries pending and the normal two-year life,
and the forwarding function sends it at once (its trigger is `written`); `delete` erases
it. Each acts only on a post still in the quarantine, by a write conditioned on the
document as read, so two members acting at once act once. Privacy export and erasure
find quarantined posts as any contact submission, by their address.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from factoryops import deliveries, errors, store
from factoryops.config import settings
from factoryops.documents import ContactFields, ContactSubmission, ForwardedFields

NO_PROOF = "no proof of work"
"""The reason of a post that came without the site script's proof of work."""
HONEYPOT = "honeypot"
"""The reason of a post whose hidden `website` field was filled (only a bot sees it)."""
PAGE_DEFAULT = 50
PAGE_MAX = 100
DAYS_SHOWN = 7
"""Days the status counts quarantined posts for, one count a day."""


def fields(reason: str) -> dict[str, Any]:
    """What a quarantined post stores beside the submission: when, why, and its end."""
    now = store.now()
    return {
        ContactFields.QUARANTINED_AT: now,
        ContactFields.QUARANTINE_REASON: reason,
        ContactFields.EXPIRE_AT: now + dt.timedelta(days=settings().quarantine_days),
    }


@dataclass(frozen=True)
class Held:
    """A quarantined post as the team sees it."""

    id: str
    submission: ContactSubmission

    def summary(self) -> dict[str, Any]:
        s = self.submission
        return {
            "id": self.id,
            "received_at": store.rfc3339(s.created_at),
            "quarantined_at": store.rfc3339(s.quarantined_at),
            "reason": s.quarantine_reason or "",
            "name": s.name,
            "email": s.email,
            "company": s.company,
            "message": s.message,
            "expires_at": store.rfc3339(s.expire_at),
        }


@dataclass(frozen=True)
class Page:
    posts: list[Held]
    next: str | None
    """The cursor of the next page; None when this one is the last."""


def _query() -> Any:
    from google.cloud import firestore

    newest = firestore.Query.DESCENDING
    return (
        store.collection(store.CONTACT_SUBMISSIONS)
        .order_by(ContactFields.QUARANTINED_AT, direction=newest)
        .order_by(_document_id(), direction=newest)
    )


def _document_id() -> str:
    from google.cloud.firestore_v1.field_path import FieldPath

    return str(FieldPath.document_id())


def page(*, limit: int = PAGE_DEFAULT, cursor: str | None = None) -> Page:
    """The quarantined posts, newest first, `limit` at a time after `cursor`."""
    limit = max(1, min(limit, PAGE_MAX))
    query = _query()
    if cursor is not None:
        at, record_id = _decode(cursor)
        query = query.start_after({ContactFields.QUARANTINED_AT: at, _document_id(): record_id})
    snaps = list(query.limit(limit + 1).stream(**store.call_options()))
    held = [Held(s.id, ContactSubmission.from_snapshot(s)) for s in snaps[:limit]]
    last = held[-1] if len(snaps) > limit else None
    return Page(held, _encode(last) if last is not None else None)


def walk(*, size: int = PAGE_MAX) -> Iterator[Held]:
    """Every quarantined post, newest first (siteadmin's listing)."""
    cursor: str | None = None
    while True:
        found = page(limit=size, cursor=cursor)
        yield from found.posts
        if found.next is None:
            return
        cursor = found.next


def _encode(last: Held) -> str:
    at = last.submission.quarantined_at
    micros = 0 if at is None else (at - _EPOCH) // dt.timedelta(microseconds=1)
    raw = json.dumps([micros, last.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _decode(cursor: str) -> tuple[dt.datetime, str]:
    refused = errors.InvalidRequest({"cursor": "is not a cursor this list gave"})
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        micros, record_id = json.loads(raw)
        at = _EPOCH + dt.timedelta(microseconds=int(micros))
    except (binascii.Error, ValueError, TypeError, OverflowError):
        raise refused from None
    if not isinstance(record_id, str) or not store.is_document_id(record_id):
        raise refused
    return at, record_id


def find(record_id: str) -> Held | None:
    """The quarantined post `record_id`; None when there is none (or it has left)."""
    snap = _snapshot(record_id)
    return None if snap is None else Held(snap.id, ContactSubmission.from_snapshot(snap))


def _snapshot(record_id: str) -> Any:
    if not store.is_document_id(record_id):
        return None
    ref = store.collection(store.CONTACT_SUBMISSIONS).document(record_id)
    snap = ref.get(**store.call_options())
    if not snap.exists or ContactSubmission.from_snapshot(snap).quarantined_at is None:
        return None
    return snap


def release(record_id: str) -> bool:
    """ "Not spam": the post leaves the quarantine with its deliveries pending and the
    normal retention; the forwarding function sends it. False when it is not (or no
    longer) in the quarantine, or another member acted on it first."""
    from google.api_core import exceptions
    from google.cloud import firestore

    snap = _snapshot(record_id)
    if snap is None:
        return False
    cfg = settings()
    enabled = {"email": cfg.emailjs_configured, "crm": cfg.crm_configured}
    changes = {
        ForwardedFields.DELIVERIES: {
            channel: state.to_dict() for channel, state in deliveries.initial(enabled).items()
        },
        ContactFields.EXPIRE_AT: store.expire_at(),
        ContactFields.QUARANTINED_AT: firestore.DELETE_FIELD,
        ContactFields.QUARANTINE_REASON: firestore.DELETE_FIELD,
    }
    try:
        snap.reference.update(
            changes,
            option=store.client().write_option(last_update_time=snap.update_time),
            **store.call_options(),
        )
    except (exceptions.FailedPrecondition, exceptions.NotFound):
        return False
    return True


def delete(record_id: str) -> bool:
    """Erase a quarantined post. False when it is not (or no longer) in the quarantine."""
    from google.api_core import exceptions

    snap = _snapshot(record_id)
    if snap is None:
        return False
    try:
        snap.reference.delete(
            option=store.client().write_option(last_update_time=snap.update_time),
            **store.call_options(),
        )
    except (exceptions.FailedPrecondition, exceptions.NotFound):
        return False
    return True


def per_day(days: int = DAYS_SHOWN) -> list[dict[str, Any]]:
    """The posts in the quarantine by the day (UTC) they came, for the last `days` days,
    newest first, each one count() aggregation: `[{"day": "2026-12-07", "quarantined":
    3}, ...]`. A post the team released or deleted no longer counts."""
    from google.cloud.firestore_v1 import aggregation

    today = store.now().replace(hour=0, minute=0, second=0, microsecond=0)
    out: list[dict[str, Any]] = []
    collection = store.collection(store.CONTACT_SUBMISSIONS)
    for back in range(days):
        start = today - dt.timedelta(days=back)
        query = collection.where(
            filter=store.field_filter(ContactFields.QUARANTINED_AT, ">=", start)
        ).where(
            filter=store.field_filter(
                ContactFields.QUARANTINED_AT, "<", start + dt.timedelta(days=1)
            )
        )
        result = aggregation.AggregationQuery(query).count(alias="n").get(**store.call_options())
        count = int(result[0][0].value) if result and result[0] else 0
        out.append({"day": start.date().isoformat(), "quarantined": count})
    return out

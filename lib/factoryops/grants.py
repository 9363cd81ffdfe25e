"""Per-lead access links that unlock gated sections of the site.

The team creates a grant with the admin CLI or the console and sends the lead
`SITE_URL/#access=<token>`: the token is in the fragment, which a browser sends to no
server, so neither the site's host nor a Referer header ever sees it (the site script
still reads `?access=` from links made before). A browser's first opening of the link
counts one use and gets a receipt; on later visits, the link opened again included, the
browser re-checks with its receipt, which records nothing and logs nothing, so a
revocation takes effect on the next visit while the grant does not learn when a lead
comes back. Only the token's SHA-256 is stored, as the document id: neither the
database nor a log line can give a working link back.

Max uses is counted with one atomic `Increment` whose commit returns the new count. A
redemption that takes the count past the limit gives its use back and is denied, so
concurrent redemptions succeed exactly `max_uses` times without a transaction (20
read-modify-write transactions racing on one document mostly fail to commit).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from factoryops import deliveries, errors, logs, store
from factoryops.config import ACCESS, settings
from factoryops.documents import AccessGrant, Delivery, GrantFields, delivery_path
from factoryops.edge import Endpoint, JsonResponse, ParsedRequest
from factoryops.validation import (
    COMPANY,
    EMAIL,
    NAME,
    TOKEN,
    Field,
    WholeNumber,
    check,
    optional,
    search_terms,
)

if TYPE_CHECKING:
    from google.cloud import firestore

TOKEN_BYTES = 32
"""`secrets.token_urlsafe(32)`: 256 bits, 43 characters."""

SECTION_MAX = 64
SECTIONS_MAX = 50
ID_PREFIX_MIN = 8
SHORT_ID = 12
"""How much of a grant id the table and the log lines show (ids are SHA-256 hex)."""

RECEIPT_BYTES = 16
SPEC: dict[str, Field] = {"token": TOKEN, "receipt": optional(TOKEN)}
DENIED = "This access link is not valid: it may have expired or been revoked."

# Anything else cannot be a token we issued, so it is refused without a database read.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{22,256}")
_SECTION = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{SECTION_MAX - 1}}}")
_GRANT_ID = re.compile(r"[0-9a-f]{8,64}")


def grant_id(token: str) -> str:
    """The document id of the grant a token opens: the token's SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def link(token: str) -> str:
    """The per-lead link: the token in the fragment, never sent to any server."""
    return f"{settings().site_url}/#access={token}"


def _collection() -> firestore.CollectionReference:
    return store.collection(store.ACCESS_GRANTS)


# -- what a grant is -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Grant(AccessGrant):
    """A stored grant as the team sees it, with its id (the token is not part of it)."""

    id: str

    @classmethod
    def from_snapshot(cls, snap: Any, **extra: Any) -> Self:
        return cls.from_dict(snap.to_dict() or {}, id=snap.id, **extra)

    def refusal(self, now: dt.datetime, *, counting: bool = True) -> str | None:
        """Why a redemption now is refused (for the log only), or None. A re-check from a
        browser that already holds a use (`counting=False`) is not refused for used-up."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        # Past its retention date the record is as good as deleted, whatever the TTL lag.
        if self.expire_at is not None and self.expire_at <= now:
            return "expired"
        if counting and self.max_uses is not None and self.redemptions >= self.max_uses:
            return "used_up"
        return None

    def status(self, now: dt.datetime | None = None) -> str:
        reason = self.refusal(now or store.now())
        return "active" if reason is None else reason.replace("_", " ")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "lead": self.lead,
            "email": self.email,
            "company": self.company,
            "sections": self.sections,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "max_uses": self.max_uses,
            "redemptions": self.redemptions,
            "first_redeemed_at": self.first_redeemed_at,
            "last_redeemed_at": self.last_redeemed_at,
            "revoked": self.revoked_at is not None,
            "revoked_at": self.revoked_at,
            "status": self.status(),
        }


@dataclass(frozen=True)
class Created:
    grant: Grant
    token: str = field(repr=False)
    """Shown to the team once; stored nowhere."""

    @property
    def url(self) -> str:
        return link(self.token)


class GrantNotFound(LookupError):
    pass


# -- the team's side: create, list, find, revoke ---------------------------------------


def parse_sections(raw: str | Iterable[str]) -> list[str]:
    """Section names from `a,b` or a list: trimmed, de-duplicated, in the given order.
    Raises ValueError naming what is wrong."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    names: list[str] = []
    for item in items:
        name = item.strip() if isinstance(item, str) else ""
        if not isinstance(item, str) or not name:
            raise ValueError("give one or more section names separated by commas, e.g. a,b")
        if not _SECTION.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a section name: use lower-case letters, digits, '-' and '_', "
                f"starting with a letter or digit, at most {SECTION_MAX} characters"
            )
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError("give one or more section names separated by commas, e.g. a,b")
    if len(names) > SECTIONS_MAX:
        raise ValueError(f"at most {SECTIONS_MAX} sections")
    return names


@dataclass(frozen=True)
class Sections:
    """A field of section names, as `a,b` or a list (see `parse_sections`)."""

    required: bool = True
    absent: tuple[str, ...] = ()
    missing: str = "give one or more section names separated by commas, e.g. a,b"

    def clean(self, raw: object) -> list[str]:
        if not isinstance(raw, str | list):
            raise ValueError("must be section names separated by commas, or a list of them")
        return parse_sections(raw)


EMAIL_REQUIRED = (
    "is required: a privacy request finds grants by email (say no_email only when the lead "
    "label names no person)"
)


def _email_problem(email: str | None, no_email: bool) -> dict[str, str]:
    given = bool(email and email.strip())
    if given and no_email:
        return {"no_email": "cannot be given with an email"}
    if not given and not no_email:
        return {"email": EMAIL_REQUIRED}
    return {}


def create_spec() -> dict[str, Any]:
    """The fields of a new grant; `days` is bounded by RETENTION_DAYS, since the record is
    deleted then and a link must not outlive it."""
    return {
        "lead": NAME,
        "sections": Sections(),
        "email": optional(EMAIL),
        "company": COMPANY,
        "days": WholeNumber(1, settings().retention_days, "RETENTION_DAYS"),
        "max_uses": WholeNumber(1),
    }


def create(
    *,
    lead: str,
    sections: str | Iterable[str],
    email: str | None = None,
    company: str | None = None,
    days: int | None = None,
    max_uses: int | None = None,
    no_email: bool = False,
) -> Created:
    """Store a new grant and return it with its token. Raises InvalidRequest whose
    `fields` name every problem (lead, sections, email, company, days, max_uses).

    A grant names a person (its lead is usually their name), so it carries their email,
    by which a privacy request finds it; `no_email` says instead that the lead label
    holds no personal data (a trade-fair stand, a company)."""

    given = {
        "lead": lead,
        "sections": sections if isinstance(sections, str) else list(sections),
        "email": email,
        "company": company,
        "days": days,
        "max_uses": max_uses,
    }
    try:
        values = check(given, create_spec())
    except errors.InvalidRequest as exc:
        raise errors.InvalidRequest({**exc.fields, **_email_problem(email, no_email)}) from None
    if problem := _email_problem(email, no_email):
        raise errors.InvalidRequest(problem)
    names, days, max_uses = values["sections"], values["days"], values["max_uses"]

    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = store.now()
    address = values["email"]
    grant = Grant(
        id=grant_id(token),
        lead=values["lead"],
        email=address.address if address else None,
        email_key=address.key if address else None,
        company=values["company"] or None,
        search_terms=search_terms(values["lead"], values["company"]),
        sections=names,
        expires_at=now + dt.timedelta(days=days) if days else None,
        max_uses=max_uses,
        # The later of expiry and the retention window (days never exceeds it): an expired
        # link stops working at once, but its record and usage stay visible to the team
        # for as long as the lead's other records are kept.
        expire_at=store.expire_at(),
    )
    result = _collection().document(grant.id).create(grant.to_dict(), **store.call_options())
    stored = dataclasses.replace(grant, created_at=result.update_time)
    return Created(grant=stored, token=token)


def list_all() -> list[Grant]:
    """Every grant, newest first."""
    from google.cloud import firestore

    newest = firestore.Query.DESCENDING
    query = _collection().order_by(GrantFields.CREATED_AT, direction=newest)
    return [Grant.from_snapshot(s) for s in query.stream(**store.call_options())]


def find(id_or_prefix: str) -> Grant:
    """The grant with this id, or the only one whose id starts with it (8+ hex digits).
    Raises ValueError for a malformed id, GrantNotFound when none or several match."""
    from google.cloud.firestore_v1.field_path import FieldPath

    wanted = id_or_prefix.strip().lower()
    if not _GRANT_ID.fullmatch(wanted):
        raise ValueError(f"a grant id is {ID_PREFIX_MIN} to 64 hexadecimal digits")
    collection = _collection()
    opts = store.call_options()
    if len(wanted) == 64:
        snapshot = collection.document(wanted).get(**opts)
        if not snapshot.exists:
            raise GrantNotFound(f"no grant with id {wanted}")
        return Grant.from_snapshot(snapshot)
    # Ids are lower-case hex, so every id with this prefix sorts below prefix + "g".
    key = FieldPath.document_id()
    query = (
        collection.where(filter=store.field_filter(key, ">=", collection.document(wanted)))
        .where(filter=store.field_filter(key, "<", collection.document(wanted + "g")))
        .limit(2)
    )
    matches = list(query.stream(**opts))
    if not matches:
        raise GrantNotFound(f"no grant with an id starting {wanted}")
    if len(matches) > 1:
        raise GrantNotFound(f"more than one grant id starts with {wanted}; give more digits")
    return Grant.from_snapshot(matches[0])


def revoke(id_or_prefix: str) -> Grant:
    """Revoke a grant (keeping the first revocation time) and return it as stored."""
    from google.api_core import exceptions
    from google.cloud import firestore

    grant = find(id_or_prefix)
    if grant.revoked_at is None:
        ref = _collection().document(grant.id)
        try:
            revoked = {GrantFields.REVOKED_AT: firestore.SERVER_TIMESTAMP}
            ref.update(revoked, **store.call_options())
        except exceptions.NotFound:
            raise GrantNotFound(f"no grant with id {grant.id}") from None
        grant = find(grant.id)
    return grant


# -- the visitor's side: redeem --------------------------------------------------------


@dataclass(frozen=True)
class Redemption:
    sections: list[str]
    expires_at: dt.datetime | None
    redemptions: int
    receipt: str = field(repr=False)
    """What the browser keeps beside the token, to re-check its unlock later without
    counting a use; for a grant with max uses its hash is kept on the grant."""


def receipt_hash(receipt: str) -> str:
    return hashlib.sha256(receipt.encode()).hexdigest()


def _denied(reason: str, gid: str = "") -> errors.AccessDenied:
    # One status and one body for every reason; the reason goes to the log only.
    logs.access_denied(reason=reason, grant=gid[:SHORT_ID])
    return errors.AccessDenied(DENIED)


def redeem(token: str) -> Redemption:
    """Record one use of the grant this token opens. Raises AccessDenied (the same for
    every reason) when there is no usable grant."""
    from google.api_core import exceptions
    from google.cloud import firestore

    if not _TOKEN_SHAPE.fullmatch(token):
        raise _denied("malformed")
    gid = grant_id(token)
    ref = _collection().document(gid)
    opts = store.call_options()
    snapshot = ref.get(**opts)
    if not snapshot.exists:
        raise _denied("unknown")
    grant = Grant.from_snapshot(snapshot)
    reason = grant.refusal(store.now())
    if reason:
        raise _denied(reason, gid)

    f = GrantFields
    limited = grant.max_uses is not None
    receipt = secrets.token_urlsafe(RECEIPT_BYTES)
    count_write: dict[str, Any] = {f.REDEMPTIONS: firestore.Increment(1)}
    if limited:
        # Kept with the use it stands for, so a re-check can tell a browser holding one of
        # the max uses from anyone else holding the token.
        count_write[f.RECEIPTS] = firestore.ArrayUnion([receipt_hash(receipt)])
    else:
        # No use can be given back, so the time is stamped in the same commit.
        count_write[f.LAST_REDEEMED_AT] = firestore.SERVER_TIMESTAMP
    try:
        counted = store.transform_results(ref.update(count_write, **opts), count_write)
    except exceptions.NotFound:
        raise _denied("unknown", gid) from None
    count = int(counted[f.REDEMPTIONS])
    at = counted.get(f.LAST_REDEEMED_AT)
    if grant.max_uses is not None and count > grant.max_uses:
        # Others took the last uses between our read and our increment.
        give_back = {
            f.REDEMPTIONS: firestore.Increment(-1),
            f.RECEIPTS: firestore.ArrayRemove([receipt_hash(receipt)]),
        }
        try:
            ref.update(give_back, **opts)
        except Exception as exc:
            # The use stays counted: the grant errs towards denying, never towards more.
            logs.access_not_recorded(grant=gid[:SHORT_ID], what="give_back", error=exc)
        raise _denied("used_up", gid)

    stamp: dict[str, Any] = {}
    if limited:
        stamp[f.LAST_REDEEMED_AT] = firestore.SERVER_TIMESTAMP
    # Uses given back never take the count below a use that was kept, so exactly one
    # redemption ever sees the count reach 1.
    if count == 1:
        stamp[f.FIRST_REDEEMED_AT] = at or firestore.SERVER_TIMESTAMP
        if grant.email and _notes_configured():
            # The team learns that the lead opened their link: one note, by the sweep.
            note = Delivery(state=deliveries.PENDING, due_at=store.now())
            stamp[delivery_path(OPENED)] = note.to_dict()
    if stamp:
        try:
            ref.update(stamp, **opts)
        except Exception as exc:
            # The use is counted; failing the visitor now would only make them spend another.
            logs.access_not_recorded(grant=gid[:SHORT_ID], what="times", error=exc)
    logs.access_redeemed(grant=gid[:SHORT_ID], redemptions=count)
    return Redemption(grant.sections, grant.expires_at, count, receipt)


def recheck(token: str, receipt: str) -> Redemption:
    """Whether an unlock a browser already holds still stands: it reads the grant and
    records nothing, so the grant does not learn when a lead comes back. Raises
    AccessDenied (the same as `redeem`) when the grant is gone, revoked or expired, or,
    for a grant with max uses, when the receipt is not one of its uses.

    A re-check that stands writes no log line, and a refused one logs its reason without
    the grant's id: a return visit leaves no trace naming the grant anywhere."""
    if not _TOKEN_SHAPE.fullmatch(token):
        raise _denied("malformed")
    gid = grant_id(token)
    snapshot = _collection().document(gid).get(**store.call_options())
    if not snapshot.exists:
        raise _denied("unknown")
    grant = Grant.from_snapshot(snapshot)
    reason = grant.refusal(store.now(), counting=False)
    if reason:
        raise _denied(reason)
    if grant.max_uses is not None and receipt_hash(receipt) not in grant.receipts:
        raise _denied("no_use")
    return Redemption(grant.sections, grant.expires_at, grant.redemptions, receipt)


# -- the note to the team's inbox: the lead opened their link ---------------------------

OPENED = "opened"


def _notes_configured() -> bool:
    cfg = settings()
    return bool(cfg.emailjs_configured and cfg.emailjs_notify_template_id)


def note_params(grant_id: str) -> dict[str, str]:
    """The note's template parameters: exactly the grant's id and the console's link to
    it; nothing of the person."""
    return {"grant_id": grant_id, "console_url": f"{settings().console_url}/#/grants/{grant_id}"}


def note_senders(record: deliveries.Record) -> dict[str, deliveries.Sender]:
    from factoryops import mailer

    def send(attempt: deliveries.Attempt) -> None:
        template = settings().emailjs_notify_template_id
        if not template:
            raise deliveries.NotNeeded()
        mailer.send(template_id=template, params=note_params(record.id), timeout=attempt.timeout)

    return {OPENED: send}


NOTES = deliveries.DeliverySource(
    name="grant",
    collection=store.ACCESS_GRANTS,
    senders=note_senders,
    channels=(OPENED,),
)
"""The first redemption of a grant that names a person (it has an email) schedules one
note to the team's inbox (the notify template), sent by the sweep's deliveries task."""


# -- the HTTP endpoint -------------------------------------------------------------------


@dataclass(frozen=True)
class Unlock:
    token: str
    receipt: str
    """Empty for a first redemption; the browser's receipt for a re-check."""


def validate(request: ParsedRequest) -> Unlock:
    values = check(request.body, SPEC)
    return Unlock(token=values["token"], receipt=values["receipt"])


def handle(request: ParsedRequest, unlock: Unlock) -> JsonResponse:
    token, receipt = unlock.token, unlock.receipt
    redemption = recheck(token, receipt) if receipt else redeem(token)
    return JsonResponse(
        200,
        {
            "unlocked": True,
            "sections": redemption.sections,
            "expires_at": store.rfc3339(redemption.expires_at),
            "receipt": redemption.receipt,
        },
    )


ENDPOINT: Endpoint[Unlock] = Endpoint(
    function=ACCESS,
    methods=("POST",),
    validate=validate,
    handle=handle,
    rate_limit=lambda request: settings().access_rate_limit,
    # A stored 200 replayed for a repeated key would outlive a revocation, and a
    # redemption only reads and counts, so repeats are simply served again.
    idempotent_methods=(),
)

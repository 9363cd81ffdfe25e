"""The team's inbox: the chat list as indexed Firestore queries, paged by an opaque cursor.

The open view is two queries: the chats awaiting a reply, longest-waiting first
(`awaiting_since` ascending), then the other open chats, most recently active first.
A page of N asks the first for N and, when it runs out, the second for the rest, so a
page never reads more than N chats however many there are. The closed and all views are
one query each, most recently active first. Each query's order ends with `lead_id`,
unique per chat, so the cursor (the part and the last chat's order values, never its
session id, which is the visitor's secret) places the next page exactly.

Every query here is an `Indexed`: its composite index, when it needs one, is declared in
firestore.indexes.json (the emulator enforces none, so a unit test compares the two).
The team console and `siteadmin chats list` both page through `page`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from factoryops import errors, store
from factoryops.chat.thread import CLOSED, LEAD_ID, OPEN, Session, from_epoch_ms
from factoryops.documents import ContactFields, GrantFields, SessionFields
from factoryops.validation import search_terms

if TYPE_CHECKING:
    from google.cloud.firestore_v1.query import Query

VIEWS = ("open", "closed", "all")
PAGE_MAX = 100
PAGE_DEFAULT = 50
FOUND_MAX = 100
"""Chats a search or a `changed_after` answers, at most."""
SEARCH_MAX = 100
"""Characters of a search."""
SEARCH_SCAN = 200
"""Contact submissions (and grants) a word search reads, at most, to find whose they are."""
AS_OF_MARGIN = dt.timedelta(seconds=2)
"""How far before the counts' read time `as_of` lies: a change written as they were read
comes again in the next `changed_after`, rather than not at all."""
CURSOR_MAX = 200
AT_MAX = (dt.datetime(9999, 12, 31, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // (
    dt.timedelta(microseconds=1)
)
"""The largest order value a cursor may hold: the end of year 9999 in microseconds (what
a stored time can be), which is more milliseconds than any `awaiting_since`."""

ASCENDING = "ASCENDING"
DESCENDING = "DESCENDING"
EQUALITIES = ("==", "in")
RANGES = (">", ">=", "<", "<=")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# -- the queries and their indexes ---------------------------------------------------------


@dataclass(frozen=True)
class Indexed:
    """One query of the inbox: its filters `(field, op, value)` and its order. `index()`
    says which composite index it needs, in firestore.indexes.json's terms."""

    collection: str
    filters: tuple[tuple[str, str, Any], ...] = ()
    order: tuple[tuple[str, str], ...] = ()

    def query(self) -> Query:
        query: Any = store.collection(self.collection)
        for path, op, value in self.filters:
            query = query.where(filter=store.field_filter(path, op, value))
        for path, direction in self.order:
            query = query.order_by(path, direction=direction)
        return query  # type: ignore[no-any-return]

    def index(self) -> tuple[str, frozenset[str], tuple[tuple[str, str], ...]] | None:
        """(collection, the equality fields, the ordered fields with their directions) of
        the composite index the query needs; None when single-field indexes serve it (one
        field alone, or equalities alone, which Firestore merges)."""
        equal = frozenset(p for p, op, _ in self.filters if op in EQUALITIES)
        ranged = [(p, ASCENDING) for p, op, _ in self.filters if op in RANGES]
        order = self.order or tuple(ranged[:1])
        others = {p for p, op, _ in self.filters if op not in EQUALITIES + RANGES}
        fields = equal | others | {p for p, _ in order}
        if len(fields) <= 1 or not (order or others):
            return None
        return self.collection, equal, order


@dataclass(frozen=True)
class Part:
    """One query of a view, with the field its cursor positions it by."""

    name: str
    shape: Indexed

    @property
    def at(self) -> str:
        """The first field of the order: the cursor keeps the last chat's value of it."""
        return self.shape.order[0][0]

    def position(self, session: Session) -> int:
        """The last chat's place in this part, as the cursor keeps it: `awaiting_since`
        (milliseconds) or `last_activity_at` (microseconds), both whole numbers."""
        if self.at == SessionFields.AWAITING_SINCE:
            return session.awaiting_since or 0
        moment = session.last_activity_at or _EPOCH
        return (moment - _EPOCH) // dt.timedelta(microseconds=1)

    def start_after(self, query: Query, cursor: Cursor) -> Query:
        value: Any = cursor.at
        if self.at == SessionFields.LAST_ACTIVITY_AT:
            value = _EPOCH + dt.timedelta(microseconds=cursor.at)
        return query.start_after({self.at: value, SessionFields.LEAD_ID: cursor.lead_id})


_S = SessionFields
_NEWEST = ((_S.LAST_ACTIVITY_AT, DESCENDING), (_S.LEAD_ID, DESCENDING))
AWAITING = Part(
    "awaiting",
    Indexed(
        store.CHAT_SESSIONS,
        filters=((_S.STATUS, "==", OPEN), (_S.AWAITING_SINCE, ">", 0)),
        order=((_S.AWAITING_SINCE, ASCENDING), (_S.LEAD_ID, ASCENDING)),
    ),
)
QUIET = Part(
    "quiet",
    Indexed(
        store.CHAT_SESSIONS,
        filters=((_S.STATUS, "==", OPEN), (_S.AWAITING_SINCE, "==", None)),
        order=_NEWEST,
    ),
)
CLOSED_PART = Part(
    "closed",
    Indexed(store.CHAT_SESSIONS, filters=((_S.STATUS, "==", CLOSED),), order=_NEWEST),
)
ALL_PART = Part("all", Indexed(store.CHAT_SESSIONS, order=_NEWEST))
PARTS = {"open": (AWAITING, QUIET), "closed": (CLOSED_PART,), "all": (ALL_PART,)}

OPEN_CHATS = Indexed(store.CHAT_SESSIONS, filters=((_S.STATUS, "==", OPEN),))
AWAITING_CHATS = Indexed(
    store.CHAT_SESSIONS, filters=((_S.STATUS, "==", OPEN), (_S.AWAITING_SINCE, ">", 0))
)


def changed_since(moment: dt.datetime) -> Indexed:
    return Indexed(
        store.CHAT_SESSIONS,
        filters=((_S.LAST_ACTIVITY_AT, ">", moment),),
        order=((_S.LAST_ACTIVITY_AT, DESCENDING),),
    )


def address_prefix(prefix: str) -> Indexed:
    """Chats whose normalised address starts with `prefix` (a range on `email_key`)."""
    above = _successor(prefix)
    below = ((_S.EMAIL_KEY, "<", above),) if above is not None else ()
    return Indexed(
        store.CHAT_SESSIONS,
        filters=((_S.EMAIL_KEY, ">=", prefix), *below),
        order=((_S.EMAIL_KEY, ASCENDING),),
    )


def by_word(collection: str, word: str) -> Indexed:
    """Contact submissions or grants whose name, lead or company holds `word`."""
    return Indexed(collection, filters=((ContactFields.SEARCH_TERMS, "array_contains", word),))


def by_address(collection: str, keys: Sequence[str]) -> Indexed:
    """Records of any of these normalised addresses (at most store.IN_LIMIT of them)."""
    return Indexed(collection, filters=((ContactFields.EMAIL_KEY, "in", list(keys)),))


def shapes() -> list[Indexed]:
    """Every query this module makes (with sample values), for the index test."""
    moment = _EPOCH
    people = [
        by_address(collection, ["a@b.example"])
        for collection in (store.CONTACT_SUBMISSIONS, store.ACCESS_GRANTS, store.CHAT_SESSIONS)
    ]
    words = [by_word(c, "word") for c in (store.CONTACT_SUBMISSIONS, store.ACCESS_GRANTS)]
    views = [part.shape for parts in PARTS.values() for part in parts]
    counts = [OPEN_CHATS, AWAITING_CHATS]
    return [*views, *counts, changed_since(moment), address_prefix("a"), *words, *people]


def _successor(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix`: its last character
    one higher (past the surrogates, which no stored string holds); None when no string
    is (the prefix is all U+10FFFF)."""
    if not prefix:
        return None
    head, last = prefix[:-1], ord(prefix[-1]) + 1
    if last > sys.maxunicode:
        return _successor(head)
    return head + chr(0xE000 if 0xD800 <= last <= 0xDFFF else last)


def _stream(query: Query) -> Iterator[Any]:
    return query.stream(**store.call_options())


# -- the cursor ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the chat at `at` (its order value) in `part`."""

    part: str
    at: int
    lead_id: str

    def encode(self) -> str:
        body = {"p": self.part, "at": self.at, "lead": self.lead_id}
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, view: str) -> Cursor:
        """A cursor that `page` gave for `view`; raise InvalidRequest for anything else."""
        refused = errors.InvalidRequest({"cursor": "is not a cursor this list gave"})
        if not text or len(text) > CURSOR_MAX or not text.isascii():
            raise refused
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            body = json.loads(raw)
        except (binascii.Error, ValueError):
            raise refused from None
        if not isinstance(body, dict) or set(body) != {"p", "at", "lead"}:
            raise refused
        part, at, lead = body["p"], body["at"], body["lead"]
        if part not in [p.name for p in PARTS[view]]:
            raise refused
        if type(at) is not int or not 0 <= at <= AT_MAX or not isinstance(lead, str):
            raise refused
        cursor = cls(part, at, lead)
        if not LEAD_ID.fullmatch(lead) or cursor.encode() != text:
            raise refused
        return cursor


# -- a page of a view ----------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    sessions: list[Session]
    next: str | None
    """The cursor of the next page; None when this one is the last."""


def page(view: str, *, limit: int = PAGE_DEFAULT, after: Cursor | None = None) -> Page:
    """One page of `view` (open, closed or all), after the cursor (`Cursor.decode`); at
    most `limit` chats, and no more documents read."""
    parts = PARTS[view]
    limit = max(1, min(limit, PAGE_MAX))
    start = after
    found: list[Session] = []
    names = [part.name for part in parts]
    for part in parts[names.index(start.part) if start else 0 :]:
        wanted = limit - len(found)
        query = part.shape.query()
        if start is not None and start.part == part.name:
            query = part.start_after(query, start)
        got = [Session.from_snapshot(snap) for snap in _stream(query.limit(wanted))]
        found += got
        if len(got) == wanted:
            last = got[-1]
            after = Cursor(part.name, part.position(last), last.lead_id)
            return Page(found, after.encode())
    return Page(found, None)


def walk(view: str, *, limit: int, after: Cursor | None = None) -> Page:
    """Up to `limit` chats of `view`, read a page (PAGE_MAX) at a time."""
    found: list[Session] = []
    while True:
        step = page(view, limit=min(PAGE_MAX, limit - len(found)), after=after)
        found += step.sessions
        if step.next is None or len(found) >= limit:
            return Page(found, step.next)
        after = Cursor.decode(step.next, view)


def changed(after: dt.datetime) -> list[Session]:
    """Chats whose last activity (a message, a close) is later than `after`, newest
    first, at most FOUND_MAX."""
    query = changed_since(after).query().limit(FOUND_MAX)
    return [Session.from_snapshot(snap) for snap in _stream(query)]


# -- search ----------------------------------------------------------------------------------


def search(text: str) -> list[Session]:
    """Chats of the people `text` names: by the start of their address (when it holds an
    `@`, or is one word), or by the words of a name or company that a contact form or a
    grant gave. At most FOUND_MAX, those awaiting a reply first, then by last activity."""
    text = text.strip()
    found: dict[str, Session] = {}
    if "@" in text or len(text.split()) == 1:
        query = address_prefix(text.lower()).query().limit(FOUND_MAX)
        found.update((s.lead_id, s) for s in map(Session.from_snapshot, _stream(query)))
    words = search_terms(text)
    if "@" not in text and words:
        for session in _sessions_of(sorted(_people_named(words))):
            found.setdefault(session.lead_id, session)
    ordered = sorted(found.values(), key=_inbox_order)
    return ordered[:FOUND_MAX]


def _inbox_order(session: Session) -> tuple[int, int, float]:
    """Awaiting a reply first, longest-waiting first; then the most recently active."""
    if session.awaiting_reply:
        return 0, session.awaiting_since or 0, 0.0
    active = session.last_activity_at
    return 1, 0, -(active.timestamp() if active else 0.0)


def _people_named(words: list[str]) -> set[str]:
    """The addresses of the contact submissions and grants whose words hold all `words`.
    The query asks for the longest word (the likeliest to be rare: "rao" rather than
    "ltd"); the others are checked on what it returns."""
    keys: set[str] = set()
    rarest = max(words, key=len)
    for collection in (store.CONTACT_SUBMISSIONS, store.ACCESS_GRANTS):
        query = by_word(collection, rarest).query()
        query = query.select([ContactFields.EMAIL_KEY, ContactFields.SEARCH_TERMS])
        for snap in _stream(query.limit(SEARCH_SCAN)):
            data = snap.to_dict() or {}
            key, terms = data.get(ContactFields.EMAIL_KEY), data.get(ContactFields.SEARCH_TERMS)
            if key and isinstance(terms, list) and all(word in terms for word in words):
                keys.add(key)
    return keys


def _sessions_of(keys: Sequence[str]) -> Iterator[Session]:
    for chunk in store.chunks(keys, store.IN_LIMIT):
        query = by_address(store.CHAT_SESSIONS, chunk).query().limit(FOUND_MAX)
        yield from map(Session.from_snapshot, _stream(query))


# -- what the list shows of each chat --------------------------------------------------------


def people(keys: Iterable[str]) -> dict[str, dict[str, str | None]]:
    """The name and company that contact forms (the newest first) or, for the company,
    grants give for each address; addresses with neither are left out. Reads only those
    fields, store.IN_LIMIT addresses a query."""
    wanted = sorted({key for key in keys if key})
    found: dict[str, dict[str, str | None]] = {}
    contact = (ContactFields.EMAIL_KEY, ContactFields.NAME, ContactFields.COMPANY)
    grant = (GrantFields.EMAIL_KEY, GrantFields.COMPANY)
    newest_first: list[tuple[dt.datetime, str, str | None, str | None]] = []
    for chunk in store.chunks(wanted, store.IN_LIMIT):
        query = by_address(store.CONTACT_SUBMISSIONS, chunk).query()
        for snap in _stream(query.select([*contact, ContactFields.CREATED_AT])):
            data = snap.to_dict() or {}
            at = data.get(ContactFields.CREATED_AT) or _EPOCH
            newest_first.append((at, data[contact[0]], data.get(contact[1]), data.get(contact[2])))
    for _, key, name, company in sorted(newest_first, key=lambda row: row[0], reverse=True):
        person = found.setdefault(key, {"name": None, "company": None})
        person["name"] = person["name"] or name or None
        person["company"] = person["company"] or company or None
    lacking = [key for key in wanted if not (found.get(key) or {}).get("company")]
    for chunk in store.chunks(lacking, store.IN_LIMIT):
        query = by_address(store.ACCESS_GRANTS, chunk).query().select(list(grant))
        for snap in _stream(query):
            data = snap.to_dict() or {}
            if data.get(grant[1]):
                person = found.setdefault(data[grant[0]], {"name": None, "company": None})
                person["company"] = person["company"] or data[grant[1]]
    return found


def preview(session: Session) -> dict[str, Any] | None:
    """The newest message: who wrote it, the team member's name, its first line."""
    if session.last_author is None or session.last_text is None:
        return None
    return {
        "author": session.last_author,
        "name": session.last_name,
        "text": session.last_text,
        "at": session.last_message_at,
    }


def summaries(found: Sequence[Session]) -> list[dict[str, Any]]:
    """The chats as the console's list shows them (times as datetimes, for json_ready)."""
    known = people(session.email_key for session in found)
    return [
        {
            "lead_id": session.lead_id,
            "email": session.email,
            "page": session.page,
            "status": session.status,
            "awaiting_reply": session.awaiting_reply,
            "awaiting_since": (
                from_epoch_ms(session.awaiting_since)
                if session.awaiting_reply and session.awaiting_since is not None
                else None
            ),
            "last_activity_at": session.last_activity_at,
            "created_at": session.created_at,
            "preview": preview(session),
            "person": known.get(session.email_key),
        }
        for session in found
    ]


# -- the counts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    open: int
    awaiting_reply: int
    read_at: dt.datetime
    """The server's time of the count: what `as_of` is taken from."""

    @property
    def as_of(self) -> dt.datetime:
        """What the page sends as `changed_after` next: a little before the counts."""
        return self.read_at - AS_OF_MARGIN

    def as_dict(self) -> dict[str, int]:
        return {"open": self.open, "awaiting_reply": self.awaiting_reply}


def count(shape: Indexed) -> tuple[int, dt.datetime]:
    """How many documents the query matches, by a `count()` aggregation (no document is
    read), and the server's time of the count."""
    # One result per aggregation, in a list per answer (the client's annotation says less).
    answer: Any = shape.query().count(alias="n").get(**store.call_options())
    [[result]] = answer
    return int(result.value), result.read_time or store.now()


def counts() -> Counts:
    opened, read_at = count(OPEN_CHATS)
    awaiting, _ = count(AWAITING_CHATS)
    return Counts(open=opened, awaiting_reply=awaiting, read_at=read_at)

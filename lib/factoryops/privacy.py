"""The privacy notice's "show, correct, delete", across every store.

A person is found by `email_key` (the trimmed, lower-cased address) in contact
submissions, chat sessions and access grants, and in the CRM sheet by the email column
(case-insensitively) or by the `record_id` of any of their records. Each request
leaves a `privacy_requests` record that holds only a keyed hash (HMAC) of the normalised
address, the counts per store and the time: proof the request was honoured, with
nothing left to identify the person by without the key.

`delete` goes page by page: it fences the page's records (their chats closed, their
deliveries stopped), then removes their CRM rows before the documents, so a request
interrupted half way can simply be run again: the remaining documents still lead to the
remaining rows, and the request's trace, written when it started, is continued.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from factoryops import audit, crm, deliveries, errors, grants, keys, logs, store
from factoryops.chat import nudge, replies
from factoryops.documents import (
    ChatSession,
    ContactFields,
    Delivery,
    DeliveryFields,
    GrantFields,
    MessageFields,
    PrivacyRequest,
    PrivacyRequestFields,
    SessionFields,
)
from factoryops.validation import COMPANY, EMAIL, NAME, Email, Field, check, search_terms

EXPORT, CORRECT, DELETE = "export", "correct", "delete"
_INTERNAL = (ContactFields.EMAIL_KEY, ContactFields.SEARCH_TERMS)
"""Fields that are bookkeeping rather than data about the person: left out of exports
(a session and a grant name them alike)."""
_DESTINATIONS = {
    "email": "a copy emailed to the team's mailbox, by EmailJS",
    "crm": "a row in the team's CRM sheet",
    nudge.CHANNEL: "a note to the team's mailbox that a message waits, without its text",
    replies.REPLY: "an email to you with the team's replies",
    replies.TRANSCRIPT: "an email to you with the whole chat",
    grants.OPENED: "a note to the team's mailbox that the access link was opened",
}
"""Where each delivery channel of a record takes it, in words to the person."""
_SETTLED_AT = (DeliveryFields.SENT_AT, DeliveryFields.FAILED_AT, DeliveryFields.SKIPPED_AT)
_CONTACT_WORDS = (ContactFields.NAME, ContactFields.COMPANY)
_GRANT_WORDS = (GrantFields.LEAD, GrantFields.COMPANY)
"""The fields whose words a record's `search_terms` hold (validation.search_terms)."""


@dataclass
class Counts:
    """Documents and rows about people, per store."""

    contact_submissions: int = 0
    chat_sessions: int = 0
    chat_messages: int = 0
    access_grants: int = 0
    crm_rows: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


@dataclass(frozen=True)
class Correction:
    name: str | None = None
    company: str | None = None
    new_email: Email | None = None


def subject(email: str) -> Email:
    """The address a request is about; raise InvalidRequest when it is not one."""
    address: Email = check({"email": email}, {"email": EMAIL})["email"]
    return address


def correction(
    *, name: str | None = None, company: str | None = None, new_email: str | None = None
) -> Correction:
    """Validate the new values as the site's forms would; only those given change."""
    spec: dict[str, Field] = {"name": NAME, "company": COMPANY, "new_email": EMAIL}
    offered = {"name": name, "company": company, "new_email": new_email}
    given = {k: v for k, v in offered.items() if v is not None}
    if not given:
        raise errors.InvalidRequest(
            message="Nothing to correct: give a new name, company or email."
        )
    values = check(given, {k: spec[k] for k in given})
    return Correction(
        name=values.get("name"), company=values.get("company"), new_email=values.get("new_email")
    )


def email_hmac(email: Email) -> str:
    """What a request's trace keeps of the address: a keyed hash, which without the key
    (PRIVACY_TRACE_KEY) cannot be reversed by hashing a list of likely addresses."""
    return keys.keyed_hash(keys.privacy_trace(), "privacy-request", email.key)


# -- finding everything about a person ---------------------------------------------------


@dataclass
class PersonRecords:
    """The documents that name one person, by collection."""

    contacts: list[Any]
    sessions: list[Any]
    grants: list[Any]

    def __bool__(self) -> bool:
        return bool(self.contacts or self.sessions or self.grants)

    def full(self, page: int) -> bool:
        """Whether any collection gave a whole page (`limit`): there may be more."""
        return any(len(found) >= page for found in (self.contacts, self.sessions, self.grants))

    @property
    def record_ids(self) -> frozenset[str]:
        ids = {snap.id for snap in self.contacts}
        leads = (ChatSession.from_snapshot(snap).lead_id for snap in self.sessions)
        return frozenset(ids | {lead for lead in leads if lead})


def _data(snap: Any) -> dict[str, Any]:
    return dict(snap.to_dict() or {})


def _by_email(collection: str, email_key: str, email: Email, limit: int | None) -> list[Any]:
    query = store.collection(collection).where(
        filter=store.field_filter(email_key, "==", email.key)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(query.stream(**store.call_options()))


def records_about(email: Email, *, limit: int | None = None) -> PersonRecords:
    """The documents naming `email`: all of them, or at most `limit` of each collection."""
    return PersonRecords(
        contacts=_by_email(store.CONTACT_SUBMISSIONS, ContactFields.EMAIL_KEY, email, limit),
        sessions=_by_email(store.CHAT_SESSIONS, SessionFields.EMAIL_KEY, email, limit),
        grants=_by_email(store.ACCESS_GRANTS, GrantFields.EMAIL_KEY, email, limit),
    )


def _crm_match(email: Email, held: PersonRecords) -> crm.Match:
    return crm.Match(record_ids=held.record_ids, email_keys=frozenset({email.key}))


def _exported(data: dict[str, Any]) -> dict[str, Any]:
    """A record as its person gets it: no bookkeeping, every time in RFC 3339 (a chat's
    `awaiting_since` is stored as epoch milliseconds, for its index)."""
    from factoryops.chat.thread import from_epoch_ms

    waiting = data.get(SessionFields.AWAITING_SINCE)
    if isinstance(waiting, int) and not isinstance(waiting, bool):
        data = {**data, SessionFields.AWAITING_SINCE: from_epoch_ms(waiting)}
    sent = data.get(ContactFields.DELIVERIES)
    if isinstance(sent, Mapping):
        data = {**data, ContactFields.DELIVERIES: _deliveries(sent)}
    return {k: store.json_ready(v) for k, v in sorted(data.items()) if k not in _INTERNAL}


def _deliveries(stored: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Where a record was sent on to, as its person gets it: per channel, where it goes,
    its state and when it settled (sent, failed or skipped).

    A delivery says whether a copy of the person's record reached the team's mailbox or
    the CRM sheet (or an email reached them), and when: that is about them, so it is
    shown. The rest is the sweep's bookkeeping and tells them nothing held about them:
    the lease, the due and next-attempt times, the attempt counts, and the downstream's
    last error, which is EmailJS's or the CRM's status (never data of the person, by
    design: documents.Delivery), and would only expose the processors' failures.
    """
    plain: dict[str, dict[str, Any]] = {}
    for channel, fields in sorted(stored.items()):
        state = Delivery.from_dict(fields if isinstance(fields, Mapping) else {})
        shown: dict[str, Any] = {"state": deliveries.listed_state(state)}
        if channel in _DESTINATIONS:
            shown["to"] = _DESTINATIONS[channel]
        for name in _SETTLED_AT:
            if getattr(state, name) is not None:
                shown[name] = getattr(state, name)
        plain[channel] = shown
    return plain


def _earlier_requests(email: Email) -> list[dict[str, Any]]:
    """The traces of the person's earlier privacy requests (found by the keyed hash of
    their address, so those made under an address since corrected are not): kind,
    counts and time, and an erasure's outcome."""
    query = store.collection(store.PRIVACY_REQUESTS).where(
        filter=store.field_filter(PrivacyRequestFields.EMAIL_HMAC, "==", email_hmac(email))
    )
    traces = [PrivacyRequest.from_snapshot(s) for s in query.stream(**store.call_options())]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    traces.sort(key=lambda trace: trace.at or far)
    return [
        {
            "kind": t.kind,
            "counts": dict(t.counts),
            "at": store.rfc3339(t.at),
            **({"outcome": t.outcome} if t.outcome else {}),
        }
        for t in traces
    ]


def _messages(session: Any) -> list[dict[str, Any]]:
    snaps = session.reference.collection(store.MESSAGES).order_by(MessageFields.CREATED_AT)
    return [{"id": m.id, **_exported(_data(m))} for m in snaps.stream(**store.call_options())]


# -- what no code here can reach ------------------------------------------------------


SHEET_HISTORY = (
    "the CRM sheet's version history (File → Version history), which keeps every row as it"
    " was, deleted and corrected ones included, and cannot be pruned"
)

# Google Sheets offers no way to delete a version: a copy of the sheet starts with no
# history, so replacing the sheet by its copy is the one way to purge it.
_SHEET_PURGE = [
    "  To purge it: File → Make a copy (a copy has no history; its Apps Script comes",
    "  with it), deploy the copy's script as a web app and check its script property",
    "  CRM_APPS_SCRIPT_KEY, put the new web app URL in CRM_APPS_SCRIPT_URL and run",
    "  deploy.sh, copy over any row the old sheet received meanwhile, then delete the old",
    "  sheet from Drive and from Drive's trash (docs/operating.md, \"A privacy request,",
    '  end to end").',
]


@dataclass(frozen=True)
class OutsideThisSystem:
    """Copies no code here can erase or list: the emails EmailJS delivered to the team's
    mailbox (a contact submission, a chat's first message), EmailJS's own send history,
    and the CRM sheet's version history. The team completes a request there, with this
    search."""

    mailbox_search: str
    """One search a line (usually one line)."""
    crm_unchecked: bool = False
    """An erasure's last look at the CRM sheet failed: rows appended while it ran may
    remain there, for the team to delete with the same search."""

    def lines(self, request: str) -> list[str]:
        """What the team does there to complete `request` (export, correct or delete)."""
        act, history = {
            EXPORT: ("add what it finds to the answer", "look there too"),
            CORRECT: (
                "know that those copies keep the old values as sent: delete them if the"
                " person asks",
                "they keep the old values too",
            ),
            DELETE: ("delete what it finds, then empty the trash", "delete them there"),
        }[request]
        unchecked = [
            "- the CRM sheet, which could not be reached for a last look after the erasure:",
            *self._searches("  delete the rows found by a search of it for"),
        ]
        sheet = {
            CORRECT: [
                "- the CRM sheet's version history (File → Version history), which keeps the",
                "  old values: if the person asks for them gone, replace the sheet by a copy.",
            ],
            DELETE: [
                "- the CRM sheet's version history (File → Version history), which still",
                "  shows the deleted rows: no version can be deleted from it.",
            ],
        }.get(request, [])
        return [
            "Outside this system, so not covered by this command:",
            *(unchecked if self.crm_unchecked else []),
            "- the team's mailbox, where EmailJS delivered a copy of each contact submission",
            *self._searches("  and first chat message: search it for"),
            f"  and {act};",
            "- EmailJS's send history (its dashboard, Email History), which may keep these",
            f"  sends for a while: {history}{';' if sheet else '.'}",
            *sheet,
            *(_SHEET_PURGE if sheet else []),
        ]

    def _searches(self, lead: str) -> list[str]:
        """`lead` and the search, or the searches a line each when there are several."""
        searches = self.mailbox_search.splitlines()
        if len(searches) == 1:
            return [f"{lead} {searches[0]}"]
        return [f"{lead} each of these {len(searches)} searches:", *(f"    {s}" for s in searches)]

    def as_dict(self) -> dict[str, str]:
        unchecked = {
            "crm_sheet": "the CRM sheet could not be reached for a last look after the "
            "erasure: search it too and delete the rows it finds"
        }
        return {
            **(unchecked if self.crm_unchecked else {}),
            "mailbox_search": self.mailbox_search,
            "mailbox": "the team's mailbox: EmailJS's copies of contact submissions and first "
            "chat messages",
            "emailjs": "EmailJS's send history (dashboard, Email History)",
            "sheet_history": SHEET_HISTORY,
        }


SEARCH_TERMS = 40
"""Terms in one mailbox search at most: Gmail refuses a search past a length it does not
publish, and 40 quoted ids (under 1,100 characters) stay well inside what it takes."""


def outside_this_system(email: Email, record_ids: frozenset[str]) -> OutsideThisSystem:
    """Mailbox searches (Gmail's syntax) that together find every email about the person:
    by their address, and by the record ids the emails carry (a copy sent before the
    address was corrected names the old one). One search a line, each with the address
    and at most SEARCH_TERMS terms, so that a person with thousands of records is still
    searched: the team runs each line."""
    ids = sorted(record_ids)
    per_search = SEARCH_TERMS - 1
    chunks = [ids[i : i + per_search] for i in range(0, len(ids), per_search)] or [[]]
    searches = (" OR ".join(f'"{term}"' for term in [email.key, *chunk]) for chunk in chunks)
    return OutsideThisSystem("\n".join(searches))


# -- the three requests --------------------------------------------------------------


def export(email: Email) -> dict[str, Any]:
    """Everything held about `email`, in every store, as plain JSON-ready data: the
    records with where each was delivered (`_deliveries`), what the team did about them
    (`team_actions`: the `team_audit` records naming them, without the member) and the
    person's earlier privacy requests (`privacy_requests`: their traces).

    Chat sessions are named by their `lead_id`: the session id is a bearer secret that
    would let whoever holds the export read and write the conversation.
    """
    held = records_about(email)
    rows = crm.find_rows(_crm_match(email, held))
    threads = store.concurrently(_messages, held.sessions)
    sessions = [
        {**_exported(_data(snap)), "messages": messages}
        for snap, messages in zip(held.sessions, threads, strict=True)
    ]
    data = {
        "email": email.key,
        "outside_this_system": outside_this_system(email, held.record_ids).as_dict(),
        "contact_submissions": [{"id": s.id, **_exported(_data(s))} for s in held.contacts],
        "chat_sessions": sessions,
        "access_grants": [{"id": s.id, **_exported(_data(s))} for s in held.grants],
        "crm_rows": [row.as_dict() for row in rows],
        "team_actions": audit.about(
            records=held.record_ids | {snap.id for snap in held.grants},
            request=email_hmac(email),
        ),
        "privacy_requests": _earlier_requests(email),
    }
    counts = Counts(
        contact_submissions=len(held.contacts),
        chat_sessions=len(held.sessions),
        chat_messages=sum(len(s["messages"]) for s in sessions),
        access_grants=len(held.grants),
        crm_rows=len(rows),
    )
    _trace(EXPORT, email, counts)
    return data


def preview(email: Email) -> Counts:
    """What `delete` would remove, for the confirmation prompt."""
    held = records_about(email)
    under = store.concurrently(lambda s: list(store.documents_under(s.reference)), held.sessions)
    messages = sum(1 for docs in under for doc in docs if doc.parent.id == store.MESSAGES)
    return Counts(
        contact_submissions=len(held.contacts),
        chat_sessions=len(held.sessions),
        chat_messages=messages,
        access_grants=len(held.grants),
        crm_rows=len(crm.find_rows(_crm_match(email, held))),
    )


@dataclass(frozen=True)
class Outcome:
    """What a correction or an erasure changed, and what lies outside this system."""

    counts: Counts
    outside: OutsideThisSystem
    """What the team must still do by hand."""
    done: bool = True
    """False for an erasure that stopped at its time budget with records left: the next
    erasure of the address continues it."""


def correct(email: Email, change: Correction) -> Outcome:
    """Apply `change` wherever the field exists: contacts (name, company, email),
    chat sessions (email), access grants (lead, company, email) and CRM rows (all three)."""
    held = records_about(email)
    outside = outside_this_system(email, held.record_ids)
    counts = Counts()
    contact: dict[str, Any] = {}
    session: dict[str, Any] = {}
    grant: dict[str, Any] = {}
    if change.new_email is not None:
        new = change.new_email
        contact |= {ContactFields.EMAIL: new.address, ContactFields.EMAIL_KEY: new.key}
        session |= {SessionFields.EMAIL: new.address, SessionFields.EMAIL_KEY: new.key}
        grant |= {GrantFields.EMAIL: new.address, GrantFields.EMAIL_KEY: new.key}
    if change.name is not None:
        contact[ContactFields.NAME] = change.name
        grant[GrantFields.LEAD] = change.name
    if change.company is not None:
        contact[ContactFields.COMPANY] = change.company
        grant[GrantFields.COMPANY] = change.company or None
    # A contact's name, email and company are the CRM row's columns of the same names.
    cells = {k: v for k, v in contact.items() if k in crm.COLUMNS}

    # The CRM first: until the documents change, a re-run still finds the same rows.
    counts.crm_rows = crm.update_rows(_crm_match(email, held), cells)
    counts.contact_submissions = _update(held.contacts, contact, words=_CONTACT_WORDS)
    counts.chat_sessions = _update(held.sessions, session)
    counts.access_grants = _update(held.grants, grant, words=_GRANT_WORDS)
    _trace(CORRECT, email, counts)
    return Outcome(counts, outside)


def _update(snaps: Iterable[Any], fields: dict[str, Any], *, words: tuple[str, ...] = ()) -> int:
    """Write `fields` on each record; when they change one of `words` (the fields whose
    words a record is searched by), its `search_terms` follow."""
    if not fields:
        return 0

    def change(snap: Any) -> None:
        update = dict(fields)
        if any(name in fields for name in words):
            now = {**_data(snap), **fields}
            update[ContactFields.SEARCH_TERMS] = search_terms(*(now.get(n) for n in words))
        snap.reference.update(update, **store.call_options())

    return len(store.concurrently(change, list(snaps)))


PAGE = 300
"""Records of each collection an erasure fences and deletes at a time: each page is
whole (fenced, its CRM rows, its documents), so an erasure stopped between pages, or cut
short, is continued by the next one."""


def delete(email: Email, *, time_budget: float | None = None, page: int = PAGE) -> Outcome:
    """Erase every record about `email` in every store, recording that it was done.

    Its `privacy_requests` trace is written first (`started`), what each page deleted
    is added to it, and its outcome (`done`) ends it: an erasure cut short leaves its
    trace `started` with what it did, and the next erasure of the address continues it
    (and its counts). Two at once share the one trace (`_Erasure`). With `time_budget`
    (seconds), no page starts once it is spent, and the outcome says the erasure is not
    done; nothing already deleted is in doubt. `page` is the records of each collection
    a page holds.

    An erasure wins over anything in flight. Page by page:
    1. the fence: each chat is closed (a visitor's post is refused, 409 session_closed)
       and every delivery not yet settled is settled `skipped`, so that no new send of a
       record starts (deliveries.fence);
    2. the CRM rows, now that no new send can add one;
    3. the documents, with everything under them;
    4. again under the page's chats, for a message of a post that passed the close
       before it was made, stored between the listing and the deletes.
    Records made under the address meanwhile are found by the next page. It ends after
    a page that was not full, whatever arrives meanwhile: someone who keeps starting
    chats in the person's name cannot keep it running (what they made after that page
    is a later erasure's). At the end, the CRM rows once more, by every record id the
    erasure met (kept on its trace until then), for a row whose append was under way. A
    send still under way after that writes its outcome with `update`, which fails on the
    deleted record, and a CRM row it delivered is deleted again (deliveries._withdraw).
    If the CRM cannot be reached at a page's step 2, that page is left whole (fenced:
    its chats closed, its deliveries stopped) and the request can be run again.
    """
    began = time.monotonic()
    trace = _Erasure.open(email)
    while True:
        held = records_about(email, limit=page)
        if held:
            _fence(held)
            deleted = Counts(crm_rows=crm.delete_rows(_crm_match(email, held)))
            _erase(held, deleted)
            # Under the deleted chats: the messages of posts that were under way.
            deleter = store.BulkDeleter()
            under = deleter.delete_trees([snap.reference for snap in held.sessions])
            deleted.chat_messages += sum(below[store.MESSAGES] for below in under)
            deleter.flush()
            trace.add(deleted, held.record_ids)
        if not held.full(page):
            break
        if time_budget is not None and time.monotonic() - began > time_budget:
            counts, ids = trace.read() or (Counts(), frozenset())
            return Outcome(counts, outside_this_system(email, ids), done=False)
    _, ids = trace.read() or (Counts(), frozenset())
    outside = outside_this_system(email, ids)
    last = Counts()
    try:
        match = crm.Match(record_ids=ids, email_keys=frozenset({email.key}))
        last.crm_rows = crm.delete_rows(match)
    except errors.DownstreamError as exc:
        # The documents are gone: the team finishes the sheet by hand, with the search.
        logs.privacy_crm_recheck_failed(error=exc)
        outside = dataclasses.replace(outside, crm_unchecked=True)
    return Outcome(trace.finish(last), outside)


def _fence(held: PersonRecords) -> None:
    """Close the person's chats to writes and stop the sending of their records."""
    from google.cloud import firestore

    from factoryops.chat.thread import CLOSED

    closing = {SessionFields.STATUS: CLOSED, SessionFields.CLOSES: firestore.Increment(1)}
    store.concurrently(lambda snap: deliveries.fence(snap.reference, also=closing), held.sessions)
    store.concurrently(
        lambda snap: deliveries.fence(snap.reference), [*held.contacts, *held.grants]
    )


def _erase(held: PersonRecords, counts: Counts) -> None:
    deleter = store.BulkDeleter()
    for snap in held.contacts:
        deleter.delete(snap.reference)
        counts.contact_submissions += 1
    for below in deleter.delete_trees([snap.reference for snap in held.sessions]):
        counts.chat_messages += below[store.MESSAGES]
        counts.chat_sessions += 1
    for snap in held.grants:
        deleter.delete(snap.reference)
        counts.access_grants += 1
    deleter.flush()


def _trace(kind: str, email: Email, counts: Counts) -> None:
    """The request's trace: a hash of the address, the counts and the time, no more."""
    trace = PrivacyRequest(
        kind=kind,
        email_hmac=email_hmac(email),
        counts=counts.as_dict(),
        at=store.now(),
        expire_at=store.expire_at(),
    )
    store.collection(store.PRIVACY_REQUESTS).add(trace.to_dict(), **store.call_options())
    logs.privacy_request_handled(kind=kind, counts=counts.as_dict())


STARTED, DONE = "started", "done"


ERASING = "erasing-"
"""The id of an erasure's trace while it runs: this and the keyed hash of the address,
so that one erasure of an address runs at a time, however many are asked for."""


@dataclass
class _Erasure:
    """The trace of an erasure under way, `privacy_requests/erasing-<keyed hash>`:
    created when it starts (or found, and continued), added to after each page, and at
    the end replaced by the request's lasting trace (`done`). While it runs it keeps the
    ids of the records it deleted, for the mailbox searches and the CRM's last look at
    its end; the lasting trace keeps none."""

    ref: Any
    email: Email

    @classmethod
    def open(cls, email: Email) -> _Erasure:
        from google.api_core import exceptions

        erasure = cls(store.collection(store.PRIVACY_REQUESTS).document(erasure_id(email)), email)
        started = {**erasure._running(), PrivacyRequestFields.COUNTS: Counts().as_dict()}
        with contextlib.suppress(exceptions.AlreadyExists):  # under way: continued
            erasure.ref.create(started, **store.call_options())
        return erasure

    def _running(self) -> dict[str, Any]:
        return PrivacyRequest(
            kind=DELETE,
            email_hmac=email_hmac(self.email),
            counts={},
            at=store.now(),
            outcome=STARTED,
            expire_at=store.expire_at(),
        ).to_dict()

    def add(self, deleted: Counts, record_ids: frozenset[str]) -> None:
        """What a page deleted, added to the counts (an increment: two erasures of the
        address at once both add theirs, and a record both deleted counts twice). A
        merge, so that the trace is written again if the other one ended it meanwhile."""
        from google.cloud import firestore

        f = PrivacyRequestFields
        fields = self._running()
        fields[f.COUNTS] = {n: firestore.Increment(k) for n, k in deleted.as_dict().items()}
        fields[f.RECORD_IDS] = firestore.ArrayUnion(sorted(record_ids))
        self.ref.set(fields, merge=True, **store.call_options())

    def read(self) -> tuple[Counts, frozenset[str]] | None:
        """Its counts and record ids so far; None when another erasure of the address
        ended it meanwhile."""
        snap = self.ref.get(**store.call_options())
        if not snap.exists:
            return None
        trace = PrivacyRequest.from_snapshot(snap)
        known = {f.name for f in dataclasses.fields(Counts)}
        counts = Counts(**{k: v for k, v in trace.counts.items() if k in known})
        return counts, frozenset(trace.record_ids or ())

    def finish(self, last: Counts) -> Counts:
        """Replace the running trace by the request's lasting one, `done`, with `last`
        (the CRM's last look) added; returns the whole erasure's counts."""
        known = self.read()
        if known is None:
            return last  # another erasure of the address ended it, with this one's pages
        counts, _ = known
        for name, n in last.as_dict().items():
            setattr(counts, name, getattr(counts, name) + n)
        done = PrivacyRequest(
            kind=DELETE,
            email_hmac=email_hmac(self.email),
            counts=counts.as_dict(),
            at=store.now(),
            outcome=DONE,
            expire_at=store.expire_at(),
        )
        batch = store.client().batch()
        batch.create(store.collection(store.PRIVACY_REQUESTS).document(), done.to_dict())
        batch.delete(self.ref)
        batch.commit(**store.call_options())
        logs.privacy_request_handled(kind=DELETE, counts=counts.as_dict())
        return counts


def erasure_id(email: Email) -> str:
    """The id of the trace of an erasure of `email` while it runs, which the console
    sends back to continue it."""
    return ERASING + email_hmac(email)


def erasure_running(email: Email) -> bool:
    """Whether an erasure of `email` is under way (started, not yet done)."""
    ref = store.collection(store.PRIVACY_REQUESTS).document(erasure_id(email))
    return bool(ref.get(**store.call_options()).exists)

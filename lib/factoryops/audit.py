"""What the team did, kept as long as the records it touched: `team_audit`.

Every action of the team console writes one record: the team member's address and
display name, the action, the id of its target (a chat's lead id, a grant's id, a
record's id, or for a privacy request the keyed hash its trace holds) and the time. No
visitor data: `recent()` finds who a chat or a grant was with when it is read, so an
erased person is gone from the audit too. A privacy export shows a person the records
that name their chats, grants and records (`about`), in words that name no member.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from factoryops import store
from factoryops.documents import AuditEntry, AuditFields

PHRASES = {
    "chat.reply": "replied to {chat}",
    "chat.close": "closed the chat with {chat}",
    "chat.reopen": "reopened the chat with {chat}",
    "grant.create": "created an access link for {grant}",
    "grant.revoke": "revoked the access link for {grant}",
    "delivery.retry": "retried a failed delivery of record {short}",
    "spam.release": "sent on contact post {short} from the quarantine (not spam)",
    "spam.delete": "deleted contact post {short} from the quarantine",
    "privacy.export": "exported the data held on a person (request {short})",
    "privacy.correct": "corrected the data held on a person (request {short})",
    "privacy.delete": "erased the data held on a person (request {short})",
}
"""How each action reads, after the member's name."""
TO_THE_PERSON = {
    "chat.reply": "the team replied",
    "chat.close": "the team closed the chat",
    "chat.reopen": "the team reopened the chat",
    "grant.create": "the team created an access link",
    "grant.revoke": "the team revoked the access link",
    "delivery.retry": "the team retried a failed delivery of the record",
    "spam.release": "the team sent on the contact post held as spam",
    "spam.delete": "the team deleted the contact post held as spam",
    "privacy.export": "the team exported the data held on you",
    "privacy.correct": "the team corrected the data held on you",
    "privacy.delete": "the team erased the data held on you",
}
"""How each action reads to the person it was about (a privacy export): "the team",
never which member."""
SHORT = 8
"""Characters of a long id that the words show."""


def record(*, member: str, action: str, target: str, member_name: str | None = None) -> None:
    entry = AuditEntry(
        member=member,
        member_name=member_name,
        action=action,
        target=target,
        expire_at=store.expire_at(),
    )
    store.collection(store.TEAM_AUDIT).add(entry.to_dict(), **store.call_options())


def recent(*, limit: int = 200) -> list[dict[str, Any]]:
    """The latest records, newest first, each with `words` that say what happened
    ("Priya replied to asha@…") and a `link` to its target in the console, if it has one."""
    from google.cloud import firestore

    query = (
        store.collection(store.TEAM_AUDIT)
        .order_by(AuditFields.AT, direction=firestore.Query.DESCENDING)
        .limit(limit)
    )
    entries = [AuditEntry.from_snapshot(snap) for snap in query.stream(**store.call_options())]
    chats = _chat_people(e.target for e in entries if e.action.startswith("chat."))
    grants = _grant_people(e.target for e in entries if e.action.startswith("grant."))
    return [_described(entry, chats, grants) for entry in entries]


def about(*, records: Iterable[str], request: str) -> list[dict[str, Any]]:
    """The records naming one person, oldest first, as their export shows them: the
    action, the record it named (a chat's lead id, a grant's id, a record's id; none for
    a privacy request, whose target is the keyed hash of their address, `request`) and
    when, in words to them. The team member, address and name, is left out: the person
    asked what is held about them, and who of the team acted is the team's record."""
    targets = sorted({*records, request})
    entries: list[AuditEntry] = []
    for chunk in store.chunks(targets, store.IN_LIMIT):
        query = store.collection(store.TEAM_AUDIT).where(
            filter=store.field_filter(AuditFields.TARGET, "in", list(chunk))
        )
        entries += [AuditEntry.from_snapshot(s) for s in query.stream(**store.call_options())]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    entries.sort(key=lambda entry: entry.at or far)
    return [_to_the_person(entry, request) for entry in entries]


def _to_the_person(entry: AuditEntry, request: str) -> dict[str, Any]:
    at = store.rfc3339(entry.at)
    phrase = TO_THE_PERSON.get(entry.action, f"the team: {entry.action}")
    return {
        "action": entry.action,
        "record": None if entry.target == request else entry.target,
        "at": at,
        "words": f"{phrase} on {at}",
    }


def masked(email: str | None) -> str:
    """An address as the audit shows it: its local part, so that a glance tells people
    apart without the audit becoming a list of addresses."""
    local, at, _ = (email or "").partition("@")
    return f"{local}@…" if at else "someone"


def _described(entry: AuditEntry, chats: dict[str, str], grants: dict[str, str]) -> dict[str, Any]:
    target = entry.target
    link = None
    if entry.action.startswith("chat."):
        link = f"#/chats/{target}" if target in chats else None
    elif entry.action.startswith("grant."):
        link = f"#/grants/{target}" if target in grants else None
    phrase = PHRASES.get(entry.action, entry.action + " {short}")
    what = phrase.format(
        chat=chats.get(target, "a chat since erased"),
        grant=grants.get(target, "a link since deleted"),
        short=target[:SHORT] + ("…" if len(target) > SHORT else ""),
    )
    who = entry.member_name or entry.member
    return {
        "at": entry.at,
        "member": entry.member,
        "member_name": entry.member_name,
        "action": entry.action,
        "target": target,
        "words": f"{who} {what}",
        "link": link,
    }


def _chat_people(lead_ids: Iterable[str]) -> dict[str, str]:
    """Who each chat is with, masked, by lead id (chats that still exist)."""
    from factoryops.chat.thread import sessions
    from factoryops.documents import SessionFields

    found: dict[str, str] = {}
    for chunk in store.chunks(sorted(set(lead_ids)), store.IN_LIMIT):
        query = sessions().where(filter=store.field_filter(SessionFields.LEAD_ID, "in", chunk))
        fields = [SessionFields.LEAD_ID, SessionFields.EMAIL]
        for snap in query.select(fields).stream(**store.call_options()):
            data = snap.to_dict() or {}
            found[str(data.get(SessionFields.LEAD_ID))] = masked(data.get(SessionFields.EMAIL))
    return found


def _grant_people(grant_ids: Iterable[str]) -> dict[str, str]:
    """Whom each grant was made for (its lead, or its masked address), by grant id."""
    from factoryops.documents import GrantFields

    collection = store.collection(store.ACCESS_GRANTS)
    wanted = [
        collection.document(gid) for gid in sorted(set(grant_ids)) if store.is_document_id(gid)
    ]
    if not wanted:
        return {}
    found: dict[str, str] = {}
    fields = [GrantFields.LEAD, GrantFields.EMAIL, GrantFields.COMPANY]
    for snap in store.client().get_all(wanted, field_paths=fields, **store.call_options()):
        if snap.exists:
            data = snap.to_dict() or {}
            label = data.get(GrantFields.LEAD) or masked(data.get(GrantFields.EMAIL))
            company = data.get(GrantFields.COMPANY)
            found[snap.id] = f"{label} ({company})" if company else str(label)
    return found

"""What the team did, kept as long as the records it touched: `team_audit`.

Every action of the team console writes one record: the team member's address and
display name, the action, the id of its target (a chat's lead id, a grant's id, a
record's id, or for a privacy request the keyed hash its trace holds) and the time. No
visitor data: `recent()` finds who a chat or a grant was with when it is read, so an
erased person is gone from the audit too.
"""

from __future__ import annotations

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

"""The visitor's side of the chat, over HTTP: start a session, post, poll.

- `POST {"email", "page", "text"?}` starts a session: 201 with the session id.
- `POST {"text"}` with the session id in `X-Chat-Session` (or `session_id`) adds a message.
- `GET` with `X-Chat-Session` and `?after=<message id>` reads what is new, at most
  `PAGE_LIMIT` messages, with `more` telling whether another page waits, and records
  the visitor's seen point when it advances (one write then, none on other polls).
- `GET ...?peek=1` (the closed widget's badge) answers the status and the count of
  unseen team messages only, and records nothing.

Every answer but a message's says whether the team is in (`team`, hours.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from factoryops import errors, hours, idempotency, logs, proof, store
from factoryops.chat import forward, nudge, team
from factoryops.chat.thread import (
    LEAD_ID_BYTES,
    LIMIT_RETRY_AFTER,
    MESSAGE_ID,
    OPEN,
    PAGE_LIMIT,
    PRESENCE_REFRESH,
    SESSION_BYTES,
    SESSION_HEADER,
    TEAM,
    VISITOR,
    Message,
    append,
    epoch_ms,
    gate,
    give_back_visitor_message,
    message_id,
    new_message,
    open_gate,
    parse_session_id,
    preview,
    read,
    read_one,
    reserve_visitor_message,
    sessions,
    unseen,
)
from factoryops.config import CHAT, settings
from factoryops.documents import ChatSession, MessageFields, SessionFields
from factoryops.edge import IDEMPOTENCY_HEADER, Endpoint, JsonResponse, ParsedRequest, Staged
from factoryops.validation import CHAT_TEXT, EMAIL, PAGE, Email, Field, check, optional

OPEN_CHAT_WINDOW = dt.timedelta(hours=24)
"""How recently an open chat began for a second start with its address to be refused; an
open chat older than this does not stand in a returning visitor's way, however lately it
was written to."""
OPEN_CHAT_SCAN = 5
"""Open chats of one address a start reads at most."""
START_SPEC: dict[str, Field] = {"email": EMAIL, "page": PAGE, "text": optional(CHAT_TEXT)}
TEXT_SPEC: dict[str, Field] = {"text": CHAT_TEXT}


@dataclass(frozen=True)
class Start:
    email: Email
    page: str
    text: str
    solved: proof.Solved
    """The site script's proof of work: a chat needs JavaScript, so a start needs one."""


@dataclass(frozen=True)
class Post:
    session_id: str
    text: str


@dataclass(frozen=True)
class Poll:
    session_id: str
    after: int
    peek: bool = False
    """Only the status and the unseen count, recording nothing."""


ChatRequest = Start | Post | Poll


def validate(request: ParsedRequest) -> ChatRequest:
    if request.method == "GET":
        return _validate_poll(request)
    header = request.headers.get(SESSION_HEADER.lower())
    if header is None and "session_id" not in request.body:
        values = check(request.body, START_SPEC, ignore=(proof.FIELD,))
        return Start(
            email=values["email"],
            page=values["page"],
            text=values["text"],
            solved=proof.require(request.body),
        )
    values = check(request.body, TEXT_SPEC, ignore=("session_id",))
    given = request.body.get("session_id")
    if header is not None and given is not None and given != header:
        raise errors.InvalidRequest({"session_id": f"differs from the {SESSION_HEADER} header"})
    return Post(
        session_id=parse_session_id(given if header is None else header), text=values["text"]
    )


PEEK_VALUES = {"1": True, "true": True, "0": False, "false": False, "": False}


def _validate_poll(request: ParsedRequest) -> Poll:
    problems = {name: "unknown field" for name in request.query if name not in ("after", "peek")}
    peek = PEEK_VALUES.get(request.query.get("peek", "").strip().lower())
    if peek is None:
        problems["peek"] = "must be 1 or 0"
    after = 0
    raw_after = request.query.get("after", "").strip()
    if raw_after:
        if MESSAGE_ID.fullmatch(raw_after):
            after = int(raw_after)
        else:
            problems["after"] = "is not a message id"
    header = request.headers.get(SESSION_HEADER.lower())
    if header is None:
        problems[SESSION_HEADER] = "is required"
    if problems:
        raise errors.InvalidRequest(problems)
    return Poll(session_id=parse_session_id(header), after=after, peek=bool(peek))


def _refuse_a_second_open_chat(email: Email, key: str | None) -> None:
    """One live chat per address at a time: a start for an address whose chat is open and
    began within OPEN_CHAT_WINDOW is refused (a flood of starts in one person's name
    reaches the inbox once a day). It is not continued, since that would hand the chat to
    anyone who types the address. The window runs from the chat's start, not its last
    message: whoever started it holds the session, and their posts must not keep the
    address's owner out for longer. A chat at its message cap does not count: the visitor
    is asked to start a new one. One query of at most OPEN_CHAT_SCAN sessions; two
    starts at the same instant may both pass, and the rate limits bound that. A repeat
    of a start under its Idempotency-Key `key` passes, to be answered as the first was."""
    query = (
        sessions()
        .where(filter=store.field_filter(SessionFields.EMAIL_KEY, "==", email.key))
        .where(filter=store.field_filter(SessionFields.STATUS, "==", OPEN))
        .select([SessionFields.CREATED_AT, SessionFields.MESSAGE_COUNT])
        .limit(OPEN_CHAT_SCAN)
    )
    since = store.now() - OPEN_CHAT_WINDOW
    cap = settings().chat_max_messages
    for snap in query.stream(**store.call_options()):
        found = ChatSession.from_snapshot(snap)
        if found.message_count >= cap:
            continue
        if found.created_at is None or found.created_at >= since:
            if key is not None and idempotency.taken(scope=CHAT, key=key):
                return
            raise errors.ChatAlreadyOpen()


def _start(request: Start, key: str | None) -> Staged:
    """A new session (with its first message, when it starts with text), staged for the
    edge to commit in one write."""
    _refuse_a_second_open_chat(request.email, key)
    session_id = _new_session_id()
    lead_id = secrets.token_hex(LEAD_ID_BYTES)
    ref = sessions().document(session_id)
    session = ChatSession(
        email=request.email.address,
        email_key=request.email.key,
        page=request.page,
        status=OPEN,
        lead_id=lead_id,
        expire_at=store.expire_at(),
    )
    batch = store.client().batch()
    first = new_message(author=VISITOR, text=request.text, seq=1) if request.text else None
    if first is not None:
        # A session started with text holds its first message from the start, in the
        # same commit as its deliveries: nothing can come between them.
        session = dataclasses.replace(
            session,
            message_count=1,
            last_seq=1,
            last_author=VISITOR,
            last_text=preview(request.text),
            awaiting_since=epoch_ms(store.now()),
            unanswered=1,
            first_message_id=message_id(1),
            deliveries=forward.new_deliveries(),
        )
        batch.create(ref.collection(store.MESSAGES).document(message_id(1)), first.to_dict())
    batch.create(ref, session.to_dict())
    batch.create(gate(ref), open_gate())
    ids = [message_id(1)] if first is not None else []

    def started(results: list[Any]) -> JsonResponse:
        messages: list[dict[str, str]] = []
        if first is not None:
            created = MessageFields.CREATED_AT
            message = Message(
                id=message_id(1),
                author=first.author,
                text=first.text,
                seq=first.seq,
                created_at=store.transform_results(results[0], [created])[created],
                expire_at=first.expire_at,
            )
            messages.append(message.wire())
        logs.chat_started(lead_id=lead_id, with_text=bool(request.text))
        body = {"session_id": session_id, "messages": messages, "team": hours.team()}
        return JsonResponse(201, body)

    kept = {"lead_id": lead_id, "message_ids": ids}
    return Staged(batch, JsonResponse(201, {}, replay_body=kept), started, solved=request.solved)


def _new_session_id() -> str:
    """256 random bits, never starting with "-", which a command line would read as an
    option (`siteadmin chats show ID` takes a session id too)."""
    while True:
        session_id = secrets.token_urlsafe(SESSION_BYTES)
        if not session_id.startswith("-"):
            return session_id


def _post(request: Post) -> JsonResponse:
    ref = sessions().document(request.session_id)
    snap = ref.get(**store.call_options())
    if not snap.exists:
        raise errors.SessionNotFound()
    session = ChatSession.from_snapshot(snap)
    lead_id = session.lead_id
    if session.status != OPEN:
        raise errors.SessionClosed()
    cap = settings().chat_max_messages
    if session.message_count >= cap:
        # Plainly over already: refused without a write.
        logs.chat_cap_reached(lead_id=lead_id)
        raise errors.ChatLimitReached(retry_after=LIMIT_RETRY_AFTER)
    if session.message_count >= 1 and session.first_message_id is None:
        forward.recover_first(ref, snap)
    count = reserve_visitor_message(ref, cap=cap, lead_id=lead_id)
    try:
        appended = append(
            ref, author=VISITOR, text=request.text, last_seq=session.last_seq, lead_id=lead_id
        )
    except BaseException:
        give_back_visitor_message(ref, lead_id=lead_id)
        raise
    message = appended.message
    if count == 1:
        # This post took the first visitor message; concurrent ones may have placed
        # theirs earlier in the thread, and the earliest is what the team is sent.
        first = forward.earliest_visitor_message(ref) or message
        forward.queue_first(ref, session, first)
    else:
        nudge.schedule(ref, session, opened_wait=appended.opened_wait)
    logs.chat_message_stored(lead_id=lead_id, author=message.author, seq=message.seq)
    return JsonResponse(
        201,
        {"message": message.wire()},
        replay_body={"lead_id": lead_id, "message_id": message.id},
    )


def _poll(request: Poll) -> JsonResponse:
    ref = sessions().document(request.session_id)
    snap = ref.get(**store.call_options())
    if not snap.exists:
        raise errors.SessionNotFound()
    session = ChatSession.from_snapshot(snap)
    if request.peek:
        body = {"status": session.status, "unseen": unseen(ref, session), "team": hours.team()}
        return JsonResponse(200, body)
    # One more than a page tells whether another page waits.
    messages = read(ref, after=request.after, limit=PAGE_LIMIT + 1)
    page = messages[:PAGE_LIMIT]
    seen = _seen_point(session, request.after, page)
    session = _record_poll(ref, session, seen=seen)
    return JsonResponse(
        200,
        {
            "status": session.status,
            "messages": [m.wire() for m in page],
            "more": len(messages) > PAGE_LIMIT,
            "unseen": unseen(ref, session),
            "team": hours.team(),
        },
    )


def _seen_point(session: ChatSession, after: int, page: list[Message]) -> int:
    """The newest team message this poll gave the visitor, or that `after` says they
    hold, when that moves their seen point on; else 0."""
    seen = max((m.seq for m in page if m.author == TEAM), default=0)
    if session.last_team_seq <= after:
        # Everything up to `after` is in the visitor's hands, the newest team message too.
        seen = max(seen, session.last_team_seq)
    return seen if seen > session.seen_through else 0


def _record_poll(ref: Any, session: ChatSession, *, seen: int) -> ChatSession:
    """Write the new seen point (`seen`, 0 for none) and, in an open chat, that the
    visitor has it in sight, in one write, and only when either moves: `polled_at` once
    it is PRESENCE_REFRESH old. A peek (the widget folded away) records neither: the
    team sees who is in the chat, not who is browsing the site. Returns the session as
    it now stands."""
    from google.cloud import firestore

    changes: dict[str, Any] = {}
    if seen:
        changes[SessionFields.SEEN_THROUGH] = firestore.Maximum(seen)
    polled = session.polled_at
    if session.status == OPEN and (polled is None or store.now() - polled >= PRESENCE_REFRESH):
        changes[SessionFields.POLLED_AT] = firestore.SERVER_TIMESTAMP
    if not changes:
        return session
    try:
        ref.update(changes, **store.call_options())
    except Exception as exc:
        # The messages are read; an unrecorded seen point at worst sends a reply email.
        logs.chat_seen_not_recorded(lead_id=session.lead_id, error=exc)
        return session
    return dataclasses.replace(session, seen_through=seen) if seen else session


def stage(request: ParsedRequest, chat_request: ChatRequest) -> Staged | None:
    """A chat start is one commit, which the edge makes; a post and a poll are `handle`'s."""
    if not isinstance(chat_request, Start):
        return None
    return _start(chat_request, request.headers.get(IDEMPOTENCY_HEADER.lower()))


def handle(request: ParsedRequest, chat_request: ChatRequest) -> JsonResponse:
    if isinstance(chat_request, Poll):
        return _poll(chat_request)
    if isinstance(chat_request, Start):  # staged: see `stage`
        raise RuntimeError("a chat start is committed by the edge")
    return _post(chat_request)


def _rebuild_replay(stored: dict[str, Any]) -> dict[str, Any]:
    """A repeated request's answer, rebuilt from what its key stored: the lead id and the
    message ids, never the session id or a message's text. So a key holds nothing that a
    privacy request cannot reach, and after the chat is deleted a repeat finds nothing."""
    found = team.find_by_lead(str(stored.get("lead_id", "")))
    if found is None:
        raise errors.SessionNotFound()
    wanted = stored["message_ids"] if "message_ids" in stored else [stored.get("message_id")]
    messages = [read_one(found.ref, str(message_id)) for message_id in wanted]
    if not all(messages):
        raise errors.SessionNotFound()
    wire = [m.wire() for m in messages if m is not None]
    if "message_ids" in stored:
        return {"session_id": found.ref.id, "messages": wire, "team": hours.team()}
    return {"message": wire[0]}


ENDPOINT: Endpoint[ChatRequest] = Endpoint(
    function=CHAT,
    methods=("GET", "POST"),
    validate=validate,
    handle=handle,
    stage=stage,
    # Reading a thread has its own budget: a visitor with two tabs open is never refused
    # a poll, while posting stays limited.
    rate_limit=lambda request: (
        settings().chat_poll_rate_limit if request.method == "GET" else settings().chat_rate_limit
    ),
    rate_scope=lambda request: f"{CHAT}.poll" if request.method == "GET" else CHAT,
    rebuild_replay=_rebuild_replay,
    # A start's answer rebuilds the session id: replayed only to the client that started.
    replays_secret=lambda chat_request: isinstance(chat_request, Start),
    challenges=True,
)

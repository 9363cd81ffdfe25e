"""chat_message: a visitor's chat with the team.

The session document's id is the session id, a bearer secret kept by the visitor's
browser: it is never logged, never stored in a field and never put in a URL. Log lines,
the email, the CRM row and the team's CLI name a session by its random `lead_id`.

Order: every message carries a sequence number `seq`, and its id is that number
zero-padded, so ids sort as the messages do. A writer claims number n by creating
message n in one batch with the session's update, and tries n only once it knows that
n-1 exists (from the session's `last_seq`, or from losing n-1 to another writer). So
the numbers have no gaps and no message appears behind one a poll has already seen: a
poll with `?after=<id>` never skips or repeats a message.

The first visitor message is forwarded exactly once: the batch that stores a visitor
message also increments `message_count`, and only the post whose commit returns 1
writes `deliveries` on the session and makes the one short attempt (see deliveries.py).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from factoryops import crm, deliveries, errors, logs, mailer, store
from factoryops.config import settings
from factoryops.edge import Call, Endpoint, Reply
from factoryops.validation import (
    CHAT_TEXT_MAX,
    EMAIL_MAX,
    PAGE_MAX,
    SESSION_ID_MAX,
    Email,
    Field,
    check,
)

if TYPE_CHECKING:
    from google.cloud import firestore

FUNCTION = "chat_message"
SESSION_HEADER = "X-Chat-Session"
OPEN = "open"
CLOSED = "closed"
VISITOR = "visitor"
TEAM = "team"

SESSION_BYTES = 32
"""`secrets.token_urlsafe(32)`: 256 bits, 43 characters."""
LEAD_ID_BYTES = 8
PAGE_LIMIT = 100
"""Messages per poll; a longer thread arrives over the next polls."""
CLAIM_ATTEMPTS = 64
"""Sequence numbers one post may try before giving up (each loss means another write won)."""
CAP_RETRY_AFTER = 24 * 3600
RECOVERY_SCAN = 50

START_SPEC = {
    "email": Field(EMAIL_MAX, kind="email"),
    "page": Field(PAGE_MAX),
    "text": Field(CHAT_TEXT_MAX, required=False, kind="text"),
}
TEXT_SPEC = {"text": Field(CHAT_TEXT_MAX, kind="text")}

_SESSION_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{SESSION_ID_MAX}}}")
_MESSAGE_ID = re.compile(r"[0-9]{8}")
_LEAD_ID = re.compile(rf"[0-9a-f]{{{2 * LEAD_ID_BYTES}}}")


def message_id(seq: int) -> str:
    return f"{seq:08d}"


def _sessions() -> firestore.CollectionReference:
    return store.client().collection(store.CHAT_SESSIONS)


# -- what the edge validates -----------------------------------------------------------


@dataclass(frozen=True)
class Start:
    email: Email
    page: str
    text: str


@dataclass(frozen=True)
class Post:
    session_id: str
    text: str


@dataclass(frozen=True)
class Poll:
    session_id: str
    after: int


ChatRequest = Start | Post | Poll


def parse_session_id(raw: object) -> str:
    """A session id of the shape we issue, or SessionNotFound: a malformed id gets the very
    answer an unknown one gets, and never reaches Firestore (whose errors quote paths)."""
    value = raw.strip() if isinstance(raw, str) else ""
    if not _SESSION_ID.fullmatch(value) or (value.startswith("__") and value.endswith("__")):
        raise errors.SessionNotFound()
    return value


def validate(call: Call) -> ChatRequest:
    if call.method == "GET":
        return _validate_poll(call)
    header = call.headers.get(SESSION_HEADER.lower())
    if header is None and "session_id" not in call.body:
        values = check(call.body, START_SPEC)
        return Start(email=values["email"], page=values["page"], text=values["text"])
    values = check(call.body, TEXT_SPEC, ignore=("session_id",))
    given = call.body.get("session_id")
    if header is not None and given is not None and given != header:
        raise errors.InvalidRequest(
            "Some fields are not valid.",
            fields={"session_id": f"differs from the {SESSION_HEADER} header"},
        )
    return Post(
        session_id=parse_session_id(given if header is None else header), text=values["text"]
    )


def _validate_poll(call: Call) -> Poll:
    problems = {name: "unknown field" for name in call.query if name != "after"}
    after = 0
    raw_after = call.query.get("after", "").strip()
    if raw_after:
        if _MESSAGE_ID.fullmatch(raw_after):
            after = int(raw_after)
        else:
            problems["after"] = "is not a message id"
    header = call.headers.get(SESSION_HEADER.lower())
    if header is None:
        problems[SESSION_HEADER] = "is required"
    if problems:
        raise errors.InvalidRequest("Some fields are not valid.", fields=problems)
    return Poll(session_id=parse_session_id(header), after=after)


# -- messages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    id: str
    seq: int
    author: str
    text: str
    created_at: dt.datetime

    def wire(self) -> dict[str, str]:
        return {
            "id": self.id,
            "author": self.author,
            "text": self.text,
            "created_at": store.rfc3339(self.created_at) or "",
        }

    @classmethod
    def from_snapshot(cls, snap: Any) -> Message:
        data = snap.to_dict() or {}
        return cls(
            id=snap.id,
            seq=int(data["seq"]),
            author=str(data["author"]),
            text=str(data["text"]),
            created_at=data["created_at"],
        )


def _transform_result(result: Any, transforms: dict[str, Any], name: str) -> Any:
    # The client sends a write's field transforms sorted by field path, and the commit
    # answers their results in that order.
    return result.transform_results[sorted(transforms).index(name)]


def append(
    ref: firestore.DocumentReference, *, author: str, text: str, last_seq: int
) -> tuple[Message, int]:
    """Store one message after the newest one; return it and, for a visitor message, the
    session's visitor message count including it (0 for the team's).

    `last_seq` is the session's `last_seq` as last read: a stale value costs a few lost
    claims, never a gap or a reused number.
    """
    from google.api_core import exceptions
    from google.cloud import firestore

    client = store.client()
    options = store.call_options()
    seq = last_seq + 1
    for _ in range(CLAIM_ATTEMPTS):
        transforms: dict[str, Any] = {
            "last_activity_at": firestore.SERVER_TIMESTAMP,
            "last_seq": firestore.Maximum(seq),
        }
        if author == VISITOR:
            transforms["message_count"] = firestore.Increment(1)
        batch = client.batch()
        batch.create(
            ref.collection(store.MESSAGES).document(message_id(seq)),
            {
                "author": author,
                "text": text,
                "seq": seq,
                "created_at": firestore.SERVER_TIMESTAMP,
                "expire_at": store.expire_at(),
            },
        )
        batch.update(ref, {**transforms, "expire_at": store.expire_at()})
        try:
            written, session = batch.commit(**options)
        except exceptions.AlreadyExists:
            seq += 1
            continue
        except exceptions.NotFound:
            raise errors.SessionNotFound() from None
        message = Message(
            id=message_id(seq),
            seq=seq,
            author=author,
            text=text,
            created_at=written.transform_results[0].timestamp_value,
        )
        count = 0
        if author == VISITOR:
            count = int(_transform_result(session, transforms, "message_count").integer_value)
        return message, count
    logs.warning("chat message not placed", attempts=CLAIM_ATTEMPTS)
    raise errors.Unavailable()


def thread(
    ref: firestore.DocumentReference, *, after: int = 0, limit: int | None = PAGE_LIMIT
) -> list[Message]:
    """The session's messages after sequence number `after`, oldest first."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        ref.collection(store.MESSAGES).where(filter=FieldFilter("seq", ">", after)).order_by("seq")
    )
    if limit is not None:
        query = query.limit(limit)
    return [Message.from_snapshot(snap) for snap in query.stream(**store.call_options())]


# -- the first message's delivery -----------------------------------------------------------


class _FreshSession(deliveries.Fresh):
    """A session this request just wrote, with its first message, so the one short
    attempt reads neither back."""

    def __init__(self, session_id: str, data: dict[str, Any], first: Message) -> None:
        super().__init__(session_id, data)
        self.first = first


class _FirstMessage:
    """The session's first visitor message, read once and only when a send needs it."""

    def __init__(self, record: deliveries.Record, data: dict[str, Any]) -> None:
        self._record = record
        self._data = data
        self._message: Message | None = getattr(record, "first", None)

    def load(self) -> Message:
        if self._message is None:
            first_id = self._data.get("first_message_id")
            if not isinstance(first_id, str) or not _MESSAGE_ID.fullmatch(first_id):
                raise deliveries.DeliveryError("session has no first message", retryable=False)
            snap = (
                _sessions()
                .document(self._record.id)
                .collection(store.MESSAGES)
                .document(first_id)
                .get(**store.call_options())
            )
            if not snap.exists:
                raise deliveries.DeliveryError("first message no longer stored", retryable=False)
            self._message = Message.from_snapshot(snap)
        return self._message


def jobs(record: deliveries.Record) -> dict[str, deliveries.Send]:
    """The email and the CRM row for a session's first message, from the stored session."""
    data = record.to_dict() or {}
    first = _FirstMessage(record, data)
    lead_id = str(data.get("lead_id", ""))
    email = str(data.get("email", ""))
    page = str(data.get("page", ""))

    def send_email(timeout: float) -> None:
        message = first.load()
        mailer.send(
            template_id=settings().emailjs_chat_template_id,
            params={
                "record_id": lead_id,
                "email": email,
                "reply_to": email,
                "page": page,
                "message": message.text,
                "started_at": store.rfc3339(data.get("created_at")) or "",
            },
            timeout=timeout,
        )

    def send_row(timeout: float) -> None:
        message = first.load()
        row = crm.Row(
            received_at=store.rfc3339(message.created_at) or "",
            source="chat",
            record_id=lead_id,
            name="",
            email=email,
            company="",
            message=message.text,
            page=page,
        )
        crm.append(row, timeout=timeout)

    return {"email": send_email, "crm": send_row}


def _lead_id(record: deliveries.Record) -> str:
    return str((record.to_dict() or {}).get("lead_id", "unknown"))


KIND = deliveries.register(
    deliveries.Kind(name="chat", collection=store.CHAT_SESSIONS, jobs=jobs, log_id=_lead_id)
)


def _new_deliveries() -> dict[str, Any]:
    cfg = settings()
    enabled = {"email": cfg.emailjs_configured, "crm": cfg.crm_configured}
    return deliveries.initial(enabled, lease_id=deliveries.new_lease_id())


def _attempt(ref: firestore.DocumentReference, data: dict[str, Any], first: Message) -> None:
    channels = [
        channel
        for channel, state in data["deliveries"].items()
        if state.get("state") == deliveries.PROCESSING
    ]
    if channels:
        record = _FreshSession(ref.id, data, first)
        deliveries.attempt_new(kind=KIND, ref=ref, snapshot=record, channels=channels)


def _queue_first(ref: firestore.DocumentReference, data: dict[str, Any], first: Message) -> None:
    """Write `deliveries` for the first visitor message (this post's count was 1), then try."""
    from google.api_core import exceptions

    state = _new_deliveries()
    try:
        ref.update({"first_message_id": first.id, "deliveries": state}, **store.call_options())
    except Exception as exc:
        if not (store.is_outage(exc) or isinstance(exc, exceptions.NotFound)):
            raise
        # The message is stored, which is what the visitor asked for; a later post
        # recovers the delivery (see _recover_first).
        _log_first_not_queued(data, type(exc).__name__)
        return
    _attempt(ref, {**data, "first_message_id": first.id, "deliveries": state}, first)


def _recover_first(ref: firestore.DocumentReference, snap: Any) -> None:
    """Queue a first message whose own post stored it but died before writing `deliveries`.

    Its post writes `deliveries` within seconds of storing it, so one older than a lease
    is stranded. The write is conditional on the session being unchanged since `snap`,
    so two later posts cannot both queue it.
    """
    from google.api_core import exceptions

    first = next(
        (m for m in thread(ref, limit=RECOVERY_SCAN) if m.author == VISITOR),
        None,
    )
    if first is None or store.now() - first.created_at < deliveries.LEASE:
        return
    data = snap.to_dict() or {}
    state = _new_deliveries()
    try:
        ref.update(
            {"first_message_id": first.id, "deliveries": state},
            option=store.client().write_option(last_update_time=snap.update_time),
            **store.call_options(),
        )
    except (exceptions.FailedPrecondition, exceptions.NotFound):
        return
    _log_first_recovered(data)
    _attempt(ref, {**data, "first_message_id": first.id, "deliveries": state}, first)


# -- the endpoint ----------------------------------------------------------------------------


def _start(request: Start) -> Reply:
    from google.cloud import firestore

    session_id = secrets.token_urlsafe(SESSION_BYTES)
    lead_id = secrets.token_hex(LEAD_ID_BYTES)
    ref = _sessions().document(session_id)
    session: dict[str, Any] = {
        "email": request.email.address,
        "email_key": request.email.key,
        "page": request.page,
        "status": OPEN,
        "created_at": firestore.SERVER_TIMESTAMP,
        "last_activity_at": firestore.SERVER_TIMESTAMP,
        "expire_at": store.expire_at(),
        "lead_id": lead_id,
        "message_count": 0,
        "last_seq": 0,
    }
    batch = store.client().batch()
    if request.text:
        # A session started with text holds its first message from the start, in the
        # same commit as its deliveries: nothing can come between them.
        session.update(
            message_count=1,
            last_seq=1,
            first_message_id=message_id(1),
            deliveries=_new_deliveries(),
        )
        batch.create(
            ref.collection(store.MESSAGES).document(message_id(1)),
            {
                "author": VISITOR,
                "text": request.text,
                "seq": 1,
                "created_at": firestore.SERVER_TIMESTAMP,
                "expire_at": store.expire_at(),
            },
        )
    batch.create(ref, session)
    results = batch.commit(**store.call_options())
    started_at = results[-1].transform_results[0].timestamp_value
    messages: list[dict[str, str]] = []
    if request.text:
        first = Message(
            message_id(1), 1, VISITOR, request.text, results[0].transform_results[0].timestamp_value
        )
        messages.append(first.wire())
        stored = {**session, "created_at": started_at, "last_activity_at": started_at}
        _attempt(ref, stored, first)
    _log_started(lead_id, with_text=bool(request.text))
    return Reply(
        201,
        {"session_id": session_id, "messages": messages},
        stored={"lead_id": lead_id, "messages": messages},
    )


def _post(request: Post) -> Reply:
    ref = _sessions().document(request.session_id)
    snap = ref.get(**store.call_options())
    if not snap.exists:
        raise errors.SessionNotFound()
    data = snap.to_dict() or {}
    if data.get("status") != OPEN:
        raise errors.SessionClosed()
    count = int(data.get("message_count", 0))
    if count >= settings().chat_max_messages:
        _log_cap_reached(data)
        raise errors.ChatLimitReached(retry_after=CAP_RETRY_AFTER)
    if count >= 1 and "first_message_id" not in data:
        _recover_first(ref, snap)
    message, count = append(
        ref, author=VISITOR, text=request.text, last_seq=int(data.get("last_seq", 0))
    )
    if count == 1:
        _queue_first(ref, data, message)
    _log_message(data, message)
    return Reply(201, {"message": message.wire()})


def _poll(request: Poll) -> Reply:
    ref = _sessions().document(request.session_id)
    snap = ref.get(**store.call_options())
    if not snap.exists:
        raise errors.SessionNotFound()
    status = (snap.to_dict() or {}).get("status", OPEN)
    messages = thread(ref, after=request.after, limit=PAGE_LIMIT)
    return Reply(200, {"status": status, "messages": [m.wire() for m in messages]})


def act(call: Call, request: ChatRequest) -> Reply:
    if isinstance(request, Poll):
        return _poll(request)
    return _start(request) if isinstance(request, Start) else _post(request)


def _replayed(body: dict[str, Any]) -> dict[str, Any]:
    if "lead_id" not in body:
        return body
    found = find_by_lead(str(body["lead_id"]))
    if found is None:
        raise errors.SessionNotFound()
    return {"session_id": found.id, "messages": body["messages"]}


ENDPOINT: Endpoint[ChatRequest] = Endpoint(
    function=FUNCTION,
    methods=("GET", "POST"),
    validate=validate,
    act=act,
    rate_limit=lambda: settings().chat_rate_limit,
    # A start's stored response names its session by lead_id (Reply.stored): the
    # session id is kept nowhere but in the document id.
    replayed=_replayed,
)


# -- for the team's CLI --------------------------------------------------------------------


def find_by_lead(lead_id: str) -> Any:
    """The session snapshot with this lead id, or None."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    if not _LEAD_ID.fullmatch(lead_id):
        return None
    query = _sessions().where(filter=FieldFilter("lead_id", "==", lead_id)).limit(1)
    return next(iter(query.stream(**store.call_options())), None)


def find(handle: str) -> Any:
    """A session by its lead id (what the CLI, the email and the CRM row show) or by its
    session id; None when there is none."""
    handle = handle.strip()
    found = find_by_lead(handle)
    if found is not None:
        return found
    try:
        session_id = parse_session_id(handle)
    except errors.SessionNotFound:
        return None
    snap = _sessions().document(session_id).get(**store.call_options())
    return snap if snap.exists else None


def sessions(*, only_open: bool = False, limit: int = 50) -> list[Any]:
    """Sessions by last activity, newest first."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    if only_open:
        # An equality filter with an order on another field would need a composite
        # index; the open sessions are few, so they are sorted here.
        query = _sessions().where(filter=FieldFilter("status", "==", OPEN))
        found = sorted(
            query.stream(**store.call_options()),
            key=lambda s: (s.to_dict() or {}).get("last_activity_at") or store.now(),
            reverse=True,
        )
        return found[:limit]
    query = _sessions().order_by("last_activity_at", direction=firestore.Query.DESCENDING)
    return list(query.limit(limit).stream(**store.call_options()))


def reply(snap: Any, text: str) -> Message:
    """A team message in the session's thread; it reaches the visitor's next poll."""
    values = check({"text": text}, TEXT_SPEC)
    data = snap.to_dict() or {}
    message, _ = append(
        snap.reference, author=TEAM, text=values["text"], last_seq=int(data.get("last_seq", 0))
    )
    return message


def close(snap: Any) -> bool:
    """Close the session to visitor messages; False when it was closed already."""
    if (snap.to_dict() or {}).get("status") == CLOSED:
        return False
    from google.api_core import exceptions

    try:
        snap.reference.update({"status": CLOSED}, **store.call_options())
    except exceptions.NotFound:
        raise errors.SessionNotFound() from None
    return True


# -- log lines (no session id, email or text: the lead id names the session) --------------


def _log_started(lead_id: str, *, with_text: bool) -> None:
    logs.event("chat session started", function=FUNCTION, lead_id=lead_id, with_text=with_text)


def _log_message(data: dict[str, Any], message: Message) -> None:
    logs.event(
        "chat message stored",
        function=FUNCTION,
        lead_id=data.get("lead_id", ""),
        author=message.author,
        seq=message.seq,
    )


def _log_cap_reached(data: dict[str, Any]) -> None:
    logs.event("chat message cap reached", function=FUNCTION, lead_id=data.get("lead_id", ""))


def _log_first_not_queued(data: dict[str, Any], error: str) -> None:
    logs.warning(
        "chat first message stored but not queued for delivery",
        function=FUNCTION,
        lead_id=data.get("lead_id", ""),
        error=error,
    )


def _log_first_recovered(data: dict[str, Any]) -> None:
    logs.warning(
        "chat first message queued by a later post",
        function=FUNCTION,
        lead_id=data.get("lead_id", ""),
    )

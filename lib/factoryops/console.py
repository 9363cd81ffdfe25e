"""team_console: the team's inbox and tools, one page and a JSON API under /api/.

The page signs the team member in with Google Identity Services and sends the Google ID
token as `Authorization: Bearer` on every API call; every call checks it with google-auth
(signature against Google's certificates, audience TEAM_OAUTH_CLIENT_ID, Google's
issuer, expiry), then that the address is verified and in TEAM_EMAILS. No token or a
bad one is 401; a good token of anyone else is 403. The console sets no cookie of its
own (Google's sign-in script keeps its own `g_state`). The API is what
`siteadmin` does, through the same library functions; every action leaves a
`team_audit` record.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from factoryops import audit, errors, logs, quarantine, store, tokens
from factoryops.chat import inbox, team
from factoryops.chat.thread import MESSAGE_ID, PAGE_LIMIT, Session, message_id, read_one
from factoryops.config import CONSOLE, ConfigError, settings
from factoryops.edge import Endpoint, JsonResponse, Page, ParsedRequest
from factoryops.validation import (
    CHAT_TEXT,
    COMPANY,
    EMAIL,
    NAME,
    Field,
    Flag,
    Line,
    Moment,
    Numeral,
    OneOf,
    check,
    optional,
)

if TYPE_CHECKING:
    from factoryops.deliveries import DeliverySource

# The grants, deliveries, privacy and status modules are imported by the routes that use
# them: an instance's first request is most often the chat list, which needs none.

GOOGLE_SIGNIN_SCRIPT = "https://accounts.google.com/gsi/client"
GOOGLE_SIGNIN_BASE = "https://accounts.google.com/gsi/"
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/console.css": ("console.css", "text/css; charset=utf-8"),
}
DELIVERY_VIEWS = ("failed", "retrying")


def check_startup() -> None:
    """Refuse to start without the sign-in check's two settings."""
    cfg = settings()
    if not cfg.team_oauth_client_id:
        raise ConfigError("TEAM_OAUTH_CLIENT_ID", "required: the console's OAuth client id")
    if not cfg.team_emails:
        raise ConfigError("TEAM_EMAILS", "required: who may use the console")


# -- who is calling -----------------------------------------------------------------


def authenticate(headers: Mapping[str, str]) -> tokens.Caller:
    """The team member; raise Unauthenticated (no token, or one that is not
    Google's for this console, or expired), AccessDenied (anyone else) or Unavailable."""
    cfg = settings()
    check_startup()
    return tokens.caller(
        headers,
        audience=cfg.team_oauth_client_id,
        certs_url=cfg.team_certs_url,
        allowed=cfg.team_emails,
        function=CONSOLE,
        refusal="This account may not use the team console.",
    )


# -- the page -----------------------------------------------------------------------


def _page_dirs() -> list[Path]:
    package = Path(__file__).resolve().parent
    # In a deployed bundle the page sits beside the package; in the repository, in web/.
    return [package.parent / "console_page", package.parent.parent / "web" / "console"]


def page(path: str) -> Page | None:
    """The console's page, script and style, and its sign-in settings; None for the API."""
    if path == "/api/config":
        return Page(json.dumps(signin()).encode(), "application/json; charset=utf-8")
    if path not in STATIC:
        return None
    name, content_type = STATIC[path]
    for directory in _page_dirs():
        if (directory / name).is_file():
            content = (directory / name).read_bytes()
            return Page(content, content_type, {"Content-Security-Policy": policy()})
    return None


def signin() -> dict[str, str]:
    """How the page signs in: Google Identity Services, or (emulator only) the local
    sign-in stand-in, which signs a token for an address typed in."""
    cfg = settings()
    if cfg.team_certs_url:
        parts = urllib.parse.urlsplit(cfg.team_certs_url)
        stand_in = f"{parts.scheme}://{parts.netloc}"
        return {"client_id": cfg.team_oauth_client_id, "signin": "local", "url": stand_in}
    return {"client_id": cfg.team_oauth_client_id, "signin": "google"}


def policy() -> str:
    """Scripts from the page itself and Google's sign-in script only; no inline code."""
    connect = ["'self'"]
    config = signin()
    if config["signin"] == "local":
        connect.append(config["url"])
    else:
        # Google's sign-in script calls home from the page (FedCM), as its CSP guide says.
        connect.append(GOOGLE_SIGNIN_BASE)
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {GOOGLE_SIGNIN_SCRIPT}",
            "style-src 'self' https://accounts.google.com/gsi/style",
            f"connect-src {' '.join(connect)}",
            f"frame-src {GOOGLE_SIGNIN_BASE}",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


# -- the API --------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One API call: the route's handler, its path parameters, the request."""

    handler: Callable[[Call], JsonResponse]
    params: dict[str, str]
    request: ParsedRequest = field(repr=False)

    @property
    def member(self) -> str:
        """The team member's address."""
        assert self.request.caller is not None  # `authenticate` let the call in
        return self.request.caller.email

    @property
    def member_name(self) -> str | None:
        """The team member's display name, when their ID token carries one."""
        assert self.request.caller is not None
        return self.request.caller.name

    def audit(self, action: str, target: str) -> None:
        """Leave the `team_audit` record of what the member did."""
        audit.record(member=self.member, member_name=self.member_name, action=action, target=target)

    def body(self, spec: Mapping[str, Field]) -> dict[str, Any]:
        return check(self.request.body, spec)

    def query(self, spec: Mapping[str, Field]) -> dict[str, Any]:
        return check(self.request.query, spec)


Route = tuple[str, re.Pattern[str], Callable[[Call], JsonResponse]]
ROUTES: list[Route] = []
_LEAD = r"(?P<lead_id>[0-9a-f]{16})"
_GRANT = r"(?P<grant_id>[0-9a-f]{8,64})"


def api(method: str, pattern: str) -> Callable[[Callable[[Call], JsonResponse]], Any]:
    """Declare the handler of `method` at `/api/<pattern>` (a regular expression)."""

    def add(handler: Callable[[Call], JsonResponse]) -> Callable[[Call], JsonResponse]:
        ROUTES.append((method, re.compile(f"/api/{pattern}"), handler))
        return handler

    return add


def route(request: ParsedRequest) -> Call:
    """The call that `ROUTES` makes of a request (its handler and path parameters); raise
    MethodNotAllowed or NotFound when none matches."""
    allowed: list[str] = []
    for method, pattern, handler in ROUTES:
        match = pattern.fullmatch(request.path)
        if match is None:
            continue
        if method == request.method:
            return Call(handler, match.groupdict(), request)
        allowed.append(method)
    if allowed:
        raise errors.MethodNotAllowed((*allowed, "OPTIONS"))
    raise errors.NotFound()


INDEX_BUILDING = (
    "The chat list's database indexes are still being built (for some minutes after a "
    "deployment); try again shortly."
)


def handle(request: ParsedRequest, call: Call) -> JsonResponse:
    from google.api_core import exceptions

    try:
        return call.handler(call)
    except exceptions.FailedPrecondition as exc:
        # What Firestore answers a query whose composite index (firestore.indexes.json)
        # is not built yet: a wait, not a fault of the request.
        logs.index_not_ready(function=CONSOLE, error=exc)
        raise errors.Unavailable(retry_after=60, message=INDEX_BUILDING) from None


def _ok(
    body: dict[str, Any],
    status_code: int = 200,
    *,
    replay: dict[str, str] | None = None,
    replayable: bool = True,
) -> JsonResponse:
    """An answer; `replay` is the ids an Idempotency-Key keeps in its place (see
    `rebuild_replay`), and `replayable=False` keeps nothing of it."""
    return JsonResponse(
        status_code, store.json_ready(body), replay_body=replay, replayable=replayable
    )


@api("GET", "me")
def me(call: Call) -> JsonResponse:
    return _ok({"email": call.member, "name": call.member_name})


@api("GET", "status")
def status_(call: Call) -> JsonResponse:
    from factoryops import status

    return _ok(status.overview())


# chats


def _summary(session: Session) -> dict[str, Any]:
    [summary] = inbox.summaries([session])
    return summary


def _session(call: Call) -> Session:
    found = team.find_by_lead(call.params["lead_id"])
    if found is None:
        raise errors.SessionNotFound()
    return found


CHAT_LIST_SPEC: dict[str, Field] = {
    "view": OneOf(inbox.VIEWS),
    "status": OneOf(inbox.VIEWS),
    "cursor": optional(Line(inbox.CURSOR_MAX)),
    "limit": Numeral(1, inbox.PAGE_MAX, absent=inbox.PAGE_DEFAULT),
    "q": optional(Line(inbox.SEARCH_MAX)),
    "changed_after": Moment(),
}
"""`status` is `view`'s old name, still sent by pages loaded before the rename."""


@api("GET", "chats")
def chats(call: Call) -> JsonResponse:
    values = call.query(CHAT_LIST_SPEC)
    if values["view"] and values["status"] and values["view"] != values["status"]:
        raise errors.InvalidRequest({"status": "differs from view (it is view's old name)"})
    view = values["view"] or values["status"] or "open"
    asked = [name for name in ("cursor", "q", "changed_after") if values[name]]
    if len(asked) > 1:
        raise errors.InvalidRequest({asked[1]: f"cannot be given with {asked[0]}"})
    after = inbox.Cursor.decode(values["cursor"], view) if values["cursor"] else None
    # Counted first, so that `as_of` comes before anything the list reads.
    counts = inbox.counts()
    following = None
    if values["q"]:
        found = inbox.search(values["q"])
    elif values["changed_after"]:
        found = inbox.changed(values["changed_after"])
    else:
        listed = inbox.page(view, limit=values["limit"], after=after)
        found, following = listed.sessions, listed.next
    body = {
        "chats": inbox.summaries(found),
        "next": following,
        "counts": counts.as_dict(),
        "as_of": counts.as_of,
    }
    return _ok(body)


@api("GET", f"chats/{_LEAD}")
def chat(call: Call) -> JsonResponse:
    after = call.query({"after": optional(Line(8))})["after"]
    if after and not MESSAGE_ID.fullmatch(after):
        raise errors.InvalidRequest({"after": "is not a message id"})
    session = _session(call)
    found = team.messages(session, after=int(after or 0), limit=PAGE_LIMIT + 1)
    return _ok(
        {
            "chat": {
                **_summary(session),
                "visitor_messages": session.visitor_messages,
                "online": session.online(store.now()),
                "seen_through": message_id(session.seen_through) if session.seen_through else None,
            },
            "messages": [m.wire() for m in found[:PAGE_LIMIT]],
            "more": len(found) > PAGE_LIMIT,
        }
    )


PERSON_ITEMS = 50
"""Of each kind of record, the newest that the person panel lists."""
PREVIEW_CHARACTERS = 500
"""Of a contact form's message, what the person panel shows."""


@api("GET", f"chats/{_LEAD}/person")
def person(call: Call) -> JsonResponse:
    """Who the chat is with: their contact forms, other chats and access links, found by
    the normalised address as a privacy export finds them."""
    from factoryops import grants, privacy
    from factoryops.documents import ContactSubmission

    session = _session(call)
    held = privacy.records_about(privacy.subject(session.email))
    forms = sorted(
        ((snap.id, ContactSubmission.from_snapshot(snap)) for snap in held.contacts),
        key=lambda pair: pair[1].created_at or store.now(),
        reverse=True,
    )
    links = sorted(
        (grants.Grant.from_snapshot(snap) for snap in held.grants),
        key=lambda grant: grant.created_at or store.now(),
        reverse=True,
    )
    others = [Session.from_snapshot(snap) for snap in held.sessions]
    others = [s for s in others if s.lead_id != session.lead_id]
    others.sort(key=lambda s: s.last_activity_at or store.now(), reverse=True)
    named = next((form for _, form in forms if form.name), None)
    company = named.company if named else next((g.company for g in links if g.company), None)
    return _ok(
        {
            "person": {
                "email": session.email,
                "name": named.name if named else None,
                "company": company or None,
            },
            "submissions": [
                {
                    "id": form_id,
                    "name": form.name,
                    "company": form.company,
                    "message": form.message[:PREVIEW_CHARACTERS],
                    "created_at": form.created_at,
                }
                for form_id, form in forms[:PERSON_ITEMS]
            ],
            "chats": inbox.summaries(others[:PERSON_ITEMS]),
            "grants": [
                {
                    "id": grant.id,
                    "lead": grant.lead,
                    "sections": grant.sections,
                    "status": grant.status(),
                    "created_at": grant.created_at,
                    "expires_at": grant.expires_at,
                }
                for grant in links[:PERSON_ITEMS]
            ],
        }
    )


@api("POST", f"chats/{_LEAD}/reply")
def reply(call: Call) -> JsonResponse:
    text = call.body({"text": CHAT_TEXT})["text"]
    session = _session(call)
    message = team.reply(session, text, name=call.member_name)
    call.audit("chat.reply", session.lead_id)
    replay = {"replay": "message", "lead_id": session.lead_id, "message_id": message.id}
    return _ok({"message": message.wire()}, 201, replay=replay)


@api("POST", f"chats/{_LEAD}/close")
def close(call: Call) -> JsonResponse:
    transcript = call.body({"transcript": Flag()})["transcript"]
    session = _session(call)
    team.close(session, transcript=transcript)
    call.audit("chat.close", session.lead_id)
    closed = team.find_by_lead(session.lead_id) or session
    return _ok({"chat": _summary(closed)}, replay={"replay": "chat", "lead_id": closed.lead_id})


@api("POST", f"chats/{_LEAD}/reopen")
def reopen(call: Call) -> JsonResponse:
    call.body({})
    session = _session(call)
    if team.reopen(session):
        call.audit("chat.reopen", session.lead_id)
    opened = team.find_by_lead(session.lead_id) or session
    return _ok({"chat": _summary(opened)}, replay={"replay": "chat", "lead_id": opened.lead_id})


# grants


@api("GET", "grants")
def grant_list(call: Call) -> JsonResponse:
    from factoryops import grants

    return _ok({"grants": [g.as_dict() for g in grants.list_all()]})


@api("POST", "grants")
def grant_create(call: Call) -> JsonResponse:
    from factoryops import grants

    values = call.body({**grants.create_spec(), "no_email": Flag(), "email": optional(EMAIL)})
    created = grants.create(
        lead=call.request.body.get("lead", ""),
        sections=values["sections"],
        email=call.request.body.get("email"),
        no_email=values["no_email"],
        company=values["company"] or None,
        days=values["days"],
        max_uses=values["max_uses"],
    )
    call.audit("grant.create", created.grant.id)
    body = {"grant": created.grant.as_dict(), "url": created.url, "token": created.token}
    # The link is shown once: a repeat answers the grant without it.
    return _ok(body, 201, replay={"replay": "new grant", "grant_id": created.grant.id})


@api("POST", f"grants/{_GRANT}/revoke")
def grant_revoke(call: Call) -> JsonResponse:
    from factoryops import grants

    call.body({})
    try:
        revoked = grants.revoke(call.params["grant_id"])
    except grants.GrantNotFound:
        raise errors.NotFound("No such grant.") from None
    call.audit("grant.revoke", revoked.id)
    return _ok({"grant": revoked.as_dict()}, replay={"replay": "grant", "grant_id": revoked.id})


# deliveries


@api("GET", "deliveries")
def delivery_list(call: Call) -> JsonResponse:
    from factoryops import deliveries, sweep

    view = call.query({"state": OneOf(DELIVERY_VIEWS, absent="failed")})["state"]
    if view == "failed":
        lines = deliveries.overview(sweep.DELIVERY_SOURCES, states=[deliveries.FAILED])
    else:
        waiting = [deliveries.PENDING, deliveries.PROCESSING]
        lines = deliveries.overview(sweep.DELIVERY_SOURCES, states=waiting)
        lines = [line for line in lines if line["attempts"] > 0]
    return _ok({"deliveries": lines})


@api("POST", "deliveries/retry")
def delivery_retry(call: Call) -> JsonResponse:
    from factoryops import deliveries, sweep

    kinds = {source.name: source for source in sweep.DELIVERY_SOURCES}
    values = call.body({"kind": OneOf(tuple(kinds), required=True), "id": Line(128)})
    source = kinds[values["kind"]]
    snap = _delivery_record(source, values["id"])
    retried = deliveries.retry_one(source, snap)
    call.audit("delivery.retry", values["id"])
    return _ok({"retried": retried})


def _delivery_record(source: DeliverySource, label: str) -> Any:
    """A record by the id listings show: its document id, or for a chat its lead id."""
    if source.log_id is None:
        if not store.is_document_id(label):
            raise errors.NotFound("No such record.")
        snap = store.collection(source.collection).document(label).get(**store.call_options())
        if snap.exists:
            return snap
        raise errors.NotFound("No such record.")
    found = team.find_by_lead(label)
    if found is None:
        raise errors.NotFound("No such record.")
    return found.ref.get(**store.call_options())


# the quarantine

_POST = r"(?P<record_id>[A-Za-z0-9]{1,64})"
"""A contact submission's id, as Firestore makes them."""
SPAM_QUERY: dict[str, Field] = {
    "cursor": optional(Line(200)),
    "limit": Numeral(1, quarantine.PAGE_MAX, absent=quarantine.PAGE_DEFAULT),
}


@api("GET", "spam")
def spam_list(call: Call) -> JsonResponse:
    values = call.query(SPAM_QUERY)
    found = quarantine.page(limit=values["limit"], cursor=values["cursor"] or None)
    # `days`: how long a post is held, which the page says even when none is.
    posts = [held.summary() for held in found.posts]
    return _ok({"posts": posts, "next": found.next, "days": settings().quarantine_days})


@api("POST", f"spam/{_POST}/release")
def spam_release(call: Call) -> JsonResponse:
    """ "Not spam": the post goes to the inbox now and is kept as any other."""
    return _decide(call, quarantine.release, "spam.release", "released")


@api("POST", f"spam/{_POST}/delete")
def spam_delete(call: Call) -> JsonResponse:
    return _decide(call, quarantine.delete, "spam.delete", "deleted")


def _decide(call: Call, act: Callable[[str], bool], action: str, answer: str) -> JsonResponse:
    """The team's decision on a quarantined post: `act` on it, audit it, say so; 404 when
    it is not (or no longer) in the quarantine."""
    call.body({})
    record_id = call.params["record_id"]
    if not act(record_id):
        raise errors.NotFound("No such post in the quarantine.")
    call.audit(action, record_id)
    return _ok({answer: record_id})


# privacy


ERASURE_SECONDS = 8.0
"""How long one console call erases before it answers with what it has done so far
(`done: false`) and the page calls again: well inside the page's 30-second wait, with
room for the page under way when the budget runs out."""
ERASURE_PAGE = 50
"""Records of each collection a console erasure deletes at a time (siteadmin's pages are
larger): a page takes a few seconds at most, so a call ends soon after its budget."""
PRIVACY_DEADLINE = 25.0
"""Seconds for all of a privacy request's Firestore calls (the console's other routes
have 4.5): what it reads or deletes grows with the person's records. With Firestore
hanging, the page still hears a 503 before its own 30-second wait ends."""
ERASURE_CUT_SHORT = (
    "The erasure stopped part way: {what} did not answer. What it deleted is gone and "
    "recorded; send the request again to finish it."
)


@api("POST", "privacy/export")
def privacy_export(call: Call) -> JsonResponse:
    from factoryops import privacy

    address = call.body({"email": EMAIL})["email"]
    # Audited before it starts: asked for and begun, whether or not it ends.
    call.audit("privacy.export", privacy.email_hmac(address))
    with store.deadline(PRIVACY_DEADLINE):
        data = privacy.export(address)
    return _ok({"export": data}, replayable=False)


@api("POST", "privacy/correct")
def privacy_correct(call: Call) -> JsonResponse:
    from factoryops import privacy

    spec = {
        "email": EMAIL,
        "name": optional(NAME),
        "company": optional(COMPANY),
        "new_email": optional(EMAIL),
    }
    call.body(spec)
    given = call.request.body
    address = privacy.subject(given["email"])
    change = privacy.correction(
        name=given.get("name"), company=given.get("company"), new_email=given.get("new_email")
    )
    call.audit("privacy.correct", privacy.email_hmac(address))
    with store.deadline(PRIVACY_DEADLINE):
        corrected = privacy.correct(address, change)
    return _ok(
        {"counts": corrected.counts.as_dict(), **corrected.outside.as_dict()}, replayable=False
    )


@api("POST", "privacy/delete")
def privacy_delete(call: Call) -> JsonResponse:
    """An erasure, in calls: each erases for ERASURE_SECONDS and answers `done` and the
    counts so far; one not done names the erasure (`continues`), which the page sends
    back to go on. A member's request is audited when it is made; the page's own calls
    that continue it are not: they name an erasure still under way."""
    from factoryops import privacy

    values = call.body({"email": EMAIL, "confirm": Line(254), "continues": optional(Line(100))})
    address = values["email"]
    if values["confirm"].strip().lower() != address.key:
        raise errors.InvalidRequest({"confirm": "must repeat the address, to confirm"})
    erasure = privacy.erasure_id(address)
    # The page going on with an erasure under way; an id kept from an erasure that has
    # ended starts a new one, which is the member's request.
    continuing = values.get("continues") == erasure and privacy.erasure_running(address)
    if not continuing:
        call.audit("privacy.delete", privacy.email_hmac(address))
    try:
        with store.outage_as_unavailable(CONSOLE), store.deadline(PRIVACY_DEADLINE):
            erased = privacy.delete(address, time_budget=ERASURE_SECONDS, page=ERASURE_PAGE)
    except errors.Unavailable as exc:
        raise errors.Unavailable(message=ERASURE_CUT_SHORT.format(what="the database")) from exc
    except (errors.DownstreamError, store.DeletionFailed) as exc:
        logs.privacy_erasure_cut_short(error=exc)
        what = "the CRM sheet" if isinstance(exc, errors.DownstreamError) else "the database"
        raise errors.Unavailable(message=ERASURE_CUT_SHORT.format(what=what)) from exc
    answer: dict[str, Any] = {"done": erased.done, "counts": erased.counts.as_dict()}
    if not erased.done:
        answer["continues"] = erasure
    return _ok({**answer, **erased.outside.as_dict()}, replayable=False)


# audit


@api("GET", "audit")
def audit_list(call: Call) -> JsonResponse:
    return _ok({"audit": audit.recent()})


# repeats


def rebuild_replay(stored: dict[str, Any]) -> dict[str, Any]:
    """A repeated action's answer (same Idempotency-Key), read again from the ids its key
    kept: a key holds no reply text, no visitor's address and no link, so a privacy
    request finds everything where it looks, and after it a repeat finds nothing.
    The privacy routes keep nothing; a retried delivery's answer is kept as it was."""
    kind = stored.get("replay")
    if kind in ("message", "chat"):
        session = team.find_by_lead(str(stored["lead_id"]))
        if session is None:
            raise errors.SessionNotFound()
        if kind == "chat":
            return dict(store.json_ready({"chat": _summary(session)}))
        message = read_one(session.ref, str(stored["message_id"]))
        if message is None:
            raise errors.SessionNotFound()
        return {"message": message.wire()}
    if kind in ("grant", "new grant"):
        from factoryops import grants

        try:
            grant = grants.find(str(stored["grant_id"]))
        except grants.GrantNotFound:
            raise errors.NotFound("No such grant.") from None
        body: dict[str, Any] = {"grant": grant.as_dict()}
        if kind == "new grant":
            # Only the token's hash is kept: the first answer was the one chance to see it.
            body.update(url=None, token=None)
        return dict(store.json_ready(body))
    return stored


ENDPOINT: Endpoint[Call] = Endpoint(
    function=CONSOLE,
    methods=("GET", "POST"),
    validate=route,
    handle=handle,
    body_optional=True,
    authenticate=authenticate,
    # Signed in, the team is not rate-limited; refused calls are, per client (a member
    # whose token expires is refused once, and signed in again).
    refused_limit=lambda: settings().console_refused_limit,
    pages=page,
    # An action sent twice (a double click, a retry after a lost answer) acts once when
    # the page sends an Idempotency-Key.
    rebuild_replay=rebuild_replay,
    startup=check_startup,
)

"""The HTTP edge shared by every function.

Each function is an `Endpoint`, and `serve` runs every request through the same steps:
CORS and origin check, method, the endpoint's caller authentication (before the body is
read), body size (before parsing), content type and parsing, rate limit, the
endpoint's validation, idempotency, the endpoint's handler; and it turns every error
into the one error body. A function's `main.py` is `edge.ready(ENDPOINT)` once and
`edge.serve(request, ENDPOINT)` per request.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import flask
from werkzeug.exceptions import HTTPException

from factoryops import errors, idempotency, logs, proof, ratelimit, store
from factoryops.config import RateLimit, settings

if TYPE_CHECKING:
    from factoryops.tokens import Caller

JSON_TYPE = "application/json; charset=utf-8"
FORM_TYPE = "application/x-www-form-urlencoded"
ALLOWED_HEADERS = "Content-Type, Idempotency-Key, X-Chat-Session"
EXPOSED_HEADERS = "Retry-After"
IDEMPOTENCY_HEADER = "Idempotency-Key"

BODY_SECONDS = 10.0
"""The longest a request body may take to arrive: a stalled one then frees its thread."""
_BODY_READ = "factoryops.body_read"
"""Set in the WSGI environment once the body is read (see `_body_unread`)."""
_SURROGATE = re.compile(r"[\ud800-\udfff]")

V = TypeVar("V")


@dataclass(frozen=True)
class ParsedRequest:
    """What a handler needs of a request, parsed once at the edge."""

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    """Lower-cased names."""
    query: dict[str, str]
    client_ip: str
    form: bool = False
    prefers_html: bool = False
    caller: Caller | None = None
    """Who the endpoint's `authenticate` found the caller to be, if it has one."""
    path: str = "/"


@dataclass
class JsonResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    replay_body: dict[str, Any] | None = None
    """What an Idempotency-Key stores instead of `body`, when the body holds a secret or a
    person's data (ids only); the endpoint's `rebuild_replay` turns it back."""
    replayable: bool = True
    """True: a success is stored under its Idempotency-Key and replayed for a repeat.
    False: nothing of it is kept, and the key is released once the answer is sent, so a
    later repeat acts again (for an action that may be repeated and whose answer is a
    person's data, as the console's privacy requests)."""


@dataclass(frozen=True)
class Staged:
    """A handler's writes, not yet committed, and its answer. The edge commits them: with
    an Idempotency-Key, in the same commit as the key's claim and stored answer, so a
    request that writes costs one round trip after its rate limit."""

    batch: Any
    """A Firestore WriteBatch holding the handler's writes (creates only: a repeat of the
    commit then fails whole)."""
    stored: JsonResponse
    """What the key keeps for a repeat (its status, headers and body or `replay_body`);
    known before the commit, so it goes into it."""
    respond: Callable[[list[Any]], JsonResponse]
    """The answer, from the commit's write results (the handler's writes first)."""
    solved: proof.Solved | None = None
    """The proof of work the request carried, spent in the same commit (proof.spend)."""


@dataclass(frozen=True)
class Page:
    """A file an endpoint serves as it is, with its type and security headers."""

    content: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint(Generic[V]):
    """One function's behaviour at the edge.

    `validate` turns the parsed request into a typed value (raising InvalidRequest);
    `handle` does the work. Idempotency wraps `handle` only, so bad input changes nothing.
    """

    function: str
    methods: tuple[str, ...]
    validate: Callable[[ParsedRequest], V]
    handle: Callable[[ParsedRequest, V], JsonResponse] | None = None
    stage: Callable[[ParsedRequest, V], Staged | None] | None = None
    """For requests whose work is one batch of creates: the batch and the answer, which
    the edge commits (see `Staged`); None for a request `handle` serves."""
    rate_limit: Callable[[ParsedRequest], RateLimit] | None = None
    """The request's budget per client; counted under `rate_scope` (the function's name
    unless it says otherwise for the request)."""
    rate_scope: Callable[[ParsedRequest], str] | None = None
    accepts_form: bool = False
    body_optional: bool = False
    idempotent_methods: tuple[str, ...] = ("POST",)
    rebuild_replay: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """Rebuilds a replayed body from what `JsonResponse.replay_body` kept."""
    replays_secret: Callable[[V], bool] | None = None
    """Whether the answer an Idempotency-Key replays for this request holds a bearer
    secret (a chat start's session id). Its key then replays it only to the client that
    sent the first request: the request's hash includes that client, named as its rate
    limit names it (a keyed hash, never the address), and the same key and body from
    another client is 409 `idempotency_conflict`."""
    authenticate: Callable[[Mapping[str, str]], Caller | None] | None = None
    """Checks the caller from the request headers (lower-cased names) before the body is
    read; returns who it is (`ParsedRequest.caller`) or raises an AppError."""
    refused_limit: Callable[[], RateLimit] | None = None
    """The budget per client of calls `authenticate` refuses (401, 403) in a window. A
    client that has spent it is answered 429 before its token is checked, with no log
    line of its own: one line marks the call that spent it (`refused_calls_limited`)."""
    deadline: float | None = store.REQUEST_DEADLINE
    """Seconds for all of a request's Firestore work (None: each call its own bound)."""
    pages: Callable[[str], Page | None] | None = None
    """Static files the function serves for GET at some paths (the team console's page),
    before any authentication: `pages(path)` is the file, or None for the API."""
    startup: Callable[[], None] | None = None
    """Checks, when the function's instance starts, that it can serve safely; raising
    stops the instance (and so a deployment) rather than serving wrongly."""
    challenges: bool = False
    """Whether `GET /challenge` answers a proof-of-work challenge (proof.py)."""


def _json_bytes(body: dict[str, Any]) -> bytes:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Text that is not valid Unicode has no UTF-8 form; escaped, the answer is still
        # valid JSON rather than a crash.
        return json.dumps(body, separators=(",", ":")).encode("ascii")


def ready(endpoint: Endpoint[V]) -> Endpoint[V]:
    """At an instance's start: read and check the settings (a bad value stops it, naming
    the variable), run the endpoint's own startup check, log the settings redacted."""
    cfg = settings()
    if endpoint.startup is not None:
        endpoint.startup()
    # Every request needs the Firestore client library. Imported here, before the instance
    # serves, rather than by its first requests at once: threads that race to import a
    # package can be handed it half-initialised (an ImportError, a 500).
    import google.cloud.firestore  # noqa: F401

    if flask.has_app_context():  # functions-framework loads the function inside its app
        flask.current_app.register_error_handler(HTTPException, _framework_refusal)
    logs.config_loaded(function=endpoint.function, settings=cfg.redacted())
    return endpoint


def _framework_refusal(exc: HTTPException) -> flask.Response:
    """functions-framework answers a few requests before the function sees them (a path
    its router cannot match, such as one holding a line break, and /favicon.ico and
    /robots.txt): in the contract's error body, not Flask's HTML page."""
    status = exc.code or 500
    error = (
        errors.NotFound()
        if status == 404
        else errors.InvalidRequest()
        if status < 500
        else errors.AppError()
    )
    error.status = status
    return error_response(error)


def serve(request: flask.Request, endpoint: Endpoint[Any]) -> flask.Response:
    origin = request.headers.get("Origin")
    cors: dict[str, str] = {}
    try:
        cfg = settings()
        if origin is not None:
            cors["Vary"] = "Origin"
            if _same_origin(origin, request):
                pass  # a page the function served itself (the team console) calling home
            elif origin.rstrip("/") in cfg.allowed_origins:
                cors["Access-Control-Allow-Origin"] = origin
                cors["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            elif request.method == "OPTIONS":
                return _flask_response(204, None, cors)
            else:
                raise errors.OriginNotAllowed()
        methods = _methods(endpoint)
        if request.method == "OPTIONS":
            cors |= {
                "Access-Control-Allow-Methods": ", ".join((*methods, "OPTIONS")),
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": "3600",
            }
            return _flask_response(204, None, cors)
        if endpoint.challenges and request.path.endswith(proof.PATH):
            if request.method != "GET":
                raise errors.MethodNotAllowed(("GET", "OPTIONS"))
            return _flask_response(200, proof.challenge(), cors)
        if request.method not in endpoint.methods:
            raise errors.MethodNotAllowed((*endpoint.methods, "OPTIONS"))
        if request.method == "GET" and endpoint.pages is not None:
            page = endpoint.pages(request.path)
            if page is not None:
                return _page_response(page)
        headers = {k.lower(): v for k, v in request.headers.items()}
        client = client_ip(
            headers.get("x-forwarded-for", ""), request.remote_addr, cfg.trusted_proxy_hops
        )
        caller = _authenticate(endpoint, headers, client)
        parsed = _parse(request, endpoint, headers, caller, client, cfg.max_body_bytes)
        with _firestore(endpoint):
            if endpoint.rate_limit is not None:
                scope = endpoint.rate_scope(parsed) if endpoint.rate_scope else endpoint.function
                limit = endpoint.rate_limit(parsed)
                ratelimit.hit(scope=scope, client=parsed.client_ip, limit=limit)
            value = endpoint.validate(parsed)
            key = parsed.headers.get(IDEMPOTENCY_HEADER.lower())
            if key is not None and parsed.method not in endpoint.idempotent_methods:
                key = None
            staged = endpoint.stage(parsed, value) if endpoint.stage is not None else None
            if staged is not None:
                answer = _commit(endpoint, parsed, value, staged, key)
            elif key is not None:
                answer = _serve_idempotently(endpoint, parsed, value, key)
            else:
                answer = _handle(endpoint, parsed, value)
        return _flask_response(answer.status, answer.body, {**answer.headers, **cors})
    except errors.AppError as exc:
        if isinstance(exc, errors.RateLimited) and exc.logged:
            logs.rate_limited(function=endpoint.function)
        return error_response(exc, cors, body_unread=_body_unread(request))
    except Exception:
        logs.request_failed(function=endpoint.function)
        return error_response(errors.AppError(), cors, body_unread=_body_unread(request))


def _authenticate(endpoint: Endpoint[Any], headers: dict[str, str], client: str) -> Caller | None:
    """Who the caller is, by the endpoint's `authenticate`, within its `refused_limit`."""
    if endpoint.authenticate is None:
        return None
    if endpoint.refused_limit is None:
        return endpoint.authenticate(headers)
    limit = endpoint.refused_limit()
    scope = f"{endpoint.function}.refused"
    with _firestore(endpoint):
        try:
            ratelimit.spent(scope=scope, client=client, limit=limit)
        except errors.RateLimited as exc:
            exc.logged = False
            raise
    try:
        return endpoint.authenticate(headers)
    except (errors.Unauthenticated, errors.AccessDenied):
        with _firestore(endpoint):
            if ratelimit.tally(scope=scope, client=client, limit=limit):
                logs.refused_calls_limited(function=endpoint.function, budget=limit.count)
        raise


@contextlib.contextmanager
def _firestore(endpoint: Endpoint[Any]) -> Iterator[None]:
    """The endpoint's Firestore deadline and outage handling, for work outside the body's."""
    within = store.deadline(endpoint.deadline) if endpoint.deadline else contextlib.nullcontext()
    with store.outage_as_unavailable(endpoint.function), within:
        yield


def _methods(endpoint: Endpoint[Any]) -> tuple[str, ...]:
    """The methods a cross-origin page may use: the endpoint's, and GET for a challenge."""
    if endpoint.challenges and "GET" not in endpoint.methods:
        return ("GET", *endpoint.methods)
    return endpoint.methods


def _same_origin(origin: str, request: flask.Request) -> bool:
    return urllib.parse.urlsplit(origin).netloc == request.host


def _page_response(page: Page) -> flask.Response:
    response = flask.Response(page.content, status=200, content_type=page.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Not no-referrer: Google's sign-in checks the page's origin, which it reads from the
    # Referer of the page's requests to it.
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    for name, value in page.headers.items():
        response.headers[name] = value
    return response


def _body_unread(request: flask.Request) -> bool:
    return has_body(request) and not request.environ.get(_BODY_READ)


def error_response(
    exc: errors.AppError, headers: Mapping[str, str] | None = None, *, body_unread: bool = False
) -> flask.Response:
    """The contract's error body for `exc`, with its headers."""
    headers = {**exc.headers, **(headers or {})}
    return _flask_response(exc.status, exc.body(), headers, body_unread=body_unread)


def _handle(endpoint: Endpoint[V], parsed: ParsedRequest, value: V) -> JsonResponse:
    if endpoint.handle is None:  # an endpoint whose `stage` declined: a bug, so a 500
        raise RuntimeError(f"{endpoint.function} has no handler for this request")
    return endpoint.handle(parsed, value)


def _fingerprint(endpoint: Endpoint[V], parsed: ParsedRequest, value: V, key: str) -> str:
    if not 1 <= len(key) <= 255:
        raise errors.InvalidRequest({IDEMPOTENCY_HEADER: "must be between 1 and 255 characters"})
    bound = endpoint.replays_secret is not None and endpoint.replays_secret(value)
    return idempotency.request_hash(
        key,
        parsed.method,
        parsed.body,
        parsed.headers.get("x-chat-session", ""),
        client=ratelimit.client_id(parsed.client_ip) if bound else "",
    )


def _replayed(endpoint: Endpoint[Any], replay: idempotency.Replay) -> JsonResponse:
    logs.idempotent_replay(function=endpoint.function)
    status, body, headers = replay
    rebuilt = endpoint.rebuild_replay(body) if endpoint.rebuild_replay else body
    return JsonResponse(status, rebuilt, headers)


def _commit(
    endpoint: Endpoint[V], parsed: ParsedRequest, value: V, staged: Staged, key: str | None
) -> JsonResponse:
    """Commit a staged request: its writes and, with a key, the key's stored answer, in
    one commit. A key already taken fails the commit whole, and the request is answered
    as the key's first request was (or refused, for another body)."""
    from google.api_core import exceptions

    proof.spend(staged.batch, staged.solved)
    if key is None:
        try:
            return staged.respond(staged.batch.commit(**store.call_options()))
        except exceptions.AlreadyExists:
            if staged.solved is None:
                raise
            raise errors.ChallengeFailed(proof.challenge()) from None
    fingerprint = _fingerprint(endpoint, parsed, value, key)
    stored = staged.stored
    idempotency.store_answer(
        staged.batch,
        scope=endpoint.function,
        key=key,
        request_hash=fingerprint,
        answer=(stored.status, stored.replay_body or stored.body, stored.headers),
    )
    try:
        results = staged.batch.commit(**store.call_options())
    except exceptions.AlreadyExists:
        try:
            replay = idempotency.replay(scope=endpoint.function, key=key, request_hash=fingerprint)
        except idempotency.NotTaken:
            if staged.solved is None:
                raise
            # Not this key's repeat: the proof of work was used before.
            raise errors.ChallengeFailed(proof.challenge()) from None
        return _replayed(endpoint, replay)
    return staged.respond(list(results))


def _serve_idempotently(
    endpoint: Endpoint[V], parsed: ParsedRequest, value: V, key: str
) -> JsonResponse:
    fingerprint = _fingerprint(endpoint, parsed, value, key)
    claim = idempotency.claim(scope=endpoint.function, key=key, request_hash=fingerprint)
    if claim.replay is not None:
        return _replayed(endpoint, claim.replay)
    try:
        answer = _handle(endpoint, parsed, value)
    except BaseException:
        claim.release()
        raise
    if answer.replayable and (answer.status < 300 or answer.status == 303):
        try:
            stored = answer.body if answer.replay_body is None else answer.replay_body
            # Its own bound: the work is done, however long the downstream attempts took.
            with store.deadline(store.DEADLINE):
                claim.complete(answer.status, stored, answer.headers)
        except Exception as exc:
            # The work is done and must be reported as done; a repeat of this key
            # after the claim goes stale is the rarer harm than answering 503 now.
            logs.idempotent_response_not_stored(function=endpoint.function, error=exc)
    else:
        claim.release()
    return answer


def _parse(
    request: flask.Request,
    endpoint: Endpoint[Any],
    headers: dict[str, str],
    caller: Caller | None,
    client: str,
    limit: int,
) -> ParsedRequest:
    query = {k: v for k, v in request.args.items()}
    body: dict[str, Any] = {}
    form = False
    if request.method not in ("GET", "HEAD", "DELETE"):
        raw = read_body(request, limit)
        mimetype = request.mimetype
        if not raw and endpoint.body_optional:
            body = {}
        elif mimetype == "application/json":
            body = json_object(raw)
        elif mimetype == FORM_TYPE and endpoint.accepts_form:
            body = form_object(raw)
            form = True
        else:
            accepted = "application/json" + (f" or {FORM_TYPE}" if endpoint.accepts_form else "")
            raise errors.UnsupportedMediaType(f"Send {accepted}.")
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return ParsedRequest(
        method=request.method,
        body=body,
        headers=headers,
        query=query,
        client_ip=client,
        form=form,
        prefers_html=best == "text/html" and request.accept_mimetypes["text/html"] > 0,
        caller=caller,
        path=request.path,
    )


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's hook for each object: a key given twice is refused, not silently the last
    (`"website":"bot","website":""` would pass the honeypot)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _RepeatedKey(key)
        found[key] = value
    return found


def has_body(request: flask.Request) -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def read_body(request: flask.Request, limit: int) -> bytes:
    """At most `limit` bytes of body, within BODY_SECONDS. A larger one is refused before
    a byte is read when its length is declared, after `limit + 1` otherwise."""
    if request.content_length is not None and request.content_length > limit:
        raise errors.PayloadTooLarge()
    with _body_deadline(request) as stalled:
        try:
            raw = request.stream.read(limit + 1)
        except Exception as exc:  # the client went away, or the deadline cut it off
            if stalled.is_set():
                raise BodyStalled() from None
            raise errors.InvalidRequest(message="The request body ended early.") from exc
    if stalled.is_set():
        raise BodyStalled()
    if len(raw) > limit:
        raise errors.PayloadTooLarge()
    request.environ[_BODY_READ] = True
    return raw


class BodyStalled(errors.InvalidRequest):
    def __init__(self) -> None:
        super().__init__(message="The request body did not arrive in time.")


@contextlib.contextmanager
def _body_deadline(request: flask.Request) -> Any:
    """Under gunicorn, stop reading from the client's socket after BODY_SECONDS (its reads
    ask for whole buffers, so a per-read timeout would not bound a slow drip)."""
    stalled = threading.Event()
    sock = request.environ.get("gunicorn.socket")
    if sock is None:
        yield stalled
        return

    def cut() -> None:
        stalled.set()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)

    timer = threading.Timer(BODY_SECONDS, cut)
    timer.daemon = True
    timer.start()
    try:
        yield stalled
    finally:
        timer.cancel()


def json_object(raw: bytes) -> dict[str, Any]:
    """A JSON request body, which must be an object, with no key given twice and no
    nesting deep enough to exhaust the parser (both are 400s, not crashes)."""
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_repeats)
    except _RepeatedKey as exc:
        if _SURROGATE.search(exc.key):
            raise errors.InvalidRequest(message="The body repeats a key.") from None
        raise errors.InvalidRequest({exc.key: "must be given once"}) from None
    except RecursionError:
        raise errors.InvalidRequest(message="The body is nested too deeply.") from None
    except (UnicodeDecodeError, ValueError):
        raise errors.InvalidRequest(message="The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise errors.InvalidRequest(message="The body must be a JSON object.")
    if any(_SURROGATE.search(key) for key in data):
        # A field name is quoted back in an error; one that is not text cannot be.
        raise errors.InvalidRequest(message="The body's field names are not valid Unicode.")
    return data


def form_object(raw: bytes) -> dict[str, Any]:
    """A form-urlencoded request body; a field given twice is a problem."""
    try:
        pairs = urllib.parse.parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise errors.InvalidRequest(message="The form body could not be parsed.") from None
    body: dict[str, Any] = {}
    repeated: dict[str, str] = {}
    for name, value in pairs:
        if name in body:
            repeated[name] = "must be given once"
        body[name] = value
    if repeated:
        raise errors.InvalidRequest(repeated)
    return body


def client_ip(forwarded_for: str, remote_addr: str | None, hops: int) -> str:
    """The client address: the entry `hops` from the right of X-Forwarded-For."""
    entries = [e.strip() for e in forwarded_for.split(",") if e.strip()]
    if hops > 0 and len(entries) >= hops:
        candidate = entries[-hops]
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    return remote_addr or "unknown"


def _flask_response(
    status: int,
    body: dict[str, Any] | None,
    headers: Mapping[str, str],
    *,
    body_unread: bool = False,
) -> flask.Response:
    payload = b"" if body is None else _json_bytes(body)
    if body_unread:
        # Answered without reading the request's body: a streamed response, which
        # functions-framework does not follow by reading the body into memory (it
        # would, up to any size); gunicorn then drains a little and closes.
        response = flask.Response(iter([payload]), status=status)
    else:
        response = flask.Response(payload, status=status)
    if body is not None:
        response.headers["Content-Type"] = JSON_TYPE
    response.headers["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response.headers[name] = value
    return response

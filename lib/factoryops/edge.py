"""The HTTP edge shared by every function.

`serve` runs a request through the same steps everywhere: CORS and origin check,
method, body size (before parsing), content type and parsing, rate limit, the
endpoint's validation, idempotency, the endpoint's action; and turns every error into
the one error body.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import flask

from factoryops import errors, idempotency, logs, ratelimit, store
from factoryops.config import RateLimit, settings

JSON_TYPE = "application/json; charset=utf-8"
FORM_TYPE = "application/x-www-form-urlencoded"
ALLOWED_HEADERS = "Content-Type, Idempotency-Key, X-Chat-Session"
EXPOSED_HEADERS = "Retry-After"
IDEMPOTENCY_HEADER = "Idempotency-Key"

V = TypeVar("V")


@dataclass(frozen=True)
class Call:
    """What a handler needs of a request, parsed once at the edge."""

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    query: dict[str, str]
    client_ip: str
    form: bool = False
    prefers_html: bool = False


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    stored: dict[str, Any] | None = None
    """What an Idempotency-Key stores instead of `body`, when the body holds a secret
    (a new chat's session id); the endpoint's `replayed` turns it back into a body."""


@dataclass(frozen=True)
class Endpoint(Generic[V]):
    """One function's behaviour at the edge.

    `validate` turns the parsed call into a typed value (raising InvalidRequest);
    `act` does the work. Idempotency wraps `act` only, so bad input changes nothing.
    """

    function: str
    methods: tuple[str, ...]
    validate: Callable[[Call], V]
    act: Callable[[Call, V], Reply]
    rate_limit: Callable[[], RateLimit] | None = None
    accepts_form: bool = False
    body_optional: bool = False
    idempotent_methods: tuple[str, ...] = ("POST",)
    replayed: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """Rebuilds a replayed body from what `Reply.stored` kept."""


def serve(request: flask.Request, endpoint: Endpoint[Any]) -> flask.Response:
    origin = request.headers.get("Origin")
    cors: dict[str, str] = {}
    try:
        cfg = settings()
        if origin is not None:
            cors["Vary"] = "Origin"
            if origin.rstrip("/") in cfg.allowed_origins:
                cors["Access-Control-Allow-Origin"] = origin
                cors["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            elif request.method == "OPTIONS":
                return _response(204, None, cors)
            else:
                raise errors.OriginNotAllowed()
        if request.method == "OPTIONS":
            cors.update(
                {
                    "Access-Control-Allow-Methods": ", ".join((*endpoint.methods, "OPTIONS")),
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": "3600",
                }
            )
            return _response(204, None, cors)
        if request.method not in endpoint.methods:
            raise errors.MethodNotAllowed((*endpoint.methods, "OPTIONS"))
        call = _parse(request, endpoint, cfg.max_body_bytes, cfg.trusted_proxy_hops)
        with store.outage_as_unavailable(endpoint.function):
            if endpoint.rate_limit is not None:
                ratelimit.hit(
                    scope=endpoint.function, client=call.client_ip, limit=endpoint.rate_limit()
                )
            value = endpoint.validate(call)
            key = call.headers.get(IDEMPOTENCY_HEADER.lower())
            if key is not None and call.method in endpoint.idempotent_methods:
                reply = _once(endpoint, call, value, key)
            else:
                reply = endpoint.act(call, value)
        return _response(reply.status, reply.body, {**reply.headers, **cors})
    except errors.AppError as exc:
        if isinstance(exc, errors.RateLimited):
            logs.rate_limited(scope=endpoint.function)
        return _response(exc.status, exc.body(), {**exc.headers, **cors})
    except Exception:
        logs.request_failed(function=endpoint.function)
        return _response(500, errors.AppError().body(), cors)


def _once(endpoint: Endpoint[Any], call: Call, value: Any, key: str) -> Reply:
    if not 1 <= len(key) <= 255:
        raise errors.InvalidRequest(
            fields={IDEMPOTENCY_HEADER: "must be between 1 and 255 characters"}
        )
    fingerprint = idempotency.request_hash(
        call.method, call.body, call.headers.get("x-chat-session", "")
    )
    claim = idempotency.claim(scope=endpoint.function, key=key, request_hash=fingerprint)
    if claim.replay is not None:
        logs.idempotent_replay(scope=endpoint.function)
        status, body, headers = claim.replay
        return Reply(status, endpoint.replayed(body) if endpoint.replayed else body, headers)
    try:
        reply = endpoint.act(call, value)
    except BaseException:
        claim.release()
        raise
    if reply.status < 300 or reply.status == 303:
        try:
            stored = reply.body if reply.stored is None else reply.stored
            claim.complete(reply.status, stored, reply.headers)
        except Exception as exc:
            # The work is done and must be reported as done; a repeat of this key
            # after the claim goes stale is the rarer harm than answering 503 now.
            logs.warning("idempotent response not stored", error=type(exc).__name__)
    else:
        claim.release()
    return reply


def _parse(request: flask.Request, endpoint: Endpoint[Any], limit: int, hops: int) -> Call:
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = {k: v for k, v in request.args.items()}
    body: dict[str, Any] = {}
    form = False
    if request.method not in ("GET", "HEAD", "DELETE"):
        if request.content_length is not None and request.content_length > limit:
            raise errors.PayloadTooLarge()
        raw = request.stream.read(limit + 1)
        if len(raw) > limit:
            raise errors.PayloadTooLarge()
        mimetype = request.mimetype
        if not raw and endpoint.body_optional:
            body = {}
        elif mimetype == "application/json":
            body = _json_object(raw)
        elif mimetype == FORM_TYPE and endpoint.accepts_form:
            body = _form_object(raw)
            form = True
        else:
            accepted = "application/json" + (f" or {FORM_TYPE}" if endpoint.accepts_form else "")
            raise errors.UnsupportedMediaType(f"Send {accepted}.")
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return Call(
        method=request.method,
        body=body,
        headers=headers,
        query=query,
        client_ip=client_ip(headers.get("x-forwarded-for", ""), request.remote_addr, hops),
        form=form,
        prefers_html=best == "text/html" and request.accept_mimetypes["text/html"] > 0,
    )


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise errors.InvalidRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise errors.InvalidRequest("The body must be a JSON object.")
    return data


def _form_object(raw: bytes) -> dict[str, Any]:
    try:
        pairs = urllib.parse.parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise errors.InvalidRequest("The form body could not be parsed.") from None
    body: dict[str, Any] = {}
    repeated: dict[str, str] = {}
    for name, value in pairs:
        if name in body:
            repeated[name] = "must be given once"
        body[name] = value
    if repeated:
        raise errors.InvalidRequest(fields=repeated)
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


def _response(status: int, body: dict[str, Any] | None, headers: dict[str, str]) -> flask.Response:
    payload = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = flask.Response(payload, status=status)
    if body is not None:
        response.headers["Content-Type"] = JSON_TYPE
    response.headers["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response.headers[name] = value
    return response

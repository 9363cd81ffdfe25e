"""retention_sweep: the nightly retention run and the delivery retries.

Cloud Scheduler calls the function with a Google-signed OIDC ID token. The token is
checked before anything of the request is read: signature against Google's
certificates, expiry, audience (SWEEP_AUDIENCE), issuer, and that the caller is the
scheduler's service account (SWEEP_INVOKER) with a verified email. No token or a bad
one is 401; a good token of another caller is 403. SWEEP_AUTH=off is accepted only
with the emulator (config refuses it otherwise), and the function refuses to start
when the check would be impossible (`check_startup`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import flask

from factoryops import deliveries, edge, errors, logs, retention
from factoryops.config import ConfigError, settings

FUNCTION = "retention_sweep"
TASKS = ("retention", "deliveries")
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
CERTS_TIMEOUT = 5.0
CLOCK_SKEW_SECONDS = 10


def check_startup() -> None:
    """Raise ConfigError unless the sweep can authenticate its caller (or may skip it)."""
    cfg = settings()
    if not cfg.sweep_auth:
        return
    if not cfg.sweep_audience:
        raise ConfigError("SWEEP_AUDIENCE", "required while SWEEP_AUTH is on (the function URL)")
    if not cfg.sweep_invoker:
        raise ConfigError("SWEEP_INVOKER", "required while SWEEP_AUTH is on (the scheduler's SA)")


# -- authentication -------------------------------------------------------------------


@functools.cache
def _session() -> Any:
    import requests

    return requests.Session()


def _fetch(url: str, method: str = "GET", **kwargs: Any) -> Any:
    """google-auth's requests transport, with a bound on the certificate fetch."""
    from google.auth.transport import requests as google_requests

    kwargs.setdefault("timeout", CERTS_TIMEOUT)
    transport = google_requests.Request(session=_session())
    return transport(url, method=method, **kwargs)


def authenticate(authorization: str | None) -> Mapping[str, Any]:
    """The verified claims of the caller's ID token; raise Unauthenticated (no or bad
    token), AccessDenied (another caller) or Unavailable (certificates unreachable)."""
    from google.auth import exceptions as auth_exceptions
    from google.oauth2 import id_token

    cfg = settings()
    check_startup()
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthenticated(headers={"WWW-Authenticate": "Bearer"})
    try:
        claims = id_token.verify_token(
            token.strip(),
            cast(Any, _fetch),
            audience=cfg.sweep_audience,
            certs_url=cfg.sweep_certs_url or GOOGLE_CERTS_URL,
            clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
        )
    except auth_exceptions.TransportError as exc:
        logs.warning("sweep: token certificates unreachable", error=type(exc).__name__)
        raise errors.Unavailable() from None
    except (ValueError, auth_exceptions.GoogleAuthError) as exc:
        logs.warning("sweep: token rejected", error=type(exc).__name__)
        raise _invalid_token() from None
    if claims.get("iss") not in GOOGLE_ISSUERS:
        logs.warning("sweep: token from another issuer")
        raise _invalid_token()
    email = str(claims.get("email", ""))
    if email.lower() != cfg.sweep_invoker.lower() or claims.get("email_verified") is not True:
        # The caller's address is a service account's, not a person's; still, log a tag.
        logs.warning("sweep: caller not allowed", caller=logs.fingerprint(email.lower()))
        raise errors.AccessDenied("This caller may not run the sweep.")
    return claims


def _invalid_token() -> errors.Unauthenticated:
    return errors.Unauthenticated(
        "The bearer token is not valid.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


# -- the endpoint ---------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRequest:
    tasks: tuple[str, ...] = TASKS
    dry_run: bool = False


def validate(call: edge.Call) -> SweepRequest:
    return parse(call.body)


def parse(body: Mapping[str, Any]) -> SweepRequest:
    problems: dict[str, str] = {}
    for name in body:
        if name not in ("tasks", "dry_run"):
            problems[name] = "unknown field"
    tasks = body.get("tasks", list(TASKS))
    if (
        not isinstance(tasks, list)
        or not tasks
        or not all(isinstance(t, str) and t in TASKS for t in tasks)
    ):
        problems["tasks"] = f"must be a non-empty list of {', '.join(TASKS)}"
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        problems["dry_run"] = "must be true or false"
    if problems:
        raise errors.InvalidRequest("Some fields are not valid.", fields=problems)
    return SweepRequest(tasks=tuple(t for t in TASKS if t in tasks), dry_run=dry_run)


class CrmUnavailable(errors.Unavailable):
    message = "The CRM could not be reached; the records it holds rows for were kept."

    def __init__(self) -> None:
        super().__init__(retry_after=300)


@dataclass
class SweepResult:
    request: SweepRequest
    deleted: retention.Deleted = field(default_factory=retention.Deleted)
    deliveries: deliveries.SweepCounts = field(default_factory=deliveries.SweepCounts)
    crm_error: str | None = None
    """Why the CRM rows could not be deleted; their records were kept for the next run."""

    def body(self) -> dict[str, Any]:
        """The 200 answer: what was deleted and delivered, or would be."""
        counts = self.deliveries
        return {
            "dry_run": self.request.dry_run,
            "deleted": self.deleted.as_dict(),
            "deliveries": {
                "sent": counts.sent,
                "retrying": counts.retrying,
                "failed": counts.failed,
            },
        }


def run(request: SweepRequest) -> SweepResult:
    """Run the requested tasks; retention first, so nothing past the window is sent.

    A CRM failure does not stop the rest of the work; it is reported in `crm_error`.
    """
    result = SweepResult(request)
    if "retention" in request.tasks:
        outcome = retention.run(dry_run=request.dry_run)
        result.deleted = outcome.deleted
        result.crm_error = outcome.crm_error
    if "deliveries" in request.tasks:
        result.deliveries = deliveries.run_due(dry_run=request.dry_run)
    logs.event(
        "sweep finished",
        dry_run=request.dry_run,
        tasks=list(request.tasks),
        deleted=result.deleted.as_dict(),
        deliveries=result.deliveries.as_dict(),
        crm_error=result.crm_error or "",
    )
    return result


def act(call: edge.Call, request: SweepRequest) -> edge.Reply:
    result = run(request)
    if result.crm_error is not None:
        raise CrmUnavailable()
    return edge.Reply(200, result.body())


ENDPOINT: edge.Endpoint[SweepRequest] = edge.Endpoint(
    function=FUNCTION,
    methods=("POST",),
    validate=validate,
    act=act,
    body_optional=True,
    # A sweep is idempotent by nature; replaying a stored answer would skip the work.
    idempotent_methods=(),
)


def serve(request: flask.Request) -> flask.Response:
    """Authenticate the caller first, then serve through the shared edge."""
    if request.method == "POST":
        try:
            if settings().sweep_auth:
                authenticate(request.headers.get("Authorization"))
        except errors.AppError as exc:
            return _error(exc)
        except Exception:
            logs.request_failed(function=FUNCTION)
            return _error(errors.AppError())
    return edge.serve(request, ENDPOINT)


def _error(exc: errors.AppError) -> flask.Response:
    response = flask.Response(json.dumps(exc.body()), status=exc.status)
    response.headers["Content-Type"] = edge.JSON_TYPE
    response.headers["Cache-Control"] = "no-store"
    for name, value in exc.headers.items():
        response.headers[name] = value
    return response

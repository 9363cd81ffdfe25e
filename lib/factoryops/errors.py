"""The errors: one family that carries a wire code and an HTTP status, and one for
the services downstream (EmailJS, the CRM)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AppError(Exception):
    """An error with a stable code, an HTTP status and a message fit for a client."""

    status = 500
    code = "internal"
    message = "Something went wrong on our side."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = dict(self.fields)
        return {"error": error}


class InvalidRequest(AppError):
    """A request that cannot be served as sent: a body that does not parse, or fields
    that are missing or not valid (`fields` names each with its problem)."""

    status = 400
    code = "invalid_request"
    message = "The request is not valid."
    FIELDS_MESSAGE = "Some fields are not valid."

    def __init__(
        self, fields: Mapping[str, str] | None = None, *, message: str | None = None
    ) -> None:
        super().__init__(message or (self.FIELDS_MESSAGE if fields else None), fields=fields)


class ChallengeRequired(AppError):
    """A request that needs a proof of work (proof.py) and carries none. The answer holds
    a fresh challenge (`error.challenge`), so the site script can solve it and send again."""

    status = 400
    code = "challenge_required"
    message = "Solve the proof-of-work challenge and send the solution in the field altcha."

    def __init__(self, challenge: Mapping[str, Any]) -> None:
        super().__init__()
        self.challenge = dict(challenge)

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"]["challenge"] = self.challenge
        return body


class ChallengeFailed(ChallengeRequired):
    """A proof of work that is malformed, forged, wrong, expired or used before."""

    code = "challenge_failed"
    message = "The proof of work is not valid, has expired or was used before; solve this one."


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"
    message = "A valid bearer token is required."

    def __init__(self, message: str | None = None, *, invalid_token: bool = False) -> None:
        challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class OriginNotAllowed(AppError):
    status = 403
    code = "origin_not_allowed"
    message = "Requests from this origin are not allowed."


class AccessDenied(AppError):
    status = 403
    code = "access_denied"
    message = "Access denied."


class SessionNotFound(AppError):
    status = 404
    code = "session_not_found"
    message = "No such chat session."


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = "There is nothing here."


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"
    message = "This method is not allowed here."

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__(headers={"Allow": ", ".join(allowed)})


class IdempotencyConflict(AppError):
    status = 409
    code = "idempotency_conflict"
    message = "This Idempotency-Key was already used with a different request."


class SessionClosed(AppError):
    status = 409
    code = "session_closed"
    message = "This chat session is closed."


class ChatAlreadyOpen(AppError):
    """The address has a chat open and live already (chat/endpoint.py): one at a time."""

    status = 409
    code = "chat_already_open"
    message = (
        "You already have a chat open with us, in another tab or browser: please continue"
        " it there. We also answer by email."
    )


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    message = "The request body is too large."


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    message = "Send application/json."


class TryLater(AppError):
    """An error that tells the client when to try again (`Retry-After`, in seconds)."""

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class RateLimited(TryLater):
    status = 429
    code = "rate_limited"
    message = "Too many requests; try again later."
    logged = True
    """False for a refusal whose window was logged once already (edge's refused calls)."""


class ChatLimitReached(TryLater):
    """A chat session holds CHAT_MAX_MESSAGES visitor messages. The cap does not lift
    with time: Retry-After is long, and the visitor is asked to start a new chat."""

    status = 429
    code = "chat_limit_reached"
    message = "This chat has reached its message limit; please start a new chat."


class Unavailable(TryLater):
    status = 503
    code = "unavailable"
    message = "The service is briefly unavailable; try again shortly."

    def __init__(self, retry_after: int = 5, message: str | None = None) -> None:
        super().__init__(retry_after, message)


class DownstreamError(Exception):
    """EmailJS or the CRM refused or failed.

    `str()` is `"<service> <reason>"` (a status or an exception's class name), fit for a
    log line and the delivery record's `last_error`. `detail` is the service's own words,
    kept on the record for the team and never logged, since a service may quote what it
    was sent.
    """

    def __init__(self, service: str, reason: str, *, retryable: bool, detail: str = "") -> None:
        super().__init__(f"{service} {reason}")
        self.service = service
        self.reason = reason
        self.retryable = retryable
        self.detail = detail

    @property
    def throttled(self) -> bool:
        """The service said it is busy (429 Too Many Requests, 503 Unavailable): worth
        trying again after a short wait, never a failure of the delivery."""
        return self.reason in ("429", "503")

    @classmethod
    def from_status(cls, service: str, status: int, detail: str = "") -> DownstreamError:
        """An HTTP answer other than success: 5xx, 408 and 429 are worth retrying."""
        retryable = status >= 500 or status in (408, 429)
        return cls(service, str(status), retryable=retryable, detail=detail)

    @classmethod
    def unreachable(cls, service: str, exc: BaseException) -> DownstreamError:
        """No answer at all (timeout, connection refused): always worth retrying."""
        return cls(service, type(exc).__name__, retryable=True)

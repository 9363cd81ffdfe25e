"""One family of errors that carry their wire code and HTTP status."""

from __future__ import annotations

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
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message
        self.fields = fields or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = dict(self.fields)
        return {"error": error}


class InvalidRequest(AppError):
    status = 400
    code = "invalid_request"
    message = "The request is not valid."


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"
    message = "A valid bearer token is required."


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


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    message = "The request body is too large."


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    message = "Send application/json."


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    message = "Too many requests; try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(max(1, retry_after))})


class ChatLimitReached(RateLimited):
    """A chat session has taken its last visitor message (CHAT_MAX_MESSAGES): the cap does
    not lift with time, so Retry-After is long and the visitor is told to start anew."""

    message = "This chat has reached its message limit; please start a new chat."


class Unavailable(AppError):
    status = 503
    code = "unavailable"
    message = "The service is briefly unavailable; try again shortly."

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)})

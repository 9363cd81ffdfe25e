"""What openapi.yaml promises of every function's answer, checked the same way by every
test that reads one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from werkzeug.test import TestResponse

JSON = "application/json; charset=utf-8"


def error(response: TestResponse) -> dict[str, Any]:
    """The error an answer carries, once its body is the contract's error body: JSON whose
    only key is "error"."""
    assert response.headers["Content-Type"] == JSON
    body = response.get_json()
    assert set(body) == {"error"}, body
    return dict(body["error"])

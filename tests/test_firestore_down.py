"""Firestore down, everything else up (the EmailJS stand-in, the CRM web app): the
visitor's functions answer 503 with Retry-After at once, and send nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract import error
from tests.test_chat_message import FIRST, START
from tests.test_contact_submit import VALID

pytestmark = pytest.mark.node


def test_firestore_down_gives_503_with_retry_after_and_sends_nothing(
    standins: Any, function_client: Any, configure: Any
) -> None:
    import time

    from devstack.emulator import free_port

    configure(FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    response = function_client("contact_submit").post("/", json=VALID)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert error(response)["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert elapsed < 15, "a Firestore outage must fail fast, not hang"
    assert standins.state.emails == [] and standins.crm.rows() == []


def test_firestore_down_gives_503_fast_and_sends_nothing(
    standins: Any, function_client: Any, configure: Any
) -> None:
    import time

    from devstack.emulator import free_port

    configure(FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    response = function_client("chat_message").post("/", json={**START, "text": FIRST})
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert error(response)["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert elapsed < 15, "a Firestore outage must fail fast, not hang"
    assert standins.state.emails == []

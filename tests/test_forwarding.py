"""Answer first, forward after: the visitor's request only stores, and forward_record
sends what the stored record holds once Eventarc (its local stand-in, speaking the real
CloudEvent wire format) reports the write."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from typing import Any

import pytest
import requests

from devstack import eventarc
from tests.conftest import ROOT

pytestmark = pytest.mark.emulator

VALID = {"name": "Asha Rao", "email": "asha@plant.example", "message": "Quote for 12 lines"}


def contact(client: Any, **headers: str) -> str:
    response = client.post("/", json=VALID, headers=headers)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def record(db: Any, record_id: str) -> dict[str, Any]:
    return db.collection("contact_submissions").document(record_id).get().to_dict() or {}


def event_for(db: Any, record_id: str) -> tuple[dict[str, str], bytes]:
    """The CloudEvent Eventarc sends for a contact record's creation."""
    snap = db.collection("contact_submissions").document(record_id).get()
    headers = eventarc.event_headers(
        event_type=eventarc.CREATED,
        project=db.project,
        path=f"contact_submissions/{record_id}",
        at=dt.datetime.now(dt.UTC),
    )
    return headers, eventarc.event_body(snap)


def test_the_request_path_stores_the_record_pending_and_calls_no_downstream(
    db: Any, standins: Any, function_client: Any
) -> None:
    record_id = contact(function_client("contact_submit"))
    stored = record(db, record_id)
    assert stored["deliveries"]["email"]["state"] == "pending"
    assert stored["deliveries"]["crm"]["state"] == "pending"
    assert standins.state.emails == []
    assert standins.crm_rows() == []


def test_the_request_path_does_not_load_emailjs_or_the_crm_client() -> None:
    probe = (
        "import sys; sys.path[:0] = ['lib']\n"
        "import functions_framework\n"
        "for name in ('contact_submit', 'chat_message'):\n"
        "    functions_framework.create_app(target=name, source=f'functions/{name}/main.py')\n"
        "print(sorted(m for m in sys.modules if m in ('factoryops.mailer', 'factoryops.crm')))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_a_created_record_reaches_emailjs_and_the_crm_through_the_event_engine(
    db: Any, standins: Any, function_client: Any, forwarder: Any
) -> None:
    record_id = contact(function_client("contact_submit"))
    forwarder.settle()
    assert [e["template_params"]["record_id"] for e in standins.state.emails] == [record_id]
    assert [row[2] for row in standins.crm_rows()[1:]] == [record_id]
    stored = record(db, record_id)["deliveries"]
    assert (stored["email"]["state"], stored["crm"]["state"]) == ("sent", "sent")


def test_a_repeated_event_sends_nothing_twice(
    db: Any, standins: Any, function_client: Any, forwarder: Any
) -> None:
    record_id = contact(function_client("contact_submit"))
    forwarder.settle()
    headers, body = event_for(db, record_id)
    for _ in range(3):
        assert requests.post(forwarder.url, data=body, headers=headers, timeout=30).ok
    assert len(standins.state.emails) == 1
    assert len(standins.crm_rows()) == 2  # the header and one row


def test_an_event_for_a_record_erased_meanwhile_sends_nothing(
    db: Any, standins: Any, function_client: Any, forwarder_alone: Any
) -> None:
    record_id = contact(function_client("contact_submit"))
    headers, body = event_for(db, record_id)
    db.collection("contact_submissions").document(record_id).delete()
    assert requests.post(forwarder_alone.url, data=body, headers=headers, timeout=30).ok
    assert standins.state.emails == []
    assert standins.crm_rows() == []


def test_a_busy_emailjs_is_tried_again_with_backoff_not_failed(
    db: Any, standins: Any, function_client: Any, forwarder: Any
) -> None:
    standins.throttle_emails(per_second=1)
    ids = [contact(function_client("contact_submit")) for _ in range(4)]
    forwarder.settle(timeout=90)
    assert sorted(e["template_params"]["record_id"] for e in standins.state.emails) == sorted(ids)
    for record_id in ids:
        assert record(db, record_id)["deliveries"]["email"]["state"] == "sent"

"""Answer first, forward after: the visitor's request only stores, and forward_record
sends what the stored record holds once Eventarc (its local stand-in, speaking the real
CloudEvent wire format) reports the write."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from typing import Any

import pytest
import requests

from devstack import eventarc
from tests.conftest import ROOT

pytestmark = [pytest.mark.emulator, pytest.mark.node]

VALID = {"name": "Asha Rao", "email": "asha@plant.example", "message": "Quote for 12 lines"}


def emails(standins: Any) -> list[dict[str, Any]]:
    return list(standins.state.emails)


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
    assert [row[2] for row in standins.crm_rows()] == [record_id]
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
    assert len(standins.crm_rows()) == 1


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
    standins.limit_emails(per_second=1)
    ids = [contact(function_client("contact_submit")) for _ in range(4)]
    forwarder.settle(timeout=90)
    assert sorted(e["template_params"]["record_id"] for e in standins.state.emails) == sorted(ids)
    for record_id in ids:
        assert record(db, record_id)["deliveries"]["email"]["state"] == "sent"


def test_a_chats_first_message_is_forwarded_whether_it_starts_the_chat_or_follows_it(
    db: Any, standins: Any, function_client: Any, forwarder: Any
) -> None:
    chat = function_client("chat_message")
    with_text = chat.post("/", json={"email": "ravi@castings.example", "page": "/", "text": "Hi"})
    assert with_text.status_code == 201
    bare = chat.post("/", json={"email": "meera@foundry.example", "page": "/pricing"})
    session = bare.get_json()["session_id"]
    assert chat.post("/", json={"session_id": session, "text": "A quote?"}).status_code == 201
    forwarder.settle()
    sent = sorted(
        (e["template_id"], e["template_params"]["message"]) for e in standins.state.emails
    )
    assert sent == [("template_chat", "A quote?"), ("template_chat", "Hi")]
    assert sorted(row[6] for row in standins.crm_rows()) == ["A quote?", "Hi"]


def test_a_forwarder_that_dies_mid_send_leaves_its_lease_to_run_out_and_the_sweep_finishes(
    db: Any, standins: Any, function_client: Any, tmp_path: Any
) -> None:
    import time

    from factoryops import deliveries, sweep

    from devstack import functions

    standins.state.fail["emailjs"] = "timeout"
    standins.state.slow_seconds = 30.0
    served = functions.serve(
        "forward_record",
        env={**os.environ, "PYTHONPATH": "lib"},
        log=tmp_path / "fw.log",
        group=True,
    )
    engine = eventarc.Eventarc(target=served.url, project=db.project, attempts=1)
    try:
        served.wait_until_serving()
        engine.start()
        record_id = contact(function_client("contact_submit"))
        deadline = time.monotonic() + 30
        while ("POST", "/api/v1.0/email/send") not in standins.state.requests:
            assert time.monotonic() < deadline, served.log_text()
            time.sleep(0.05)
        # Mid-send, EmailJS holding the request unanswered: the instance dies, workers too.
        os.killpg(served.process.pid, signal.SIGKILL)
        served.process.wait()
    finally:
        engine.stop()
        served.stop()
    held = record(db, record_id)["deliveries"]["email"]
    assert held["state"] == "processing" and standins.state.emails == []
    # The lease runs out; the sweep's deliveries task takes the delivery up.
    ref = db.collection("contact_submissions").document(record_id)
    ref.update({"deliveries.email.due_at": held["due_at"] - deliveries.FORWARD_LEASE})
    standins.state.fail.clear()
    deliveries.run_due(sweep.DELIVERY_SOURCES)
    assert [e["template_params"]["record_id"] for e in standins.state.emails] == [record_id]
    email = record(db, record_id)["deliveries"]["email"]
    assert (email["state"], email["unknown_outcomes"]) == ("sent", 1)


@pytest.mark.load
def test_a_burst_of_12_contact_forms_with_emailjs_allowing_one_a_second_delivers_each_once(
    db: Any, standins: Any, function_client: Any, forwarder: Any
) -> None:
    import time

    standins.limit_emails(per_second=1)
    client = function_client("contact_submit")
    ids = []
    for n in range(12):  # 12 forms in 4 seconds, from 12 addresses
        ids.append(contact(client, **{"X-Forwarded-For": f"198.51.100.{n + 1}"}))
        time.sleep(1 / 3)
    forwarder.settle(timeout=180)
    emailed = [e["template_params"]["record_id"] for e in standins.state.emails]
    rowed = [row[2] for row in standins.crm_rows()]
    assert sorted(emailed) == sorted(ids) and sorted(rowed) == sorted(ids)
    for record_id in ids:
        held = record(db, record_id)["deliveries"]
        assert (held["email"]["state"], held["crm"]["state"]) == ("sent", "sent")


def test_a_crm_row_landing_after_its_record_was_erased_is_deleted_again(
    db: Any, standins: Any, function_client: Any
) -> None:
    import threading
    import time

    from factoryops import contact as contact_module
    from factoryops import deliveries

    record_id = contact(function_client("contact_submit"))
    ref = db.collection("contact_submissions").document(record_id)
    standins.crm.delay(2.0)  # the row is still on its way when the erasure runs
    sending = threading.Thread(
        target=deliveries.forward_now, args=(contact_module.DELIVERIES, ref, ["crm"])
    )
    sending.start()
    time.sleep(0.5)
    ref.delete()  # what a privacy delete does to the record, the row not yet there
    sending.join()
    standins.crm.delay(0.0)
    assert standins.crm_rows() == []


def test_an_event_forward_record_cannot_handle_is_acknowledged_and_logged_by_class_only(
    db: Any, standins: Any, forwarder_alone: Any, captured_logs: Any
) -> None:
    from google.events.cloud.firestore import Document, DocumentEventData

    secret = "__not-a-document-id__"
    name = f"projects/{db.project}/databases/(default)/documents/contact_submissions/{secret}"
    body = DocumentEventData.serialize(DocumentEventData(value=Document(name=name)))
    headers = eventarc.event_headers(
        event_type=eventarc.CREATED,
        project=db.project,
        path=f"contact_submissions/{secret}",
        at=dt.datetime.now(dt.UTC),
    )
    # A document with no deliveries is nothing to do; one naming a due delivery is looked
    # up, which Firestore refuses for this id: acknowledged, not retried for a day.
    due = {"deliveries": {"email": {"state": "pending", "due_at": dt.datetime.now(dt.UTC)}}}
    from google.cloud.firestore_v1 import _helpers
    from google.cloud.firestore_v1.types import document as firestore_document

    encoded = firestore_document.Document(name=name, fields=_helpers.encode_dict(due))
    value = Document.deserialize(firestore_document.Document.serialize(encoded))
    for data in (body, DocumentEventData.serialize(DocumentEventData(value=value))):
        response = requests.post(forwarder_alone.url, data=data, headers=headers, timeout=30)
        assert response.status_code == 200
    assert standins.state.emails == []
    assert secret not in captured_logs.getvalue()


def test_a_crm_row_whose_answer_was_lost_while_its_record_was_erased_is_deleted_too(
    db: Any, standins: Any, function_client: Any, monkeypatch: Any
) -> None:
    from factoryops import contact as contact_module
    from factoryops import crm, deliveries
    from factoryops.errors import DownstreamError

    record_id = contact(function_client("contact_submit"))
    ref = db.collection("contact_submissions").document(record_id)
    append = crm.append

    def appended_then_answer_lost(row: Any, *, timeout: float) -> None:
        append(row, timeout=timeout)  # the row lands in the sheet
        ref.delete()  # a privacy delete runs meanwhile
        raise DownstreamError("crm", "ReadTimeout", retryable=True)  # the answer never came

    monkeypatch.setattr(crm, "append", appended_then_answer_lost)

    deliveries.forward_now(contact_module.DELIVERIES, ref, ["crm"])

    assert standins.crm_rows() == [], "the row of an erased record is withdrawn"

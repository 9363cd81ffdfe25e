"""The conversation reaches the visitor when they have left: team replies unseen after
REPLY_EMAIL_AFTER go to them by email (grouped, at most one per REPLY_EMAIL_EVERY), a
transcript on close when the team asks, and the team's note that a lead opened their
link; all through the delivery machinery, run here by the sweep's deliveries task with
the clock moved forward."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from factoryops import deliveries, grants, privacy, store
from factoryops.chat import team
from factoryops.sweep import DELIVERY_SOURCES

from tests.conftest import SettledClient

pytestmark = [pytest.mark.emulator, pytest.mark.node]

START = {"email": "meera@foundry.example", "page": "/pricing", "text": "Our CNC line stops"}
REPLY_TEMPLATE = "template_reply"
INBOX = "team@factoryopsai.example"


@pytest.fixture
def chat(db: Any, standins: Any, configure: Any, function_client: Any, forwarder: Any) -> Any:
    configure(
        EMAILJS_REPLY_TEMPLATE_ID=REPLY_TEMPLATE,
        TEAM_INBOX=INBOX,
        REPLY_EMAIL_AFTER="180",
        REPLY_EMAIL_EVERY="900",
        SITE_URL="https://factoryopsai.example/",
        CHAT_RATE_LIMIT="1000/60",
    )
    return SettledClient(function_client("chat_message"), forwarder)


def started(chat: Any) -> str:
    session_id: str = chat.post("/", json=START).get_json()["session_id"]
    return session_id


def answer(session_id: str, text: str) -> str:
    found = team.find(session_id)
    assert found is not None
    return team.reply(found, text).id


def poll(chat: Any, session_id: str) -> dict[str, Any]:
    response = chat.get("/", headers={"X-Chat-Session": session_id})
    assert response.status_code == 200
    return dict(response.get_json())


def sweep_at(monkeypatch: pytest.MonkeyPatch, later: dt.timedelta) -> deliveries.SweepCounts:
    """The deliveries sweep, run as if `later` more had passed (since the last call)."""
    moment = store.now() + later
    monkeypatch.setattr(store, "now", lambda: moment)
    return deliveries.run_due(DELIVERY_SOURCES)


def reply_emails(standins: Any) -> list[dict[str, Any]]:
    return [e for e in standins.state.emails if e["template_id"] == REPLY_TEMPLATE]


def session_doc(db: Any, session_id: str) -> dict[str, Any]:
    return dict(db.collection("chat_sessions").document(session_id).get().to_dict())


@pytest.mark.usefixtures("db")
def test_replies_unseen_after_the_delay_go_in_one_email(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch, db: Any
) -> None:
    session_id = started(chat)
    answer(session_id, "Hi Meera, which controller?")
    answer(session_id, "And how many spindles?")
    assert sweep_at(monkeypatch, dt.timedelta(seconds=120)).sent == 0, "not before the delay"
    assert reply_emails(standins) == []

    sweep_at(monkeypatch, dt.timedelta(seconds=61))
    sweep_at(monkeypatch, dt.timedelta(minutes=30))

    [email] = reply_emails(standins)
    params = email["template_params"]
    assert set(params) == {"to_email", "replies", "page_url", "reply_to"}
    assert params["to_email"] == START["email"]
    assert params["page_url"] == "https://factoryopsai.example/pricing"
    assert params["reply_to"] == INBOX
    block = params["replies"]
    assert block.index("which controller?") < block.index("how many spindles?")
    assert START["text"] not in block and block.count(" IST\n") == 2
    assert session_id not in json.dumps(email)
    stored = session_doc(db, session_id)
    assert stored["deliveries"]["reply"]["state"] == "sent"
    assert stored["reply_emailed_through"] == stored["last_team_seq"]


@pytest.mark.usefixtures("db")
def test_a_reply_seen_before_the_delay_sends_nothing(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch, db: Any
) -> None:
    session_id = started(chat)
    answer(session_id, "Hi Meera")
    assert poll(chat, session_id)["unseen"] == 0

    counts = sweep_at(monkeypatch, dt.timedelta(seconds=181))

    assert reply_emails(standins) == [] and counts.sent == 0
    assert session_doc(db, session_id)["deliveries"]["reply"]["state"] == "skipped"


@pytest.mark.usefixtures("db")
def test_at_most_one_email_per_window_and_each_reply_once(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = started(chat)
    answer(session_id, "First answer")
    sweep_at(monkeypatch, dt.timedelta(seconds=181))
    assert len(reply_emails(standins)) == 1
    answer(session_id, "Second answer")  # due 900 s after the first email, not 180 s on
    sweep_at(monkeypatch, dt.timedelta(seconds=181))
    sweep_at(monkeypatch, dt.timedelta(seconds=300))
    assert len(reply_emails(standins)) == 1
    sweep_at(monkeypatch, dt.timedelta(seconds=500))
    first, second = reply_emails(standins)
    assert "First answer" in first["template_params"]["replies"]
    assert second["template_params"]["replies"].endswith("Second answer")
    assert "First answer" not in second["template_params"]["replies"]


@pytest.mark.usefixtures("db")
def test_a_failed_reply_email_is_retried_and_sent_once(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = started(chat)
    answer(session_id, "Hi")
    standins.state.fail["emailjs"] = "500"
    assert sweep_at(monkeypatch, dt.timedelta(seconds=181)).retrying == 1
    standins.state.fail.clear()
    sweep_at(monkeypatch, dt.timedelta(hours=1))
    sweep_at(monkeypatch, dt.timedelta(hours=2))
    assert len(reply_emails(standins)) == 1
    kinds = {line["kind"] for line in deliveries.overview(DELIVERY_SOURCES, states=["sent"])}
    assert "reply" in kinds


@pytest.mark.usefixtures("db")
@pytest.mark.parametrize("unset", ["EMAILJS_REPLY_TEMPLATE_ID", "TEAM_INBOX"])
def test_without_the_template_or_the_inbox_nothing_is_scheduled(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch, configure: Any, db: Any, unset: str
) -> None:
    configure(**{unset: None})
    session_id = started(chat)
    answer(session_id, "Hi")
    sweep_at(monkeypatch, dt.timedelta(hours=1))
    assert reply_emails(standins) == []
    assert "reply" not in session_doc(db, session_id).get("deliveries", {})


@pytest.mark.usefixtures("db")
def test_a_transcript_on_close_carries_the_whole_thread(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = started(chat)
    answer(session_id, "We can help with that.")
    chat.post("/", json={"text": "Great, thanks"}, headers={"X-Chat-Session": session_id})
    found = team.find(session_id)
    assert found is not None and team.close(found, transcript=True)

    sweep_at(monkeypatch, dt.timedelta(seconds=5))
    sweep_at(monkeypatch, dt.timedelta(hours=1))

    [email] = reply_emails(standins)  # the pending reply email found nothing new
    params = email["template_params"]
    assert set(params) == {"to_email", "replies", "page_url", "reply_to"}
    block = params["replies"]
    assert block.startswith("You, ") and "\nFactoryOps AI, " in block
    order = [START["text"], "We can help with that.", "Great, thanks"]
    assert [block.index(text) for text in order] == sorted(block.index(t) for t in order)
    assert session_id not in json.dumps(email)


@pytest.mark.usefixtures("db")
def test_a_close_without_a_transcript_sends_nothing(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = started(chat)
    found = team.find(session_id)
    assert found is not None and team.close(found)
    sweep_at(monkeypatch, dt.timedelta(hours=1))
    assert reply_emails(standins) == []


@pytest.mark.usefixtures("db")
def test_an_erasure_before_the_email_is_due_sends_nothing(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch, db: Any
) -> None:
    session_id = started(chat)
    answer(session_id, "Hi Meera")
    privacy.delete(privacy.subject(START["email"]))
    sweep_at(monkeypatch, dt.timedelta(hours=1))
    assert reply_emails(standins) == []
    assert not db.collection("chat_sessions").document(session_id).get().exists


@pytest.mark.usefixtures("db")
def test_an_erasure_while_the_email_is_in_flight_does_not_recreate_the_session(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch, db: Any
) -> None:
    session_id = started(chat)
    answer(session_id, "Hi Meera")
    from factoryops import mailer

    real_send = mailer.send

    def send_then_erase(**kwargs: Any) -> None:
        real_send(**kwargs)
        if kwargs["template_id"] == REPLY_TEMPLATE:
            privacy.delete(privacy.subject(START["email"]))

    monkeypatch.setattr(mailer, "send", send_then_erase)
    sweep_at(monkeypatch, dt.timedelta(seconds=181))
    sweep_at(monkeypatch, dt.timedelta(hours=1))
    assert len(reply_emails(standins)) == 1, "sent once, never again"
    assert not db.collection("chat_sessions").document(session_id).get().exists


# -- the note that a lead opened their link ---------------------------------------------


@pytest.mark.usefixtures("db", "standins")
def test_the_first_opening_of_a_named_grant_notes_it_once(
    configure: Any, function_client: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(EMAILJS_NOTIFY_TEMPLATE_ID="template_notify", CONSOLE_URL="https://console.x/")
    named = grants.create(lead="Meera", sections=["pricing"], email="meera@foundry.example")
    anonymous = grants.create(lead="Trade show", sections=["pricing"], no_email=True)
    access = function_client("access_grant")
    for created in (named, named, anonymous):
        assert access.post("/", json={"token": created.token}).status_code == 200

    sweep_at(monkeypatch, dt.timedelta(seconds=5))
    sweep_at(monkeypatch, dt.timedelta(hours=1))

    notes = [e for e in standins.state.emails if e["template_id"] == "template_notify"]
    [note] = notes
    assert note["template_params"] == {
        "grant_id": named.grant.id,
        "console_url": f"https://console.x/#/grants/{named.grant.id}",
    }
    sent = json.dumps(note).lower()
    assert "meera" not in sent and named.token.lower() not in sent


@pytest.mark.usefixtures("db", "standins")
def test_without_a_notify_template_an_opening_schedules_nothing(
    configure: Any, function_client: Any, db: Any
) -> None:
    configure(EMAILJS_NOTIFY_TEMPLATE_ID=None)
    named = grants.create(lead="Meera", sections=["pricing"], email="meera@foundry.example")
    assert function_client("access_grant").post("/", json={"token": named.token}).status_code == 200
    stored = db.collection("access_grants").document(named.grant.id).get().to_dict()
    assert "deliveries" not in stored and stored["redemptions"] == 1

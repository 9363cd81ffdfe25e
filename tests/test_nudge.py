"""The nudge: one email to the team's inbox when a visitor's later message waits
NOTIFY_AFTER seconds for a reply; through the delivery machinery, never with what the
visitor wrote or gave."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from factoryops import deliveries, store
from factoryops.chat import team
from factoryops.sweep import DELIVERY_SOURCES

from tests.conftest import SettledClient

pytestmark = [pytest.mark.emulator, pytest.mark.node]

START = {"email": "meera@foundry.example", "page": "/pricing", "text": "First: our CNC line"}
LATER = "Second: the spindle overheats"


@pytest.fixture
def chat(db: Any, standins: Any, configure: Any, function_client: Any, forwarder: Any) -> Any:
    configure(
        EMAILJS_NOTIFY_TEMPLATE_ID="template_notify",
        NOTIFY_AFTER="300",
        CONSOLE_URL="https://console.example/",
        CHAT_RATE_LIMIT="1000/60",
    )
    return SettledClient(function_client("chat_message"), forwarder)


def started(chat: Any) -> str:
    session_id: str = chat.post("/", json=START).get_json()["session_id"]
    return session_id


def say(chat: Any, session_id: str, text: str) -> None:
    response = chat.post("/", json={"text": text}, headers={"X-Chat-Session": session_id})
    assert response.status_code == 201


def sweep_at(monkeypatch: pytest.MonkeyPatch, later: dt.timedelta) -> deliveries.SweepCounts:
    """The deliveries sweep, run as if `later` more had passed (since the last call)."""
    moment = store.now() + later
    monkeypatch.setattr(store, "now", lambda: moment)
    return deliveries.run_due(DELIVERY_SOURCES)


def nudges(standins: Any) -> list[dict[str, Any]]:
    return [e for e in standins.state.emails if e["template_id"] == "template_notify"]


def test_a_later_message_left_unanswered_nudges_the_team_once_after_the_delay(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = started(chat)
    say(chat, session_id, LATER)
    say(chat, session_id, "Third: anyone there?")
    assert sweep_at(monkeypatch, dt.timedelta(seconds=200)).sent == 0, "not before the delay"
    assert nudges(standins) == []

    sweep_at(monkeypatch, dt.timedelta(seconds=301))
    sweep_at(monkeypatch, dt.timedelta(seconds=900))

    [nudge] = nudges(standins)
    lead_id = team.find(session_id).lead_id  # type: ignore[union-attr]
    assert nudge["template_params"] == {
        "lead_id": lead_id,
        "waiting": "3",
        "console_url": f"https://console.example/#/chats/{lead_id}",
    }


def answered(chat: Any) -> str:
    """A chat whose later message the team has answered, by session id."""
    session_id = started(chat)
    say(chat, session_id, LATER)
    team.reply(team.find(session_id), "On it.")  # type: ignore[arg-type]
    return session_id


def test_a_team_reply_in_time_means_no_nudge(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch, db: Any
) -> None:
    session_id = answered(chat)

    counts = sweep_at(monkeypatch, dt.timedelta(seconds=400))

    assert nudges(standins) == [] and counts.sent == 0
    session = db.collection("chat_sessions").document(session_id).get().to_dict()
    assert session["deliveries"]["nudge"]["state"] == "skipped"


def test_the_first_message_has_its_own_email_and_no_nudge(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started(chat)
    sweep_at(monkeypatch, dt.timedelta(hours=1))
    assert nudges(standins) == []
    assert [e["template_id"] for e in standins.state.emails] == ["template_chat"]


def test_at_most_one_nudge_per_chat_in_thirty_minutes(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = started(chat)
    say(chat, session_id, LATER)
    sweep_at(monkeypatch, dt.timedelta(seconds=301))
    assert len(nudges(standins)) == 1
    say(chat, session_id, "Still here")  # scheduled at the earliest 30 minutes after the last
    sweep_at(monkeypatch, dt.timedelta(seconds=301 + 310))
    assert len(nudges(standins)) == 1
    sweep_at(monkeypatch, dt.timedelta(minutes=31))
    assert len(nudges(standins)) == 2


def test_a_nudge_never_carries_what_the_visitor_wrote_or_gave(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = started(chat)
    say(chat, session_id, LATER)
    sweep_at(monkeypatch, dt.timedelta(seconds=301))
    [nudge] = nudges(standins)
    sent = json.dumps(nudge).lower()
    for visitor_data in (
        START["email"],
        START["text"].lower(),
        LATER.lower(),
        "/pricing",
        session_id.lower(),
    ):
        assert visitor_data not in sent, visitor_data


def test_a_nudge_that_fails_is_retried_and_sent_once(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = started(chat)
    say(chat, session_id, LATER)
    standins.state.fail["emailjs"] = "500"
    assert sweep_at(monkeypatch, dt.timedelta(seconds=301)).retrying == 1
    standins.state.fail.clear()
    sweep_at(monkeypatch, dt.timedelta(hours=2))
    sweep_at(monkeypatch, dt.timedelta(hours=3))
    assert len(nudges(standins)) == 1


def test_without_a_notify_template_no_nudge_is_scheduled(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch, configure: Any, db: Any
) -> None:
    configure(EMAILJS_NOTIFY_TEMPLATE_ID=None)
    session_id = started(chat)
    say(chat, session_id, LATER)
    session = db.collection("chat_sessions").document(session_id).get().to_dict()
    assert "nudge" not in session["deliveries"]


def nudge_state(db: Any, session_id: str) -> str:
    session = db.collection("chat_sessions").document(session_id).get().to_dict()
    return str(session["deliveries"]["nudge"]["state"])


@pytest.mark.parametrize("settle", ["reply", "close"])
def test_a_reply_or_a_close_settles_a_pending_nudge_at_once_so_status_agrees(
    chat: Any, db: Any, settle: str
) -> None:
    from factoryops import status

    session_id = started(chat)
    say(chat, session_id, LATER)
    assert nudge_state(db, session_id) == "pending"
    before = status.overview()
    assert before["deliveries"]["nudge"]["pending"]["count"] == 1
    assert before["chats"]["awaiting_reply"] == 1

    session = team.find(session_id)
    assert session is not None
    if settle == "reply":
        team.reply(session, "On it.")
    else:
        team.close(session)

    assert nudge_state(db, session_id) == "skipped", "no sweep has run"
    after = status.overview()
    assert after["deliveries"]["nudge"]["pending"]["count"] == 0
    assert after["chats"]["awaiting_reply"] == 0
    stored = db.collection("chat_sessions").document(session_id).get().to_dict()
    assert "due_at" not in stored["deliveries"]["nudge"], "the sweep finds nothing due"


def test_a_message_after_the_teams_reply_is_nudged_about_afresh(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch, db: Any
) -> None:
    session_id = answered(chat)
    say(chat, session_id, "Thanks; and the spindle?")
    assert nudge_state(db, session_id) == "pending"

    sweep_at(monkeypatch, dt.timedelta(seconds=301))

    [nudge] = nudges(standins)
    assert nudge["template_params"]["waiting"] == "1"


def test_a_reply_between_a_posts_read_and_its_write_leaves_the_post_nudging(
    chat: Any, standins: Any, monkeypatch: pytest.MonkeyPatch, db: Any
) -> None:
    # The post reads the session with a nudge pending; the team answers (settling it)
    # before the post's message is stored. The message waits again: it is nudged about.
    from factoryops.chat import endpoint

    session_id = started(chat)
    say(chat, session_id, LATER)
    reserve = endpoint.reserve_visitor_message

    def answered_first(*args: Any, **kwargs: Any) -> int:
        team.reply(team.find(session_id), "On it.")  # type: ignore[arg-type]
        return reserve(*args, **kwargs)

    monkeypatch.setattr(endpoint, "reserve_visitor_message", answered_first)
    say(chat, session_id, "One more thing")
    monkeypatch.setattr(endpoint, "reserve_visitor_message", reserve)

    assert nudge_state(db, session_id) == "pending"
    sweep_at(monkeypatch, dt.timedelta(seconds=301))
    assert len(nudges(standins)) == 1

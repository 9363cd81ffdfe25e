"""The visitor's seen point, the closed widget's peek, and the team's hours in answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from factoryops import store
from factoryops.chat import team

pytestmark = [
    pytest.mark.emulator,
    pytest.mark.node,
    pytest.mark.usefixtures("db", "standins", "forwarder"),
]

FUNCTION = "chat_message"

START = {"email": "meera@foundry.example", "page": "/pricing", "text": "Hello?"}
TEAM_KEYS = {"available", "back_at", "hours", "timezone"}


def started(client: Any, email: str = START["email"]) -> tuple[str, dict[str, Any]]:
    response = client.post("/", json={**START, "email": email})
    assert response.status_code == 201
    body = response.get_json()
    return body["session_id"], body


def poll(client: Any, session_id: str, **query: str) -> dict[str, Any]:
    response = client.get("/", headers={"X-Chat-Session": session_id}, query_string=query)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def reply(session_id: str, text: str) -> str:
    found = team.find(session_id)
    assert found is not None
    return team.reply(found, text).id


def snap(db: Any, session_id: str) -> Any:
    return db.collection("chat_sessions").document(session_id).get()


def test_the_start_and_every_poll_say_whether_the_team_is_in(client: Any, configure: Any) -> None:
    configure(TEAM_HOURS="Mon-Sun 00:00-24:00", TEAM_TIMEZONE="Europe/Berlin")
    session_id, body = started(client)
    assert body["team"] == {
        "available": True,
        "back_at": None,
        "hours": "Mon-Sun 00:00-24:00",
        "timezone": "Europe/Berlin",
    }
    configure(TEAM_HOURS="Sat 10:00-11:00", TEAM_TIMEZONE="UTC")
    answer = poll(client, session_id)["team"]
    assert set(answer) == TEAM_KEYS and answer["available"] is False
    back = dt.datetime.fromisoformat(answer["back_at"])
    assert back.weekday() == 5 and (back.hour, back.minute) == (10, 0)
    assert answer["back_at"].endswith("Z") and back > store.now()
    assert poll(client, session_id, peek="1")["team"] == answer


def test_the_seen_point_is_written_only_when_it_advances(
    client: Any, db: Any, forwarder: Any
) -> None:
    session_id, _ = started(client)
    forwarder.settle()  # the first message's deliveries are written by then
    poll(client, session_id)  # the first poll says the visitor is on the page
    before = snap(db, session_id).update_time
    for _ in range(3):
        assert poll(client, session_id)["unseen"] == 0
    assert snap(db, session_id).update_time == before, "no team message: no write"

    first = reply(session_id, "Hi Meera")
    assert poll(client, session_id, peek="1")["unseen"] == 1
    body = poll(client, session_id)
    assert body["unseen"] == 0 and body["messages"][-1]["id"] == first
    seen = snap(db, session_id)
    assert seen.to_dict()["seen_through"] == int(first)
    for _ in range(3):
        poll(client, session_id)
        poll(client, session_id, after=first)
    assert snap(db, session_id).update_time == seen.update_time, "one write per advance"


def test_after_naming_a_team_message_records_it(client: Any, db: Any) -> None:
    session_id, _ = started(client)
    first = reply(session_id, "Hi")
    second = reply(session_id, "Are you there?")
    body = poll(client, session_id, after=second)
    assert body["messages"] == [] and body["unseen"] == 0
    assert snap(db, session_id).to_dict()["seen_through"] == int(second) > int(first)


def test_peek_answers_the_count_and_records_nothing(client: Any, db: Any, forwarder: Any) -> None:
    session_id, _ = started(client)
    reply(session_id, "One")
    reply(session_id, "Two")
    forwarder.settle()
    before = snap(db, session_id)
    for _ in range(3):
        body = poll(client, session_id, peek="1")
        assert set(body) == {"status", "unseen", "team"}
        assert body["unseen"] == 2 and body["status"] == "open"
    after = snap(db, session_id)
    assert after.update_time == before.update_time and "seen_through" not in after.to_dict()
    assert "polled_at" not in after.to_dict(), "a folded widget is browsing, not chatting"


def test_a_bad_peek_is_refused(client: Any) -> None:
    session_id, _ = started(client)
    response = client.get("/", headers={"X-Chat-Session": session_id}, query_string={"peek": "yes"})
    assert response.status_code == 400
    assert set(response.get_json()["error"]["fields"]) == {"peek"}


def test_the_sweep_forgets_when_a_visitor_was_on_the_page_once_their_widget_goes_quiet(
    client: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factoryops import sweep

    gone, _ = started(client)
    here, _ = started(client, email="ravi@plant.example")
    poll(client, gone)
    poll(client, here)
    assert "polled_at" in snap(db, gone).to_dict()

    # A minute on, the one still on the page has asked again; the other has left.
    later = store.now() + dt.timedelta(minutes=1)
    monkeypatch.setattr(store, "now", lambda: later)
    db.collection("chat_sessions").document(here).update({"polled_at": later})
    sweep.run(sweep.SweepRequest(tasks=("deliveries",)))

    assert "polled_at" not in snap(db, gone).to_dict()
    assert snap(db, here).to_dict()["polled_at"] == later

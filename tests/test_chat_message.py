"""chat_message end to end on the real emulator, with stand-ins at the network edge:
sessions, ordering under concurrency, the after-cursor, the first message's one forward,
outages, closed sessions, the cap, uniform 404s, and the session id kept out of every log
line and every stored field."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from typing import Any

import pytest
from factoryops import deliveries
from factoryops.chat import endpoint, team, thread
from factoryops.documents import SessionFields
from factoryops.sweep import DELIVERY_SOURCES

from tests.contract import error
from tests.together import at_once

pytestmark = [
    pytest.mark.emulator,
    pytest.mark.node,
    pytest.mark.usefixtures("db", "standins", "forwarder"),
]

FUNCTION = "chat_message"

START = {"email": "Meera.Iyer@Foundry.example", "page": "/solutions/downtime"}
FIRST = "Our CNC line stops twice a shift; can you help?"


def start(client: Any, text: str | None = FIRST, email: str | None = None, **kwargs: Any) -> Any:
    body = dict(START) if text is None else {**START, "text": text}
    if email is not None:
        body["email"] = email
    response = client.post("/", json=body, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def say(client: Any, session_id: str, text: str, headers: dict[str, str] | None = None) -> Any:
    headers = {**(headers or {}), "X-Chat-Session": session_id}
    return client.post("/", json={"text": text}, headers=headers)


def post_at_once(function_client: Any, session_id: str, texts: list[str]) -> list[int]:
    """The statuses of `texts` posted to one session together, each from its own client."""
    posts = [(function_client("chat_message"), text) for text in texts]
    return at_once(lambda post: say(post[0], session_id, post[1]).status_code, posts)


def poll(
    client: Any, session_id: str, after: str | None = None, headers: dict[str, str] | None = None
) -> Any:
    query = {"after": after} if after is not None else {}
    headers = {**(headers or {}), "X-Chat-Session": session_id}
    return client.get("/", headers=headers, query_string=query)


def session_doc(db: Any, session_id: str) -> dict[str, Any]:
    snap = db.collection("chat_sessions").document(session_id).get()
    assert snap.exists
    return dict(snap.to_dict())


def stored_messages(db: Any, session_id: str) -> list[dict[str, Any]]:
    ref = db.collection("chat_sessions").document(session_id).collection("messages")
    return [{"id": d.id, **d.to_dict()} for d in ref.order_by("seq").stream()]


def every_document(db: Any) -> list[tuple[str, str]]:
    """Every stored document, subcollections included, as (path, fields as JSON)."""
    out: list[tuple[str, str]] = []

    def walk(collections: Any) -> None:
        for collection in collections:
            for doc in collection.list_documents():
                snap = doc.get()
                if snap.exists:
                    out.append((doc.path, json.dumps(snap.to_dict(), default=str)))
                walk(doc.collections())

    walk(db.collections())
    return out


def parse_time(value: str) -> dt.datetime:
    assert value.endswith("Z")
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- starting a session ----------------------------------------------------------------


def test_start_without_text_stores_an_open_session_with_the_named_fields_and_sends_nothing(
    client: Any, db: Any, standins: Any
) -> None:
    body = start(client, text=None)

    assert set(body) == {"session_id", "messages", "team"} and body["messages"] == []
    session_id = body["session_id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", session_id)
    session = session_doc(db, session_id)
    assert set(session) == {
        "email",
        "email_key",
        "page",
        "status",
        "created_at",
        "last_activity_at",
        "expire_at",
        "lead_id",
        "message_count",
        "last_seq",
        "awaiting_since",
        "last_message_at",
    }
    assert session["awaiting_since"] is None, "stored null: the inbox asks for it"
    assert session["email"] == "Meera.Iyer@foundry.example"
    assert session["email_key"] == "meera.iyer@foundry.example"
    assert session["page"] == "/solutions/downtime"
    assert session["status"] == "open"
    assert session["message_count"] == 0
    assert re.fullmatch(r"[0-9a-f]{16}", session["lead_id"])
    assert (session["expire_at"] - session["last_activity_at"]).days in (729, 730)
    assert stored_messages(db, session_id) == []
    assert standins.state.emails == [] and standins.crm.rows() == []


def test_start_with_text_stores_it_as_the_first_message_and_forwards_it_once(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    body = start(client)
    forwarder.settle()

    [message] = body["messages"]
    assert set(message) == {"id", "author", "text", "created_at"}
    assert message["author"] == "visitor" and message["text"] == FIRST
    session = session_doc(db, body["session_id"])
    lead_id = session["lead_id"]
    assert session["message_count"] == 1
    assert session["first_message_id"] == message["id"]
    assert session["deliveries"]["email"]["state"] == "sent"
    assert session["deliveries"]["crm"]["state"] == "sent"
    [stored] = stored_messages(db, body["session_id"])
    assert stored["author"] == "visitor" and stored["text"] == FIRST
    assert set(stored) == {"id", "author", "text", "seq", "created_at", "expire_at"}
    assert (stored["expire_at"] - stored["created_at"]).days in (729, 730)
    assert parse_time(message["created_at"]) == stored["created_at"]

    [email] = standins.state.emails
    assert email["template_id"] == "template_chat"
    params = email["template_params"]
    assert params["record_id"] == lead_id
    assert params["email"] == params["reply_to"] == "Meera.Iyer@foundry.example"
    assert params["page"] == "/solutions/downtime"
    assert params["message"] == FIRST
    assert parse_time(params["started_at"]) == session["created_at"]
    [row] = standins.crm.rows()
    assert row[1:] == [
        "chat",
        lead_id,
        "",
        "Meera.Iyer@foundry.example",
        "",
        FIRST,
        "/solutions/downtime",
    ]
    assert lead_id != body["session_id"]


def test_each_start_gets_a_new_unguessable_session_id(client: Any) -> None:
    ids = {start(client, None, f"v{n}@plant.example")["session_id"] for n in range(5)}
    assert len(ids) == 5


def test_a_chat_at_its_message_cap_does_not_stand_in_the_way_of_the_new_one_it_asks_for(
    client: Any, configure: Any
) -> None:
    configure(CHAT_MAX_MESSAGES="1")
    first = start(client)
    assert error(say(client, first["session_id"], "more"))["code"] == "chat_limit_reached"
    second = start(client)
    assert second["session_id"] != first["session_id"]


def test_a_second_start_for_an_address_with_a_live_open_chat_is_refused_and_sends_nothing(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    first = start(client)
    again = client.post("/", json={**START, "email": START["email"].upper(), "text": "Again"})
    forwarder.settle()
    assert again.status_code == 409
    assert error(again)["code"] == "chat_already_open"
    assert [d.id for d in db.collection("chat_sessions").stream()] == [first["session_id"]]
    assert len(standins.state.emails) == 1, "the inbox hears of the address once"


def test_once_the_chat_is_closed_or_a_day_old_the_address_may_start_another(
    client: Any, db: Any
) -> None:
    first = start(client)
    team.close(team.find(first["session_id"]))
    second = start(client)
    day_ago = dt.datetime.now(dt.UTC) - endpoint.OPEN_CHAT_WINDOW - dt.timedelta(minutes=1)
    db.collection("chat_sessions").document(second["session_id"]).update(
        {SessionFields.CREATED_AT: day_ago, SessionFields.LAST_ACTIVITY_AT: day_ago}
    )
    third = start(client)
    assert len({first["session_id"], second["session_id"], third["session_id"]}) == 3


def test_a_chat_started_in_someones_name_keeps_them_out_a_day_at_most_however_often_it_posts(
    client: Any, db: Any
) -> None:
    # Whoever starts a chat with an address holds its session. Were each of their posts to
    # renew the refusal, one proof of work would keep the address's owner out for as many
    # days as the chat takes messages (CHAT_MAX_MESSAGES), a post a day.
    squatter = start(client)["session_id"]
    day_ago = dt.datetime.now(dt.UTC) - endpoint.OPEN_CHAT_WINDOW - dt.timedelta(minutes=1)
    db.collection("chat_sessions").document(squatter).update(
        {SessionFields.CREATED_AT: day_ago, SessionFields.LAST_ACTIVITY_AT: day_ago}
    )
    assert say(client, squatter, "Still here").status_code == 201

    owner = client.post("/", json={**START, "text": "Hello, it is really me."})
    assert owner.status_code == 201, owner.get_json()
    assert owner.get_json()["session_id"] != squatter


# -- posting and polling ---------------------------------------------------------------


def test_a_message_can_name_its_session_in_the_body_or_the_header(client: Any, db: Any) -> None:
    session_id = start(client, text=None)["session_id"]
    by_body = client.post("/", json={"session_id": session_id, "text": "one"})
    by_header = say(client, session_id, "two")

    assert by_body.status_code == by_header.status_code == 201
    assert by_body.get_json()["message"]["author"] == "visitor"
    assert [m["text"] for m in stored_messages(db, session_id)] == ["one", "two"]
    assert session_doc(db, session_id)["message_count"] == 2


def test_a_message_moves_the_sessions_last_activity_and_expiry_forward(
    client: Any, db: Any
) -> None:
    session_id = start(client)["session_id"]
    before = session_doc(db, session_id)
    assert say(client, session_id, "later").status_code == 201
    after = session_doc(db, session_id)
    assert after["last_activity_at"] > before["last_activity_at"]
    assert after["expire_at"] > before["expire_at"]
    assert after["created_at"] == before["created_at"]


def test_later_messages_are_stored_but_not_forwarded(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    session_id = start(client)["session_id"]
    for text in ("second", "third"):
        assert say(client, session_id, text).status_code == 201
    forwarder.settle()
    assert len(stored_messages(db, session_id)) == 3
    assert len(standins.state.emails) == 1 and len(standins.crm.rows()) == 1


def test_a_session_started_without_text_forwards_its_first_posted_message_only(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    session_id = start(client, text=None)["session_id"]
    first = say(client, session_id, "hello from the shop floor").get_json()["message"]
    say(client, session_id, "and a follow-up")
    forwarder.settle()

    session = session_doc(db, session_id)
    assert session["first_message_id"] == first["id"]
    assert session["deliveries"]["email"]["state"] == "sent"
    [email] = standins.state.emails
    assert email["template_params"]["message"] == "hello from the shop floor"
    [row] = standins.crm.rows()
    assert row[6] == "hello from the shop floor" and row[1] == "chat"


def test_poll_returns_status_and_the_whole_thread_oldest_first(client: Any) -> None:
    session_id = start(client)["session_id"]
    say(client, session_id, "second")
    say(client, session_id, "third")

    response = poll(client, session_id)

    assert response.status_code == 200
    body = response.get_json()
    assert (
        set(body) == {"status", "messages", "more", "unseen", "team"} and body["status"] == "open"
    )
    assert body["more"] is False
    assert [m["text"] for m in body["messages"]] == [FIRST, "second", "third"]
    stamps = [parse_time(m["created_at"]) for m in body["messages"]]
    assert stamps == sorted(stamps)
    ids = [m["id"] for m in body["messages"]]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_poll_after_a_message_returns_only_the_later_ones(client: Any) -> None:
    session_id = start(client)["session_id"]
    second = say(client, session_id, "second").get_json()["message"]
    say(client, session_id, "third")

    after_second = poll(client, session_id, after=second["id"]).get_json()["messages"]
    assert [m["text"] for m in after_second] == ["third"]
    last = after_second[-1]["id"]
    assert poll(client, session_id, after=last).get_json()["messages"] == []


def test_a_poll_reads_at_most_a_page_says_more_waits_and_the_cursor_fetches_the_rest(
    client: Any, db: Any, configure: Any, monkeypatch: Any
) -> None:
    configure(CHAT_RATE_LIMIT="1000/60")
    monkeypatch.setattr(endpoint, "PAGE_LIMIT", 3)
    session_id = start(client)["session_id"]
    for n in range(5):
        say(client, session_id, f"m{n}")
    first = poll(client, session_id).get_json()
    page = first["messages"]
    assert [m["text"] for m in page] == [FIRST, "m0", "m1"] and first["more"] is True
    rest = poll(client, session_id, after=page[-1]["id"]).get_json()
    assert [m["text"] for m in rest["messages"]] == ["m2", "m3", "m4"]
    assert rest["more"] is False


def test_the_first_message_email_carries_exactly_the_notices_fields_and_no_session_id(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    headers = {"X-Forwarded-For": "203.0.113.51", "User-Agent": "Mozilla/5.0 (visitor)"}
    session_id = start(client, headers=headers)["session_id"]
    forwarder.settle()
    [email] = standins.state.emails
    params = email["template_params"]
    # The notice's chat fields (the email, the page, the message), the lead id that names
    # the chat, its start time, and the address as reply-to: nothing else.
    assert set(params) == {"record_id", "started_at", "email", "reply_to", "page", "message"}
    sent = json.dumps(email)
    for absent in (session_id, "203.0.113.51", "Mozilla"):
        assert absent not in sent


def test_line_breaks_in_a_message_are_kept(client: Any, db: Any) -> None:
    session_id = start(client, text=None)["session_id"]
    assert say(client, session_id, "line one\nline two").status_code == 201
    assert stored_messages(db, session_id)[0]["text"] == "line one\nline two"


def test_a_team_reply_appears_in_the_next_poll_with_author_team(client: Any, db: Any) -> None:
    session_id = start(client)["session_id"]
    seen = poll(client, session_id).get_json()["messages"]
    snap = db.collection("chat_sessions").document(session_id).get()
    team.reply(thread.Session.from_snapshot(snap), "Yes: could you share the spindle model?")

    new = poll(client, session_id, after=seen[-1]["id"]).get_json()["messages"]
    assert [(m["author"], m["text"]) for m in new] == [
        ("team", "Yes: could you share the spindle model?")
    ]
    session = session_doc(db, session_id)
    assert session["message_count"] == 1, "a team reply is not a visitor message"
    assert session["last_activity_at"] > snap.to_dict()["last_activity_at"]


# -- concurrency -----------------------------------------------------------------------


def test_concurrent_posts_to_one_session_are_all_stored_in_one_stable_order(
    client: Any, db: Any, function_client: Any, configure: Any
) -> None:
    configure(CHAT_RATE_LIMIT="1000/60")
    session_id = start(client, text=None)["session_id"]
    texts = [f"burst {n}" for n in range(16)]

    statuses = post_at_once(function_client, session_id, texts)

    assert statuses == [201] * len(texts)
    stored = stored_messages(db, session_id)
    assert sorted(m["text"] for m in stored) == sorted(texts)
    assert [m["seq"] for m in stored] == list(range(1, len(texts) + 1))
    first = poll(client, session_id).get_json()["messages"]
    again = poll(client, session_id).get_json()["messages"]
    assert [m["id"] for m in first] == [m["id"] for m in again] == [m["id"] for m in stored]
    assert session_doc(db, session_id)["message_count"] == len(texts)


def test_concurrent_posts_at_the_cap_store_exactly_the_cap_and_refuse_the_rest(
    client: Any, db: Any, function_client: Any, configure: Any
) -> None:
    configure(CHAT_RATE_LIMIT="1000/60", CHAT_MAX_MESSAGES="200")
    session_id = start(client, text=None)["session_id"]
    ref = db.collection("chat_sessions").document(session_id)
    batch = db.batch()
    now = dt.datetime.now(dt.UTC)
    for seq in range(1, 191):
        batch.set(
            ref.collection("messages").document(thread.message_id(seq)),
            {"author": "visitor", "text": f"m{seq}", "seq": seq, "created_at": now},
        )
    batch.update(ref, {"message_count": 190, "last_seq": 190, "first_message_id": "00000001"})
    batch.commit()

    statuses = post_at_once(function_client, session_id, [f"late {n}" for n in range(40)])

    assert sorted(statuses) == [201] * 10 + [429] * 30
    assert len(stored_messages(db, session_id)) == 200
    assert session_doc(db, session_id)["message_count"] == 200


def test_a_cursor_poll_during_concurrent_posts_sees_each_message_exactly_once(
    client: Any, db: Any, function_client: Any, configure: Any
) -> None:
    configure(CHAT_RATE_LIMIT="10000/60")
    session_id = start(client)["session_id"]
    writers = 8
    per_writer = 4
    done = threading.Event()
    seen: list[str] = []

    def write(n: int) -> None:
        own = function_client("chat_message")
        for k in range(per_writer):
            assert say(own, session_id, f"w{n}-{k}").status_code == 201

    def read() -> None:
        own = function_client("chat_message")
        cursor: str | None = None
        while True:
            finished = done.is_set()
            for message in poll(own, session_id, after=cursor).get_json()["messages"]:
                seen.append(message["id"])
                cursor = message["id"]
            if finished:
                return

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()

    stored = [m["id"] for m in stored_messages(db, session_id)]
    assert len(stored) == 1 + writers * per_writer
    assert seen == stored, "the cursor skipped or repeated a message"


def test_the_first_message_is_forwarded_exactly_once_under_concurrent_posts(
    client: Any, db: Any, standins: Any, function_client: Any, configure: Any, forwarder: Any
) -> None:
    configure(CHAT_RATE_LIMIT="1000/60")
    session_id = start(client, text=None)["session_id"]
    texts = [f"opening line {n}" for n in range(12)]

    statuses = post_at_once(function_client, session_id, texts)
    forwarder.settle()

    assert statuses == [201] * len(texts)
    [email] = standins.state.emails
    [row] = standins.crm.rows()
    session = session_doc(db, session_id)
    first = stored_messages(db, session_id)[0]
    assert session["first_message_id"] == first["id"]
    assert email["template_params"]["message"] == row[6] == first["text"]
    assert session["deliveries"]["email"]["state"] == "sent"
    assert deliveries.run_due(DELIVERY_SOURCES).sent == 0, (
        "nothing is left for the sweep to send again"
    )
    assert len(standins.state.emails) == 1


# -- outages ---------------------------------------------------------------------------


def test_downstream_outage_keeps_the_first_message_pending_and_the_sweep_sends_it_once(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    standins.state.fail["emailjs"] = "500"
    standins.crm.fail("500")
    body = start(client)
    session_id = body["session_id"]
    forwarder.settle()

    session = session_doc(db, session_id)
    for channel in ("email", "crm"):
        state = session["deliveries"][channel]
        assert state["state"] == "pending"
        assert state["attempts"] == 1
        assert state["last_error"]
    assert standins.state.emails == [] and standins.crm.rows() == []
    assert say(client, session_id, "anyone there?").status_code == 201

    standins.state.fail.clear()
    standins.crm.fail(None)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.collection("chat_sessions").document(session_id).update(
        {"deliveries.email.due_at": past, "deliveries.crm.due_at": past}
    )
    # Due again: the sweep and the event of that very write race for the leases, and
    # exactly one of them sends each delivery.
    deliveries.run_due(DELIVERY_SOURCES)
    forwarder.settle()
    assert deliveries.run_due(DELIVERY_SOURCES).sent == 0
    [email] = standins.state.emails
    assert email["template_params"]["message"] == FIRST
    assert email["template_params"]["record_id"] == session["lead_id"]
    [row] = standins.crm.rows()
    assert row[2] == session["lead_id"] and row[6] == FIRST
    assert session_doc(db, session_id)["deliveries"]["crm"]["state"] == "sent"


def test_downstream_timeout_still_answers_201_with_the_message(
    client: Any, db: Any, standins: Any
) -> None:
    standins.state.fail["emailjs"] = "timeout"
    standins.crm.fail("timeout")
    body = start(client)
    assert body["messages"][0]["text"] == FIRST
    assert session_doc(db, body["session_id"])["deliveries"]["email"]["state"] == "pending"


def test_a_first_message_stranded_without_deliveries_is_queued_by_a_later_post(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    # As if the first post had stored its message and died before writing `deliveries`.
    session_id = start(client, text=None)["session_id"]
    ref = db.collection("chat_sessions").document(session_id)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ref.collection("messages").document(thread.message_id(1)).set(
        {
            "author": "visitor",
            "text": "stranded opener",
            "seq": 1,
            "created_at": old,
            "expire_at": old + dt.timedelta(days=730),
        }
    )
    ref.update({"message_count": 1, "last_seq": 1})

    assert say(client, session_id, "hello again").status_code == 201
    assert say(client, session_id, "and again").status_code == 201
    forwarder.settle()

    [email] = standins.state.emails
    assert email["template_params"]["message"] == "stranded opener"
    assert len(standins.crm.rows()) == 1
    assert session_doc(db, session_id)["first_message_id"] == thread.message_id(1)


def test_a_first_message_being_written_right_now_is_not_taken_over(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    session_id = start(client, text=None)["session_id"]
    ref = db.collection("chat_sessions").document(session_id)
    now = dt.datetime.now(dt.UTC)
    ref.collection("messages").document(thread.message_id(1)).set(
        {
            "author": "visitor",
            "text": "in flight",
            "seq": 1,
            "created_at": now,
            "expire_at": now + dt.timedelta(days=730),
        }
    )
    ref.update({"message_count": 1, "last_seq": 1})

    assert say(client, session_id, "second").status_code == 201
    forwarder.settle()
    assert standins.state.emails == []
    assert "deliveries" not in session_doc(db, session_id)


# -- closed sessions and the cap -------------------------------------------------------


def test_a_closed_session_refuses_visitor_messages_with_409_but_can_be_read(
    client: Any, db: Any
) -> None:
    session_id = start(client)["session_id"]
    team.close(team.find(session_id))

    refused = say(client, session_id, "one more thing")
    assert refused.status_code == 409
    assert error(refused)["code"] == "session_closed"
    assert len(stored_messages(db, session_id)) == 1
    thread = poll(client, session_id).get_json()
    assert thread["status"] == "closed"
    assert [m["text"] for m in thread["messages"]] == [FIRST]


def test_a_post_that_read_the_session_open_is_refused_when_the_team_closed_it_meanwhile(
    client: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = start(client)["session_id"]
    reserve = endpoint.reserve_visitor_message

    def closed_in_between(*args: Any, **kwargs: Any) -> int:
        team.close(team.find(session_id))
        return reserve(*args, **kwargs)

    monkeypatch.setattr(endpoint, "reserve_visitor_message", closed_in_between)

    refused = say(client, session_id, "sent as the team closed the chat")

    assert refused.status_code == 409 and error(refused)["code"] == "session_closed"
    assert [m["text"] for m in stored_messages(db, session_id)] == [FIRST]
    assert session_doc(db, session_id)["message_count"] == 1


def test_posts_racing_a_close_are_stored_before_it_or_refused_never_stored_after_it(
    client: Any, db: Any, function_client: Any, configure: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(CHAT_RATE_LIMIT="1000/60")
    session_id = start(client)["session_id"]
    texts = [f"racing {n}" for n in range(24)]
    clients = {text: function_client("chat_message") for text in texts}
    # Every post has taken its place in the count, the session open, when the team
    # closes; half of them then write their message only once the close is answered
    # (the window a slow instance opens), the other half as fast as they can.
    reserved = threading.Semaphore(0)
    closed = threading.Event()
    held_back = set(texts[::2])
    write = endpoint.append

    def append_when_let(ref: Any, **kwargs: Any) -> Any:
        reserved.release()
        if kwargs["text"] in held_back:
            assert closed.wait(timeout=60)
        return write(ref, **kwargs)

    monkeypatch.setattr(endpoint, "append", append_when_let)
    thread_when_closed: list[str] = []

    def act(text: str | None) -> tuple[int, str]:
        if text is None:
            for _ in texts:
                assert reserved.acquire(timeout=60)
            assert team.close(team.find(session_id))
            # What the team sees the moment the close is answered: every message
            # committed before it.
            thread_when_closed.extend(m["id"] for m in stored_messages(db, session_id))
            closed.set()
            return 200, ""
        response = say(clients[text], session_id, text)
        body = response.get_json()
        return response.status_code, body["message"]["id"] if response.status_code == 201 else ""

    outcomes = dict(zip([*texts, None], at_once(act, [*texts, None]), strict=True))
    del outcomes[None]

    assert {status for status, _ in outcomes.values()} <= {201, 409}
    assert all(outcomes[text][0] == 409 for text in held_back), "written after the close"
    stored = stored_messages(db, session_id)
    # Nothing landed after the close was answered: not one silent 201.
    assert [m["id"] for m in stored] == thread_when_closed
    accepted = sorted(message for status, message in outcomes.values() if status == 201)
    seen_by_team = team.messages(team.find(session_id))  # type: ignore[arg-type]
    assert accepted == [m.id for m in seen_by_team if m.text != FIRST]
    session = session_doc(db, session_id)
    assert session["status"] == "closed"
    assert session["message_count"] == len(stored), "every stored message counted, no other"
    late = say(client, session_id, "after the close")
    assert late.status_code == 409 and error(late)["code"] == "session_closed"


def test_an_open_session_without_its_gate_gets_it_back_and_takes_the_message(
    client: Any, db: Any
) -> None:
    session_id = start(client)["session_id"]
    gate = db.collection("chat_sessions").document(session_id).collection("gate").document("open")
    assert gate.get().exists
    gate.delete()  # as for a session stored before sessions had gates

    assert say(client, session_id, "still here").status_code == 201
    assert gate.get().exists
    assert [m["text"] for m in stored_messages(db, session_id)] == [FIRST, "still here"]
    team.close(team.find(session_id))  # type: ignore[arg-type]
    assert not gate.get().exists
    assert say(client, session_id, "and now?").status_code == 409
    team.reopen(team.find(session_id))  # type: ignore[arg-type]
    assert gate.get().exists and say(client, session_id, "and now?").status_code == 201


def test_the_visitor_message_cap_answers_429_chat_limit_reached_and_stores_nothing_more(
    client: Any, db: Any, configure: Any
) -> None:
    configure(CHAT_MAX_MESSAGES="3")
    session_id = start(client)["session_id"]
    assert say(client, session_id, "two").status_code == 201
    assert say(client, session_id, "three").status_code == 201

    capped = say(client, session_id, "four")

    assert capped.status_code == 429
    err = error(capped)
    assert err["code"] == "chat_limit_reached"
    assert "message limit" in err["message"]
    assert int(capped.headers["Retry-After"]) >= 3600
    assert len(stored_messages(db, session_id)) == 3
    assert session_doc(db, session_id)["message_count"] == 3
    # The cap is on the visitor: the team can still answer, and the thread still reads.
    team.reply(team.find(session_id), "We will call you.")
    assert len(poll(client, session_id).get_json()["messages"]) == 4


# -- uniform 404s ----------------------------------------------------------------------

MALFORMED = ["x" * 129, "has/slash", "dots..", "__reserved__", "spa ce", "é" * 10]


@pytest.mark.parametrize("session_id", ["A" * 43, *MALFORMED])
def test_unknown_and_malformed_session_ids_get_the_same_404_everywhere(
    client: Any, db: Any, session_id: str
) -> None:
    unknown = say(client, "A" * 43, "hello")
    expected = (unknown.status_code, unknown.get_json())
    assert expected[0] == 404 and expected[1]["error"]["code"] == "session_not_found"

    for response in (
        say(client, session_id, "hello"),
        client.post("/", json={"session_id": session_id, "text": "hello"}),
        poll(client, session_id),
    ):
        assert (response.status_code, response.get_json()) == expected
    assert list(db.collection("chat_sessions").list_documents()) == []


@pytest.mark.parametrize("value", [42, None, "", ["a"]])
def test_a_session_id_that_is_not_a_string_is_404_like_any_other(
    client: Any, db: Any, value: Any
) -> None:
    response = client.post("/", json={"session_id": value, "text": "hello"})
    assert response.status_code == 404
    assert error(response)["code"] == "session_not_found"


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"page": "/"}, {"email": "is required"}),
        ({"email": "a@b.example"}, {"page": "is required"}),
        ({**START, "text": "x" * 4001}, {"text": "must be at most 4000 characters"}),
        ({**START, "page": "/" + "p" * 2048}, {"page": "must be at most 2048 characters"}),
        ({**START, "name": "Meera"}, {"name": "unknown field"}),
        ({"text": "hi"}, {"email": "is required", "page": "is required"}),
    ],
)
def test_an_invalid_start_is_400_with_fields_and_stores_nothing(
    client: Any, db: Any, body: dict[str, Any], fields: dict[str, str]
) -> None:
    response = client.post("/", json=body)
    assert response.status_code == 400
    err = error(response)
    assert err["code"] == "invalid_request" and err["fields"] == fields
    assert list(db.collection("chat_sessions").list_documents()) == []


def test_an_invalid_email_is_named_in_fields(client: Any, db: Any) -> None:
    response = client.post("/", json={**START, "email": "not-an-address"})
    assert response.status_code == 400
    assert error(response)["fields"]["email"].startswith("is not a valid email address")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"text": ""}, {"text": "is required"}),
        ({"text": "x" * 4001}, {"text": "must be at most 4000 characters"}),
        ({"text": "hi", "email": "a@b.example"}, {"email": "unknown field"}),
        ({"text": 7}, {"text": "must be a string"}),
    ],
)
def test_an_invalid_message_is_400_with_fields_and_stores_nothing(
    client: Any, db: Any, body: dict[str, Any], fields: dict[str, str]
) -> None:
    session_id = start(client, text=None)["session_id"]
    response = client.post("/", json=body, headers={"X-Chat-Session": session_id})
    assert response.status_code == 400
    assert error(response)["fields"] == fields
    assert stored_messages(db, session_id) == []


def test_a_session_id_in_body_and_header_that_differ_is_400(client: Any, db: Any) -> None:
    session_id = start(client, text=None)["session_id"]
    response = client.post(
        "/",
        json={"session_id": "B" * 43, "text": "hi"},
        headers={"X-Chat-Session": session_id},
    )
    assert response.status_code == 400
    assert "session_id" in error(response)["fields"]
    assert stored_messages(db, session_id) == []


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"after": "not-an-id"}, {"after": "is not a message id"}),
        ({"since": "00000001"}, {"since": "unknown field"}),
    ],
)
def test_a_poll_with_a_bad_query_is_400(
    client: Any, query: dict[str, str], fields: dict[str, str]
) -> None:
    session_id = start(client)["session_id"]
    response = client.get("/", headers={"X-Chat-Session": session_id}, query_string=query)
    assert response.status_code == 400
    assert error(response)["fields"] == fields


def test_a_poll_without_the_session_header_is_400(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 400
    assert error(response)["fields"] == {"X-Chat-Session": "is required"}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_get_405_with_allow(client: Any, method: str) -> None:
    response = client.open("/", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST, OPTIONS"


def test_preflight_allows_the_session_header_for_get_and_post(client: Any, configure: Any) -> None:
    configure(ALLOWED_ORIGINS="https://factoryopsai.com")
    response = client.options(
        "/",
        headers={
            "Origin": "https://factoryopsai.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-chat-session",
        },
    )
    assert response.status_code == 204
    assert {"GET", "POST"} <= {
        m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")
    }
    assert "X-Chat-Session" in response.headers["Access-Control-Allow-Headers"]


# -- idempotency -----------------------------------------------------------------------


def test_a_repeated_start_with_one_idempotency_key_returns_the_same_session(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    headers = {"Idempotency-Key": "start-41"}
    first = client.post("/", json={**START, "text": FIRST}, headers=headers)
    second = client.post("/", json={**START, "text": FIRST}, headers=headers)
    forwarder.settle()
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert len(list(db.collection("chat_sessions").list_documents())) == 1
    assert len(standins.state.emails) == 1


def test_a_repeated_start_from_another_client_is_a_conflict_and_never_gets_the_session_id(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    # The stored answer of a start rebuilds the session id, a bearer secret: whoever
    # learns a start's key and body (a shared proxy's log, a browser extension) must not
    # be handed the chat by sending them again.
    mine = {"Idempotency-Key": "start-bound", "X-Forwarded-For": "2001:db8:7:1::10"}
    first = client.post("/", json={**START, "text": FIRST}, headers=mine)
    assert first.status_code == 201
    session_id = first.get_json()["session_id"]

    theirs = {**mine, "X-Forwarded-For": "203.0.113.20"}
    stolen = client.post("/", json={**START, "text": FIRST}, headers=theirs)
    assert stolen.status_code == 409 and error(stolen)["code"] == "idempotency_conflict"
    assert session_id not in stolen.get_data(as_text=True)

    # The visitor's own retry is answered as before, from another address of its /64 too
    # (a client counted by its /64 for rate limits is the same client here).
    for address in ("2001:db8:7:1::10", "2001:db8:7:1::99"):
        again = client.post(
            "/", json={**START, "text": FIRST}, headers={**mine, "X-Forwarded-For": address}
        )
        assert again.status_code == 201 and again.get_json() == first.get_json()
    forwarder.settle()
    assert len(list(db.collection("chat_sessions").list_documents())) == 1
    assert len(standins.state.emails) == 1


def test_a_repeated_message_with_one_idempotency_key_is_stored_once(client: Any, db: Any) -> None:
    session_id = start(client)["session_id"]
    headers = {"X-Chat-Session": session_id, "Idempotency-Key": "msg-2"}
    first = client.post("/", json={"text": "again?"}, headers=headers)
    second = client.post("/", json={"text": "again?"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert len(stored_messages(db, session_id)) == 2
    changed = client.post("/", json={"text": "different"}, headers=headers)
    assert changed.status_code == 409
    assert error(changed)["code"] == "idempotency_conflict"


def test_a_stored_answer_keeps_ids_not_text_and_a_repeat_after_erasure_finds_nothing(
    client: Any, db: Any
) -> None:
    from factoryops import privacy

    headers = {"Idempotency-Key": "start-erased"}
    started = client.post("/", json={**START, "text": FIRST}, headers=headers)
    session_id = started.get_json()["session_id"]
    post_headers = {"X-Chat-Session": session_id, "Idempotency-Key": "msg-erased"}
    posted = client.post("/", json={"text": "our spindle model is X-200"}, headers=post_headers)
    assert posted.status_code == 201
    stored = json.dumps(
        [d.to_dict() for d in db.collection("idempotency_keys").stream()], default=str
    )
    for text in (FIRST, "spindle", session_id, START["email"].lower()):
        assert text.lower() not in stored.lower(), text

    privacy.delete(privacy.subject(START["email"]))

    again = client.post("/", json={"text": "our spindle model is X-200"}, headers=post_headers)
    assert again.status_code == 404 and error(again)["code"] == "session_not_found"
    restart = client.post("/", json={**START, "text": FIRST}, headers=headers)
    assert restart.status_code == 404 and error(restart)["code"] == "session_not_found"


def test_a_refused_message_does_not_use_up_its_idempotency_key(client: Any, db: Any) -> None:
    session_id = start(client)["session_id"]
    snap = db.collection("chat_sessions").document(session_id).get()
    team.close(thread.Session.from_snapshot(snap))
    headers = {"X-Chat-Session": session_id, "Idempotency-Key": "msg-closed"}
    assert client.post("/", json={"text": "hi"}, headers=headers).status_code == 409
    reopened = {"status": "open", SessionFields.CLOSES: 0}
    db.collection("chat_sessions").document(session_id).update(reopened)
    assert client.post("/", json={"text": "hi"}, headers=headers).status_code == 201


# -- rate limits -----------------------------------------------------------------------


def test_rate_limit_429_after_n_requests_from_one_ip_and_another_ip_unaffected(
    client: Any, db: Any, configure: Any
) -> None:
    configure(CHAT_RATE_LIMIT="3/60")
    one = {"X-Forwarded-For": "198.51.100.7"}
    session_id = start(client, headers=one)["session_id"]
    assert say(client, session_id, "two", headers=one).status_code == 201
    assert say(client, session_id, "three", headers=one).status_code == 201
    limited = say(client, session_id, "four", headers=one)
    assert limited.status_code == 429
    assert error(limited)["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    other = {"X-Forwarded-For": "203.0.113.9"}
    assert say(client, session_id, "from elsewhere", headers=other).status_code == 201


def test_polls_have_their_own_budget_so_a_reader_is_never_refused_by_their_own_posts(
    client: Any, db: Any, configure: Any
) -> None:
    configure(CHAT_RATE_LIMIT="2/60", CHAT_POLL_RATE_LIMIT="5/60")
    one = {"X-Forwarded-For": "198.51.100.8"}
    session_id = start(client, headers=one)["session_id"]
    assert say(client, session_id, "two", headers=one).status_code == 201
    assert say(client, session_id, "three", headers=one).status_code == 429, "posts are spent"
    reads = [poll(client, session_id, headers=one).status_code for _ in range(6)]
    assert reads == [200, 200, 200, 200, 200, 429], "polls count only against polls"


# -- the session id stays a secret -------------------------------------------------------


def test_session_id_and_personal_data_never_reach_a_log_line_or_a_stored_field(
    client: Any, db: Any, standins: Any, configure: Any, captured_logs: Any
) -> None:
    configure(CHAT_RATE_LIMIT="8/60", CHAT_POLL_RATE_LIMIT="3/60", CHAT_MAX_MESSAGES="4")
    ip = {"X-Forwarded-For": "198.51.100.77"}
    body = client.post(
        "/", json={**START, "text": FIRST}, headers={**ip, "Idempotency-Key": "idem-start-1"}
    ).get_json()
    session_id = body["session_id"]
    client.post(
        "/", json={**START, "text": FIRST}, headers={**ip, "Idempotency-Key": "idem-start-1"}
    )
    headers = {**ip, "X-Chat-Session": session_id}
    client.post("/", json={"text": "second line"}, headers={**headers, "Idempotency-Key": "k2"})
    standins.state.fail["emailjs"] = "500"
    standins.crm.fail("500")
    other = start(client, text=None, headers=ip, email="other@plant.example")["session_id"]
    say(client, other, "opening on the other session", headers=ip)
    poll(client, session_id, after=body["messages"][0]["id"])
    say(client, session_id, "third")
    say(client, session_id, "fourth")
    say(client, session_id, "fifth: over the cap")
    say(client, session_id + "x", "unknown session")
    team.reply(team.find(session_id), "team answer")
    team.close(team.find(session_id))
    say(client, session_id, "after close")
    for _ in range(4):
        poll(client, session_id)  # past the rate limit
    standins.state.fail.clear()
    standins.crm.fail(None)
    db.collection("chat_sessions").document(other).update(
        {"deliveries.email.due_at": dt.datetime.now(dt.UTC)}
    )
    deliveries.run_due(DELIVERY_SOURCES)

    text = captured_logs.getvalue()
    # The capture works, and saw the refusals as well as the successes.
    for expected in (
        "chat message stored",
        "delivery attempt",
        "rate limit reached",
        "chat message cap reached",
    ):
        assert expected in text, expected
    secrets = [
        session_id,
        other,
        "Meera",
        "meera.iyer",
        "Foundry",
        "CNC line",
        "second line",
        "team answer",
        "198.51.100.77",
        "idem-start-1",
        "/solutions/downtime",
    ]
    for secret in secrets:
        assert secret.lower() not in text.lower(), secret
    for line in text.splitlines():
        assert json.loads(line)["severity"]

    documents = every_document(db)
    assert any(path.startswith("idempotency_keys/") for path, _ in documents)
    for path, fields in documents:
        for sid in (session_id, other):
            assert sid not in fields, path
            if sid in path:
                assert path.startswith(f"chat_sessions/{sid}"), path

"""`siteadmin chats` against the real emulator, through click's CliRunner: the team reads
a visitor's chat, replies, and closes it; the visitor's next poll sees it all."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factoryops.cli import main

from tests.conftest import SettledClient

pytestmark = [
    pytest.mark.emulator,
    pytest.mark.node,
    pytest.mark.usefixtures("db", "standins", "forwarder"),
]

FUNCTION = "chat_message"
"""`settled_client`'s function: each post returns once what it stored is forwarded."""

START = {"email": "ravi@press-shop.example", "page": "/pricing", "text": "Do you support Fanuc?"}


def siteadmin(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def started(client: SettledClient, **overrides: str) -> tuple[str, str]:
    """A visitor's session, as (session id, lead id)."""
    response = client.post("/", json={**START, **overrides})
    assert response.status_code == 201
    session_id = response.get_json()["session_id"]
    listed = json.loads(siteadmin("chats", "list", "--json").output)
    email = overrides.get("email", START["email"])
    [lead_id] = [s["lead_id"] for s in listed if s["email"] == email]
    return session_id, lead_id


def poll(client: SettledClient, session_id: str, after: str | None = None) -> dict[str, Any]:
    query = {"after": after} if after else {}
    response = client.get("/", headers={"X-Chat-Session": session_id}, query_string=query)
    assert response.status_code == 200
    return dict(response.get_json())


def test_a_reply_appears_in_the_visitors_next_poll_with_author_team(
    settled_client: SettledClient,
) -> None:
    session_id, lead_id = started(settled_client)
    seen = poll(settled_client, session_id)["messages"]

    result = siteadmin("chats", "reply", lead_id, "Yes, Fanuc 0i and 31i. Which one do you run?")

    assert result.exit_code == 0, result.output
    assert lead_id in result.output
    new = poll(settled_client, session_id, after=seen[-1]["id"])["messages"]
    assert [(m["author"], m["text"]) for m in new] == [
        ("team", "Yes, Fanuc 0i and 31i. Which one do you run?")
    ]


def test_reply_json_prints_the_stored_message(settled_client: SettledClient) -> None:
    session_id, lead_id = started(settled_client)
    result = siteadmin("chats", "reply", lead_id, "Hello from the team", "--json")
    assert result.exit_code == 0
    printed = json.loads(result.output)
    assert printed["lead_id"] == lead_id
    assert printed["message"]["author"] == "team"
    assert printed["message"]["text"] == "Hello from the team"
    assert printed["message"] in poll(settled_client, session_id)["messages"]


def test_list_shows_every_session_newest_activity_first_and_open_filters(
    settled_client: SettledClient,
) -> None:
    _, older = started(settled_client)
    assert siteadmin("chats", "close", older).exit_code == 0  # a close is activity too
    _, newer = started(settled_client, email="other@plant.example")
    client_sessions = json.loads(siteadmin("chats", "list", "--json").output)
    assert [s["lead_id"] for s in client_sessions] == [newer, older]
    assert client_sessions[0]["status"] == "open" and client_sessions[1]["status"] == "closed"
    assert set(client_sessions[0]) == {
        "lead_id",
        "status",
        "email",
        "page",
        "visitor_messages",
        "last_activity_at",
    }

    only_open = json.loads(siteadmin("chats", "list", "--open", "--json").output)
    assert [s["lead_id"] for s in only_open] == [newer]

    table = siteadmin("chats", "list").output
    assert table.splitlines()[0].split()[:2] == ["LEAD_ID", "STATUS"]
    assert newer in table and older in table


def test_list_pages_as_the_console_does_and_prints_how_to_go_on(
    settled_client: SettledClient,
) -> None:
    leads = [started(settled_client, email=f"v{n}@plant.example")[1] for n in range(3)]

    first = siteadmin("chats", "list", "--open", "--limit", "2", "--json")
    assert [s["lead_id"] for s in json.loads(first.stdout)] == leads[:2], "longest waiting first"
    [hint] = first.stderr.splitlines()
    assert hint.startswith("more: siteadmin chats list --open --cursor ")
    cursor = hint.rsplit(" ", 1)[1]
    rest = siteadmin("chats", "list", "--open", "--json", "--cursor", cursor)
    assert [s["lead_id"] for s in json.loads(rest.stdout)] == leads[2:] and rest.stderr == ""

    refused = CliRunner().invoke(main, ["chats", "list", "--cursor", cursor])
    assert refused.exit_code == 2 and "--cursor" in refused.output, "a cursor of another view"


def test_list_with_no_sessions_says_none(db: Any) -> None:
    result = siteadmin("chats", "list")
    assert result.exit_code == 0 and "(none)" in result.output


def test_show_prints_the_session_and_its_thread_oldest_first(settled_client: SettledClient) -> None:
    session_id, lead_id = started(settled_client)
    settled_client.post(
        "/", json={"text": "We have 12 machines."}, headers={"X-Chat-Session": session_id}
    )
    siteadmin("chats", "reply", lead_id, "Thanks, noted.")

    shown = json.loads(siteadmin("chats", "show", lead_id, "--json").output)
    assert shown["lead_id"] == lead_id
    assert shown["email"] == START["email"] and shown["page"] == "/pricing"
    assert shown["visitor_messages"] == 2
    assert shown["deliveries"] == {"email": "sent", "crm": "sent"}
    assert [(m["author"], m["text"]) for m in shown["thread"]] == [
        ("visitor", "Do you support Fanuc?"),
        ("visitor", "We have 12 machines."),
        ("team", "Thanks, noted."),
    ]

    text = siteadmin("chats", "show", lead_id).output
    assert text.index("Do you support Fanuc?") < text.index("Thanks, noted.")
    assert "crm sent, email sent" in text


def test_close_refuses_later_visitor_messages_but_the_thread_still_reads(
    settled_client: SettledClient,
) -> None:
    session_id, lead_id = started(settled_client)

    closed = siteadmin("chats", "close", lead_id, "--json")

    assert closed.exit_code == 0
    assert json.loads(closed.output) == {"lead_id": lead_id, "status": "closed", "changed": True}
    refused = settled_client.post(
        "/", json={"text": "hello?"}, headers={"X-Chat-Session": session_id}
    )
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "session_closed"
    thread = poll(settled_client, session_id)
    assert thread["status"] == "closed" and len(thread["messages"]) == 1
    again = siteadmin("chats", "close", lead_id)
    assert again.exit_code == 0 and "already closed" in again.output


def test_the_team_can_still_reply_to_a_closed_session_and_is_told_it_is_closed(
    settled_client: SettledClient,
) -> None:
    session_id, lead_id = started(settled_client)
    siteadmin("chats", "close", lead_id)
    result = CliRunner().invoke(main, ["chats", "reply", lead_id, "Closing note: see email."])
    assert result.exit_code == 0
    assert "closed" in result.output
    assert poll(settled_client, session_id)["messages"][-1]["author"] == "team"


def test_reopen_lets_the_visitor_write_again_and_a_signed_reply_carries_the_name(
    settled_client: SettledClient,
) -> None:
    session_id, lead_id = started(settled_client)
    siteadmin("chats", "close", lead_id)

    reopened = siteadmin("chats", "reopen", lead_id, "--json")

    assert json.loads(reopened.output) == {"lead_id": lead_id, "status": "open", "changed": True}
    written = settled_client.post(
        "/", json={"text": "One more thing"}, headers={"X-Chat-Session": session_id}
    )
    assert written.status_code == 201
    again = siteadmin("chats", "reopen", lead_id)
    assert again.exit_code == 0 and "already open" in again.output
    assert siteadmin("chats", "reply", lead_id, "Noted.", "--name", "Ravi").exit_code == 0
    assert poll(settled_client, session_id)["messages"][-1]["name"] == "Ravi"


@pytest.mark.parametrize("command", ["show", "close", "reopen"])
def test_an_unknown_session_is_a_clear_error(db: Any, command: str) -> None:
    result = CliRunner().invoke(main, ["chats", command, "0123456789abcdef"])
    assert result.exit_code == 1
    assert "no chat session" in result.output


def test_reply_to_an_unknown_session_stores_nothing(db: Any) -> None:
    result = CliRunner().invoke(main, ["chats", "reply", "0123456789abcdef", "hello"])
    assert result.exit_code == 1
    assert list(db.collection("chat_sessions").list_documents()) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [("   ", "is required"), ("x" * 4001, "must be at most 4000 characters")],
)
def test_an_empty_or_over_long_reply_is_refused_before_anything_is_stored(
    settled_client: SettledClient, db: Any, text: str, problem: str
) -> None:
    session_id, lead_id = started(settled_client)
    result = CliRunner().invoke(main, ["chats", "reply", lead_id, text])
    assert result.exit_code == 2
    assert problem in result.output
    assert len(poll(settled_client, session_id)["messages"]) == 1


def test_a_session_can_also_be_named_by_its_session_id(settled_client: SettledClient) -> None:
    session_id, lead_id = started(settled_client)
    shown = json.loads(siteadmin("chats", "show", session_id, "--json").output)
    assert shown["lead_id"] == lead_id


def test_no_command_ever_prints_the_session_id(settled_client: SettledClient) -> None:
    session_id, lead_id = started(settled_client)
    outputs = [
        siteadmin("chats", "list").output,
        siteadmin("chats", "list", "--json").output,
        siteadmin("chats", "show", lead_id).output,
        siteadmin("chats", "show", lead_id, "--json").output,
        siteadmin("chats", "reply", lead_id, "hi", "--json").output,
        siteadmin("chats", "close", lead_id, "--json").output,
    ]
    for output in outputs:
        assert session_id not in output


def test_chats_is_listed_in_siteadmin_help(db: Any) -> None:
    result = siteadmin("--help")
    assert "chats" in result.output
    assert "reply" in siteadmin("chats", "--help").output


def test_close_with_a_transcript_schedules_the_thread_by_email(
    settled_client: SettledClient, configure: Any, db: Any
) -> None:
    configure(EMAILJS_REPLY_TEMPLATE_ID="template_reply", TEAM_INBOX="team@factoryopsai.example")
    session_id, lead_id = started(settled_client)

    assert siteadmin("chats", "close", lead_id, "--transcript").exit_code == 0

    stored = db.collection("chat_sessions").document(session_id).get().to_dict()
    assert stored["deliveries"]["transcript"]["state"] == "pending"
    listed = json.loads(siteadmin("deliveries", "list", "--json", "--state", "pending").output)
    assert {(d["kind"], d["channel"], d["id"]) for d in listed} >= {
        ("reply", "transcript", lead_id)
    }

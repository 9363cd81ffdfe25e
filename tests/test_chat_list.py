"""The team's inbox on the real emulator (chat/inbox.py): the open view's order (awaiting
a reply first, longest-waiting first, then by last activity), the cursor across the two
queries, search, changed_after, the counts, and what a page costs among 2,000 chats."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from factoryops import grants, store
from factoryops.chat import inbox, team, thread
from factoryops.cli import main as siteadmin

from devstack import crowd

pytestmark = pytest.mark.emulator


@pytest.fixture
def chat(db: Any, configure: Any, function_client: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The chat function, with a clock a second on at every reading, so that no two
    visitor messages share a millisecond and the order under test is the only one."""
    configure(CHAT_RATE_LIMIT="100000/60", CONTACT_RATE_LIMIT="100000/60")
    began = store.now()
    ticks = itertools.count()
    monkeypatch.setattr(store, "now", lambda: began + dt.timedelta(seconds=next(ticks)))
    return function_client("chat_message")


def start(chat: Any, email: str, text: str | None = "Hello") -> tuple[str, str]:
    """A visitor's chat, as (session id, lead id)."""
    body = {"email": email, "page": "/pricing", **({"text": text} if text else {})}
    response = chat.post("/", json=body)
    assert response.status_code == 201, response.get_json()
    session_id = response.get_json()["session_id"]
    return session_id, found(session_id).lead_id


def say(chat: Any, session_id: str, text: str = "Anyone there?") -> None:
    response = chat.post("/", json={"text": text}, headers={"X-Chat-Session": session_id})
    assert response.status_code == 201, response.get_json()


def found(handle: str) -> thread.Session:
    session = team.find(handle)
    assert session is not None
    return session


def answer(lead_id: str, text: str = "On it.", name: str | None = None) -> None:
    team.reply(found(lead_id), text, name=name)


def leads(view: str = "open", **kwargs: Any) -> list[str]:
    return [s.lead_id for s in inbox.page(view, **kwargs).sessions]


def every_page(view: str, limit: int) -> Iterator[inbox.Page]:
    after = None
    while True:
        listed = inbox.page(view, limit=limit, after=after)
        yield listed
        if listed.next is None:
            return
        after = inbox.Cursor.decode(listed.next, view)


# -- the order ------------------------------------------------------------------------------


def test_the_open_view_lists_the_longest_waiting_first_then_the_others_by_last_activity(
    chat: Any,
) -> None:
    _, first = start(chat, "first@plant.example")
    _, answered = start(chat, "answered@plant.example")
    _, second = start(chat, "second@plant.example")
    _, silent = start(chat, "silent@plant.example", text=None)
    _, closed = start(chat, "closed@plant.example")
    answer(answered)
    team.close(found(closed))

    assert leads() == [first, second, answered, silent]
    awaiting = [s.awaiting_reply for s in inbox.page("open").sessions]
    assert awaiting == [True, True, False, False]
    assert leads("closed") == [closed]
    assert leads("all") == [closed, answered, silent, second, first]


def test_a_reply_moves_a_chat_out_of_awaiting_and_its_next_message_puts_it_back_last(
    chat: Any,
) -> None:
    first_session, first = start(chat, "first@plant.example")
    second_session, second = start(chat, "second@plant.example")
    _, third = start(chat, "third@plant.example")
    assert leads() == [first, second, third]

    answer(first)
    assert leads() == [second, third, first]

    say(chat, first_session, "One more question")
    assert leads() == [second, third, first], "it waits again, since now"
    began = found(second).awaiting_since
    say(chat, second_session, "Still here")
    assert leads() == [second, third, first], "a later message keeps the wait's start"
    assert found(second).awaiting_since == began


# -- the cursor -----------------------------------------------------------------------------


def test_the_cursor_walks_every_chat_exactly_once_across_the_two_parts(chat: Any) -> None:
    started = [start(chat, f"visitor{n}@plant.example") for n in range(8)]
    for _, lead in started[::3]:
        answer(lead)  # 3 answered, 5 awaiting
    whole = leads(limit=inbox.PAGE_MAX)
    assert len(whole) == 8

    for size in (1, 2, 3, 5, 8):
        pages = list(every_page("open", size))
        walked = [s.lead_id for page in pages for s in page.sessions]
        assert walked == whole, size
        assert all(len(page.sessions) <= size for page in pages)
        assert pages[-1].next is None
    for view in ("closed", "all"):
        assert [s.lead_id for p in every_page(view, 3) for s in p.sessions] == leads(view)


def test_a_page_from_a_cursor_skips_nothing_when_the_first_part_ends_on_a_page_boundary(
    chat: Any,
) -> None:
    awaiting = [start(chat, f"waiting{n}@plant.example")[1] for n in range(2)]
    quiet = [start(chat, f"quiet{n}@plant.example", text=None)[1] for n in range(2)]
    first = inbox.page("open", limit=2)
    assert [s.lead_id for s in first.sessions] == awaiting and first.next is not None
    after = inbox.Cursor.decode(first.next, "open")
    assert [s.lead_id for s in inbox.page("open", limit=2, after=after).sessions] == quiet[::-1]


# -- search ---------------------------------------------------------------------------------


def test_search_finds_chats_by_address_prefix_name_word_and_company_word(
    chat: Any, function_client: Any
) -> None:
    contact = function_client("contact_submit")
    person = {"name": "Meera Iyer", "email": "Meera@Foundry.example", "company": "Pune Castings"}
    assert contact.post("/", json={**person, "message": "Our line stops"}).status_code == 201
    grants.create(
        lead="Ravi K", sections="pricing", email="ravi@mill.example", company="Nashik Forge"
    )
    _, meera = start(chat, "meera@foundry.example")
    _, ravi = start(chat, "ravi@mill.example")
    _, other = start(chat, "someone@else.example")

    def searched(text: str) -> list[str]:
        return [s.lead_id for s in inbox.search(text)]

    assert searched("meera@f") == [meera]
    assert searched("MEERA@FOUNDRY.EXAMPLE") == [meera]
    assert searched("iyer") == [meera], "a word of a contact form's name"
    assert searched("castings") == [meera], "a word of its company"
    assert searched("Pune castings") == [meera], "every word, in any case"
    assert searched("forge") == [ravi], "a grant's company"
    assert searched("ravi") == [ravi], "a grant's lead, or the address's start"
    assert searched("some") == [other], "one word is also an address's start"
    assert searched("nashik castings") == [], "no one person has both words"
    assert searched("nobody@") == []


def test_search_lists_those_awaiting_a_reply_first_then_by_last_activity(chat: Any) -> None:
    _, answered = start(chat, "asha.one@plant.example")
    _, waiting = start(chat, "asha.two@plant.example")
    _, later = start(chat, "asha.three@plant.example")
    answer(answered)
    assert [s.lead_id for s in inbox.search("asha")] == [waiting, later, answered]


def test_search_by_a_corrected_name_finds_the_new_words_and_not_the_old(
    chat: Any, function_client: Any
) -> None:
    from factoryops import privacy

    contact = function_client("contact_submit")
    person = {"name": "Meera Iyer", "email": "meera@foundry.example", "company": "Pune Castings"}
    assert contact.post("/", json={**person, "message": "Hello"}).status_code == 201
    _, meera = start(chat, "meera@foundry.example")
    address = privacy.subject("meera@foundry.example")
    privacy.correct(address, privacy.correction(name="Meera Rao", company="Satara Metals"))

    assert [s.lead_id for s in inbox.search("rao")] == [meera]
    assert [s.lead_id for s in inbox.search("satara")] == [meera]
    assert inbox.search("iyer") == [] and inbox.search("castings") == []


# -- changes and counts ---------------------------------------------------------------------


def test_changed_after_returns_only_the_chats_changed_since_and_a_close_counts(
    chat: Any,
) -> None:
    _, first = start(chat, "first@plant.example")
    _, second = start(chat, "second@plant.example")
    _, third = start(chat, "third@plant.example")
    since = found(third).last_activity_at
    assert since is not None
    assert inbox.changed(since) == []

    team.close(found(first))
    answer(second)
    assert [s.lead_id for s in inbox.changed(since)] == [second, first]
    assert [s.status for s in inbox.changed(since)] == ["open", "closed"]


def test_the_counts_agree_with_the_list(chat: Any) -> None:
    sessions = [start(chat, f"visitor{n}@plant.example") for n in range(5)]
    start(chat, "silent@plant.example", text=None)
    answer(sessions[0][1])
    team.close(found(sessions[1][1]))

    listed = inbox.page("open", limit=inbox.PAGE_MAX).sessions
    counted = inbox.counts()
    assert counted.as_dict() == {
        "open": len(listed),
        "awaiting_reply": sum(s.awaiting_reply for s in listed),
    }
    assert counted.as_dict() == {"open": 5, "awaiting_reply": 3}


# -- what each chat shows -------------------------------------------------------------------


def test_each_chat_shows_its_newest_message_and_the_person_a_form_or_grant_names(
    chat: Any, function_client: Any
) -> None:
    contact = function_client("contact_submit")
    for name, company in (("Meera Iyer", ""), ("Meera R. Iyer", "")):
        body = {"name": name, "email": "meera@foundry.example", "company": company}
        assert contact.post("/", json={**body, "message": "Hello"}).status_code == 201
    address = "meera@foundry.example"
    grants.create(lead="Meera", sections="pricing", email=address, company="Foundry")
    long_line = "Our CNC line " + "stops " * 40
    session_id, meera = start(chat, "meera@foundry.example", text=f"{long_line}\nSecond line")
    _, silent = start(chat, "silent@plant.example", text=None)

    [waiting, quiet] = inbox.summaries(inbox.page("open").sessions)
    assert waiting["lead_id"] == meera and quiet["lead_id"] == silent
    assert waiting["preview"]["author"] == "visitor" and waiting["preview"]["name"] is None
    assert waiting["preview"]["text"] == long_line.strip()[:140]
    assert waiting["person"] == {"name": "Meera R. Iyer", "company": "Foundry"}
    assert waiting["awaiting_since"] is not None and waiting["created_at"] is not None
    assert quiet["preview"] is None and quiet["person"] is None
    assert quiet["awaiting_since"] is None

    answer(meera, "We read Fanuc and Siemens.", name="Priya")
    [answered, _] = inbox.summaries(inbox.page("all").sessions)
    assert answered["preview"]["author"] == "team" and answered["preview"]["name"] == "Priya"
    assert answered["preview"]["text"] == "We read Fanuc and Siemens."
    assert answered["awaiting_reply"] is False and answered["awaiting_since"] is None
    [message] = [m for m in thread.read(found(session_id).ref) if m.author == "team"]
    assert message.name == "Priya"


# -- at scale -------------------------------------------------------------------------------


def test_among_2000_open_chats_the_one_awaiting_a_reply_comes_first_for_a_page_of_reads(
    chat: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.cloud.firestore_v1.query import Query

    # The one real lead wrote first of all and waits; 2,000 others are answered, each
    # more recently active than the lead.
    session_id, lead = start(chat, "lead@plant.example", text="Can you quote for 40 machines?")
    crowd.answered_chats(db, found(lead), 2000, step=dt.timedelta(minutes=1))

    read: list[int] = []
    real_stream = Query.stream

    def counted(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for snap in real_stream(self, *args, **kwargs):
            read.append(1)
            yield snap

    monkeypatch.setattr(Query, "stream", counted)

    first_page = inbox.page("open", limit=inbox.PAGE_DEFAULT)
    assert first_page.sessions[0].lead_id == lead and first_page.sessions[0].awaiting_reply
    assert len(first_page.sessions) == inbox.PAGE_DEFAULT
    assert len(read) <= inbox.PAGE_DEFAULT
    assert [s.lead_id for s in first_page.sessions[1:3]] == [f"{1999:016x}", f"{1998:016x}"]

    read.clear()
    after = inbox.Cursor.decode(first_page.next or "", "open")
    second_page = inbox.page("open", limit=inbox.PAGE_MAX, after=after)
    assert len(second_page.sessions) == len(read) == inbox.PAGE_MAX
    assert second_page.sessions[0].lead_id == f"{1999 - 49:016x}"

    read.clear()
    assert inbox.counts().as_dict() == {"open": 2001, "awaiting_reply": 1}
    assert read == [], "counted by aggregation, no chat read"
    assert session_id not in (first_page.next or "")


# -- records stored before the inbox ------------------------------------------------------


def test_backfill_brings_chats_stored_before_the_inbox_into_its_views_once(db: Any) -> None:
    at = store.now() - dt.timedelta(days=1)
    for session_id, lead_id, author in (
        ("old-a", "00000000000000a1", "visitor"),
        ("old-b", "00000000000000b2", "team"),
    ):
        # As the code stored a session before the inbox's fields.
        db.collection("chat_sessions").document(session_id).set(
            {
                "email": f"{session_id}@plant.example",
                "email_key": f"{session_id}@plant.example",
                "page": "/",
                "status": "open",
                "lead_id": lead_id,
                "created_at": at,
                "last_activity_at": at,
                "last_author": author,
                "message_count": 1,
                "last_seq": 1,
                "expire_at": at + dt.timedelta(days=730),
            }
        )
    db.collection("contact_submissions").document("old-contact").set(
        {
            "name": "Asha Rao",
            "email": "old-a@plant.example",
            "email_key": "old-a@plant.example",
            "company": "Pune Works",
            "message": "Hello",
            "created_at": at,
            "expire_at": at,
        }
    )
    assert leads() == [] and inbox.search("pune") == []

    def backfill(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(siteadmin, ["chats", "backfill", "--json", *args])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    lacking = {"chat_sessions": 2, "contact_submissions": 1, "access_grants": 0}
    assert backfill("--dry-run") == {**lacking, "dry_run": True}
    assert leads() == []
    assert backfill() == {**lacking, "dry_run": False}

    assert leads() == ["00000000000000a1", "00000000000000b2"]
    assert [s.awaiting_reply for s in inbox.page("open").sessions] == [True, False]
    assert [s.lead_id for s in inbox.search("pune")] == ["00000000000000a1"]
    assert inbox.counts().as_dict() == {"open": 2, "awaiting_reply": 1}
    nothing = {"chat_sessions": 0, "contact_submissions": 0, "access_grants": 0}
    assert backfill() == {**nothing, "dry_run": False}


def test_backfill_leaves_a_chat_written_between_its_read_and_its_write_as_that_write_left_it(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factoryops import backfill

    at = store.now() - dt.timedelta(days=1)
    ref = db.collection("chat_sessions").document("old-c")
    ref.set(
        {
            "status": "open",
            "lead_id": "00000000000000c3",
            "last_author": "visitor",
            "last_activity_at": at,
            "expire_at": at + dt.timedelta(days=730),
        }
    )
    read_every = backfill._every

    def then_a_team_reply(collection: str, fields: list[str]) -> Any:
        for snap in read_every(collection, fields):
            yield snap
            if snap.id == "old-c":  # the team answers while the backfill runs
                ref.update({"awaiting_since": None, "last_author": "team"})

    monkeypatch.setattr(backfill, "_every", then_a_team_reply)
    filled = backfill.run()

    assert filled.chat_sessions == 0, "the reply filled it; the backfill wrote nothing"
    assert ref.get().to_dict()["awaiting_since"] is None


def test_a_reopened_chat_returns_to_its_place_and_its_reopening_is_a_change(chat: Any) -> None:
    _, waiting = start(chat, "waiting@plant.example")
    _, later = start(chat, "later@plant.example")
    team.close(found(waiting))
    assert leads() == [later]
    since = found(waiting).last_activity_at  # its close
    assert since is not None and inbox.changed(since) == []

    assert team.reopen(found(waiting))

    assert leads() == [waiting, later], "its visitor still waits, since before the close"
    assert [s.lead_id for s in inbox.changed(since)] == [waiting]
    assert inbox.counts().as_dict() == {"open": 2, "awaiting_reply": 2}

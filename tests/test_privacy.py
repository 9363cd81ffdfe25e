"""`siteadmin privacy export|correct|delete` across every store: contact submissions,
chat sessions with their messages, access grants and CRM rows (through the CRM web app,
the real Code.gs), matching the address case-insensitively."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from click.testing import CliRunner
from factoryops import privacy
from factoryops.cli import main as siteadmin

from tests import test_team_console as team_console
from tests.test_retention import (
    HEADER,
    ago,
    ids,
    message_ids,
    row,
    seed_contact,
    seed_grant,
    seed_rows,
    seed_session,
)
from tests.test_team_console import VISITOR, call

pytestmark = [pytest.mark.emulator, pytest.mark.node]

# The team console, signed in, to act as the team does (its own tests' fixtures).
google_key, token, console, visitor = (
    team_console.google_key,
    team_console.token,
    team_console.console,
    team_console.visitor,
)

ASHA = "Asha.Rao@Plant.example"
ASHA_KEY = "asha.rao@plant.example"
OTHER = "ravi@other.example"


@pytest.fixture
def person(db: Any, standins: Any) -> None:
    """Asha in every store, under several spellings of her address, and Ravi beside her."""
    seed_contact(db, "asha-1", created_at=ago(10), email=ASHA)
    seed_contact(db, "asha-2", created_at=ago(5), email="ASHA.RAO@plant.example")
    seed_contact(db, "ravi-1", created_at=ago(5), email=OTHER, name="Ravi Iyer", company="Other")
    seed_session(
        db,
        "secret-session-asha",
        lead_id="lead-asha",
        last_activity_at=ago(1),
        messages=[ago(2), ago(1)],
    )
    seed_session(
        db,
        "secret-session-ravi",
        lead_id="lead-ravi",
        last_activity_at=ago(1),
        messages=[ago(1)],
        email=OTHER,
    )
    seed_grant(db, "grant-asha", created_at=ago(3))
    seed_grant(db, "grant-ravi", created_at=ago(3), email=OTHER)
    # Made with --no-email: its lead label names no person, so no request about one finds it.
    seed_grant(db, "grant-no-person", created_at=ago(3), email=None, lead="Trade fair stand")
    seed_rows(
        standins,
        [
            HEADER,
            row("asha-1", ago(10), email=ASHA),
            row("ravi-1", ago(5), email=OTHER, name="Ravi Iyer"),
            row("asha-2", ago(5), email="ASHA.RAO@plant.example"),
            row("lead-asha", ago(2), source="chat", email=ASHA),
            # A row whose email cell was mistyped still belongs to her record.
            row("lead-asha", ago(1), source="chat", email="asha.rao@plant.exmple"),
            row("ravi-2", ago(1), email=OTHER, name="Ravi Iyer"),
        ],
    )


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(siteadmin, ["privacy", *args], input=input)


def requests_made(db: Any) -> list[dict[str, Any]]:
    return [d.to_dict() for d in db.collection("privacy_requests").stream()]


def sheet_ids(standins: Any) -> list[str]:
    return [r[2] for r in standins.crm.rows()]


# -- export ------------------------------------------------------------------------------


def test_export_gathers_every_record_about_the_address_from_every_store(
    db: Any, standins: Any, person: None
) -> None:
    result = run("export", "--email", "  asha.RAO@plant.EXAMPLE ")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["email"] == ASHA_KEY
    assert sorted(c["id"] for c in data["contact_submissions"]) == ["asha-1", "asha-2"]
    assert data["contact_submissions"][0]["message"].startswith("private message")
    [chat] = data["chat_sessions"]
    assert chat["lead_id"] == "lead-asha"
    assert [m["text"] for m in chat["messages"]] == [
        "chat text 1 of secret-session-asha",
        "chat text 2 of secret-session-asha",
    ]
    assert [g["id"] for g in data["access_grants"]] == ["grant-asha"]
    assert sorted(r["record_id"] for r in data["crm_rows"]) == [
        "asha-1",
        "asha-2",
        "lead-asha",
        "lead-asha",
    ]
    assert "Ravi" not in result.output and OTHER not in result.output


def test_export_and_delete_end_by_handing_over_what_lies_outside_with_a_mailbox_search(
    db: Any, standins: Any, person: None
) -> None:
    search = '"asha.rao@plant.example" OR "asha-1" OR "asha-2" OR "lead-asha"'
    exported = run("export", "--email", ASHA)
    assert json.loads(exported.stdout)["outside_this_system"]["mailbox_search"] == search
    assert "Outside this system" in exported.stderr and search in exported.stderr
    assert "add what it finds to the answer" in exported.stderr
    assert "EmailJS's send history" in exported.stderr

    assert "version history" in json.loads(exported.stdout)["outside_this_system"]["sheet_history"]

    deleted = run("delete", "--email", ASHA, "--yes", "--json")
    assert json.loads(deleted.stdout)["contact_submissions"] == 2, "stdout stays the result"
    assert search in deleted.stderr and "delete what it finds" in deleted.stderr
    # Sheets keeps the deleted rows in its version history, which only a copy leaves behind.
    handover = " ".join(deleted.stderr.split())
    assert "CRM sheet's version history" in handover
    assert "File → Make a copy (a copy has no history" in handover
    assert "CRM_APPS_SCRIPT_URL" in handover and "Drive's trash" in handover


def test_correct_ends_by_saying_the_mailbox_copies_keep_the_old_values_with_the_search(
    db: Any, standins: Any, person: None
) -> None:
    search = '"asha.rao@plant.example" OR "asha-1" OR "asha-2" OR "lead-asha"'
    corrected = run("correct", "--email", ASHA, "--name", "Asha R. Rao", "--json")

    assert json.loads(corrected.stdout)["contact_submissions"] == 2, "stdout stays the result"
    assert "Outside this system" in corrected.stderr and search in corrected.stderr
    assert "keep the old values" in corrected.stderr
    assert "version history" in corrected.stderr and "Make a copy" in corrected.stderr


def test_export_leaves_out_the_session_id_and_delivery_bookkeeping(
    db: Any, standins: Any, person: None
) -> None:
    waiting = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    since = (waiting - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)
    db.collection("chat_sessions").document("secret-session-asha").update({"awaiting_since": since})
    retrying = {
        "state": "processing",
        "attempts": 2,
        "lease_id": "lease-of-a-sweep",
        "due_at": waiting,
        "last_error": "crm: 503",
        "last_error_detail": "Service Unavailable",
    }
    db.collection("contact_submissions").document("asha-1").update({"deliveries.crm": retrying})
    result = run("export", "--email", ASHA)

    data = json.loads(result.stdout)
    session = {k: v for k, v in data["chat_sessions"][0].items() if k != "messages"}
    assert session["awaiting_since"] == "2026-12-01T09:30:00.000Z", "a time, not a number"
    assert "id" not in session
    assert "secret-session-asha" not in json.dumps(session)
    [contact] = [c for c in data["contact_submissions"] if c["id"] == "asha-1"]
    assert contact["deliveries"]["crm"] == {
        "state": "processing",
        "to": "a row in the team's CRM sheet",
    }, "where the record went and how far: no lease, due time or the downstream's error"
    assert contact["deliveries"]["email"]["state"] == "sent"
    assert "search_terms" not in contact
    assert contact["created_at"].endswith("Z")


def test_export_shows_deliveries_the_teams_actions_and_earlier_requests_but_no_member(
    console: Any, token: Any, visitor: dict[str, str], db: Any
) -> None:
    from factoryops import deliveries
    from factoryops.chat import forward

    address = VISITOR["email"]
    bearer = token(email="Ravi@factoryopsai.com", name="Ravi Kumar")
    lead = visitor["lead_id"]
    deliveries.run_due([forward.DELIVERIES])  # the first message reaches mailbox and CRM
    call(console, "POST", f"/api/chats/{lead}/reply", bearer, {"text": "Which presses?"})
    call(console, "POST", f"/api/chats/{lead}/close", bearer)
    body = {"lead": "Meera", "email": address, "sections": "pricing"}
    grant_id = call(console, "POST", "/api/grants", bearer, body).get_json()["grant"]["id"]
    call(console, "POST", "/api/privacy/export", bearer, {"email": address})

    result = run("export", "--email", address)

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [chat] = data["chat_sessions"]
    sent = chat["deliveries"]["email"]
    assert (sent["state"], sorted(sent)) == ("sent", ["sent_at", "state", "to"])
    assert chat["deliveries"]["crm"]["state"] == "sent"
    actions = data["team_actions"]
    assert [(a["action"], a["record"]) for a in actions] == [
        ("chat.reply", lead),
        ("chat.close", lead),
        ("grant.create", grant_id),
        ("privacy.export", None),
    ]
    assert [a["words"].removesuffix(" on " + a["at"]) for a in actions] == [
        "the team replied",
        "the team closed the chat",
        "the team created an access link",
        "the team exported the data held on you",
    ]
    [earlier] = data["privacy_requests"]
    assert (earlier["kind"], earlier["counts"]["chat_sessions"]) == ("export", 1)
    assert sorted(earlier) == ["at", "counts", "kind"]
    assert "factoryopsai.com" not in result.output.lower(), "no team member's address"
    assert "Ravi" not in json.dumps(actions), "nor who of the team it was"


def test_export_of_an_unknown_address_is_empty_everywhere(
    db: Any, standins: Any, person: None
) -> None:
    data = json.loads(run("export", "--email", "nobody@nowhere.example").stdout)

    assert data["contact_submissions"] == data["chat_sessions"] == []
    assert data["access_grants"] == data["crm_rows"] == []


def test_an_invalid_address_is_a_usage_error_naming_the_option(db: Any) -> None:
    result = run("export", "--email", "not-an-address")

    assert result.exit_code == 2
    assert "--email" in result.output


# -- correct -----------------------------------------------------------------------------


def test_correct_changes_name_company_and_email_in_every_store(
    db: Any, standins: Any, person: None
) -> None:
    result = run(
        "correct",
        "--email",
        "asha.rao@PLANT.example",
        "--name",
        "Asha R. Rao",
        "--company",
        "=Pune Works",
        "--new-email",
        "Asha@NewPlant.example",
        "--json",
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "contact_submissions": 2,
        "chat_sessions": 1,
        "chat_messages": 0,
        "access_grants": 1,
        "crm_rows": 4,
    }
    for doc_id in ("asha-1", "asha-2"):
        contact = db.collection("contact_submissions").document(doc_id).get().to_dict()
        assert contact["name"] == "Asha R. Rao"
        assert contact["company"] == "=Pune Works"
        assert contact["email"] == "Asha@newplant.example"
        assert contact["email_key"] == "asha@newplant.example"
        assert contact["search_terms"] == ["asha", "r", "rao", "pune", "works"]
    session = db.collection("chat_sessions").document("secret-session-asha").get().to_dict()
    assert session["email_key"] == "asha@newplant.example"
    grant = db.collection("access_grants").document("grant-asha").get().to_dict()
    assert grant["email_key"] == "asha@newplant.example"
    assert grant["company"] == "=Pune Works"
    assert grant["lead"] == "Asha R. Rao", "a grant's lead names the person: it is corrected too"
    assert grant["search_terms"] == ["asha", "r", "rao", "pune", "works"]
    rows = {r[2] + r[0]: r for r in standins.crm.rows()[1:]}
    asha_rows = [r for r in rows.values() if r[2] in ("asha-1", "asha-2", "lead-asha")]
    assert len(asha_rows) == 4
    for r in asha_rows:
        assert (r[3], r[4], r[5]) == ("Asha R. Rao", "Asha@newplant.example", "'=Pune Works")
    ravi = db.collection("contact_submissions").document("ravi-1").get().to_dict()
    assert ravi["name"] == "Ravi Iyer" and ravi["email"] == OTHER
    assert [r[3] for r in standins.crm.rows() if r[2].startswith("ravi")] == [
        "Ravi Iyer",
        "Ravi Iyer",
    ]
    # Found under the new address afterwards, and no longer under the old one.
    assert json.loads(run("export", "--email", "asha@newplant.example").stdout)["crm_rows"]
    assert json.loads(run("export", "--email", ASHA).stdout)["contact_submissions"] == []


def test_correct_of_only_the_company_leaves_name_and_email_alone(
    db: Any, standins: Any, person: None
) -> None:
    result = run("correct", "--email", ASHA, "--company", "Pune Presses")

    assert result.exit_code == 0, result.output
    contact = db.collection("contact_submissions").document("asha-1").get().to_dict()
    assert (contact["name"], contact["email"], contact["company"]) == (
        "Asha Rao",
        ASHA,
        "Pune Presses",
    )
    assert contact["search_terms"] == ["asha", "rao", "pune", "presses"], "the kept name's too"
    assert standins.crm.rows()[1][3:6] == ["Asha Rao", ASHA, "Pune Presses"]


def test_correct_needs_something_to_change_and_validates_the_new_values(
    db: Any, standins: Any, person: None
) -> None:
    assert run("correct", "--email", ASHA).exit_code == 2
    bad = run("correct", "--email", ASHA, "--new-email", "nope")
    assert bad.exit_code == 2 and "--new-email" in bad.output
    long = run("correct", "--email", ASHA, "--name", "x" * 201)
    assert long.exit_code == 2 and "--name" in long.output
    assert db.collection("contact_submissions").document("asha-1").get().to_dict()["name"] == (
        "Asha Rao"
    )


# -- delete ------------------------------------------------------------------------------


def test_delete_with_yes_erases_every_store_and_leaves_others_untouched(
    db: Any, standins: Any, person: None
) -> None:
    result = run("delete", "--email", "ASHA.RAO@PLANT.EXAMPLE", "--yes", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "contact_submissions": 2,
        "chat_sessions": 1,
        "chat_messages": 2,
        "access_grants": 1,
        "crm_rows": 4,
    }
    assert ids(db, "contact_submissions") == {"ravi-1"}
    assert ids(db, "chat_sessions") == {"secret-session-ravi"}
    assert message_ids(db, "secret-session-asha") == set()
    assert message_ids(db, "secret-session-ravi") == {"m001"}
    assert ids(db, "access_grants") == {"grant-ravi", "grant-no-person"}
    assert sheet_ids(standins) == ["record_id", "ravi-1", "ravi-2"]


def test_delete_leaves_a_privacy_request_with_only_a_keyed_hash_the_counts_and_the_time(
    db: Any, standins: Any, person: None, configure: Any
) -> None:
    configure(PRIVACY_TRACE_KEY="trace-key-for-this-test")
    run("delete", "--email", ASHA, "--yes")

    [record] = [r for r in requests_made(db) if r["kind"] == "delete"]
    assert set(record) == {"kind", "email_hmac", "counts", "at", "expire_at", "outcome"}
    assert record["outcome"] == "done"
    expected = hmac.new(
        b"trace-key-for-this-test", f"privacy-request\0{ASHA_KEY}".encode(), hashlib.sha256
    ).hexdigest()
    assert record["email_hmac"] == expected
    # A dictionary of addresses hashed without the key finds nothing.
    assert record["email_hmac"] != hashlib.sha256(ASHA_KEY.encode()).hexdigest()
    assert record["counts"]["crm_rows"] == 4
    stored = json.dumps(record, default=str)
    for personal in ("asha", "Asha", "Pune", "lead-asha", "secret-session", "private"):
        assert personal not in stored


def test_delete_asks_first_and_a_no_changes_nothing(db: Any, standins: Any, person: None) -> None:
    result = run("delete", "--email", ASHA, input="n\n")

    assert result.exit_code == 1
    assert "contact_submissions" in result.output and "Delete all of this" in result.output
    assert ids(db, "contact_submissions") == {"asha-1", "asha-2", "ravi-1"}
    assert len(standins.crm.rows()) == 7
    assert [r["kind"] for r in requests_made(db)] == []


def test_delete_confirmed_at_the_prompt_erases_everything(
    db: Any, standins: Any, person: None
) -> None:
    result = run("delete", "--email", ASHA, input="y\n")

    assert result.exit_code == 0, result.output
    assert ids(db, "contact_submissions") == {"ravi-1"}


def test_delete_twice_is_harmless_and_the_second_finds_nothing(
    db: Any, standins: Any, person: None
) -> None:
    run("delete", "--email", ASHA, "--yes")

    again = run("delete", "--email", ASHA, "--yes", "--json")

    assert json.loads(again.stdout) == dict.fromkeys(
        ("contact_submissions", "chat_sessions", "chat_messages", "access_grants", "crm_rows"), 0
    )


def test_delete_with_the_crm_down_changes_nothing_and_can_be_run_again(
    db: Any, standins: Any, person: None
) -> None:
    standins.crm.fail("500")

    failed = run("delete", "--email", ASHA, "--yes")

    assert failed.exit_code == 1
    assert "could not be reached" in failed.output and "not yet erased are kept" in failed.output
    assert ids(db, "contact_submissions") == {"asha-1", "asha-2", "ravi-1"}
    standins.crm.fail(None)
    assert run("delete", "--email", ASHA, "--yes").exit_code == 0
    assert sheet_ids(standins) == ["record_id", "ravi-1", "ravi-2"]


# -- the logs ------------------------------------------------------------------------------


def test_privacy_commands_log_counts_but_no_personal_data(
    db: Any, standins: Any, person: None, captured_logs: Any
) -> None:
    run("export", "--email", ASHA)
    run("correct", "--email", ASHA, "--company", "Pune Presses")
    run("delete", "--email", ASHA, "--yes")

    text = captured_logs.getvalue()
    assert text.count("privacy request handled") == 3
    for personal in ("asha", "Asha", "Pune", "plant.example", "secret-session", "lead-asha"):
        assert personal not in text
    assert {r["kind"] for r in requests_made(db)} == {"export", "correct", "delete"}


def test_the_library_matches_addresses_case_insensitively(
    db: Any, standins: Any, person: None
) -> None:
    counts = privacy.preview(privacy.subject("asha.rao@plant.example"))

    assert counts.as_dict() == {
        "contact_submissions": 2,
        "chat_sessions": 1,
        "chat_messages": 2,
        "access_grants": 1,
        "crm_rows": 4,
    }


def test_delete_confirmed_with_json_keeps_stdout_pure_json(
    db: Any, standins: Any, person: None
) -> None:
    result = run("delete", "--email", ASHA, "--json", input="y\n")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["contact_submissions"] == 2
    assert "Delete all of this" in result.stderr


def test_privacy_commands_warn_when_no_crm_is_configured(db: Any, configure: Any) -> None:
    configure(CRM_APPS_SCRIPT_URL=None)

    result = run("export", "--email", "nobody@plant.example")

    assert result.exit_code == 0
    assert "CRM sheet is not searched" in result.stderr
    assert json.loads(result.stdout)["crm_rows"] == []


def test_privacy_commands_do_not_warn_with_a_crm(db: Any, standins: Any) -> None:
    result = run("export", "--email", "nobody@plant.example")

    assert result.exit_code == 0
    assert "warning" not in result.stderr


# -- an erasure wins over anything in flight ------------------------------------------------

MEERA = "meera@foundry.example"


def test_an_erasure_closes_the_chat_first_and_deletes_a_message_that_landed_during_it(
    db: Any, standins: Any, function_client: Any, monkeypatch: Any
) -> None:
    from factoryops import crm, store
    from factoryops.chat import thread

    from devstack.forget_scan import documents, scan
    from tests.contract import error

    chat = function_client("chat_message")
    started = chat.post("/", json={"email": MEERA, "page": "/pricing", "text": "Hello"})
    session_id = started.get_json()["session_id"]
    session = {"X-Chat-Session": session_id}
    refused: list[Any] = []
    deleting_rows, listing = crm.delete_rows, store.documents_under
    landed: list[Any] = []

    def a_post_while_the_rows_are_deleted(match: Any, **options: Any) -> int:
        if not refused:
            refused.append(chat.post("/", json={"text": "Are you there?"}, headers=session))
        return int(deleting_rows(match, **options))

    def a_post_under_way_lands_after_the_listing(parent: Any) -> Any:
        found = list(listing(parent))
        if not landed:
            # A post that passed the close before it was made stores its message now.
            landed.append(
                thread.append(
                    parent, author="visitor", text="One more thing", last_seq=1, lead_id=""
                )
            )
        return iter(found)

    monkeypatch.setattr(crm, "delete_rows", a_post_while_the_rows_are_deleted)
    monkeypatch.setattr(store, "documents_under", a_post_under_way_lands_after_the_listing)
    erased = privacy.delete(privacy.subject(MEERA))

    [post] = refused
    assert post.status_code == 409 and error(post)["code"] == "session_closed"
    assert landed, "a message landed between the listing and the deletes"
    assert erased.counts.chat_messages == 2, "the first message and the one that landed"
    assert message_ids(db, session_id) == set() and ids(db, "chat_sessions") == set()
    texts = ["Hello", "Are you there?", "One more thing"]
    assert scan({"text": texts, "email": [MEERA]}, documents=documents(db)) == []


def test_an_erasure_stops_the_sending_first_and_deletes_a_crm_row_appended_while_it_ran(
    db: Any, standins: Any, function_client: Any, monkeypatch: Any
) -> None:
    from factoryops import contact, crm, deliveries

    body = {"name": "Meera Iyer", "email": MEERA, "company": "", "message": "About presses"}
    posted = function_client("contact_submit").post("/", json=body)
    record_id = posted.get_json()["id"]
    snap = db.collection("contact_submissions").document(record_id).get()
    # The forwarding function's send, leased before the erasure began: its row lands only
    # once the erasure's first delete of the person's rows has run.
    send = contact.DELIVERIES.senders(snap)["crm"]
    deleting_rows = crm.delete_rows
    deletes: list[int] = []

    def the_append_completes_after_the_first_delete(match: Any, **options: Any) -> int:
        deleted = int(deleting_rows(match, **options))
        if not deletes:
            fenced = db.collection("contact_submissions").document(record_id).get()
            assert {d["state"] for d in fenced.get("deliveries").values()} == {"skipped"}
            assert deliveries.run_due([contact.DELIVERIES]).due == 0, "no new send starts"
            send(deliveries.Attempt(timeout=deliveries.SWEEP_TIMEOUT))
            assert record_id in sheet_ids(standins)
        deletes.append(deleted)
        return deleted

    monkeypatch.setattr(crm, "delete_rows", the_append_completes_after_the_first_delete)
    erased = privacy.delete(privacy.subject(MEERA))

    assert deletes == [0, 1]
    assert record_id not in sheet_ids(standins)
    assert erased.counts.crm_rows == 1
    assert ids(db, "contact_submissions") == set()


def test_a_crm_sheet_unreachable_for_the_last_look_is_handed_to_the_team_not_a_failure(
    db: Any, standins: Any, person: None, monkeypatch: Any
) -> None:
    from factoryops import crm, errors

    deleting_rows = crm.delete_rows
    deletes: list[int] = []

    def the_last_look_fails(match: Any, **options: Any) -> int:
        if deletes:
            raise errors.DownstreamError("crm", "503", retryable=True)
        deletes.append(deleting_rows(match, **options))
        return deletes[-1]

    monkeypatch.setattr(crm, "delete_rows", the_last_look_fails)
    result = run("delete", "--email", ASHA, "--yes", "--json")

    assert result.exit_code == 0, "the documents are gone: running it again would find none"
    assert json.loads(result.stdout)["crm_rows"] == 4
    assert "could not be reached for a last look" in result.stderr
    assert '"lead-asha"' in result.stderr, "with the search that finds what may be left"
    assert ids(db, "contact_submissions") == {"ravi-1"}
    assert [r["kind"] for r in requests_made(db)] == ["delete"]


# -- at scale ------------------------------------------------------------------------------


def seed_many(db: Any, *, contacts: int, chats: int) -> None:
    """`contacts` contact posts and `chats` chats of one message each, all Asha's, written
    straight to the emulator (an address padded by anyone who starts chats in her name)."""
    writer = db.bulk_writer()
    base = {"email": ASHA, "email_key": ASHA_KEY, "created_at": ago(1), "expire_at": ago(-700)}
    sent = {"email": {"state": "sent"}, "crm": {"state": "sent"}}
    for n in range(contacts):
        ref = db.collection("contact_submissions").document(f"many-{n:04d}")
        writer.create(ref, {**base, "name": "Asha Rao", "message": f"post {n}", "deliveries": sent})
    for n in range(chats):
        ref = db.collection("chat_sessions").document(f"many-session-{n:04d}")
        session = {**base, "status": "open", "lead_id": f"{n:016x}", "deliveries": sent}
        writer.create(ref, session)
        message = {"author": "visitor", "text": f"chat {n}", "seq": 1, "created_at": ago(1)}
        writer.create(ref.collection("messages").document("00000001"), message)
    writer.close()


def test_an_erasure_of_more_than_two_pages_goes_in_pages_a_repeat_continues_under_one_trace(
    db: Any, standins: Any, person: None
) -> None:
    # siteadmin's side; the console's, at 2,000 records, is below.
    seed_many(db, contacts=700, chats=300)

    first = privacy.delete(privacy.subject(ASHA), time_budget=0.0)

    assert not first.done, "stopped after one page, its budget spent"
    page = first.counts.as_dict()
    assert 0 < sum(page.values()) < 1000
    [started] = [r for r in requests_made(db) if r["kind"] == "delete"]
    assert (started["outcome"], started["counts"]) == ("started", page), "recorded from the start"

    result = run("delete", "--email", ASHA, "--yes", "--json")

    assert result.exit_code == 0, result.output
    both_runs = privacy.Counts(
        contact_submissions=702, chat_sessions=301, chat_messages=302, access_grants=1, crm_rows=4
    )
    assert json.loads(result.stdout) == both_runs.as_dict(), "the whole erasure's counts"
    assert ids(db, "contact_submissions") == {"ravi-1"}
    assert ids(db, "chat_sessions") == {"secret-session-ravi"}
    assert sheet_ids(standins) == ["record_id", "ravi-1", "ravi-2"]
    [done] = [r for r in requests_made(db) if r["kind"] == "delete"]
    assert (done["outcome"], done["counts"]) == ("done", json.loads(result.stdout))


def test_the_console_exports_and_erases_2000_records_in_calls_that_each_answer_with_progress(
    db: Any, standins: Any, person: None, console: Any, token: Any
) -> None:
    seed_many(db, contacts=1400, chats=600)
    bearer = token()

    exported = call(console, "POST", "/api/privacy/export", bearer, {"email": ASHA})

    assert exported.status_code == 200, exported.get_json()
    data = exported.get_json()["export"]
    assert (len(data["contact_submissions"]), len(data["chat_sessions"])) == (1402, 601)

    erase = {"email": ASHA, "confirm": ASHA_KEY}
    answers = []
    while not answers or not answers[-1]["done"]:
        erased = call(console, "POST", "/api/privacy/delete", bearer, erase)
        assert erased.status_code == 200, erased.get_json()
        answers.append(erased.get_json())
        assert len(answers) < 100, "an erasure that never ends"
        # As the page does: the next call names the erasure it continues.
        erase = {**erase, "continues": answers[-1].get("continues")}

    assert len(answers) > 1, "the erasure answered before it was done, and was continued"
    # The hand-over covers every record the erasure met, not only the last call's.
    handed_over = answers[-1]["mailbox_search"]
    assert len(handed_over.splitlines()) == 52, "2,003 record ids, 39 a search, with the address"
    assert '"many-0000"' in handed_over and '"many-1399"' in handed_over
    assert f'"{599:016x}"' in handed_over, "a chat is named by its lead id"
    assert "many-session" not in handed_over, "never by its session id"
    done_so_far = [sum(a["counts"].values()) for a in answers]
    assert done_so_far == sorted(done_so_far), "each answer counts everything done so far"
    assert (
        answers[-1]["counts"]
        == privacy.Counts(
            contact_submissions=1402,
            chat_sessions=601,
            chat_messages=602,
            access_grants=1,
            crm_rows=4,
        ).as_dict()
    )
    assert ids(db, "contact_submissions") == {"ravi-1"}
    assert ids(db, "chat_sessions") == {"secret-session-ravi"}
    audited = [d.to_dict()["action"] for d in db.collection("team_audit").stream()]
    assert audited.count("privacy.delete") == 1, "audited once, when it started"
    [trace] = [r for r in requests_made(db) if r["kind"] == "delete"]
    assert (trace["outcome"], trace["counts"]) == ("done", answers[-1]["counts"])
    assert "record_ids" not in trace, "the lasting trace keeps no record ids"


def test_a_console_erasure_cut_short_by_an_outage_says_it_stopped_part_way_and_a_repeat_ends_it(
    db: Any, standins: Any, person: None, console: Any, token: Any, monkeypatch: Any
) -> None:
    from google.api_core import exceptions

    seed_many(db, contacts=120, chats=0)
    erase_page = privacy._erase
    pages: list[int] = []

    def down_at_the_second_page(held: Any, counts: Any) -> None:
        pages.append(1)
        if len(pages) == 2:
            raise exceptions.ServiceUnavailable("Firestore is down")
        erase_page(held, counts)

    monkeypatch.setattr(privacy, "_erase", down_at_the_second_page)
    erase = {"email": ASHA, "confirm": ASHA_KEY}

    cut = call(console, "POST", "/api/privacy/delete", token(), erase)

    assert cut.status_code == 503
    assert "stopped part way" in cut.get_json()["error"]["message"]
    assert "try again shortly" not in cut.get_json()["error"]["message"]
    [trace] = [r for r in requests_made(db) if r["kind"] == "delete"]
    assert trace["outcome"] == "started" and trace["counts"]["contact_submissions"] > 0

    # The member sends it again: audited as their request, and it continues the first.
    answers = [call(console, "POST", "/api/privacy/delete", token(), erase).get_json()]
    while not answers[-1]["done"]:
        going = {**erase, "continues": answers[-1]["continues"]}
        answers.append(call(console, "POST", "/api/privacy/delete", token(), going).get_json())

    assert answers[-1]["counts"]["contact_submissions"] == 122, "one erasure, its counts whole"
    assert ids(db, "contact_submissions") == {"ravi-1"}
    audited = [d.to_dict()["action"] for d in db.collection("team_audit").stream()]
    assert audited == ["privacy.delete", "privacy.delete"], "each request the member made"
    [trace] = [r for r in requests_made(db) if r["kind"] == "delete"]
    assert trace["outcome"] == "done", "one trace for the erasure, continued"


def test_a_mailbox_search_for_thousands_of_records_is_split_into_searches_of_40_terms() -> None:
    address = privacy.subject(ASHA)
    ids = frozenset(f"record-{n:04d}" for n in range(100))

    outside = privacy.outside_this_system(address, ids)

    searches = outside.mailbox_search.splitlines()
    assert len(searches) == 3
    for search in searches:
        terms = search.split(" OR ")
        assert terms[0] == f'"{ASHA_KEY}"', "each search finds the address too"
        assert len(terms) <= privacy.SEARCH_TERMS and len(search) < 1100
    found = {t.strip('"') for s in searches for t in s.split(" OR ")[1:]}
    assert found == ids, "every record's id in one search or another"
    handover = outside.lines(privacy.DELETE)
    assert any("each of these 3 searches" in line for line in handover)
    assert sum(line.startswith('    "asha.rao@plant.example" OR') for line in handover) == 3


def test_an_erasure_ends_after_a_page_that_was_not_full_however_fast_records_arrive(
    db: Any, standins: Any, person: None, monkeypatch: Any
) -> None:
    from factoryops import crm

    delete_rows = crm.delete_rows
    arrived: list[str] = []

    def while_someone_keeps_writing_in_her_name(match: Any) -> int:
        record_id = f"late-{len(arrived)}"
        seed_contact(db, record_id, created_at=ago(0), email=ASHA)
        arrived.append(record_id)
        return delete_rows(match)

    monkeypatch.setattr(crm, "delete_rows", while_someone_keeps_writing_in_her_name)

    erased = privacy.delete(privacy.subject(ASHA), page=5, time_budget=20.0)

    assert erased.done, "ended, not cut at its budget"
    assert erased.counts.contact_submissions == 2, "the page it found"
    assert ids(db, "contact_submissions") == {"ravi-1", *arrived}, "what came after is left"
    [trace] = [r for r in requests_made(db) if r["kind"] == "delete"]
    assert trace["outcome"] == "done"


def test_two_erasures_of_one_address_at_once_both_end_done_and_leave_nothing_running(
    db: Any, standins: Any, person: None
) -> None:
    from tests.together import at_once

    seed_many(db, contacts=60, chats=0)

    outcomes = at_once(lambda _: privacy.delete(privacy.subject(ASHA), page=10), [1, 2])

    assert all(outcome.done for outcome in outcomes)
    assert ids(db, "contact_submissions") == {"ravi-1"}
    traces = requests_made(db)
    assert [t["outcome"] for t in traces if t["kind"] == "delete"] == ["done"] * len(
        [t for t in traces if t["kind"] == "delete"]
    )
    assert not [t for t in traces if "record_ids" in t], "no running trace is left"
    counted = [t["counts"]["contact_submissions"] for t in traces if t["kind"] == "delete"]
    assert sum(counted) >= 62, "every record counted, by one erasure or the other"


def test_an_erasure_id_kept_from_one_that_ended_does_not_spare_a_new_erasure_its_audit(
    db: Any, standins: Any, person: None, console: Any, token: Any
) -> None:
    from factoryops import console as console_module

    erase = {"email": ASHA, "confirm": ASHA_KEY}
    call(console, "POST", "/api/privacy/delete", token(), erase)  # done in one call
    seed_contact(db, "asha-later", created_at=ago(0), email=ASHA)
    kept = {**erase, "continues": privacy.erasure_id(privacy.subject(ASHA))}

    again = call(console, "POST", "/api/privacy/delete", token(), kept)

    assert again.get_json()["done"] and console_module.ERASURE_PAGE > 1
    assert ids(db, "contact_submissions") == {"ravi-1"}
    audited = [d.to_dict()["action"] for d in db.collection("team_audit").stream()]
    assert audited == ["privacy.delete", "privacy.delete"], "both requests audited"

"""Erasure reaches every copy: the forget scan finds the person before `privacy delete`
only where `privacy export` shows them, and nowhere after it.

The scan (devstack/forget_scan.py, also run against `make dev`) walks every document
of every collection and subcollection, every CRM row and every log line of the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from factoryops import grants
from factoryops.chat import team
from factoryops.cli import main as siteadmin

from devstack.forget_scan import Finding, counts, documents, scan

pytestmark = [pytest.mark.emulator, pytest.mark.node]

ASHA = {
    "name": "Asha Rao",
    "email": "Asha.Rao@Plant.example",
    "company": "Pune Stamping Works",
    "message": "We run 14 presses and lose two hours a shift.",
}
CHAT_TEXTS = (
    "Our presses stop twice a shift; can you help?",
    "They are Schuler lines from 2009.",
    "Could you call me on Thursday?",
)
RAVI = {"name": "Ravi Iyer", "email": "ravi@foundry.example", "message": "A question on CNC."}


def privacy(*args: str) -> Any:
    result = CliRunner().invoke(siteadmin, ["privacy", *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def visited(
    db: Any,
    standins: Any,
    function_client: Callable[[str], Any],
    configure: Any,
    forwarder: Any,
) -> dict[str, Any]:
    """Asha uses every capability (contact form, two chats, a grant, retried requests);
    Ravi writes too, and must be left alone."""
    configure(CONTACT_RATE_LIMIT="100/60", CHAT_RATE_LIMIT="100/60")
    contact = function_client("contact_submit")
    chat = function_client("chat_message")
    keyed = {"Idempotency-Key": "asha-form-1"}
    for _ in range(2):
        assert contact.post("/", json=ASHA, headers=keyed).status_code == 201
    assert contact.post("/", json=RAVI).status_code == 201

    started = chat.post(
        "/",
        json={"email": ASHA["email"], "page": "/pricing", "text": CHAT_TEXTS[0]},
        headers={"Idempotency-Key": "asha-chat-1"},
    ).get_json()
    session_id = started["session_id"]
    headers = {"X-Chat-Session": session_id, "Idempotency-Key": "asha-msg-2"}
    assert chat.post("/", json={"text": CHAT_TEXTS[1]}, headers=headers).status_code == 201
    team.reply(team.find(session_id), "Yes: which PLCs run them?")
    team.close(team.find(session_id))  # one open chat of an address at a time
    second = chat.post(
        "/", json={"email": ASHA["email"].upper(), "page": "/", "text": CHAT_TEXTS[2]}
    ).get_json()["session_id"]
    chat.post("/", json={"email": RAVI["email"], "page": "/", "text": "Hello from Ravi"})
    grant = grants.create(
        lead=ASHA["name"], sections="pricing", email=ASHA["email"], company=ASHA["company"]
    )
    forwarder.settle()
    return {"sessions": [session_id, second], "grant": grant.grant.id}


def needles(visited: dict[str, Any]) -> dict[str, list[str]]:
    return {
        "email": [ASHA["email"]],
        "name": [ASHA["name"]],
        "company": [ASHA["company"]],
        "message text": [ASHA["message"], *CHAT_TEXTS],
        "chat session id": visited["sessions"],
    }


def run_scan(db: Any, standins: Any, captured_logs: Any, visited: dict[str, Any]) -> list[Finding]:
    lines = [(f"line {n}", line) for n, line in enumerate(captured_logs.getvalue().splitlines())]
    return scan(
        needles(visited),
        documents=documents(db),
        crm_rows=standins.crm.rows(),
        log_lines=lines,
    )


def test_after_privacy_delete_the_forget_scan_finds_nothing_of_the_person_anywhere(
    db: Any, standins: Any, captured_logs: Any, visited: dict[str, Any]
) -> None:
    before = run_scan(db, standins, captured_logs, visited)
    # Her contact (stored once though sent twice), two chat sessions and their three
    # visitor messages, her grant; three CRM rows; no log line, ever.
    assert counts(before) == {"firestore": 7, "crm": 3, "logs": 0}
    assert {f.kind for f in before} == set(needles(visited))

    privacy("delete", "--email", ASHA["email"].lower(), "--yes")

    after = run_scan(db, standins, captured_logs, visited)
    assert after == [], after
    ravi = scan({"email": [RAVI["email"]]}, documents=documents(db))
    assert {f.where.split("/")[0] for f in ravi} == {"contact_submissions", "chat_sessions"}


def test_everything_the_scan_finds_before_the_delete_appears_in_the_export(
    db: Any, standins: Any, captured_logs: Any, visited: dict[str, Any]
) -> None:
    before = run_scan(db, standins, captured_logs, visited)
    exported = json.loads(privacy("export", "--email", ASHA["email"]).stdout)
    contacts = {c["id"] for c in exported["contact_submissions"]}
    chats = {c["lead_id"]: {m["id"] for m in c["messages"]} for c in exported["chat_sessions"]}
    grant_ids = {g["id"] for g in exported["access_grants"]}
    crm_records = {r["record_id"] for r in exported["crm_rows"]}

    for finding in before:
        parts = finding.where.split("/")
        if finding.store == "crm":
            number = int(finding.where.removeprefix("row "))
            assert standins.crm.rows()[number - 1][2] in crm_records, finding
        elif parts[0] == "contact_submissions":
            assert parts[1] in contacts, finding
        elif parts[0] == "chat_sessions":
            # The export names a chat by its lead id: the session id is a bearer secret.
            lead_id = db.collection("chat_sessions").document(parts[1]).get().get("lead_id")
            assert lead_id in chats, finding
            if len(parts) == 4:
                assert parts[3] in chats[lead_id], finding
        elif parts[0] == "access_grants":
            assert parts[1] in grant_ids, finding
        else:
            raise AssertionError(f"{finding} holds the person's data but no export shows it")

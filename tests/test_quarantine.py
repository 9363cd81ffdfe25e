"""Bots kept out of the inbox: the proof of work each contact form and chat start carries,
and the quarantine that holds what comes without one (or reads as spam) until the team
decides, on the real emulator with the EmailJS and CRM stand-ins."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import altcha
import pytest
from click.testing import CliRunner
from factoryops import keys, privacy, quarantine
from factoryops.cli import main as siteadmin
from factoryops.validation import parse_email

from devstack import proofs
from tests.contract import error

pytestmark = [
    pytest.mark.emulator,
    pytest.mark.node,
    pytest.mark.usefixtures("db", "standins", "forwarder"),
]

POST = {
    "name": "Asha Rao",
    "email": "asha@plant.example",
    "company": "Pune Stamping Works",
    "message": "We run 14 presses and want to talk about downtime.",
}
SPAM = {
    "name": "Rank Higher",
    "email": "offers@seo.example",
    "company": "",
    "message": "Buy high DA backlinks and guest post packages: http://seo.example/a "
    "http://seo.example/b http://seo.example/c https://bit.ly/3xYz",
}
FUNCTION = "contact_submit"
START = {"email": "meera@foundry.example", "page": "/pricing", "text": "Hello team"}


@pytest.fixture
def bare(function_client: Any) -> Any:
    """contact_submit as a bot or a browser without JavaScript reaches it: only what the
    test sends."""
    return function_client("contact_submit", proving=False)


@pytest.fixture
def bare_chat(function_client: Any) -> Any:
    return function_client("chat_message", proving=False)


def records(db: Any) -> list[dict[str, Any]]:
    return [{"id": d.id, **d.to_dict()} for d in db.collection("contact_submissions").stream()]


def nothing_sent(standins: Any) -> bool:
    return standins.state.emails == [] and standins.crm.rows() == []


# -- the challenge ---------------------------------------------------------------------


@pytest.mark.parametrize("function", ["contact_submit", "chat_message"])
def test_get_challenge_answers_a_signed_expiring_challenge_with_no_cookie(
    function: str, function_client: Any, configure: Any
) -> None:
    configure(ALLOWED_ORIGINS="https://factoryopsai.com")
    response = function_client(function).get(
        "/challenge", headers={"Origin": "https://factoryopsai.com"}
    )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "https://factoryopsai.com"
    made = response.get_json()
    parameters = made["parameters"]
    assert parameters["algorithm"] == "SHA-256"
    left = parameters["expiresAt"] - dt.datetime.now(dt.UTC).timestamp()
    assert 540 < left <= 600, "ten minutes to solve it"
    # Signed with the functions' key: the library accepts its solution.
    payload = proofs.solve(made)
    assert altcha.verify_solution(payload, keys.altcha()).verified
    assert not altcha.verify_solution(payload, b"another key").verified


def test_each_challenge_is_new_and_its_counter_may_be_any_within_the_complexity_setting(
    function_client: Any, configure: Any
) -> None:
    configure(ALTCHA_COMPLEXITY="8")
    client = function_client("contact_submit")
    counters = [counter_of(client.get("/challenge").get_json()) for _ in range(64)]
    # Counting from 0, a browser finds counter c with c + 1 hashes.
    assert all(0 <= c < 8 for c in counters), counters
    assert len(set(counters)) > 1
    # Were every counter at least half the complexity, a bot would start counting there
    # and pay a third of what a browser counting from 0 pays, the floor a gift to it alone.
    assert min(counters) < 4, counters


def counter_of(challenge: dict[str, Any]) -> int:
    """The counter that solves `challenge`, as a browser counting from 0 finds it."""
    solution = json.loads(base64.b64decode(proofs.solve(challenge)))["solution"]
    return int(solution["counter"])


def test_a_challenge_takes_get_only_and_the_cors_preflight_offers_get(
    function_client: Any, configure: Any
) -> None:
    configure(ALLOWED_ORIGINS="https://factoryopsai.com")
    client = function_client("contact_submit")
    assert client.post("/challenge", json={}).status_code == 405
    preflight = client.options("/", headers={"Origin": "https://factoryopsai.com"})
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]


def test_a_solution_of_a_fetched_challenge_lets_the_post_into_the_inbox(
    bare: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    solution = proofs.solve(bare.get("/challenge").get_json())
    assert bare.post("/", json={**POST, "altcha": solution}).status_code == 201
    forwarder.settle()
    [record] = records(db)
    assert "quarantined_at" not in record
    assert record["deliveries"]["email"]["state"] == "sent"
    assert len(standins.state.emails) == 1 and len(standins.crm.rows()) == 1


# -- no proof, no inbox ------------------------------------------------------------------


def test_a_json_post_without_a_proof_is_answered_alike_but_quarantined_and_never_sent(
    bare: Any, client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    proved = client.post("/", json={**POST, "email": "ravi@plant.example"})
    response = bare.post("/", json=POST)
    forwarder.settle()
    assert response.status_code == proved.status_code == 201
    assert set(response.get_json()) == set(proved.get_json()) == {"id", "status", "team"}
    held = next(r for r in records(db) if r["id"] == response.get_json()["id"])
    assert held["quarantine_reason"] == "no proof of work"
    assert "deliveries" not in held
    life = held["expire_at"] - held["quarantined_at"]
    assert life == dt.timedelta(days=30)
    # Only the proved post reached the inbox and the CRM.
    [email] = standins.state.emails
    assert email["template_params"]["email"] == "ravi@plant.example"
    assert [row[2] for row in standins.crm.rows()] == [proved.get_json()["id"]]


def test_a_plain_form_post_from_a_browser_without_javascript_is_quarantined(
    bare: Any, db: Any, standins: Any, forwarder: Any, configure: Any
) -> None:
    configure(CONTACT_REDIRECT_URL="https://factoryopsai.com/thanks")
    response = bare.post("/", data=POST, headers={"Accept": "text/html"})
    forwarder.settle()
    assert response.status_code == 303
    [held] = records(db)
    assert held["quarantine_reason"] == "no proof of work"
    assert nothing_sent(standins)


def test_quarantine_days_is_the_quarantined_posts_life(bare: Any, db: Any, configure: Any) -> None:
    configure(QUARANTINE_DAYS="3")
    bare.post("/", json=POST)
    [held] = records(db)
    assert held["expire_at"] - held["quarantined_at"] == dt.timedelta(days=3)


def test_content_that_reads_as_spam_is_quarantined_even_with_a_valid_proof(
    client: Any, db: Any, standins: Any, forwarder: Any, captured_logs: Any
) -> None:
    assert client.post("/", json=SPAM).status_code == 201
    forwarder.settle()
    [held] = records(db)
    assert "links" in held["quarantine_reason"]
    assert "deliveries" not in held
    assert nothing_sent(standins)
    # The log says that a post was quarantined, and for which kind of reason; not its words.
    text = captured_logs.getvalue()
    assert '"reason": "content"' in text
    assert "backlinks" not in text and "seo.example" not in text


# -- a bad proof: refused, with a fresh challenge ------------------------------------------


def _forged() -> dict[str, str]:
    """Solutions the server must refuse, each for its own reason."""
    good = json.loads(base64.b64decode(proofs.solved()))
    wrong_counter = json.loads(json.dumps(good))
    wrong_counter["solution"]["counter"] += 1
    tampered = json.loads(json.dumps(good))
    tampered["challenge"]["parameters"]["keyPrefix"] = "00"
    unsigned = json.loads(json.dumps(good))
    del unsigned["challenge"]["signature"]

    def encoded(data: Any) -> str:
        return base64.b64encode(json.dumps(data).encode()).decode()

    return {
        "expired": proofs.solved(expires_in=-1),
        "another key": proofs.solved(key=b"not the functions' key"),
        "wrong counter": encoded(wrong_counter),
        "tampered challenge": encoded(tampered),
        "unsigned": encoded(unsigned),
        "not base64": "%%%not-base64%%%",
        "not an object": encoded([1, 2, 3]),
        "too long": "A" * 5000,
    }


FORGED = [
    "expired",
    "another key",
    "wrong counter",
    "tampered challenge",
    "unsigned",
    "not base64",
    "not an object",
    "too long",
]


@pytest.mark.parametrize("kind", FORGED)
def test_a_forged_or_expired_proof_is_refused_with_a_fresh_challenge_and_stores_nothing(
    kind: str, bare: Any, db: Any, standins: Any
) -> None:
    solution = _forged()[kind]
    response = bare.post("/", json={**POST, "altcha": solution})
    assert response.status_code == 400
    assert error(response)["code"] == "challenge_failed"
    fresh = response.get_json()["error"]["challenge"]
    assert fresh["parameters"]["algorithm"] == "SHA-256" and fresh["signature"]
    assert records(db) == [] and nothing_sent(standins)


def test_a_proof_that_is_not_text_is_refused(bare: Any, db: Any) -> None:
    response = bare.post("/", json={**POST, "altcha": {"counter": 1}})
    assert error(response)["code"] == "challenge_failed"
    assert records(db) == []


def test_a_replayed_proof_never_reaches_the_inbox(
    bare: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    solution = proofs.solved()
    first = bare.post("/", json={**POST, "altcha": solution})
    again = bare.post("/", json={**POST, "message": "Another message.", "altcha": solution})
    under_a_key = bare.post(
        "/", json={**POST, "altcha": solution}, headers={"Idempotency-Key": "k-1"}
    )
    forwarder.settle()
    assert first.status_code == 201
    assert error(again)["code"] == error(under_a_key)["code"] == "challenge_failed"
    assert len(records(db)) == 1
    assert len(standins.state.emails) == 1 and len(standins.crm.rows()) == 1


def test_a_repeat_under_its_idempotency_key_is_answered_as_the_first_not_as_a_replay(
    bare: Any, db: Any
) -> None:
    body = {**POST, "altcha": proofs.solved()}
    first = bare.post("/", json=body, headers={"Idempotency-Key": "k-2"})
    repeat = bare.post("/", json=body, headers={"Idempotency-Key": "k-2"})
    assert first.status_code == repeat.status_code == 201
    assert first.get_json()["id"] == repeat.get_json()["id"]
    assert len(records(db)) == 1


def test_the_spent_proof_is_kept_only_until_its_challenge_expires(bare: Any, db: Any) -> None:
    solution = proofs.solved(expires_in=300)
    bare.post("/", json={**POST, "altcha": solution})
    [spent] = [d.to_dict() for d in db.collection("spent_challenges").stream()]
    expires = json.loads(base64.b64decode(solution))["challenge"]["parameters"]["expiresAt"]
    assert spent == {"expire_at": dt.datetime.fromtimestamp(expires, dt.UTC)}


# -- chat starts ---------------------------------------------------------------------------


def test_a_chat_start_without_a_proof_is_refused_with_a_challenge_and_stores_nothing(
    bare_chat: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    response = bare_chat.post("/", json=START)
    forwarder.settle()
    assert response.status_code == 400
    body = error(response)
    assert body["code"] == "challenge_required"
    assert body["challenge"]["parameters"]["algorithm"] == "SHA-256"
    assert list(db.collection("chat_sessions").stream()) == []
    assert nothing_sent(standins)


@pytest.mark.parametrize("kind", ["expired", "wrong counter", "not base64"])
def test_a_chat_start_with_a_bad_proof_is_refused(kind: str, bare_chat: Any, db: Any) -> None:
    response = bare_chat.post("/", json={**START, "altcha": _forged()[kind]})
    assert error(response)["code"] == "challenge_failed"
    assert list(db.collection("chat_sessions").stream()) == []


def test_a_chat_start_with_a_solved_challenge_starts_and_its_proof_is_spent(
    bare_chat: Any, db: Any
) -> None:
    solution = proofs.solve(bare_chat.get("/challenge").get_json())
    assert bare_chat.post("/", json={**START, "altcha": solution}).status_code == 201
    replay = bare_chat.post("/", json={**START, "email": "x@y.example", "altcha": solution})
    assert error(replay)["code"] == "challenge_failed"
    assert len(list(db.collection("chat_sessions").stream())) == 1


def test_later_messages_of_a_chat_need_no_proof(bare_chat: Any) -> None:
    solution = proofs.solved()
    session_id = bare_chat.post("/", json={**START, "altcha": solution}).get_json()["session_id"]
    posted = bare_chat.post("/", json={"text": "More"}, headers={"X-Chat-Session": session_id})
    assert posted.status_code == 201


# -- the team decides ---------------------------------------------------------------------


def test_release_forwards_the_post_exactly_once_and_gives_it_the_normal_life(
    bare: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    record_id = bare.post("/", json=POST).get_json()["id"]
    forwarder.settle()
    assert nothing_sent(standins)

    assert quarantine.release(record_id) is True
    assert quarantine.release(record_id) is False, "a second release acts on nothing"
    forwarder.settle()

    [record] = records(db)
    assert "quarantined_at" not in record and "quarantine_reason" not in record
    assert record["deliveries"]["email"]["state"] == "sent"
    assert (record["expire_at"] - record["created_at"]).days in (729, 730)
    [email] = standins.state.emails
    assert email["template_params"]["record_id"] == record_id
    assert [row[2] for row in standins.crm.rows()] == [record_id]


def test_delete_erases_a_quarantined_post_and_nothing_else(
    bare: Any, client: Any, db: Any, forwarder: Any
) -> None:
    held = bare.post("/", json=POST).get_json()["id"]
    kept = client.post("/", json=POST).get_json()["id"]
    forwarder.settle()
    assert quarantine.delete(kept) is False, "a post in the inbox is not the quarantine's"
    assert quarantine.release(kept) is False
    assert quarantine.delete(held) is True
    assert quarantine.delete(held) is False
    assert [r["id"] for r in records(db)] == [kept]


def test_the_list_pages_newest_first_with_reasons_and_never_shows_inbox_posts(
    bare: Any, client: Any, configure: Any
) -> None:
    configure(CONTACT_RATE_LIMIT="100/600")
    client.post("/", json=POST)
    made = [bare.post("/", json={**POST, "name": f"Bot {n}"}).get_json()["id"] for n in range(5)]
    first = quarantine.page(limit=2)
    second = quarantine.page(limit=2, cursor=first.next)
    third = quarantine.page(limit=2, cursor=second.next)
    listed = [h.id for h in (*first.posts, *second.posts, *third.posts)]
    assert listed == made[::-1]
    assert third.next is None
    assert {h.summary()["reason"] for h in first.posts} == {"no proof of work"}


def test_a_cursor_the_list_did_not_give_is_refused() -> None:
    from factoryops import errors

    with pytest.raises(errors.InvalidRequest):
        quarantine.page(cursor="bm90IGEgY3Vyc29y")


def test_the_status_counts_quarantined_posts_per_day(bare: Any, configure: Any) -> None:
    configure(CONTACT_RATE_LIMIT="100/600")
    for _ in range(3):
        bare.post("/", json=POST)
    days = quarantine.per_day()
    assert len(days) == quarantine.DAYS_SHOWN
    assert days[0] == {"day": dt.datetime.now(dt.UTC).date().isoformat(), "quarantined": 3}
    assert all(d["quarantined"] == 0 for d in days[1:])


# -- siteadmin spam --------------------------------------------------------------------------


def spam(*args: str) -> Any:
    return CliRunner().invoke(siteadmin, ["spam", *args])


def test_siteadmin_spam_lists_releases_and_deletes(
    bare: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    first = bare.post("/", json=POST).get_json()["id"]
    second = bare.post("/", json={**POST, "name": "Other"}).get_json()["id"]

    listed = spam("list", "--json")
    assert listed.exit_code == 0, listed.output
    posts = json.loads(listed.stdout)
    assert [p["id"] for p in posts] == [second, first]
    assert posts[0]["reason"] == "no proof of work"
    table = spam("list")
    assert "no proof of work" in table.stdout and first in table.stdout

    assert spam("release", first).exit_code == 0
    assert spam("delete", second).exit_code == 0
    again = spam("delete", second)
    assert again.exit_code == 1 and "no post" in again.output
    forwarder.settle()
    assert [r["id"] for r in records(db)] == [first]
    assert len(standins.state.emails) == 1


# -- privacy -----------------------------------------------------------------------------------


def test_export_and_erasure_include_quarantined_posts(bare: Any, db: Any, standins: Any) -> None:
    record_id = bare.post("/", json=POST).get_json()["id"]
    email = parse_email(POST["email"])
    exported = privacy.export(email)
    [post] = exported["contact_submissions"]
    assert post["id"] == record_id
    assert post["quarantine_reason"] == "no proof of work"
    privacy.delete(email)
    assert records(db) == []

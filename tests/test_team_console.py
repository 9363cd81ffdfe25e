"""team_console's API: who may call it (real RS256 ID tokens, verified by google-auth
against certificates the stand-ins serve in Google's format), what each route does
through the same library functions siteadmin uses, and the audit it leaves."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from factoryops import grants

from devstack.forget_scan import documents, scan
from devstack.standins import CERTS_PATH
from tests import idtokens
from tests.contract import error

pytestmark = [pytest.mark.emulator, pytest.mark.node]

CLIENT_ID = "console-client.apps.googleusercontent.com"
KEY_ID = "console-key-1"
ASHA = "asha@factoryopsai.com"
RAVI = "Ravi@FactoryOpsAI.com"
VISITOR = {"email": "meera@foundry.example", "page": "/pricing", "text": "Hello team"}


@pytest.fixture(scope="module")
def google_key() -> tuple[bytes, str]:
    return idtokens.key_pair()


def claims(**changes: Any) -> dict[str, Any]:
    return idtokens.claims(CLIENT_ID, ASHA, **changes)


@pytest.fixture
def token(google_key: tuple[bytes, str]) -> Callable[..., str]:
    return lambda **changes: idtokens.sign(google_key[0], claims(**changes), key_id=KEY_ID)


@pytest.fixture
def console(db: Any, standins: Any, configure: Any, function_client: Any, google_key: Any) -> Any:
    from factoryops import tokens

    tokens.forget_certificates()
    standins.state.certs = {KEY_ID: google_key[1]}
    configure(
        TEAM_OAUTH_CLIENT_ID=CLIENT_ID,
        TEAM_EMAILS=f"{ASHA}, {RAVI}",
        TEAM_CERTS_URL=standins.url + CERTS_PATH,
        CHAT_RATE_LIMIT="1000/60",
    )
    return function_client("team_console")


@pytest.fixture
def visitor(console: Any, function_client: Any) -> dict[str, str]:
    """A chat a visitor started, by lead id and session id."""
    chat = function_client("chat_message")
    session_id = chat.post("/", json=VISITOR).get_json()["session_id"]
    from factoryops.chat import team

    found = team.find(session_id)
    assert found is not None
    return {"lead_id": found.lead_id, "session_id": session_id}


def call(
    client: Any, method: str, path: str, bearer: str | None, body: Any = None, key: str = ""
) -> Any:
    """A call as the page makes it; `key` is the Idempotency-Key the page sends on a POST."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    if key:
        headers["Idempotency-Key"] = key
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, json=body if body is not None else {}, headers=headers)


# -- who may call it ---------------------------------------------------------------------

ROUTES = [
    ("GET", "/api/me", None),
    ("GET", "/api/status", None),
    ("GET", "/api/chats", None),
    ("GET", "/api/chats/0123456789abcdef", None),
    ("POST", "/api/chats/0123456789abcdef/reply", {"text": "hi"}),
    ("POST", "/api/chats/0123456789abcdef/close", {}),
    ("GET", "/api/grants", None),
    ("POST", "/api/grants", {"lead": "L", "sections": ["pricing"], "no_email": True}),
    ("POST", "/api/grants/0123456789abcdef/revoke", {}),
    ("GET", "/api/deliveries", None),
    ("POST", "/api/deliveries/retry", {"kind": "contact", "id": "x"}),
    ("POST", "/api/privacy/export", {"email": "a@plant.example"}),
    ("POST", "/api/privacy/correct", {"email": "a@plant.example", "name": "A"}),
    ("POST", "/api/privacy/delete", {"email": "a@plant.example", "confirm": "a@plant.example"}),
    ("GET", "/api/audit", None),
    ("GET", "/api/spam", None),
    ("POST", "/api/spam/AbCdEfGhIjKlMnOpQrSt/release", {}),
    ("POST", "/api/spam/AbCdEfGhIjKlMnOpQrSt/delete", {}),
]

REFUSED = {
    "no token": (None, 401),
    "another audience": ({"aud": "someone-else.apps.googleusercontent.com"}, 401),
    "another issuer": ({"iss": "https://evil.example"}, 401),
    "expired": ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, 401),
    "alg none": ("unsigned", 401),
    "unverified email": ({"email_verified": False}, 403),
    "no email verified flag": ({"email_verified": None}, 403),
    "an address not on the list": ({"email": "mallory@factoryopsai.com"}, 403),
}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_route_refuses_every_bad_caller_in_the_contracts_shape(
    console: Any, token: Callable[..., str], method: str, path: str, body: Any
) -> None:
    for label, (changes, status) in REFUSED.items():
        if changes is None:
            bearer = None
        elif changes == "unsigned":
            bearer = idtokens.unsigned(claims())
        else:
            bearer = token(**changes)
        response = call(console, method, path, bearer, body)
        assert response.status_code == status, (label, response.get_json())
        expected = "unauthenticated" if status == 401 else "access_denied"
        assert error(response)["code"] == expected, label
        assert "Set-Cookie" not in response.headers
    allowed = call(console, method, path, token(), body)
    assert allowed.status_code not in (401, 403), allowed.get_json()


def test_the_allow_list_ignores_letter_case(console: Any, token: Callable[..., str]) -> None:
    response = call(console, "GET", "/api/me", token(email="RAVI@factoryopsai.com"))
    assert response.status_code == 200 and response.get_json()["email"] == "ravi@factoryopsai.com"


def test_an_address_that_only_looks_like_a_team_members_is_refused(
    console: Any, configure: Any, token: Callable[..., str]
) -> None:
    configure(TEAM_EMAILS=f"{ASHA}, kiran@factoryopsai.com")
    look_alikes = {
        "a Kelvin sign for k": "\u212airan@factoryopsai.com",
        "a fullwidth letter": "\uff41sha@factoryopsai.com",
        "a trailing newline": f"{ASHA}\n",
        "a leading space": f" {ASHA}",
        "a NUL inside": "asha\x00@factoryopsai.com",
        "a zero-width space": "asha\u200b@factoryopsai.com",
    }
    for label, email in look_alikes.items():
        response = call(console, "GET", "/api/me", token(email=email))
        assert response.status_code == 403, label
        assert error(response)["code"] == "access_denied", label
    kiran = call(console, "GET", "/api/me", token(email="Kiran@FactoryOpsAI.com"))
    assert kiran.status_code == 200 and kiran.get_json()["email"] == "kiran@factoryopsai.com"


def test_a_client_past_its_refused_calls_gets_429_unchecked_and_one_log_line_per_window(
    console: Any, token: Callable[..., str], captured_logs: Any
) -> None:
    from factoryops.config import settings

    budget = settings().console_refused_limit
    assert str(budget) == "20/600", "the default"
    prober = {"X-Forwarded-For": "198.51.100.66"}
    bogus = {**prober, "Authorization": "Bearer not-a-token"}
    stranger = {**prober, "Authorization": f"Bearer {token(email='mallory@factoryopsai.com')}"}
    refused = [
        console.get("/api/me", headers=bogus if n % 2 else stranger).status_code
        for n in range(budget.count)
    ]
    assert sorted(set(refused)) == [401, 403]
    for _ in range(2 * budget.count):
        limited = console.get("/api/me", headers=bogus)
        assert limited.status_code == 429 and error(limited)["code"] == "rate_limited"
        assert 0 < int(limited.headers["Retry-After"]) <= budget.seconds
    # Its token is not even checked: a good one from that client waits out the window too.
    good = {"Authorization": f"Bearer {token()}"}
    assert console.get("/api/me", headers={**prober, **good}).status_code == 429
    # Another client is served, and refused, as before.
    elsewhere = {"X-Forwarded-For": "203.0.113.66"}
    assert console.get("/api/me", headers={**elsewhere, **good}).status_code == 200
    assert console.get("/api/me", headers={**bogus, **elsewhere}).status_code == 401

    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    messages = [line["message"] for line in lines]
    assert messages.count("caller refused") == budget.count + 1
    assert messages.count("refused calls limited") == 1
    assert messages.count("rate limit reached") == 0


def test_a_token_signed_by_another_key_is_refused(console: Any) -> None:
    stranger = idtokens.key_pair()
    forged = idtokens.sign(stranger[0], claims(), key_id=KEY_ID)
    assert call(console, "GET", "/api/me", forged).status_code == 401


def test_the_page_needs_no_token_and_is_served_under_a_strict_policy(console: Any) -> None:
    page = console.get("/")
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self' https://accounts.google.com/gsi/client" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert console.get("/console.js").content_type.startswith("text/javascript")
    config = console.get("/api/config").get_json()
    assert config["client_id"] == CLIENT_ID and config["signin"] == "local"


def test_an_unknown_path_is_404_and_a_wrong_method_is_405(
    console: Any, token: Callable[..., str]
) -> None:
    missing = call(console, "GET", "/api/nothing-here", token())
    assert missing.status_code == 404 and error(missing)["code"] == "not_found"
    wrong = call(console, "GET", "/api/grants/0123456789abcdef/revoke", token())
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST, OPTIONS"


def test_the_console_refuses_to_start_without_its_client_id_or_team(
    db: Any, configure: Any, function_client: Any
) -> None:
    from factoryops.config import ConfigError

    for missing in ("TEAM_OAUTH_CLIENT_ID", "TEAM_EMAILS"):
        configure(**{"TEAM_OAUTH_CLIENT_ID": CLIENT_ID, "TEAM_EMAILS": ASHA, missing: None})
        with pytest.raises(ConfigError, match=missing):
            function_client("team_console")


# -- what it does -------------------------------------------------------------------------


def test_chats_list_puts_those_awaiting_a_reply_first_and_a_reply_reaches_the_visitor(
    console: Any, token: Callable[..., str], function_client: Any, visitor: dict[str, str]
) -> None:
    chat = function_client("chat_message")
    answered = chat.post("/", json={**VISITOR, "email": "ravi@mill.example"}).get_json()
    bearer = token()
    from factoryops.chat import team

    answered_lead = team.find(answered["session_id"]).lead_id  # type: ignore[union-attr]
    call(console, "POST", f"/api/chats/{answered_lead}/reply", bearer, {"text": "Done."})

    listed = call(console, "GET", "/api/chats", bearer).get_json()["chats"]
    assert [c["lead_id"] for c in listed] == [visitor["lead_id"], answered_lead]
    assert [c["awaiting_reply"] for c in listed] == [True, False]
    assert set(listed[0]) == {
        "lead_id",
        "email",
        "page",
        "status",
        "awaiting_reply",
        "awaiting_since",
        "last_activity_at",
        "created_at",
        "preview",
        "person",
    }

    replied = call(
        console, "POST", f"/api/chats/{visitor['lead_id']}/reply", bearer, {"text": "Hi!"}
    )
    assert replied.status_code == 201
    message = replied.get_json()["message"]
    poll = chat.get("/", headers={"X-Chat-Session": visitor["session_id"]}).get_json()
    assert poll["messages"][-1] == message and message["author"] == "team"

    thread = call(console, "GET", f"/api/chats/{visitor['lead_id']}", bearer).get_json()
    assert [m["author"] for m in thread["messages"]] == ["visitor", "team"]
    assert thread["chat"]["awaiting_reply"] is False and thread["more"] is False
    first_id = thread["messages"][0]["id"]
    later = call(console, "GET", f"/api/chats/{visitor['lead_id']}?after={first_id}", bearer)
    assert [m["author"] for m in later.get_json()["messages"]] == ["team"]


def test_close_and_an_unknown_chat(
    console: Any, token: Callable[..., str], visitor: dict[str, str]
) -> None:
    bearer = token()
    closed = call(console, "POST", f"/api/chats/{visitor['lead_id']}/close", bearer)
    assert closed.get_json()["chat"]["status"] == "closed"
    assert call(console, "GET", "/api/chats?status=open", bearer).get_json()["chats"] == []
    listed = call(console, "GET", "/api/chats?status=closed", bearer).get_json()["chats"]
    assert [c["lead_id"] for c in listed] == [visitor["lead_id"]]
    unknown = call(console, "GET", "/api/chats/0123456789abcdef", bearer)
    assert unknown.status_code == 404 and error(unknown)["code"] == "session_not_found"
    bad = call(console, "GET", "/api/chats?status=everything", bearer)
    assert bad.status_code == 400 and "status" in error(bad)["fields"]


def test_the_chat_list_pages_by_cursor_counts_and_says_what_to_send_as_changed_after(
    console: Any, token: Callable[..., str], function_client: Any, visitor: dict[str, str]
) -> None:
    chat = function_client("chat_message")
    for n in range(3):
        chat.post("/", json={**VISITOR, "email": f"v{n}@mill.example"})
    bearer = token()

    first = call(console, "GET", "/api/chats?view=open&limit=2", bearer).get_json()
    assert len(first["chats"]) == 2 and first["next"]
    assert first["counts"] == {"open": 4, "awaiting_reply": 4}
    rest = call(console, "GET", f"/api/chats?limit=2&cursor={first['next']}", bearer).get_json()
    assert len(rest["chats"]) == 2
    walked = [c["lead_id"] for c in first["chats"] + rest["chats"]]
    assert len(set(walked)) == 4 and walked[0] == visitor["lead_id"], "the longest waiting"

    closed = call(console, "POST", f"/api/chats/{visitor['lead_id']}/close", bearer)
    assert closed.status_code == 200
    since = urllib.parse.quote(first["as_of"])
    changed = call(console, "GET", f"/api/chats?changed_after={since}", bearer).get_json()
    assert visitor["lead_id"] in [c["lead_id"] for c in changed["chats"]]
    assert changed["next"] is None and changed["counts"] == {"open": 3, "awaiting_reply": 3}

    found = call(console, "GET", "/api/chats?q=v1@", bearer).get_json()
    assert [c["email"] for c in found["chats"]] == ["v1@mill.example"] and found["next"] is None


@pytest.mark.parametrize(
    "query",
    [
        "cursor=garbled",
        "cursor=eyJhdCI6MSwibGVhZCI6IngiLCJwIjoiYXdhaXRpbmcifQ",  # a lead id that is none
        "limit=0",
        "limit=101",
        "limit=ten",
        "view=everything",
        "view=open&status=closed",
        "changed_after=yesterday",
        "q=" + "x" * 101,
        "q=asha&changed_after=2026-03-01T09:30:00Z",
        "unknown=1",
    ],
)
def test_a_bad_chat_list_query_is_an_invalid_request_naming_the_field(
    console: Any, token: Callable[..., str], query: str
) -> None:
    refused = call(console, "GET", f"/api/chats?{query}", token())
    assert refused.status_code == 400, refused.get_json()
    problem = error(refused)
    assert problem["code"] == "invalid_request"
    assert set(problem["fields"]) & {
        "cursor",
        "limit",
        "view",
        "status",
        "changed_after",
        "q",
        "unknown",
    }


def test_a_reply_is_validated_like_the_visitors_widget_would(
    console: Any, token: Callable[..., str], visitor: dict[str, str]
) -> None:
    empty = call(console, "POST", f"/api/chats/{visitor['lead_id']}/reply", token(), {"text": " "})
    assert empty.status_code == 400 and error(empty)["fields"] == {"text": "is required"}


def test_grants_are_created_shown_once_listed_and_revoked(
    console: Any, token: Callable[..., str]
) -> None:
    bearer = token()
    body = {
        "lead": "Asha Rao",
        "email": "asha.rao@plant.example",
        "sections": "pricing,demo",
        "days": 30,
        "max_uses": 3,
    }
    created = call(console, "POST", "/api/grants", bearer, body)
    assert created.status_code == 201
    made = created.get_json()
    assert made["url"].endswith(made["token"]) and made["grant"]["sections"] == ["pricing", "demo"]
    assert grants.redeem(made["token"]).sections == ["pricing", "demo"]
    listed = call(console, "GET", "/api/grants", bearer).get_json()["grants"]
    assert [g["id"] for g in listed] == [made["grant"]["id"]]
    assert made["token"] not in json.dumps(listed), "the link is shown once, when made"
    revoked = call(console, "POST", f"/api/grants/{made['grant']['id']}/revoke", bearer)
    assert revoked.get_json()["grant"]["revoked"] is True

    no_email = call(console, "POST", "/api/grants", bearer, {"lead": "L", "sections": "a"})
    assert no_email.status_code == 400 and "email" in error(no_email)["fields"]
    unknown = call(console, "POST", "/api/grants", bearer, {**body, "utm": "x"})
    assert unknown.status_code == 400 and error(unknown)["fields"]["utm"] == "unknown field"


def test_failed_deliveries_are_listed_and_retried_one_record_at_a_time(
    console: Any,
    token: Callable[..., str],
    standins: Any,
    function_client: Any,
    forwarder: Any,
) -> None:
    standins.state.fail["emailjs"] = "400"
    contact = function_client("contact_submit")
    record = contact.post(
        "/", json={"name": "A", "email": "a@plant.example", "message": "hi"}
    ).get_json()["id"]
    forwarder.settle()
    standins.state.fail.clear()
    bearer = token()
    failed = call(console, "GET", "/api/deliveries?state=failed", bearer).get_json()["deliveries"]
    assert [(d["kind"], d["id"], d["channel"]) for d in failed] == [("contact", record, "email")]
    retried = call(
        console, "POST", "/api/deliveries/retry", bearer, {"kind": "contact", "id": record}
    )
    assert retried.get_json() == {"retried": 1}
    assert call(console, "GET", "/api/deliveries?state=failed", bearer).get_json() == {
        "deliveries": []
    }
    unknown = call(
        console, "POST", "/api/deliveries/retry", bearer, {"kind": "contact", "id": "no"}
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize("record", [".", "..", "__x__", "a/b"])
def test_a_retry_of_an_id_firestore_would_refuse_is_404_not_500(
    console: Any, token: Callable[..., str], record: str
) -> None:
    body = {"kind": "contact", "id": record}
    answer = call(console, "POST", "/api/deliveries/retry", token(), body)

    assert answer.status_code == 404 and error(answer)["code"] == "not_found"


def test_privacy_requests_go_through_the_same_functions_and_delete_needs_the_address_again(
    console: Any, token: Callable[..., str], visitor: dict[str, str], db: Any
) -> None:
    bearer = token()
    address = VISITOR["email"]
    exported = call(console, "POST", "/api/privacy/export", bearer, {"email": address})
    assert [c["lead_id"] for c in exported.get_json()["export"]["chat_sessions"]] == [
        visitor["lead_id"]
    ]
    corrected = call(
        console,
        "POST",
        "/api/privacy/correct",
        bearer,
        {"email": address, "new_email": "m@x.example"},
    )
    assert corrected.get_json()["counts"]["chat_sessions"] == 1
    assert address in corrected.get_json()["mailbox_search"], "the old copies, to find"
    unconfirmed = call(
        console, "POST", "/api/privacy/delete", bearer, {"email": "m@x.example", "confirm": "yes"}
    )
    assert unconfirmed.status_code == 400 and "confirm" in error(unconfirmed)["fields"]
    assert len(list(db.collection("chat_sessions").stream())) == 1
    deleted = call(
        console,
        "POST",
        "/api/privacy/delete",
        bearer,
        {"email": "m@x.example", "confirm": "M@X.example"},
    )
    assert deleted.get_json()["counts"]["chat_sessions"] == 1
    assert "m@x.example" in deleted.get_json()["mailbox_search"]
    assert list(db.collection("chat_sessions").stream()) == []


def test_actions_repeated_with_their_keys_act_once_and_the_keys_keep_nothing_of_the_person(
    console: Any, token: Callable[..., str], visitor: dict[str, str], db: Any
) -> None:
    bearer = token()
    lead, address = visitor["lead_id"], VISITOR["email"]

    def twice(path: str, body: dict[str, Any], key: str) -> tuple[Any, Any]:
        return (
            call(console, "POST", path, bearer, body, key=key),
            call(console, "POST", path, bearer, body, key=key),
        )

    reply = {"text": "Our engineer can visit on Tuesday."}
    sent, resent = twice(f"/api/chats/{lead}/reply", reply, "k-reply")
    assert sent.status_code == resent.status_code == 201
    assert resent.get_json() == sent.get_json()
    lead_body = {"lead": "Meera Iyer", "sections": ["pricing"], "email": address}
    made, remade = twice("/api/grants", lead_body, "k-grant")
    assert made.status_code == remade.status_code == 201 and made.get_json()["url"]
    [listed] = call(console, "GET", "/api/grants", bearer).get_json()["grants"]
    assert made.get_json()["grant"]["id"] == listed["id"]
    assert remade.get_json() == {"grant": listed, "url": None, "token": None}, (
        "a repeat names the same grant, and the link is shown only once"
    )
    exported, reexported = twice("/api/privacy/export", {"email": address}, "k-export")
    first, again = exported.get_json()["export"], reexported.get_json()["export"]
    traces = ("team_actions", "privacy_requests")
    assert {k: v for k, v in first.items() if k not in traces} == {
        k: v for k, v in again.items() if k not in traces
    }, "an export is not kept to replay: a repeat exports again, the same records"
    assert [r["kind"] for r in again["privacy_requests"]] == ["export"], "and shows the first"
    closed, reclosed = twice(f"/api/chats/{lead}/close", {}, "k-close")
    assert closed.get_json() == reclosed.get_json()
    team_replies = [
        m
        for m in db.collection("chat_sessions")
        .document(visitor["session_id"])
        .collection("messages")
        .stream()
        if m.get("author") == "team"
    ]
    assert len(team_replies) == 1

    erase = {"email": address, "confirm": address}
    erased = call(console, "POST", "/api/privacy/delete", bearer, erase, key="k-delete")
    assert erased.get_json()["counts"]["chat_sessions"] == 1

    person = {
        "email": [address],
        "name": ["Meera Iyer"],
        "text": [VISITOR["text"], reply["text"]],
        "link": [made.get_json()["token"]],
    }
    assert scan(person, documents=documents(db)) == [], "a stored answer kept the person"
    again = call(console, "POST", f"/api/chats/{lead}/reply", bearer, reply, key="k-reply")
    assert again.status_code == 404 and error(again)["code"] == "session_not_found"
    regrant = call(console, "POST", "/api/grants", bearer, lead_body, key="k-grant")
    assert regrant.status_code == 404
    reerased = call(console, "POST", "/api/privacy/delete", bearer, erase, key="k-delete")
    assert reerased.status_code == 200 and reerased.get_json()["counts"]["chat_sessions"] == 0


def test_every_action_leaves_an_audit_record_naming_member_action_and_target_only(
    console: Any, token: Callable[..., str], visitor: dict[str, str], db: Any
) -> None:
    bearer = token(email="Ravi@factoryopsai.com", name="Ravi Kumar")
    lead = visitor["lead_id"]
    call(console, "POST", f"/api/chats/{lead}/reply", bearer, {"text": "A reply with words"})
    call(console, "POST", f"/api/chats/{lead}/close", bearer)
    made = call(
        console,
        "POST",
        "/api/grants",
        bearer,
        {"lead": "Meera", "email": VISITOR["email"], "sections": "pricing"},
    ).get_json()
    call(console, "POST", f"/api/grants/{made['grant']['id']}/revoke", bearer)
    call(console, "POST", "/api/privacy/export", bearer, {"email": VISITOR["email"]})
    call(console, "GET", "/api/chats", bearer)  # reading is not an action

    records = call(console, "GET", "/api/audit", bearer).get_json()["audit"]
    assert [(r["action"], r["member"]) for r in records] == [
        ("privacy.export", "ravi@factoryopsai.com"),
        ("grant.revoke", "ravi@factoryopsai.com"),
        ("grant.create", "ravi@factoryopsai.com"),
        ("chat.close", "ravi@factoryopsai.com"),
        ("chat.reply", "ravi@factoryopsai.com"),
    ]
    assert records[-1]["target"] == lead and records[1]["target"] == made["grant"]["id"]
    assert [r["words"] for r in records] == [
        f"Ravi Kumar exported the data held on a person (request {records[0]['target'][:8]}…)",
        "Ravi Kumar revoked the access link for Meera",
        "Ravi Kumar created an access link for Meera",
        "Ravi Kumar closed the chat with meera@…",
        "Ravi Kumar replied to meera@…",
    ]
    grant_link = f"#/grants/{made['grant']['id']}"
    links = [None, grant_link, grant_link, f"#/chats/{lead}", f"#/chats/{lead}"]
    assert [r["link"] for r in records] == links
    stored = [d.to_dict() for d in db.collection("team_audit").stream()]
    fields = {"member", "member_name", "action", "target", "at", "expire_at"}
    assert all(set(r) == fields for r in stored)
    text = json.dumps(stored, default=str)
    for visitor_data in ("meera", "hello team", "a reply with words", made["token"].lower()):
        assert visitor_data not in text.lower(), visitor_data
    kept = stored[0]["expire_at"] - stored[0]["at"]
    assert 729 <= kept.days <= 730


def test_the_spam_view_lists_releases_and_deletes_quarantined_posts_with_an_audit_each(
    console: Any, token: Callable[..., str], function_client: Any, forwarder: Any, standins: Any
) -> None:
    bare = function_client("contact_submit", proving=False)
    post = {"name": "Meera", "email": VISITOR["email"], "company": "", "message": "Hi"}
    first = bare.post("/", json=post).get_json()["id"]
    second = bare.post("/", json={**post, "name": "Bot"}).get_json()["id"]
    bearer = token(name="Asha")
    status = call(console, "GET", "/api/status", bearer).get_json()
    assert status["quarantine"][0]["quarantined"] == 2

    listed = call(console, "GET", "/api/spam?limit=1", bearer).get_json()
    [newest] = listed["posts"]
    assert newest["id"] == second and newest["reason"] == "no proof of work"
    assert newest["email"] == VISITOR["email"] and newest["message"] == "Hi"
    assert listed["days"] == 30, "QUARANTINE_DAYS, for the page to say"
    rest = call(console, "GET", f"/api/spam?cursor={listed['next']}", bearer).get_json()
    assert [p["id"] for p in rest["posts"]] == [first] and rest["next"] is None

    released = call(console, "POST", f"/api/spam/{first}/release", bearer, key="k-release")
    assert released.status_code == 200 and released.get_json() == {"released": first}
    again = call(console, "POST", f"/api/spam/{first}/release", bearer, key="k-release")
    assert again.get_json() == {"released": first}, "a repeat of the key is answered alike"
    assert call(console, "POST", f"/api/spam/{first}/release", bearer).status_code == 404
    assert call(console, "POST", f"/api/spam/{second}/delete", bearer).status_code == 200
    assert call(console, "POST", f"/api/spam/{second}/delete", bearer).status_code == 404
    assert call(console, "GET", "/api/spam", bearer).get_json()["posts"] == []
    forwarder.settle()
    [email] = standins.state.emails
    assert email["template_params"]["record_id"] == first

    records = call(console, "GET", "/api/audit", bearer).get_json()["audit"]
    assert [r["words"] for r in records] == [
        f"Asha deleted contact post {second[:8]}… from the quarantine",
        f"Asha sent on contact post {first[:8]}… from the quarantine (not spam)",
    ]
    status = call(console, "GET", "/api/status", bearer).get_json()
    assert status["quarantine"][0]["quarantined"] == 0, "neither is in the quarantine now"


def test_an_erased_persons_chat_reads_as_erased_in_the_audit(
    console: Any, token: Callable[..., str], visitor: dict[str, str]
) -> None:
    bearer = token(name="Asha")
    lead = visitor["lead_id"]
    call(console, "POST", f"/api/chats/{lead}/reply", bearer, {"text": "Hello"})
    erase = {"email": VISITOR["email"], "confirm": VISITOR["email"]}
    assert call(console, "POST", "/api/privacy/delete", bearer, erase).status_code == 200
    records = call(console, "GET", "/api/audit", bearer).get_json()["audit"]
    assert records[-1]["words"] == "Asha replied to a chat since erased"
    assert records[-1]["link"] is None


def test_a_reply_is_signed_with_the_members_name_which_the_visitor_sees(
    console: Any, token: Callable[..., str], function_client: Any, visitor: dict[str, str]
) -> None:
    named, unnamed = token(name="Priya Sharma"), token()
    assert call(console, "GET", "/api/me", named).get_json() == {
        "email": ASHA,
        "name": "Priya Sharma",
    }
    assert call(console, "GET", "/api/me", unnamed).get_json()["name"] is None
    # Google's tokens carry the first name too: that is what a visitor sees.
    first = token(name="Priya Sharma", given_name="Priya")
    assert call(console, "GET", "/api/me", first).get_json()["name"] == "Priya"
    path = f"/api/chats/{visitor['lead_id']}/reply"
    signed = call(console, "POST", path, named, {"text": "Hello from Priya"})
    assert signed.get_json()["message"]["name"] == "Priya Sharma"
    plain = call(console, "POST", path, unnamed, {"text": "Hello from the team"})
    assert "name" not in plain.get_json()["message"]

    chat = function_client("chat_message")
    poll = chat.get("/", headers={"X-Chat-Session": visitor["session_id"]}).get_json()
    team_messages = [m for m in poll["messages"] if m["author"] == "team"]
    assert [m.get("name") for m in team_messages] == ["Priya Sharma", None]
    thread = call(console, "GET", f"/api/chats/{visitor['lead_id']}", named).get_json()
    assert [m.get("name") for m in thread["messages"]] == [None, "Priya Sharma", None]


def test_a_closed_chat_reopens_and_the_visitor_can_write_again(
    console: Any, token: Callable[..., str], function_client: Any, visitor: dict[str, str]
) -> None:
    bearer = token()
    lead = visitor["lead_id"]
    chat = function_client("chat_message")
    headers = {"X-Chat-Session": visitor["session_id"]}
    call(console, "POST", f"/api/chats/{lead}/close", bearer)
    refused = chat.post("/", json={"text": "Still there?"}, headers=headers)
    assert refused.status_code == 409 and error(refused)["code"] == "session_closed"

    reopened = call(console, "POST", f"/api/chats/{lead}/reopen", bearer, key="k-reopen")
    assert reopened.status_code == 200 and reopened.get_json()["chat"]["status"] == "open"
    assert chat.get("/?peek=1", headers=headers).get_json()["status"] == "open"
    written = chat.post("/", json={"text": "Still there?"}, headers=headers)
    assert written.status_code == 201
    listed = call(console, "GET", "/api/chats", bearer).get_json()["chats"]
    assert [(c["lead_id"], c["awaiting_reply"]) for c in listed] == [(lead, True)]

    again = call(console, "POST", f"/api/chats/{lead}/reopen", bearer)
    assert again.status_code == 200 and again.get_json()["chat"]["status"] == "open"
    actions = [r["action"] for r in call(console, "GET", "/api/audit", bearer).get_json()["audit"]]
    assert actions == ["chat.reopen", "chat.close"], "reopening an open chat changes nothing"
    unknown = call(console, "POST", "/api/chats/0123456789abcdef/reopen", bearer)
    assert unknown.status_code == 404 and error(unknown)["code"] == "session_not_found"


def test_the_person_panel_shows_their_forms_other_chats_and_links(
    console: Any, token: Callable[..., str], function_client: Any, visitor: dict[str, str]
) -> None:
    bearer = token()
    form = {
        "name": "Meera Iyer",
        "email": "MEERA@Foundry.example",
        "company": "Iyer Castings",
        "message": "We run twelve furnaces and want to predict failures.",
    }
    contact = function_client("contact_submit")
    assert contact.post("/", json=form).status_code == 201
    chat = function_client("chat_message")
    # One chat of an address is open at a time: the first closed, they came back.
    from factoryops.chat import team

    closed = team.find_by_lead(visitor["lead_id"])
    assert closed is not None
    team.close(closed)
    other = chat.post("/", json={**VISITOR, "page": "/blog", "text": "Another question"})
    grant = {"lead": "Meera Iyer", "email": VISITOR["email"], "sections": "pricing"}
    made = call(console, "POST", "/api/grants", bearer, grant).get_json()["grant"]
    stranger = chat.post("/", json={**VISITOR, "email": "someone@else.example"})
    assert other.status_code == stranger.status_code == 201

    found = call(console, "GET", f"/api/chats/{visitor['lead_id']}/person", bearer)
    assert found.status_code == 200
    person = found.get_json()
    assert person["person"] == {
        "email": VISITOR["email"],
        "name": "Meera Iyer",
        "company": "Iyer Castings",
    }
    [submission] = person["submissions"]
    assert submission["message"] == form["message"] and submission["company"] == "Iyer Castings"
    [other_chat] = person["chats"]
    assert other_chat["page"] == "/blog" and other_chat["lead_id"] != visitor["lead_id"]
    [link] = person["grants"]
    assert (link["id"], link["status"], link["sections"]) == (made["id"], "active", ["pricing"])
    missing = call(console, "GET", "/api/chats/0123456789abcdef/person", bearer)
    assert missing.status_code == 404


def test_a_visitor_is_in_the_chat_while_its_panel_polls_with_one_write_a_quarter_minute(
    console: Any, token: Callable[..., str], function_client: Any, visitor: dict[str, str], db: Any
) -> None:
    import datetime as dt

    bearer = token()
    path = f"/api/chats/{visitor['lead_id']}"
    assert call(console, "GET", path, bearer).get_json()["chat"]["online"] is False

    chat = function_client("chat_message")
    headers = {"X-Chat-Session": visitor["session_id"]}
    ref = db.collection("chat_sessions").document(visitor["session_id"])
    chat.get("/?peek=1", headers=headers)  # folded away, browsing the site: not recorded
    assert "polled_at" not in ref.get().to_dict()
    assert call(console, "GET", path, bearer).get_json()["chat"]["online"] is False
    chat.get("/", headers=headers)  # the panel open, reading the thread
    first = ref.get()
    assert call(console, "GET", path, bearer).get_json()["chat"]["online"] is True
    chat.get("/", headers=headers)
    chat.get("/?peek=1", headers=headers)
    assert ref.get().update_time == first.update_time, "no write until it is 15 s stale"

    stale = first.get("polled_at") - dt.timedelta(seconds=31)
    ref.update({"polled_at": stale})
    assert call(console, "GET", path, bearer).get_json()["chat"]["online"] is False
    chat.get("/", headers=headers)
    assert call(console, "GET", path, bearer).get_json()["chat"]["online"] is True


def test_the_thread_says_up_to_which_reply_the_visitor_has_seen(
    console: Any, token: Callable[..., str], function_client: Any, visitor: dict[str, str]
) -> None:
    bearer = token()
    path = f"/api/chats/{visitor['lead_id']}"
    assert call(console, "GET", path, bearer).get_json()["chat"]["seen_through"] is None
    reply = call(console, "POST", f"{path}/reply", bearer, {"text": "Hi"}).get_json()["message"]
    assert call(console, "GET", path, bearer).get_json()["chat"]["seen_through"] is None
    chat = function_client("chat_message")
    chat.get("/", headers={"X-Chat-Session": visitor["session_id"]})
    assert call(console, "GET", path, bearer).get_json()["chat"]["seen_through"] == reply["id"]


def test_a_chat_list_whose_index_is_still_building_is_a_503_that_says_so(
    console: Any, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from factoryops.chat import inbox
    from google.api_core import exceptions

    def building() -> None:
        # Firestore's answer to a query whose composite index is not built yet.
        raise exceptions.FailedPrecondition("The query requires an index.")

    monkeypatch.setattr(inbox, "counts", building)
    answer = call(console, "GET", "/api/chats", token())
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "60"
    assert error(answer)["code"] == "unavailable" and "indexes" in error(answer)["message"]


def test_a_closed_chat_records_no_presence(
    console: Any, token: Callable[..., str], function_client: Any, visitor: dict[str, str], db: Any
) -> None:
    call(console, "POST", f"/api/chats/{visitor['lead_id']}/close", token())
    chat = function_client("chat_message")
    chat.get("/", headers={"X-Chat-Session": visitor["session_id"]})
    stored = db.collection("chat_sessions").document(visitor["session_id"]).get().to_dict()
    assert "polled_at" not in stored


def test_an_erasure_is_audited_when_it_starts_even_if_it_cannot_finish(
    console: Any, token: Callable[..., str], visitor: dict[str, str], standins: Any, db: Any
) -> None:
    standins.crm.fail("500")
    address = VISITOR["email"]
    erase = {"email": address, "confirm": address}

    failed = call(console, "POST", "/api/privacy/delete", token(), erase)

    assert failed.status_code == 503
    said = failed.get_json()["error"]["message"]
    assert said.startswith("The erasure stopped part way: the CRM sheet did not answer.")
    [entry] = [d.to_dict() for d in db.collection("team_audit").stream()]
    assert entry["action"] == "privacy.delete"
    [trace] = [d.to_dict() for d in db.collection("privacy_requests").stream()]
    assert (trace["kind"], trace["outcome"]) == ("delete", "started")

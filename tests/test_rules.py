"""firestore.rules, proven on the real emulator over its REST API.

The Python client sends `Bearer owner` to the emulator and so bypasses the rules; these
tests speak REST as a browser would: with no Authorization header (an anonymous
visitor) or with an unsigned ID token built as the Firebase rules test kit builds it (a
signed-in user). The owner bypass only seeds the data and checks that denied writes
changed nothing. The rules are loaded into a project of their own, so the open emulator
that the other tests share is left as it is.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from factoryops import store

from devstack.emulator import Emulator

pytestmark = pytest.mark.rules

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "demo-factoryops-rules"
PROBE_PROJECT = "demo-factoryops-rules-probe"

SESSION_A = "Yl1uXkq3f0oN8o7m3vJ6cQh2Zb9TtW4sRr5pEe1aLdA"
SESSION_B = "c2mXq9Vb7nKp0wHjT5sLd8fGa3ZrUe6yNi1oBt4kQvM"
SEEDED = "seeded"
CREATED = "created-by-client"

# What the emulator answers when the rules, rather than a missing document or a bad
# request, refuse an operation.
RULES_DENIAL = re.compile(r"No matching allow statements|for '\w+' @ L\d+")


def unsigned_id_token(*, project: str, uid: str) -> str:
    """An ID token as the Firebase test kit (`createMockUserToken`) builds it: the
    emulator reads its claims and does not check the empty signature."""

    def encode(part: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    header = {"alg": "none", "type": "JWT"}
    claims = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "iat": 0,
        "exp": 3600,
        "auth_time": 0,
        "sub": uid,
        "user_id": uid,
        "firebase": {"sign_in_provider": "custom", "identities": {}},
    }
    return f"{encode(header)}.{encode(claims)}."


def fields(**values: str | int) -> dict[str, Any]:
    """A document body in the REST encoding."""
    return {
        name: {"stringValue": value} if isinstance(value, str) else {"integerValue": str(value)}
        for name, value in values.items()
    }


@dataclass(frozen=True)
class Rest:
    """The emulator's Firestore REST API for one project, as one kind of caller."""

    address: str
    project: str
    token: str | None = None

    def as_caller(self, token: str | None) -> Rest:
        return Rest(self.address, self.project, token)

    def url(self, path: str = "") -> str:
        documents = (
            f"http://{self.address}/v1/projects/{self.project}/databases/(default)/documents"
        )
        return f"{documents}/{path}" if path else documents

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.request(method, self.url(path), **kwargs)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return requests.request(method, url, headers=headers, timeout=10, **kwargs)

    def get(self, path: str) -> requests.Response:
        return self.send("GET", path)

    def list(self, collection: str) -> requests.Response:
        return self.send("GET", collection)

    def query(self, collection: str, *, all_descendants: bool = False) -> requests.Response:
        """runQuery over one collection, or over every collection of that name
        (a collection-group query) when `all_descendants` is set."""
        parent, _, collection_id = collection.rpartition("/")
        body = {
            "structuredQuery": {
                "from": [{"collectionId": collection_id, "allDescendants": all_descendants}]
            }
        }
        path = "" if all_descendants else parent
        return self.request("POST", self.url(path) + ":runQuery", json=body)

    def create(self, collection: str, document_id: str, body: dict[str, Any]) -> requests.Response:
        return self.send("POST", collection, params={"documentId": document_id}, json=body)

    def update(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.send("PATCH", path, params={"currentDocument.exists": "true"}, json=body)

    def delete(self, path: str) -> requests.Response:
        return self.send("DELETE", path)


# Every collection the functions write, an unknown one, and a `messages` subcollection outside
# chat_sessions (the one exception must not leak to any collection of that name). The
# seeded documents hold what production stores, personal data included.
MESSAGES_A = f"{store.CHAT_SESSIONS}/{SESSION_A}/{store.MESSAGES}"
MESSAGES_B = f"{store.CHAT_SESSIONS}/{SESSION_B}/{store.MESSAGES}"
COLLECTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "contact_submissions": (
        store.CONTACT_SUBMISSIONS,
        fields(name="Ada", email="ada@example.com", message="About a line audit"),
    ),
    "chat_sessions": (
        store.CHAT_SESSIONS,
        fields(email="ada@example.com", email_key="ada@example.com", status="open"),
    ),
    "messages": (MESSAGES_A, fields(author="visitor", text="Hello")),
    "gate": (f"{store.CHAT_SESSIONS}/{SESSION_A}/{store.GATE}", fields(expire_at="2028-01-01")),
    "access_grants": (store.ACCESS_GRANTS, fields(lead="Plant 4", email="ada@example.com")),
    "idempotency_keys": (store.IDEMPOTENCY_KEYS, fields(request_hash="0f3a", response="{}")),
    "rate_limits": (store.RATE_LIMITS, fields(count=3)),
    "privacy_requests": (store.PRIVACY_REQUESTS, fields(kind="delete", email_hmac="9b1c")),
    "sweep_runs": (store.SWEEP_RUNS, fields(outcome="ok", finished_at="2026-11-30")),
    "team_audit": (store.TEAM_AUDIT, fields(member="asha@factoryopsai.com", action="chat.reply")),
    "unknown_collection": ("unknown_collection", fields(note="not in the design")),
    "messages_elsewhere": (
        f"{store.ACCESS_GRANTS}/{SEEDED}/{store.MESSAGES}",
        fields(author="team", text="Not a chat"),
    ),
}

# Both messages of session A, which the allowed reads must return exactly.
MESSAGES_OF_A = {
    SEEDED: COLLECTIONS["messages"][1],
    "second": fields(author="team", text="Hi, how can we help?"),
}
MESSAGES_OF_B = {"only": fields(author="visitor", text="Session B's message")}

CALLERS = {
    "anonymous": None,
    "signed_in": unsigned_id_token(project=PROJECT, uid="visitor-1"),
}
OPERATIONS = ("get", "list", "query", "collection_group", "create", "update", "delete")
ALLOWED = {("messages", "get"), ("messages", "list"), ("messages", "query")}

MATRIX = [
    pytest.param(
        caller, name, operation, (name, operation) in ALLOWED, id=f"{caller}-{name}-{operation}"
    )
    for caller, name, operation in itertools.product(CALLERS, COLLECTIONS, OPERATIONS)
]


@pytest.fixture(scope="module")
def rest(emulator: Emulator) -> Iterator[Rest]:
    """The rules project, with firestore.rules loaded and every collection seeded."""
    emulator.clear(PROJECT)
    emulator.load_rules(PROJECT, (ROOT / "firestore.rules").read_text())
    owner = Rest(emulator.address, PROJECT, "owner")
    seeds = [(f"{collection}/{SEEDED}", body) for collection, body in COLLECTIONS.values()]
    seeds += [(f"{MESSAGES_A}/{doc_id}", body) for doc_id, body in MESSAGES_OF_A.items()]
    seeds += [(f"{MESSAGES_B}/{doc_id}", body) for doc_id, body in MESSAGES_OF_B.items()]
    seeds += [
        (f"{store.CHAT_SESSIONS}/{SESSION_A}", COLLECTIONS["chat_sessions"][1]),
        (f"{store.CHAT_SESSIONS}/{SESSION_B}", fields(email="bo@example.com", status="open")),
    ]
    for path, body in seeds:
        response = owner.send("PATCH", path, json={"fields": body})
        assert response.status_code == 200, response.text
    yield Rest(emulator.address, PROJECT)
    emulator.clear(PROJECT)


def perform(client: Rest, collection: str, operation: str) -> requests.Response:
    document = f"{collection}/{SEEDED}"
    body = {"fields": fields(text="written by a client")}
    match operation:
        case "get":
            return client.get(document)
        case "list":
            return client.list(collection)
        case "query":
            return client.query(collection)
        case "collection_group":
            return client.query(collection, all_descendants=True)
        case "create":
            return client.create(collection, CREATED, body)
        case "update":
            return client.update(document, body)
        case "delete":
            return client.delete(document)
    raise AssertionError(operation)


def returned_documents(response: requests.Response, operation: str) -> dict[str, Any]:
    """Document id -> fields, from a get, list or runQuery answer."""
    payload = response.json()
    if operation == "get":
        documents = [payload]
    elif operation == "list":
        documents = payload.get("documents", [])
    else:
        documents = [item["document"] for item in payload if "document" in item]
    return {doc["name"].rsplit("/", 1)[1]: doc["fields"] for doc in documents}


def assert_denied_by_rules(response: requests.Response) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["status"] == "PERMISSION_DENIED", error
    assert RULES_DENIAL.search(error["message"]), error


@pytest.mark.parametrize(("caller", "name", "operation", "allowed"), MATRIX)
def test_rules_allow_only_reading_a_known_chats_messages(
    rest: Rest, caller: str, name: str, operation: str, allowed: bool
) -> None:
    collection, seeded = COLLECTIONS[name]
    response = perform(rest.as_caller(CALLERS[caller]), collection, operation)

    if not allowed:
        assert_denied_by_rules(response)
        owner = rest.as_caller("owner")
        if operation == "create":
            assert owner.get(f"{collection}/{CREATED}").status_code == 404
        if operation in ("update", "delete"):
            kept = owner.get(f"{collection}/{SEEDED}")
            assert kept.status_code == 200 and kept.json()["fields"] == seeded
        return

    assert response.status_code == 200, response.text
    expected = {SEEDED: seeded} if operation == "get" else MESSAGES_OF_A
    assert returned_documents(response, operation) == expected


@pytest.mark.parametrize("caller", CALLERS)
def test_another_sessions_id_lists_only_that_sessions_messages(rest: Rest, caller: str) -> None:
    client = rest.as_caller(CALLERS[caller])

    listed_b = client.list(MESSAGES_B)
    queried_b = client.query(MESSAGES_B)
    listed_unknown = client.list(f"{store.CHAT_SESSIONS}/no-such-session/{store.MESSAGES}")

    assert returned_documents(listed_b, "list") == MESSAGES_OF_B
    assert returned_documents(queried_b, "query") == MESSAGES_OF_B
    assert returned_documents(listed_unknown, "list") == {}


@pytest.mark.parametrize("caller", CALLERS)
def test_listing_chat_sessions_is_denied_even_with_known_ids_present(
    rest: Rest, caller: str
) -> None:
    client = rest.as_caller(CALLERS[caller])

    assert_denied_by_rules(client.list(store.CHAT_SESSIONS))
    assert_denied_by_rules(client.get(f"{store.CHAT_SESSIONS}/{SESSION_A}"))


def test_the_unsigned_token_reaches_the_rules_as_a_signed_in_user(emulator: Emulator) -> None:
    """Without this, the signed-in column could be anonymous in disguise."""
    emulator.clear(PROBE_PROJECT)
    emulator.load_rules(
        PROBE_PROJECT,
        "rules_version = '2';\n"
        "service cloud.firestore { match /databases/{db}/documents { match /probe/{id} {\n"
        "  allow get: if request.auth.uid == 'visitor-1'\n"
        "    && request.auth.token.firebase.sign_in_provider == 'custom';\n"
        "} } }\n",
    )
    owner = Rest(emulator.address, PROBE_PROJECT, "owner")
    assert owner.send("PATCH", "probe/one", json={"fields": fields(x=1)}).status_code == 200
    signed_in = owner.as_caller(unsigned_id_token(project=PROBE_PROJECT, uid="visitor-1"))
    someone_else = owner.as_caller(unsigned_id_token(project=PROBE_PROJECT, uid="visitor-2"))

    assert signed_in.get("probe/one").status_code == 200
    assert_denied_by_rules(someone_else.get("probe/one"))
    assert_denied_by_rules(owner.as_caller(None).get("probe/one"))
    emulator.clear(PROBE_PROJECT)

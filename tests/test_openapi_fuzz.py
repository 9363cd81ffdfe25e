"""Property-based fuzzing of each function from openapi.yaml (schemathesis).

Each function runs in its own functions-framework process on the real emulator, with
the stand-ins at the network edge and rate limits set high enough that the fuzzer
reaches validation and storage instead of a wall of 429s. Only the operations tagged
with a function's name are sent to that function's server. What must hold: no 5xx,
and every response (status, content type, headers, body) is one the description
allows; a method the description does not list gets 405 with `Allow`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from devstack.emulator import free_port
from devstack.functions import Served, serve
from devstack.standins import StandIns
from tests.conftest import PROJECT, ROOT

pytestmark = pytest.mark.fuzz

DESCRIPTION = ROOT / "openapi.yaml"
FUNCTIONS = ("contact_submit", "chat_message", "access_grant", "retention_sweep", "team_console")
CONSOLE_CLIENT = "fuzz-console.apps.googleusercontent.com"
CONSOLE_MEMBER = "fuzz@factoryopsai.com"
MAX_EXAMPLES = 100
"""Generated cases per operation in the fuzzing phase (the coverage phase adds its own).
This, not a clock, bounds a run: about 15 s per function here."""
CONSOLE_EXAMPLES = 30
"""The console has fifteen operations behind one sign-in check: fewer cases each keep
its run near the others' length."""
REQUEST_TIMEOUT = 20
"""Seconds before a request counts as hung (the request path gives up on Firestore after
a few seconds and on each downstream after four)."""
MIN_REQUESTS = 30
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
)


@pytest.fixture(scope="module")
def console_token() -> Iterator[tuple[str, dict[str, str]]]:
    """A team member's Google ID token for the console, and the certificate that signs it."""
    from tests import idtokens

    private, certificate = idtokens.key_pair()
    claims = idtokens.claims(CONSOLE_CLIENT, CONSOLE_MEMBER)
    yield idtokens.sign(private, claims, key_id="fuzz"), {"fuzz": certificate}


@pytest.fixture(scope="module")
def servers(
    emulator: Any,
    apps_script: Any,
    tmp_path_factory: pytest.TempPathFactory,
    console_token: Any,
) -> Iterator[dict[str, str]]:
    """Every fuzzed function on its own port, as `functions-framework` serves it."""
    from devstack.standins import CERTS_PATH

    emulator.clear(PROJECT)
    apps_script.reset()
    standins = StandIns(crm=apps_script).start()
    standins.state.certs = console_token[1]
    env = {
        **os.environ,
        **standins.env(),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")]),
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": emulator.address,
        "ALLOWED_ORIGINS": "https://factoryopsai.com",
        "CONTACT_RATE_LIMIT": "1000000/60",
        "CHAT_RATE_LIMIT": "1000000/60",
        "ACCESS_RATE_LIMIT": "1000000/60",
        # The fuzzer's calls without a token are refusals; the rest are a member's.
        "CONSOLE_REFUSED_LIMIT": "1000000/60",
        "SWEEP_AUTH": "off",
        "TEAM_OAUTH_CLIENT_ID": CONSOLE_CLIENT,
        "TEAM_EMAILS": CONSOLE_MEMBER,
        "TEAM_CERTS_URL": standins.url + CERTS_PATH,
    }
    logs = tmp_path_factory.mktemp("fuzz-servers")
    started: dict[str, Served] = {}
    try:
        for name in FUNCTIONS:
            started[name] = serve(name, env=env, log=logs / f"{name}.log")
        for served in started.values():
            served.wait_until_serving(timeout=60)
        yield {name: served.url.rstrip("/") for name, served in started.items()}
    finally:
        for served in started.values():
            served.terminate()
        for served in started.values():
            served.stop()
        standins.stop()


def _config(
    base_url: str, headers: dict[str, str] | None = None, examples: int = MAX_EXAMPLES
) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "base-url": base_url,
            "headers": headers or {},
            "request-timeout": REQUEST_TIMEOUT,
            "generation": {"mode": "all", "max-examples": examples, "database": "none"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


@dataclass
class Run:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop_reason: str = ""


def fuzz(name: str, base_url: str, headers: dict[str, str] | None = None) -> Run:
    """Run every phase of schemathesis against one function's operations."""
    examples = CONSOLE_EXAMPLES if name == "team_console" else MAX_EXAMPLES
    config = _config(base_url, headers, examples)
    schema = schemathesis.openapi.from_path(DESCRIPTION, config=config).include(tag=name)
    run = Run()
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for interaction in recorder.interactions.values():
                run.requests += 1
                if interaction.response is not None:
                    run.statuses[interaction.response.status_code] += 1
            for case_id, nodes in recorder.checks.items():
                for node in nodes:
                    if node.failure_info is None:
                        continue
                    failure = node.failure_info.failure
                    steps = node.failure_info.steps
                    curl = (
                        steps[-1].curl if steps else recorder.cases[case_id].value.as_curl_command()
                    )
                    run.failures.append(
                        f"{recorder.label} {node.name}: {failure.title}\n{failure.message}\n{curl}"
                    )
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            run.errors.append(repr(event.exception))
        elif isinstance(event, events.EngineFinished):
            run.stop_reason = str(event.stop_reason)
            run.failures.extend(f.message for f in event.failures)
    return run


@pytest.mark.parametrize("name", FUNCTIONS)
def test_fuzzing_finds_no_5xx_and_no_response_outside_the_description(
    name: str, servers: dict[str, str], console_token: Any
) -> None:
    # The console is fuzzed as a signed-in team member: its refusals are tested apart.
    headers = {"Authorization": f"Bearer {console_token[0]}"} if name == "team_console" else None
    run = fuzz(name, servers[name], headers)
    print(
        f"{name}: {run.requests} requests, statuses {dict(sorted(run.statuses.items()))}, "
        f"stopped: {run.stop_reason}"
    )
    assert not run.errors, "\n\n".join(run.errors)
    assert not run.failures, "\n\n".join(dict.fromkeys(run.failures))
    assert run.requests >= MIN_REQUESTS, "the run ended before it tested enough to mean much"
    assert not [s for s in run.statuses if s >= 500]


# Bodies schemathesis cannot write (it serialises valid JSON): JSON nested past any
# parser's stack, text that is not Unicode (a lone surrogate, legal in JSON's escapes),
# and a key given twice.
HOSTILE = {
    "deep nesting": "[" * 2000 + "]" * 2000,
    "deep object": '{"a":' * 2000 + "1" + "}" * 2000,
    "duplicate keys": '{"website": "bot", "website": ""}',
}
STRING_FIELDS = {
    "contact_submit": ("name", "email", "company", "message"),
    "chat_message": ("email", "page", "text"),
    "access_grant": ("token",),
    "retention_sweep": (),
    "team_console": ("lead", "email", "company"),
}
VALID = {
    "contact_submit": {"name": "A", "email": "a@plant.example", "message": "hi"},
    "chat_message": {"email": "a@plant.example", "page": "/", "text": "hi"},
    "access_grant": {"token": "x" * 43},
    "retention_sweep": {"dry_run": True},
    "team_console": {"lead": "L", "sections": "pricing", "email": "a@plant.example"},
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_hostile_bodies_get_a_described_400_never_a_5xx(
    name: str, servers: dict[str, str], console_token: Any
) -> None:
    import json

    import requests

    # The console's is the grant-creating route, as a signed-in team member.
    path, where = ("/api/grants", "/api/grants") if name == "team_console" else ("/", f"/{name}")
    headers = {"Content-Type": "application/json"}
    if name == "team_console":
        headers["Authorization"] = f"Bearer {console_token[0]}"
    bodies = dict(HOSTILE)
    for field_name in STRING_FIELDS[name]:
        raw = json.dumps({**VALID[name], field_name: "PLACEHOLDER"})
        bodies[f"surrogate in {field_name}"] = raw.replace("PLACEHOLDER", "x\\ud800")
    bodies["surrogate in a key"] = '{"x\\udfff": 1}'
    operation = _operation(where, "POST")
    for label, raw in bodies.items():
        response = requests.post(
            servers[name] + path, data=raw.encode(), headers=headers, timeout=REQUEST_TIMEOUT
        )
        assert response.status_code == 400, (label, response.status_code, response.text)
        assert response.json()["error"]["code"] == "invalid_request", label
        operation.validate_response(response)


def test_description_lists_the_five_functions_each_with_its_own_server() -> None:
    loaded = schemathesis.openapi.from_path(DESCRIPTION).raw_schema
    console = {path for path in loaded["paths"] if path.startswith("/api/")}
    assert set(loaded["paths"]) - console == {
        "/contact_submit",
        "/contact_submit/challenge",
        "/chat_message",
        "/chat_message/challenge",
        "/access_grant",
        "/retention_sweep",
    }
    from factoryops import console as console_mod

    routed = {pattern.pattern for _, pattern, _ in console_mod.ROUTES}
    assert len(console) == len(routed), "every console route is described, and no other"
    for path, item in loaded["paths"].items():
        assert item["servers"], path
        for method, operation in item.items():
            if method != "servers":
                tag = "team_console" if path in console else path.split("/")[1]
                assert operation["tags"] == [tag]


def test_description_lists_every_error_code_the_code_can_raise() -> None:
    from factoryops import errors

    loaded = schemathesis.openapi.from_path(DESCRIPTION).raw_schema
    described = set(
        loaded["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"][
            "enum"
        ]
    )
    contract = {
        "invalid_request",
        "unauthenticated",
        "origin_not_allowed",
        "access_denied",
        "session_not_found",
        "method_not_allowed",
        "idempotency_conflict",
        "payload_too_large",
        "unsupported_media_type",
        "rate_limited",
        "unavailable",
        "internal",
        # Beyond the original table: a visitor message to a closed chat is a conflict
        # with the session's state, not a missing session or a bad request.
        "session_closed",
        "chat_limit_reached",
        # The console's other missing things: an unknown path, grant or record.
        "not_found",
        # Bots: a proof of work missing or not valid, and one live chat per address.
        "challenge_required",
        "challenge_failed",
        "chat_already_open",
    }
    raised = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.AppError)
    }
    assert described == contract == raised


def test_a_post_to_a_closed_chat_gets_an_answer_the_description_allows(
    db: Any, standins: Any, function_client: Any
) -> None:
    from factoryops.chat import team

    client = function_client("chat_message")
    started = client.post("/", json={"email": "closed@plant.example", "page": "/", "text": "hi"})
    session_id = started.get_json()["session_id"]
    team.close(team.find(session_id))
    response = client.post("/", json={"session_id": session_id, "text": "still there?"})
    _operation("/chat_message", "POST").validate_response(response)


def test_a_post_to_a_chat_at_its_cap_gets_an_answer_the_description_allows(
    db: Any, standins: Any, function_client: Any, configure: Any
) -> None:
    configure(CHAT_MAX_MESSAGES="1")
    client = function_client("chat_message")
    started = client.post("/", json={"email": "capped@plant.example", "page": "/", "text": "hi"})
    session_id = started.get_json()["session_id"]
    response = client.post("/", json={"session_id": session_id, "text": "one more"})
    assert response.get_json()["error"]["code"] == "chat_limit_reached"
    _operation("/chat_message", "POST").validate_response(response)


def _operation(path: str, method: str) -> Any:
    return schemathesis.openapi.from_path(DESCRIPTION)[path][method]


def test_answers_the_fuzzer_cannot_reach_are_described(
    db: Any, standins: Any, function_client: Any, configure: Any
) -> None:
    """A valid token, a live chat, a redirect and a rate limit are out of the fuzzer's
    reach; their answers must fit the description too."""
    from factoryops import grants

    configure(CONTACT_REDIRECT_URL="https://factoryopsai.com/thanks", ACCESS_RATE_LIMIT="1/600")
    token = grants.create(lead="described", sections=["pricing"], no_email=True).token
    access = function_client("access_grant")
    unlocked = access.post("/", json={"token": token})
    limited = access.post("/", json={"token": token})
    assert (unlocked.status_code, limited.status_code) == (200, 429)
    for response in (unlocked, limited):
        _operation("/access_grant", "POST").validate_response(response)

    chat = function_client("chat_message")
    started = chat.post("/", json={"email": "described@plant.example", "page": "/"})
    session_id = started.get_json()["session_id"]
    added = chat.post("/", json={"text": "hello"}, headers={"X-Chat-Session": session_id})
    thread = chat.get("/", headers={"X-Chat-Session": session_id})
    assert (started.status_code, added.status_code, thread.status_code) == (201, 201, 200)
    for response in (started, added):
        _operation("/chat_message", "POST").validate_response(response)
    _operation("/chat_message", "GET").validate_response(thread)

    contact = function_client("contact_submit")
    redirected = contact.post(
        "/",
        data={"name": "Form Post", "email": "form@plant.example", "message": "no script"},
        content_type="application/x-www-form-urlencoded",
        headers={"Accept": "text/html"},
    )
    assert redirected.status_code == 303
    _operation("/contact_submit", "POST").validate_response(redirected)


def test_a_console_client_refused_too_often_gets_a_described_429(
    db: Any, standins: Any, function_client: Any, configure: Any
) -> None:
    from devstack.standins import CERTS_PATH

    configure(
        TEAM_OAUTH_CLIENT_ID=CONSOLE_CLIENT,
        TEAM_EMAILS=CONSOLE_MEMBER,
        TEAM_CERTS_URL=standins.url + CERTS_PATH,
        CONSOLE_REFUSED_LIMIT="3/600",
    )
    console = function_client("team_console")
    bogus = {"Authorization": "Bearer not-a-token"}
    answers = [console.get("/api/me", headers=bogus) for _ in range(4)]
    assert [a.status_code for a in answers[-2:]] == [401, 429]
    me = _operation("/api/me", "GET")
    for response in answers[-2:]:
        assert str(response.status_code) in me.definition.raw["responses"]
        me.validate_response(response)


def test_the_proof_of_work_answers_are_described(
    db: Any, standins: Any, function_client: Any
) -> None:
    """A challenge, each refusal of a proof and of a second live chat, which the fuzzer
    reaches only by chance."""
    for function in ("contact_submit", "chat_message"):
        challenge = function_client(function).get("/challenge")
        assert challenge.status_code == 200
        _operation(f"/{function}/challenge", "GET").validate_response(challenge)

    bare = function_client("chat_message", proving=False)
    start = {"email": "proof@plant.example", "page": "/"}
    required = bare.post("/", json=start)
    failed = bare.post("/", json={**start, "altcha": "bm90IGEgcHJvb2Y="})
    proved = function_client("chat_message")
    assert proved.post("/", json=start).status_code == 201
    again = proved.post("/", json=start)
    codes = [r.get_json()["error"]["code"] for r in (required, failed, again)]
    assert codes == ["challenge_required", "challenge_failed", "chat_already_open"]
    for response in (required, failed, again):
        _operation("/chat_message", "POST").validate_response(response)

    contact = function_client("contact_submit", proving=False)
    body = {"name": "A", "email": "a@plant.example", "message": "hi", "altcha": "x"}
    refused = contact.post("/", json=body)
    quarantined = contact.post("/", json={k: v for k, v in body.items() if k != "altcha"})
    assert (refused.status_code, quarantined.status_code) == (400, 201)
    for response in (refused, quarantined):
        _operation("/contact_submit", "POST").validate_response(response)


def test_a_firestore_outage_answer_is_described(
    standins: Any, function_client: Any, configure: Any
) -> None:
    configure(FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{free_port()}")
    response = function_client("contact_submit").post(
        "/", json={"name": "Outage", "email": "outage@plant.example", "message": "hello?"}
    )
    assert response.status_code == 503
    _operation("/contact_submit", "POST").validate_response(response)

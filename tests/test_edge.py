"""The HTTP edge on its own: CORS, methods, body limits, parsing, authentication and
the error body, with an endpoint that touches no database; and a function's start, which
the edge refuses under settings it cannot run with."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import flask
import pytest
from factoryops import config, edge, errors, tokens

from tests.contract import error

pytestmark = pytest.mark.unit

ORIGIN = "https://factoryopsai.com"


def echo(request: edge.ParsedRequest, value: Any) -> edge.JsonResponse:
    if request.body.get("explode"):
        raise RuntimeError(f"what the visitor typed: {request.body['explode']}")
    return edge.JsonResponse(
        200,
        {
            "body": request.body,
            "ip": request.client_ip,
            "caller": request.caller and request.caller.email,
        },
    )


def app_for(**changes: Any) -> Any:
    endpoint: edge.Endpoint[None] = edge.Endpoint(
        function="echo",
        methods=("GET", "POST"),
        validate=lambda request: None,
        handle=echo,
        idempotent_methods=(),
        **changes,
    )
    app = flask.Flask("edge-test")

    @app.route("/", methods=["GET", "POST", "PUT", "OPTIONS"])
    def serve() -> flask.Response:
        return edge.serve(flask.request, endpoint)

    return app.test_client()


@pytest.fixture
def app(configure: Callable[..., None]) -> Any:
    """The echo endpoint behind the edge, as a test client: one allowed origin, 64 bytes."""
    configure(ALLOWED_ORIGINS=ORIGIN, MAX_BODY_BYTES="64")
    return app_for()


def test_a_preflight_from_an_allowed_origin_gets_the_cors_answer(app: Any) -> None:
    response = app.options("/", headers={"Origin": ORIGIN})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert "Idempotency-Key" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Max-Age"] == "3600"
    assert response.headers["Vary"] == "Origin"


def test_another_origin_gets_no_cors_headers_and_403_on_a_real_request(app: Any) -> None:
    preflight = app.options("/", headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 204
    assert not [h for h in preflight.headers if h[0].startswith("Access-Control-Allow")]
    response = app.post("/", json={}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and error(response)["code"] == "origin_not_allowed"


def test_a_method_not_served_is_405_with_allow(app: Any) -> None:
    response = app.put("/", json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST, OPTIONS"
    assert error(response)["code"] == "method_not_allowed"


def test_a_body_over_the_limit_is_413_before_it_is_parsed(app: Any) -> None:
    response = app.post("/", data="{" * 65, content_type="application/json")
    assert response.status_code == 413 and error(response)["code"] == "payload_too_large"


def test_bodies_that_do_not_parse_as_a_json_object_are_400(app: Any) -> None:
    for raw, message in (
        (b"{not json", "The body is not valid JSON."),
        (b"[1, 2]", "The body must be a JSON object."),
        (b"\xff\xfe", "The body is not valid JSON."),
    ):
        response = app.post("/", data=raw, content_type="application/json")
        assert response.status_code == 400
        assert error(response) == {"code": "invalid_request", "message": message}


def test_other_content_types_are_415(app: Any) -> None:
    response = app.post("/", data="hi", content_type="text/plain")
    assert response.status_code == 415
    assert error(response)["message"] == "Send application/json."


def test_a_form_body_is_parsed_where_accepted_and_a_repeated_field_is_400(
    configure: Callable[..., None],
) -> None:
    configure(MAX_BODY_BYTES="1000")
    client = app_for(accepts_form=True)
    ok = client.post("/", data="a=1&b=", content_type=edge.FORM_TYPE)
    assert ok.get_json()["body"] == {"a": "1", "b": ""}
    repeated = client.post("/", data="a=1&a=2", content_type=edge.FORM_TYPE)
    assert repeated.status_code == 400
    assert error(repeated)["fields"] == {"a": "must be given once"}


def test_authenticate_runs_before_the_body_is_read_and_names_the_caller(
    configure: Callable[..., None],
) -> None:
    configure(MAX_BODY_BYTES="64")
    seen: list[str] = []

    def authenticate(headers: Mapping[str, str]) -> tokens.Caller:
        seen.append(headers.get("authorization", ""))
        if headers.get("authorization") != "Bearer good":
            raise errors.Unauthenticated()
        return tokens.Caller("scheduler@example.iam.gserviceaccount.com")

    client = app_for(authenticate=authenticate)
    refused = client.post("/", data="x" * 1000, content_type="text/plain")
    assert refused.status_code == 401 and error(refused)["code"] == "unauthenticated"
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    allowed = client.post("/", json={}, headers={"Authorization": "Bearer good"})
    assert allowed.get_json()["caller"] == "scheduler@example.iam.gserviceaccount.com"
    assert seen == ["", "Bearer good"]


def test_an_unexpected_error_is_a_bare_500_and_its_text_reaches_no_log_line(
    app: Any, captured_logs: Any
) -> None:
    response = app.post("/", json={"explode": "asha@plant.example"})
    assert response.status_code == 500
    assert error(response) == errors.AppError().body()["error"]
    logged = captured_logs.getvalue()
    assert "RuntimeError" in logged and "Traceback" in logged
    assert "asha@plant.example" not in logged


def test_every_answer_is_json_and_never_cached(app: Any) -> None:
    response = app.get("/")
    assert response.headers["Content-Type"] == edge.JSON_TYPE
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.data)["body"] == {}


@pytest.mark.parametrize(
    ("forwarded", "remote", "hops", "expected"),
    [
        ("", "10.0.0.1", 1, "10.0.0.1"),
        ("198.51.100.7", "10.0.0.1", 1, "198.51.100.7"),
        ("6.6.6.6, 198.51.100.7", "10.0.0.1", 1, "198.51.100.7"),
        ("6.6.6.6, 198.51.100.7, 10.1.1.1", "10.0.0.1", 2, "198.51.100.7"),
        ("not-an-ip", "10.0.0.1", 1, "10.0.0.1"),
        ("198.51.100.7", "10.0.0.1", 0, "10.0.0.1"),
        ("198.51.100.7", None, 2, "unknown"),
    ],
)
def test_the_client_ip_is_the_entry_hops_from_the_right(
    forwarded: str, remote: str | None, hops: int, expected: str
) -> None:
    assert edge.client_ip(forwarded, remote, hops) == expected


def test_error_bodies_carry_code_message_and_fields_only_when_given() -> None:
    assert errors.InvalidRequest({"name": "is required"}).body() == {
        "error": {
            "code": "invalid_request",
            "message": "Some fields are not valid.",
            "fields": {"name": "is required"},
        }
    }
    assert errors.ChatLimitReached(86400).headers == {"Retry-After": "86400"}
    assert errors.RateLimited(0).headers == {"Retry-After": "1"}


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (408, True), (429, True), (400, False)]
)
def test_a_downstream_status_is_retried_only_when_it_may_pass(status: int, retryable: bool) -> None:
    failure = errors.DownstreamError.from_status("emailjs", status, "quoted text")
    assert failure.retryable is retryable and str(failure) == f"emailjs {status}"
    assert errors.DownstreamError.unreachable("apps_script", TimeoutError()).retryable


def test_deeply_nested_json_is_a_400_not_a_crash(app: Any, configure: Any) -> None:
    configure(MAX_BODY_BYTES="32768")
    response = app.post("/", data="[" * 2000 + "]" * 2000, content_type="application/json")
    assert response.status_code == 400
    assert error(response) == {
        "code": "invalid_request",
        "message": "The body is nested too deeply.",
    }


def test_a_key_given_twice_is_a_400_naming_it(app: Any, configure: Any) -> None:
    configure(MAX_BODY_BYTES="32768")
    raw = '{"website": "bot", "website": ""}'
    response = app.post("/", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert error(response)["fields"] == {"website": "must be given once"}
    nested = app.post("/", data='{"a": {"b": 1, "b": 2}}', content_type="application/json")
    assert nested.status_code == 400 and error(nested)["fields"] == {"b": "must be given once"}


def test_a_field_name_that_is_not_unicode_text_is_a_400_that_can_be_answered(
    app: Any, configure: Any
) -> None:
    configure(MAX_BODY_BYTES="32768")
    response = app.post("/", data='{"x\\ud800": 1}', content_type="application/json")
    assert response.status_code == 400
    assert error(response)["message"] == "The body's field names are not valid Unicode."


def test_an_answer_holding_text_that_is_not_unicode_is_escaped_json_not_a_crash() -> None:
    assert json.loads(edge._json_bytes({"echo": "x\ud800"})) == {"echo": "x\ud800"}
    assert edge._json_bytes({"text": "नमस्ते"}).decode() == '{"text":"नमस्ते"}'


@pytest.mark.parametrize(
    ("client", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),
    ],
)
def test_a_rate_limit_counts_ipv6_clients_by_their_64_and_mapped_ipv4_as_ipv4(
    client: str, key: str
) -> None:
    from factoryops import ratelimit

    assert ratelimit.client_key(client) == key


@pytest.mark.parametrize(
    ("client", "site"),
    [
        ("2001:db8:aa:bb::1", "2001:db8:aa::/48"),
        ("2001:db8:aa:ffff:1:2:3:4", "2001:db8:aa::/48"),
        ("198.51.100.7", None),
        ("::ffff:198.51.100.7", None),
        ("unknown", None),
    ],
)
def test_an_ipv6_client_also_counts_against_its_48(client: str, site: str | None) -> None:
    from factoryops import ratelimit

    assert ratelimit.site_key(client) == site


@pytest.mark.parametrize(
    "path", ["/api/chats/%0Aab/close", "/favicon.ico", "/robots.txt", "/line%0Abreak"]
)
def test_a_path_the_framework_refuses_itself_is_still_a_json_404(
    path: str, configure: Any, function_client: Any
) -> None:
    configure(TEAM_OAUTH_CLIENT_ID="console.apps.example", TEAM_EMAILS="asha@factoryopsai.com")
    response = function_client("team_console").post(path, json={})

    assert response.status_code == 404
    assert response.headers["Content-Type"] == edge.JSON_TYPE
    assert error(response)["code"] == "not_found"


def test_sweep_auth_off_without_the_emulator_refuses_to_start(
    configure: Any, function_client: Any
) -> None:
    configure(SWEEP_AUTH="off", FIRESTORE_EMULATOR_HOST=None)

    with pytest.raises(config.ConfigError, match="SWEEP_AUTH"):
        function_client("retention_sweep")

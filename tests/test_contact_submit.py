"""contact_submit end to end on the real emulator, with stand-ins at the network edge."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import pytest

from tests.contract import error

pytestmark = [
    pytest.mark.emulator,
    pytest.mark.node,
    pytest.mark.usefixtures("db", "standins", "forwarder"),
]

FUNCTION = "contact_submit"

VALID = {
    "name": "Asha Rao",
    "email": "Asha.Rao@Plant.example",
    "company": "Pune Stamping Works",
    "message": "We run 14 presses and want to talk about downtime.",
}


def submissions(db: Any) -> list[dict[str, Any]]:
    return [{"id": d.id, **d.to_dict()} for d in db.collection("contact_submissions").stream()]


def post(client: Any, body: Any, **kwargs: Any) -> Any:
    return client.post("/", json=body, **kwargs)


# -- the happy path ------------------------------------------------------------------


def test_valid_post_stores_the_named_fields_and_sends_one_email_and_one_crm_row(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    response = post(client, VALID)
    forwarder.settle()

    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "received" and set(body) == {"id", "status", "team"}
    [record] = submissions(db)
    assert record["id"] == body["id"]
    assert set(record) == {
        "id",
        "name",
        "email",
        "email_key",
        "company",
        "message",
        "created_at",
        "expire_at",
        "deliveries",
        "search_terms",
    }
    assert record["name"] == "Asha Rao"
    assert record["email"] == "Asha.Rao@plant.example"
    assert record["email_key"] == "asha.rao@plant.example"
    assert record["search_terms"] == ["asha", "rao", "pune", "stamping", "works"]
    assert record["deliveries"]["email"]["state"] == "sent"
    assert record["deliveries"]["crm"]["state"] == "sent"
    assert "due_at" not in record["deliveries"]["email"]
    assert (record["expire_at"] - record["created_at"]).days in (729, 730)

    [email] = standins.state.emails
    assert email["service_id"] == "service_local"
    assert email["template_id"] == "template_contact"
    assert email["user_id"] == "public_local"
    assert email["accessToken"] == "private_local"
    assert email["template_params"]["record_id"] == body["id"]
    assert email["template_params"]["reply_to"] == "Asha.Rao@plant.example"
    assert email["template_params"]["message"] == VALID["message"]

    [row] = standins.crm.rows()
    assert row[1:] == [
        "contact",
        body["id"],
        "Asha Rao",
        "Asha.Rao@plant.example",
        "Pune Stamping Works",
        VALID["message"],
        "",
    ]
    assert row[0].endswith("Z")


def test_company_is_optional(client: Any, db: Any) -> None:
    response = post(client, {k: v for k, v in VALID.items() if k != "company"})
    assert response.status_code == 201
    assert submissions(db)[0]["company"] == ""


def test_form_urlencoded_post_is_accepted(client: Any, db: Any) -> None:
    response = client.post("/", data=VALID, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 201
    assert submissions(db)[0]["message"] == VALID["message"]


def test_html_form_post_is_redirected_when_a_redirect_url_is_set(
    client: Any, db: Any, configure: Any
) -> None:
    configure(CONTACT_REDIRECT_URL="https://factoryopsai.com/thanks")
    response = client.post(
        "/",
        data=VALID,
        content_type="application/x-www-form-urlencoded",
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "https://factoryopsai.com/thanks"
    assert len(submissions(db)) == 1


def test_json_post_is_not_redirected_even_with_a_redirect_url(client: Any, configure: Any) -> None:
    configure(CONTACT_REDIRECT_URL="https://factoryopsai.com/thanks")
    response = post(client, VALID, headers={"Accept": "text/html"})
    assert response.status_code == 201


# -- the honeypot --------------------------------------------------------------------


def test_a_filled_honeypot_is_answered_as_a_stored_post_and_held_in_the_quarantine_unsent(
    client: Any, db: Any, standins: Any, forwarder: Any, captured_logs: Any
) -> None:
    response = post(client, {**VALID, "website": "http://spam.example"})
    forwarder.settle()
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "status", "team"} and body["status"] == "received"
    # Stored by the same commit as any post, so its answer takes a stored post's time,
    # and the team sees it in the Spam view.
    [held] = submissions(db)
    assert held["id"] == body["id"]
    assert held["quarantine_reason"] == "honeypot" and "deliveries" not in held
    assert "website" not in held
    assert standins.state.emails == [] and standins.crm.rows() == []
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    [quarantined] = [line for line in lines if line["message"] == "record quarantined"]
    assert quarantined["reason"] == "honeypot"
    from factoryops import quarantine

    assert [post.id for post in quarantine.page().posts] == [body["id"]]


def test_empty_honeypot_is_a_normal_submission(client: Any, db: Any) -> None:
    assert post(client, {**VALID, "website": ""}).status_code == 201
    assert len(submissions(db)) == 1


# -- every error of the contract that contact_submit can produce ----------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**VALID, "name": ""}, {"name": "is required"}),
        ({k: v for k, v in VALID.items() if k != "email"}, {"email": "is required"}),
        ({**VALID, "message": "   "}, {"message": "is required"}),
        ({**VALID, "name": "x" * 201}, {"name": "must be at most 200 characters"}),
        ({**VALID, "company": "x" * 201}, {"company": "must be at most 200 characters"}),
        ({**VALID, "message": "x" * 5001}, {"message": "must be at most 5000 characters"}),
        ({**VALID, "email": "a" * 250 + "@x.io"}, {"email": "must be at most 254 characters"}),
        ({**VALID, "name": 42}, {"name": "must be a string"}),
        ({**VALID, "name": "nul\x00byte"}, {"name": "contains control characters"}),
        ({**VALID, "utm_source": "ad"}, {"utm_source": "unknown field"}),
        ({**VALID, "name": "", "extra": 1}, {"name": "is required", "extra": "unknown field"}),
    ],
)
def test_invalid_fields_get_400_with_fields_and_store_nothing(
    client: Any, db: Any, standins: Any, body: dict[str, Any], fields: dict[str, str]
) -> None:
    response = post(client, body)
    assert response.status_code == 400
    err = error(response)
    assert err["code"] == "invalid_request"
    assert err["fields"] == fields
    assert submissions(db) == []
    assert standins.state.emails == []


@pytest.mark.parametrize("address", ["not-an-email", "a@b", "two@@at.example", "sp ace@x.example"])
def test_invalid_email_syntax_is_named_in_fields(client: Any, db: Any, address: str) -> None:
    response = post(client, {**VALID, "email": address})
    assert response.status_code == 400
    assert error(response)["fields"]["email"].startswith("is not a valid email address")
    assert submissions(db) == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b"", b"null"])
def test_malformed_json_is_400(client: Any, db: Any, raw: bytes) -> None:
    response = client.post("/", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_request"
    assert submissions(db) == []


def test_other_content_type_is_415(client: Any, db: Any) -> None:
    response = client.post("/", data="name=x", content_type="text/plain")
    assert response.status_code == 415
    assert error(response)["code"] == "unsupported_media_type"
    assert submissions(db) == []


def test_body_over_the_limit_is_413_before_parsing(client: Any, db: Any, configure: Any) -> None:
    configure(MAX_BODY_BYTES="1024")
    response = client.post("/", data=b"{" + b" " * 2000, content_type="application/json")
    assert response.status_code == 413
    assert error(response)["code"] == "payload_too_large"
    assert submissions(db) == []


def test_default_body_limit_is_32_kib(client: Any, db: Any) -> None:
    response = post(client, {**VALID, "message": "x" * 40000})
    assert response.status_code == 413


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405_with_allow(client: Any, method: str) -> None:
    response = client.open("/", method=method)
    assert response.status_code == 405
    assert error(response)["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_disallowed_origin_gets_403_and_no_cors_headers(
    client: Any, db: Any, configure: Any
) -> None:
    configure(ALLOWED_ORIGINS="https://factoryopsai.com")
    response = post(client, VALID, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert error(response)["code"] == "origin_not_allowed"
    assert not [h for h, _ in response.headers.items() if h.startswith("Access-Control-Allow")]
    assert submissions(db) == []


def test_allowed_origin_gets_cors_headers(client: Any, configure: Any) -> None:
    configure(ALLOWED_ORIGINS="https://factoryopsai.com,https://www.factoryopsai.com")
    response = post(client, VALID, headers={"Origin": "https://www.factoryopsai.com"})
    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == "https://www.factoryopsai.com"
    assert response.headers["Vary"] == "Origin"


def test_preflight_from_allowed_origin_is_204_with_the_contract_headers(
    client: Any, configure: Any
) -> None:
    configure(ALLOWED_ORIGINS="https://factoryopsai.com")
    response = client.options(
        "/",
        headers={
            "Origin": "https://factoryopsai.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://factoryopsai.com"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"]
    assert {"Content-Type", "Idempotency-Key", "X-Chat-Session"} <= {
        h.strip() for h in allowed.split(",")
    }
    assert response.headers["Access-Control-Max-Age"] == "3600"
    assert response.headers["Vary"] == "Origin"


def test_preflight_from_disallowed_origin_gets_no_allow_headers(
    client: Any, configure: Any
) -> None:
    configure(ALLOWED_ORIGINS="https://factoryopsai.com")
    response = client.options("/", headers={"Origin": "https://evil.example"})
    assert not [h for h, _ in response.headers.items() if h.startswith("Access-Control-Allow")]


def test_request_without_origin_is_served(client: Any, configure: Any) -> None:
    configure(ALLOWED_ORIGINS="https://factoryopsai.com")
    assert post(client, VALID).status_code == 201


# -- spreadsheet and mail header safety ----------------------------------------------


def test_formula_in_a_name_reaches_the_sheet_as_text(
    client: Any, standins: Any, forwarder: Any
) -> None:
    response = post(
        client,
        # (A name holding a URL would read as spam and never reach the sheet.)
        {**VALID, "name": '=HYPERLINK("x")', "company": "+91 plant", "message": "-1 @a"},
    )
    forwarder.settle()
    assert response.status_code == 201
    [row] = standins.crm.rows()
    assert row[3] == '\'=HYPERLINK("x")'
    assert row[5] == "'+91 plant"
    assert row[6] == "'-1 @a"


def test_the_contact_email_carries_exactly_the_notices_fields_and_no_ip_agent_or_token(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    headers = {
        "X-Forwarded-For": "203.0.113.50",
        "User-Agent": "Mozilla/5.0 (the visitor's browser)",
        "Idempotency-Key": "form-token-1",
    }
    assert post(client, VALID, headers=headers).status_code == 201
    forwarder.settle()
    [email] = standins.state.emails
    params = email["template_params"]
    # The notice's fields (name, work email, company, message), the record's id and time,
    # and the address again as reply-to: nothing else.
    assert set(params) == {
        "record_id",
        "received_at",
        "name",
        "email",
        "reply_to",
        "company",
        "message",
    }
    sent = json.dumps(email)
    for absent in ("203.0.113.50", "Mozilla", "form-token-1"):
        assert absent not in sent


def test_line_breaks_in_a_name_never_reach_an_emailjs_header_field(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    response = post(client, {**VALID, "name": "Eve\r\nBcc: victim@example.com", "company": "A\nB"})
    forwarder.settle()
    assert response.status_code == 201
    [email] = standins.state.emails
    params = email["template_params"]
    for key in ("name", "reply_to", "email", "company"):
        assert "\r" not in params[key] and "\n" not in params[key]
    assert params["name"] == "Eve Bcc: victim@example.com"


# -- idempotency ---------------------------------------------------------------------


def test_repeat_with_the_same_idempotency_key_replays_and_stores_and_sends_once(
    client: Any, db: Any, standins: Any, forwarder: Any
) -> None:
    headers = {"Idempotency-Key": "form-7f3a"}
    first = post(client, VALID, headers=headers)
    second = post(client, VALID, headers=headers)
    forwarder.settle()
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert len(submissions(db)) == 1
    assert len(standins.state.emails) == 1
    assert len(standins.crm.rows()) == 1


def test_same_idempotency_key_with_a_different_body_is_409(client: Any, db: Any) -> None:
    headers = {"Idempotency-Key": "form-7f3a"}
    assert post(client, VALID, headers=headers).status_code == 201
    response = post(client, {**VALID, "message": "changed"}, headers=headers)
    assert response.status_code == 409
    assert error(response)["code"] == "idempotency_conflict"
    assert len(submissions(db)) == 1


def test_idempotency_key_over_255_characters_is_400(client: Any, db: Any) -> None:
    response = post(client, VALID, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 400
    assert "Idempotency-Key" in error(response)["fields"]
    assert submissions(db) == []


def test_idempotency_key_is_stored_only_as_a_hash(client: Any, db: Any) -> None:
    post(client, VALID, headers={"Idempotency-Key": "secret-key-123"})
    [doc] = list(db.collection("idempotency_keys").stream())
    assert "secret-key-123" not in doc.id
    assert "secret-key-123" not in json.dumps(doc.to_dict(), default=str)


def test_a_stored_key_cannot_confirm_a_guessed_request_without_the_key(
    client: Any, db: Any
) -> None:
    post(client, VALID, headers={"Idempotency-Key": "form-7f3a"})
    [doc] = list(db.collection("idempotency_keys").stream())
    canonical = json.dumps(["POST", VALID, ""], sort_keys=True, separators=(",", ":"))
    guessed = hashlib.sha256(canonical.encode()).hexdigest()
    assert doc.get("request_hash") != guessed, (
        "whoever reads the database could check a guessed address against the request hash"
    )


def test_concurrent_repeats_of_one_key_store_once(
    db: Any, standins: Any, function_client: Any, configure: Any, forwarder: Any
) -> None:
    configure(CONTACT_RATE_LIMIT="100/600")
    results: list[int] = []
    bodies: list[Any] = []

    def worker() -> None:
        response = function_client("contact_submit").post(
            "/", json=VALID, headers={"Idempotency-Key": "same-key"}
        )
        results.append(response.status_code)
        bodies.append(response.get_json())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    forwarder.settle()
    assert results == [201] * 8
    assert len({b["id"] for b in bodies}) == 1
    assert len(submissions(db)) == 1
    assert len(standins.state.emails) == 1


# -- outages -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["500", "timeout"])
def test_emailjs_and_the_crm_down_still_201_and_record_kept_pending(
    client: Any, db: Any, standins: Any, configure: Any, forwarder: Any, mode: str
) -> None:
    standins.state.fail["emailjs"] = mode
    standins.crm.fail(mode)
    standins.state.slow_seconds = 6.0
    response = post(client, VALID)
    assert response.status_code == 201
    forwarder.settle()
    [record] = submissions(db)
    for channel in ("email", "crm"):
        state = record["deliveries"][channel]
        assert state["state"] == "pending"
        assert state["attempts"] == 1
        assert state["last_error"]
        assert state["next_attempt_at"] > record["created_at"]


def test_downstream_refusing_connections_still_201_and_record_kept(
    client: Any, db: Any, configure: Any, forwarder: Any
) -> None:
    from devstack.emulator import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    configure(
        EMAILJS_ENDPOINT=closed + "/api/v1.0/email/send",
        CRM_APPS_SCRIPT_URL=closed + "/macros/s/local/exec",
    )
    assert post(client, VALID).status_code == 201
    forwarder.settle()
    [record] = submissions(db)
    assert record["deliveries"]["email"]["state"] == "pending"
    assert "connection" in record["deliveries"]["email"]["last_error"].lower()
    assert record["deliveries"]["crm"]["state"] == "pending"


def test_permanent_4xx_from_emailjs_marks_the_email_failed(
    client: Any, db: Any, standins: Any, captured_logs: Any, forwarder: Any
) -> None:
    standins.state.fail["emailjs"] = "400"
    assert post(client, VALID).status_code == 201
    forwarder.settle()
    [record] = submissions(db)
    email = record["deliveries"]["email"]
    assert email["state"] == "failed"
    assert record["deliveries"]["crm"]["state"] == "sent"
    # EmailJS's own words are kept for the team but never logged: a service may quote
    # what it was sent.
    assert email["last_error"] == "emailjs 400"
    assert email["last_error_detail"] == "The service is unavailable"
    assert "emailjs 400" in captured_logs.getvalue()
    assert "The service is unavailable" not in captured_logs.getvalue()


def test_unconfigured_downstreams_are_disabled(client: Any, db: Any, configure: Any) -> None:
    configure(EMAILJS_SERVICE_ID=None, CRM_APPS_SCRIPT_URL=None)
    assert post(client, VALID).status_code == 201
    [record] = submissions(db)
    assert record["deliveries"]["email"]["state"] == "disabled"
    assert record["deliveries"]["crm"]["state"] == "disabled"


# -- rate limits ---------------------------------------------------------------------


def test_rate_limit_429_after_n_posts_from_one_ip_and_another_ip_unaffected(
    client: Any, db: Any, configure: Any
) -> None:
    configure(CONTACT_RATE_LIMIT="3/600")
    one = {"X-Forwarded-For": "198.51.100.7"}
    for _ in range(3):
        assert post(client, VALID, headers=one).status_code == 201
    limited = post(client, VALID, headers=one)
    assert limited.status_code == 429
    assert error(limited)["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 600
    assert post(client, VALID, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 201
    assert len(submissions(db)) == 4


def test_rate_limit_uses_the_rightmost_forwarded_entry(client: Any, configure: Any) -> None:
    configure(CONTACT_RATE_LIMIT="1/600")
    assert (
        post(client, VALID, headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.7"}).status_code == 201
    )
    # A client cannot escape the limit by forging the left part of the header.
    spoofed = post(client, VALID, headers={"X-Forwarded-For": "9.9.9.9, 198.51.100.7"})
    assert spoofed.status_code == 429


def test_addresses_of_one_ipv6_64_share_one_bucket_and_mapped_ipv4_counts_as_ipv4(
    client: Any, db: Any, configure: Any
) -> None:
    configure(CONTACT_RATE_LIMIT="3/600")
    rotating = [f"2001:db8:aa:bb::{n:x}" for n in range(1, 9)]
    statuses = [post(client, VALID, headers={"X-Forwarded-For": a}).status_code for a in rotating]
    assert statuses == [201, 201, 201, 429, 429, 429, 429, 429]
    assert len(list(db.collection("rate_limits").stream())) == 2, "the /64's and its /48's"
    other = post(client, VALID, headers={"X-Forwarded-For": "2001:db8:aa:bc::1"})
    assert other.status_code == 201, "the next /64 is another client"
    mapped = [
        post(client, VALID, headers={"X-Forwarded-For": a})
        for a in ("::ffff:198.51.100.9", "198.51.100.9", "198.51.100.9", "::ffff:198.51.100.9")
    ]
    assert [r.status_code for r in mapped] == [201, 201, 201, 429]


def test_the_64s_of_one_ipv6_48_share_four_clients_budget(
    client: Any, db: Any, configure: Any
) -> None:
    configure(CONTACT_RATE_LIMIT="1/600")
    # A flood from a /64 after another of one /48: each new /64 is a fresh client.
    flood = [f"2001:db8:aa:{n:x}::1" for n in range(1, 9)]
    statuses = [post(client, VALID, headers={"X-Forwarded-For": a}).status_code for a in flood]
    assert statuses == [201] * 4 + [429] * 4
    elsewhere = post(client, VALID, headers={"X-Forwarded-For": "2001:db8:ab:1::1"})
    assert elsewhere.status_code == 201, "the next /48 is another site"
    assert len(submissions(db)) == 5


def test_rate_limit_documents_hold_no_ip(client: Any, db: Any) -> None:
    post(client, VALID, headers={"X-Forwarded-For": "198.51.100.7"})
    docs = list(db.collection("rate_limits").stream())
    assert docs
    for doc in docs:
        assert "198.51.100.7" not in doc.id
        assert "198.51.100.7" not in json.dumps(doc.to_dict(), default=str)
        assert set(doc.to_dict()) == {"count", "expire_at"}


# -- privacy of logs -----------------------------------------------------------------


def test_no_personal_data_reaches_a_log_line(
    client: Any, db: Any, standins: Any, configure: Any, captured_logs: Any, forwarder: Any
) -> None:
    configure(CONTACT_RATE_LIMIT="2/600")
    ip = {"X-Forwarded-For": "198.51.100.77"}
    post(client, VALID, headers={**ip, "Idempotency-Key": "idem-secret-1"})
    post(client, VALID, headers={**ip, "Idempotency-Key": "idem-secret-1"})
    forwarder.settle()
    standins.state.fail["emailjs"] = "500"
    standins.crm.fail("500")
    post(client, {**VALID, "name": "Ravi Kumar"}, headers=ip)
    post(client, VALID, headers=ip)  # rate limited
    post(client, {**VALID, "email": "broken@"}, headers={"X-Forwarded-For": "198.51.100.78"})
    post(client, {**VALID, "website": "x"}, headers={"X-Forwarded-For": "198.51.100.79"})
    forwarder.settle()
    text = captured_logs.getvalue()
    assert "delivery attempt" in text  # the capture works
    for secret in (
        "Asha",
        "asha.rao",
        "Plant.example",
        "Ravi Kumar",
        "downtime",
        "Pune",
        "198.51.100.7",
        "idem-secret-1",
        "broken@",
    ):
        assert secret.lower() not in text.lower(), secret
    for line in text.splitlines():
        assert json.loads(line)["severity"]

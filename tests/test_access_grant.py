"""access_grant end to end on the real emulator: create, redeem, expiry, revocation, max
uses under contention, uniform denials, and no token stored or logged anywhere."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

import pytest
from factoryops import errors, grants

from tests.contract import JSON
from tests.together import at_once

pytestmark = [pytest.mark.emulator, pytest.mark.usefixtures("db")]

FUNCTION = "access_grant"


def redeem(client: Any, token: Any, **kwargs: Any) -> Any:
    return client.post("/", json={"token": token}, **kwargs)


def stored(db: Any, grant_id: str) -> dict[str, Any]:
    snapshot = db.collection("access_grants").document(grant_id).get()
    assert snapshot.exists
    return dict(snapshot.to_dict())


def every_document(db: Any) -> list[str]:
    """Every stored document, id and fields, as text."""
    out = []
    for collection in db.collections():
        for doc in collection.stream():
            out.append(collection.id + "/" + doc.id + " " + json.dumps(doc.to_dict(), default=str))
    return out


def set_fields(db: Any, grant_id: str, **fields: Any) -> None:
    db.collection("access_grants").document(grant_id).update(fields)


def denied_grants(db: Any) -> dict[str, str]:
    """One token per reason a known grant is refused."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    expired = grants.create(lead="Expired", sections="pricing", days=3, no_email=True)
    set_fields(db, expired.grant.id, expires_at=past)
    retired = grants.create(lead="Past retention", sections="pricing", no_email=True)
    set_fields(db, retired.grant.id, expire_at=past)
    revoked = grants.create(lead="Revoked", sections="pricing", no_email=True)
    grants.revoke(revoked.grant.id)
    used_up = grants.create(lead="Used up", sections="pricing", max_uses=1, no_email=True)
    grants.redeem(used_up.token)
    return {
        "expired": expired.token,
        "past retention": retired.token,
        "revoked": revoked.token,
        "used up": used_up.token,
    }


# -- create ----------------------------------------------------------------------------


def test_create_stores_the_grant_under_the_sha256_of_its_token_and_never_the_token(
    db: Any, configure: Any
) -> None:
    configure(SITE_URL="https://factoryopsai.com")
    created = grants.create(
        lead="Asha at Pune Works",
        sections="pricing,case-studies",
        email="Asha.Rao@Plant.example",
        company="Pune Stamping Works",
        days=7,
        max_uses=3,
    )

    token = created.token
    assert len(token) >= 43  # 32 random bytes, url-safe base64
    assert created.url == f"https://factoryopsai.com/#access={token}"
    assert created.grant.id == hashlib.sha256(token.encode()).hexdigest()
    [doc] = list(db.collection("access_grants").stream())
    assert doc.id == created.grant.id
    record = doc.to_dict()
    assert set(record) == {
        "lead",
        "email",
        "email_key",
        "company",
        "sections",
        "created_at",
        "expires_at",
        "revoked_at",
        "max_uses",
        "redemptions",
        "first_redeemed_at",
        "last_redeemed_at",
        "expire_at",
        "search_terms",
    }
    assert record["search_terms"] == ["asha", "at", "pune", "works", "stamping"]
    assert record["lead"] == "Asha at Pune Works"
    assert record["email"] == "Asha.Rao@plant.example"
    assert record["email_key"] == "asha.rao@plant.example"
    assert record["company"] == "Pune Stamping Works"
    assert record["sections"] == ["pricing", "case-studies"]
    assert record["max_uses"] == 3
    assert record["redemptions"] == 0
    assert record["revoked_at"] is None
    assert record["first_redeemed_at"] is None and record["last_redeemed_at"] is None
    assert round((record["expires_at"] - record["created_at"]) / dt.timedelta(days=1)) == 7
    # The record outlives the link, for the retention window, so the team keeps seeing
    # how an expired link was used.
    assert round((record["expire_at"] - record["created_at"]) / dt.timedelta(days=1)) == 730
    for text in every_document(db):
        assert token not in text


def test_optional_fields_are_stored_as_null_and_without_days_the_grant_has_no_expiry(
    db: Any,
) -> None:
    created = grants.create(
        lead="Trade fair lead", sections=["demo", "demo", " pricing "], no_email=True
    )
    record = stored(db, created.grant.id)
    assert record["email"] is None and record["email_key"] is None
    assert record["company"] is None and record["max_uses"] is None
    assert record["expires_at"] is None
    assert record["sections"] == ["demo", "pricing"]


def test_every_token_is_new(db: Any) -> None:
    tokens = {grants.create(lead="L", sections="a", no_email=True).token for _ in range(5)}
    assert len(tokens) == 5
    assert len(list(db.collection("access_grants").stream())) == 5


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        ({"lead": "  "}, {"lead": "is required"}),
        ({"lead": "x" * 201}, {"lead": "must be at most 200 characters"}),
        ({"sections": ""}, {"sections": "give one or more section names"}),
        ({"sections": "pricing,,demo"}, {"sections": "give one or more section names"}),
        ({"sections": "Pricing"}, {"sections": "'Pricing' is not a section name"}),
        ({"sections": "a b"}, {"sections": "'a b' is not a section name"}),
        ({"sections": "x" * 65}, {"sections": "is not a section name"}),
        ({"sections": ",".join(f"s{i}" for i in range(51))}, {"sections": "at most 50"}),
        ({"email": "not-an-email", "no_email": False}, {"email": "is not a valid email address"}),
        ({"no_email": False}, {"email": "is required: a privacy request finds grants by email"}),
        (
            {"email": "asha@plant.example", "no_email": True},
            {"no_email": "cannot be given with an email"},
        ),
        ({"company": "x" * 201}, {"company": "must be at most 200 characters"}),
        ({"days": 0}, {"days": "from 1 to 730"}),
        ({"days": 731}, {"days": "from 1 to 730"}),
        ({"max_uses": 0}, {"max_uses": "at least 1"}),
        ({"lead": "", "days": -1}, {"lead": "is required", "days": "from 1 to 730"}),
    ],
)
def test_create_names_every_invalid_value_and_stores_nothing(
    db: Any, values: dict[str, Any], fields: dict[str, str]
) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        grants.create(**{"lead": "Lead", "sections": "pricing", "no_email": True, **values})
    assert set(caught.value.fields) == set(fields)
    for name, start in fields.items():
        assert start in caught.value.fields[name]
    assert list(db.collection("access_grants").stream()) == []


def test_days_are_limited_by_the_configured_retention(db: Any, configure: Any) -> None:
    configure(RETENTION_DAYS="30")
    with pytest.raises(errors.InvalidRequest) as caught:
        grants.create(lead="L", sections="a", days=31, no_email=True)
    assert "from 1 to 30" in caught.value.fields["days"]
    assert (
        grants.create(lead="L", sections="a", days=30, no_email=True).grant.expires_at is not None
    )


# -- redeem ----------------------------------------------------------------------------


def test_redeeming_answers_the_sections_and_expiry_and_records_each_use(
    client: Any, db: Any
) -> None:
    created = grants.create(lead="Lead", sections="pricing,demo", days=14, no_email=True)

    first = redeem(client, created.token)

    assert first.status_code == 200
    assert first.headers["Content-Type"] == JSON
    record = stored(db, created.grant.id)
    body = first.get_json()
    assert len(body.pop("receipt")) >= 22
    assert body == {
        "unlocked": True,
        "sections": ["pricing", "demo"],
        "expires_at": record["expires_at"]
        .astimezone(dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
    }
    assert record["redemptions"] == 1
    assert record["first_redeemed_at"] is not None
    assert record["first_redeemed_at"] == record["last_redeemed_at"]

    assert redeem(client, created.token).status_code == 200
    again = stored(db, created.grant.id)
    assert again["redemptions"] == 2
    assert again["first_redeemed_at"] == record["first_redeemed_at"]
    assert again["last_redeemed_at"] > record["last_redeemed_at"]


def test_a_grant_without_expiry_answers_expires_at_null(client: Any, db: Any) -> None:
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    response = redeem(client, created.token)
    assert response.status_code == 200
    body = response.get_json()
    del body["receipt"]
    assert body == {"unlocked": True, "sections": ["pricing"], "expires_at": None}


def test_surrounding_whitespace_around_a_pasted_token_is_ignored(client: Any, db: Any) -> None:
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    assert redeem(client, f"  {created.token}\n").status_code == 200


def test_a_limited_grant_records_first_and_last_use(client: Any, db: Any) -> None:
    created = grants.create(lead="Lead", sections="pricing", max_uses=5, no_email=True)
    assert redeem(client, created.token).status_code == 200
    record = stored(db, created.grant.id)
    assert record["redemptions"] == 1
    assert record["first_redeemed_at"] is not None
    assert record["last_redeemed_at"] is not None
    assert redeem(client, created.token).status_code == 200
    again = stored(db, created.grant.id)
    assert again["first_redeemed_at"] == record["first_redeemed_at"]
    assert again["last_redeemed_at"] > record["last_redeemed_at"]


def test_an_expired_grant_is_denied_and_not_counted(client: Any, db: Any) -> None:
    created = grants.create(lead="Lead", sections="pricing", days=1, no_email=True)
    assert redeem(client, created.token).status_code == 200
    set_fields(db, created.grant.id, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    response = redeem(client, created.token)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "access_denied"
    assert stored(db, created.grant.id)["redemptions"] == 1


def test_a_revoked_grant_is_denied_from_the_next_redemption_on(client: Any, db: Any) -> None:
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    assert redeem(client, created.token).status_code == 200
    revoked = grants.revoke(created.grant.id)
    assert revoked.revoked_at is not None
    response = redeem(client, created.token)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "access_denied"
    assert stored(db, created.grant.id)["redemptions"] == 1


def test_a_repeated_idempotency_key_does_not_replay_a_redemption_after_revocation(
    client: Any, db: Any
) -> None:
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    headers = {"Idempotency-Key": "visit-1"}
    assert redeem(client, created.token, headers=headers).status_code == 200
    grants.revoke(created.grant.id)
    assert redeem(client, created.token, headers=headers).status_code == 403
    assert list(db.collection("idempotency_keys").stream()) == []


def test_a_used_up_grant_is_denied_and_the_count_stays_at_max_uses(client: Any, db: Any) -> None:
    created = grants.create(lead="Lead", sections="pricing", max_uses=2, no_email=True)
    assert [redeem(client, created.token).status_code for _ in range(4)] == [200, 200, 403, 403]
    assert stored(db, created.grant.id)["redemptions"] == 2


def test_twenty_parallel_redemptions_of_a_grant_with_max_uses_3_succeed_exactly_3_times(
    db: Any, function_client: Any, configure: Any
) -> None:
    configure(ACCESS_RATE_LIMIT="1000/60")
    created = grants.create(lead="Lead", sections="pricing", max_uses=3, no_email=True)
    clients = [function_client("access_grant") for _ in range(20)]

    responses = [
        (r.status_code, r.get_json()) for r in at_once(lambda c: redeem(c, created.token), clients)
    ]

    statuses = sorted(status for status, _ in responses)
    assert statuses == [200] * 3 + [403] * 17
    assert len({json.dumps(body) for status, body in responses if status == 403}) == 1
    record = stored(db, created.grant.id)
    assert record["redemptions"] == 3
    assert record["first_redeemed_at"] is not None
    assert record["last_redeemed_at"] >= record["first_redeemed_at"]


def test_twenty_parallel_redemptions_of_an_unlimited_grant_are_all_counted(
    db: Any, function_client: Any, configure: Any
) -> None:
    configure(ACCESS_RATE_LIMIT="1000/60")
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    clients = [function_client("access_grant") for _ in range(20)]

    statuses = at_once(lambda c: redeem(c, created.token).status_code, clients)

    assert statuses == [200] * 20
    record = stored(db, created.grant.id)
    assert record["redemptions"] == 20
    assert record["first_redeemed_at"] <= record["last_redeemed_at"]


# -- denials look the same -------------------------------------------------------------


def test_every_denial_has_the_same_status_headers_and_body(
    client: Any, db: Any, configure: Any
) -> None:
    configure(ACCESS_RATE_LIMIT="1000/60")
    tokens = {
        **denied_grants(db),
        "unknown": secrets.token_urlsafe(32),
        "short": "abc",
        "not url-safe": "this is not a token!",
        "256 characters": "A" * 256,
        "wrong alphabet": "é" * 43,
    }
    answers = {}
    for reason, token in tokens.items():
        response = redeem(client, token)
        answers[reason] = (
            response.status_code,
            response.headers["Content-Type"],
            response.headers.get("Cache-Control"),
            response.get_data(as_text=True),
        )
    assert len(set(answers.values())) == 1, answers
    status, _, _, body = answers["unknown"]
    assert status == 403
    assert json.loads(body) == {
        "error": {
            "code": "access_denied",
            "message": "This access link is not valid: it may have expired or been revoked.",
        }
    }


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"token": "is required"}),
        ({"token": ""}, {"token": "is required"}),
        ({"token": None}, {"token": "is required"}),
        ({"token": 12345}, {"token": "must be a string"}),
        ({"token": ["a"]}, {"token": "must be a string"}),
        ({"token": "A" * 257}, {"token": "must be at most 256 characters"}),
        ({"token": "abc", "lead": "x"}, {"lead": "unknown field"}),
    ],
)
def test_a_missing_non_string_over_long_token_or_an_unknown_field_is_400(
    client: Any, db: Any, body: dict[str, Any], fields: dict[str, str]
) -> None:
    response = client.post("/", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request"
    assert error["fields"] == fields


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b"", b'"token"'])
def test_a_malformed_body_is_400(client: Any, db: Any, raw: bytes) -> None:
    response = client.post("/", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_get_405_with_allow(client: Any, method: str) -> None:
    response = client.open("/", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_the_site_origin_may_redeem_from_the_browser(client: Any, db: Any, configure: Any) -> None:
    configure(ALLOWED_ORIGINS="https://factoryopsai.com")
    preflight = client.options(
        "/",
        headers={"Origin": "https://factoryopsai.com", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://factoryopsai.com"
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    response = redeem(client, created.token, headers={"Origin": "https://factoryopsai.com"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://factoryopsai.com"
    other = redeem(client, created.token, headers={"Origin": "https://evil.example"})
    assert other.status_code == 403
    assert other.get_json()["error"]["code"] == "origin_not_allowed"


# -- guessing --------------------------------------------------------------------------


def test_guessing_from_one_ip_is_rate_limited_even_for_a_valid_token(
    client: Any, db: Any, configure: Any
) -> None:
    configure(ACCESS_RATE_LIMIT="3/60")
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    guesser = {"X-Forwarded-For": "198.51.100.7"}
    for _ in range(3):
        assert redeem(client, secrets.token_urlsafe(32), headers=guesser).status_code == 403
    limited = redeem(client, created.token, headers=guesser)
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    visitor = {"X-Forwarded-For": "203.0.113.9"}
    assert redeem(client, created.token, headers=visitor).status_code == 200
    assert stored(db, created.grant.id)["redemptions"] == 1


# -- the team's lookups ----------------------------------------------------------------


def test_list_shows_every_grant_newest_first_without_tokens(db: Any) -> None:
    older = grants.create(lead="Older", sections="a", no_email=True)
    newer = grants.create(lead="Newer", sections="b", max_uses=2, no_email=True)
    grants.redeem(newer.token)
    listed = grants.list_all()
    assert [g.lead for g in listed] == ["Newer", "Older"]
    assert listed[0].redemptions == 1 and listed[0].max_uses == 2
    assert listed[0].status() == "active"
    text = json.dumps([g.as_dict() for g in listed], default=str)
    assert older.token not in text and newer.token not in text


def test_find_and_revoke_accept_a_unique_id_prefix(db: Any) -> None:
    created = grants.create(lead="Lead", sections="a", no_email=True)
    assert grants.find(created.grant.id[:8].upper()).id == created.grant.id
    revoked = grants.revoke(created.grant.id[:10])
    assert revoked.id == created.grant.id and revoked.status() == "revoked"
    again = grants.revoke(created.grant.id)
    assert again.revoked_at == revoked.revoked_at


@pytest.mark.parametrize("bad", ["abc", "zzzzzzzzzz", "1234567", "a" * 65])
def test_find_rejects_what_cannot_be_a_grant_id(db: Any, bad: str) -> None:
    with pytest.raises(ValueError, match="hexadecimal"):
        grants.find(bad)


def test_find_of_an_unknown_id_is_grant_not_found(db: Any) -> None:
    with pytest.raises(grants.GrantNotFound):
        grants.find("0" * 64)
    with pytest.raises(grants.GrantNotFound):
        grants.revoke("deadbeef")


# -- nothing secret or personal in logs or storage -------------------------------------


def test_no_token_or_personal_data_reaches_a_log_line_or_a_stored_field(
    client: Any, db: Any, configure: Any, captured_logs: Any
) -> None:
    configure(ACCESS_RATE_LIMIT="6/60")
    created = grants.create(
        lead="Ravi Kumar",
        sections="pricing",
        email="ravi@plant.example",
        company="Nashik Castings",
        max_uses=1,
    )
    ip = {"X-Forwarded-For": "198.51.100.77", "Idempotency-Key": "idem-secret-1"}
    guess = secrets.token_urlsafe(32)
    redeem(client, created.token, headers=ip)
    redeem(client, created.token, headers=ip)  # used up
    redeem(client, guess, headers=ip)
    grants.revoke(created.grant.id)
    redeem(client, created.token, headers=ip)
    for _ in range(3):
        redeem(client, guess, headers=ip)  # the last ones are rate limited
    text = captured_logs.getvalue()
    assert "access grant redeemed" in text and "access denied" in text  # the capture works
    assert "rate limit reached" in text
    for secret in (
        created.token,
        created.token[:16],
        guess,
        created.grant.id,  # a short prefix identifies the grant; the full hash is not needed
        "Ravi",
        "ravi@plant",
        "Nashik",
        "198.51.100.77",
        "idem-secret-1",
    ):
        assert secret not in text, secret
    for line in text.splitlines():
        json.loads(line)
    for doc in every_document(db):
        assert created.token not in doc and guess not in doc
        assert "198.51.100.77" not in doc


# -- re-checks: whether an unlock still stands, recording nothing -------------------------


def recheck(client: Any, token: str, receipt: str) -> Any:
    return client.post("/", json={"token": token, "receipt": receipt})


def test_a_recheck_answers_whether_the_unlock_stands_and_records_nothing(
    client: Any, db: Any
) -> None:
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    receipt = redeem(client, created.token).get_json()["receipt"]
    before = stored(db, created.grant.id)

    for _ in range(3):
        again = recheck(client, created.token, receipt)
        assert again.status_code == 200 and again.get_json()["sections"] == ["pricing"]

    after = stored(db, created.grant.id)
    assert after == before, "a later visit leaves no trace on the grant"
    assert after["redemptions"] == 1


@pytest.mark.parametrize("max_uses", [None, 2])
def test_a_return_visit_counts_no_use_stamps_no_time_and_writes_no_log_line(
    client: Any, db: Any, captured_logs: Any, max_uses: int | None
) -> None:
    created = grants.create(lead="Lead", sections="pricing", max_uses=max_uses, no_email=True)
    receipt = redeem(client, created.token).get_json()["receipt"]
    first = stored(db, created.grant.id)
    opened = captured_logs.getvalue()
    assert "access grant redeemed" in opened, "the capture works: the first opening is a use"

    for _ in range(3):
        again = recheck(client, created.token, receipt)
        assert again.status_code == 200 and again.get_json()["sections"] == ["pricing"]

    assert stored(db, created.grant.id) == first, "no use counted and no time stamped"
    assert first["redemptions"] == 1
    assert captured_logs.getvalue() == opened, "a return visit writes no log line"


def test_a_refused_return_visit_logs_its_reason_without_naming_the_grant(
    client: Any, db: Any, captured_logs: Any
) -> None:
    created = grants.create(lead="Lead", sections="pricing", max_uses=1, no_email=True)
    receipt = redeem(client, created.token).get_json()["receipt"]
    opened = len(captured_logs.getvalue())

    forged = recheck(client, created.token, "a-receipt-made-up-by-whoever-has-the-link")
    assert forged.status_code == 403
    grants.revoke(created.grant.id)
    assert recheck(client, created.token, receipt).status_code == 403

    lines = [json.loads(line) for line in captured_logs.getvalue()[opened:].splitlines()]
    denied = [line for line in lines if line["message"] == "access denied"]
    assert [(line["reason"], line["grant"]) for line in denied] == [("no_use", ""), ("revoked", "")]
    assert created.grant.id[: grants.SHORT_ID] not in captured_logs.getvalue()[opened:]


def test_the_browser_holding_the_last_use_keeps_its_unlock_and_no_one_else_gets_one(
    client: Any, db: Any
) -> None:
    created = grants.create(lead="Lead", sections="pricing", max_uses=1, no_email=True)
    receipt = redeem(client, created.token).get_json()["receipt"]
    assert redeem(client, created.token).status_code == 403, "the one use is taken"

    assert recheck(client, created.token, receipt).status_code == 200
    forwarded = recheck(client, created.token, "a-receipt-made-up-by-whoever-has-the-link")
    assert forwarded.status_code == 403
    assert forwarded.get_json() == {"error": {"code": "access_denied", "message": grants.DENIED}}
    assert stored(db, created.grant.id)["redemptions"] == 1
    assert receipt not in json.dumps(stored(db, created.grant.id), default=str), "only its hash"


def test_a_recheck_of_a_revoked_or_expired_grant_is_denied_like_any_other(
    client: Any, db: Any
) -> None:
    created = grants.create(lead="Lead", sections="pricing", no_email=True)
    receipt = redeem(client, created.token).get_json()["receipt"]
    grants.revoke(created.grant.id)
    denied = recheck(client, created.token, receipt)
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "access_denied"


def test_a_use_given_back_under_contention_takes_its_receipt_with_it(db: Any) -> None:
    import concurrent.futures

    created = grants.create(lead="Lead", sections="pricing", max_uses=2, no_email=True)

    def attempt(_: int) -> str | None:
        try:
            return grants.redeem(created.token).receipt
        except errors.AccessDenied:
            return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        kept = [r for r in pool.map(attempt, range(12)) if r]
    record = stored(db, created.grant.id)
    assert len(kept) == 2 == record["redemptions"]
    assert sorted(record["receipts"]) == sorted(grants.receipt_hash(r) for r in kept)

"""The sweep's caller check, with real RS256 ID tokens from a locally generated key.

The public certificate is served by the stand-in in Google's x509 format
(`{key id: PEM}`), so google-auth fetches and verifies exactly as it would against
https://www.googleapis.com/oauth2/v1/certs. Behind Cloud Run's IAM check
(`SWEEP_AUTH=iam`), a token reaches the function as Cloud Run forwards it: the same
header and claims, the signature replaced by `SIGNATURE_REMOVED_BY_GOOGLE`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from factoryops import config

from devstack.emulator import free_port
from devstack.standins import CERTS_PATH
from tests import idtokens
from tests.contract import error

pytestmark = [pytest.mark.emulator, pytest.mark.node]

AUDIENCE = "https://asia-south1-demo.cloudfunctions.net/retention_sweep"
INVOKER = "sweep-scheduler@demo-factoryops.iam.gserviceaccount.com"
KEY_ID = "test-key-1"


@pytest.fixture(scope="module")
def google_key() -> tuple[bytes, str]:
    return idtokens.key_pair()


@pytest.fixture(scope="module")
def stranger_key() -> tuple[bytes, str]:
    return idtokens.key_pair()


def sign(private_pem: bytes, claims: dict[str, Any], *, key_id: str = KEY_ID) -> str:
    return idtokens.sign(private_pem, claims, key_id=key_id)


def claims(**changes: Any) -> dict[str, Any]:
    return idtokens.claims(AUDIENCE, INVOKER, **changes)


@pytest.fixture
def sweep(db: Any, standins: Any, configure: Any, function_client: Any, google_key: Any) -> Any:
    from factoryops import tokens

    tokens.forget_certificates()
    standins.state.certs = {KEY_ID: google_key[1]}
    configure(
        SWEEP_AUTH="on",
        SWEEP_AUDIENCE=AUDIENCE,
        SWEEP_INVOKER=INVOKER,
        SWEEP_CERTS_URL=standins.url + CERTS_PATH,
    )
    return function_client("retention_sweep")


@pytest.fixture
def token(google_key: Any) -> Callable[..., str]:
    return lambda **changes: sign(google_key[0], claims(**changes))


MARKER = "SIGNATURE_REMOVED_BY_GOOGLE"


def forwarded(signed: str) -> str:
    """The token as Cloud Run forwards it once its IAM check has verified it."""
    return signed.rsplit(".", 1)[0] + "." + MARKER


@pytest.fixture
def iam_sweep(sweep: Any, configure: Any) -> Any:
    """The sweep as deployed: private, behind Cloud Run's check of the token."""
    configure(SWEEP_AUTH="iam")
    return sweep


def post(client: Any, bearer: str | None = None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    return client.post("/", json={"dry_run": True}, headers=headers, **kwargs)


def test_the_schedulers_valid_token_runs_the_sweep(sweep: Any, token: Any) -> None:
    response = post(sweep, token())

    assert response.status_code == 200
    assert response.get_json()["dry_run"] is True


def test_the_short_issuer_form_is_accepted_too(sweep: Any, token: Any) -> None:
    assert post(sweep, token(iss="accounts.google.com")).status_code == 200


def test_no_authorization_header_is_401_with_a_bearer_challenge(sweep: Any) -> None:
    response = post(sweep)

    assert response.status_code == 401
    assert error(response)["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token"])
def test_a_malformed_authorization_header_is_401(sweep: Any, header: str) -> None:
    response = sweep.post("/", json={}, headers={"Authorization": header})

    assert response.status_code == 401
    assert error(response)["code"] == "unauthenticated"


def test_an_unauthenticated_caller_gets_401_before_its_body_is_even_parsed(sweep: Any) -> None:
    response = sweep.post("/", data="{not json", content_type="application/json")

    assert response.status_code == 401


def test_a_token_that_is_not_a_jwt_is_401(sweep: Any) -> None:
    assert error(post(sweep, "not.a.token"))["code"] == "unauthenticated"


def certificate_fetches(standins: Any) -> int:
    return sum(1 for method, path in standins.state.requests if path == CERTS_PATH)


def test_a_token_that_does_not_parse_is_refused_without_fetching_certificates(
    sweep: Any, standins: Any
) -> None:
    for junk in ("not-a-jwt", "a.b.c", "e30.e30", "x" * 2000):
        response = post(sweep, junk)
        assert response.status_code == 401 and error(response)["code"] == "unauthenticated"
    assert certificate_fetches(standins) == 0


def test_certificates_are_fetched_once_and_kept_for_their_max_age(
    sweep: Any, standins: Any, token: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factoryops import tokens

    for _ in range(3):
        assert post(sweep, token()).status_code == 200
    assert certificate_fetches(standins) == 1
    later = time.monotonic() + standins.state.certs_max_age + 1
    monkeypatch.setattr(tokens.time, "monotonic", lambda: later)
    assert post(sweep, token()).status_code == 200
    assert certificate_fetches(standins) == 2, "fetched again once the max-age ran out"


def test_a_token_signed_by_another_key_is_401(sweep: Any, stranger_key: Any) -> None:
    forged = sign(stranger_key[0], claims())

    response = post(sweep, forged)

    assert response.status_code == 401
    assert error(response)["code"] == "unauthenticated"


def test_a_token_whose_key_id_google_does_not_publish_is_401(sweep: Any, stranger_key: Any) -> None:
    assert post(sweep, sign(stranger_key[0], claims(), key_id="unknown")).status_code == 401


def test_an_expired_token_is_401(sweep: Any, token: Any) -> None:
    past = int(time.time()) - 7200

    assert post(sweep, token(iat=past, exp=past + 3600)).status_code == 401


def test_a_token_for_another_audience_is_401(sweep: Any, token: Any) -> None:
    response = post(sweep, token(aud="https://example.com/another-function"))

    assert response.status_code == 401
    assert error(response)["code"] == "unauthenticated"


def test_a_token_from_another_issuer_is_401(sweep: Any, token: Any) -> None:
    assert post(sweep, token(iss="https://evil.example")).status_code == 401


def test_a_valid_token_of_another_caller_is_403_access_denied(sweep: Any, token: Any) -> None:
    response = post(sweep, token(email="someone@demo-factoryops.iam.gserviceaccount.com"))

    assert response.status_code == 403
    assert error(response)["code"] == "access_denied"


def test_the_invokers_email_unverified_or_absent_is_403(sweep: Any, token: Any) -> None:
    assert post(sweep, token(email_verified=False)).status_code == 403
    assert post(sweep, token(email=None, email_verified=None)).status_code == 403


def test_unreachable_certificates_are_503_not_a_pass(
    sweep: Any, token: Any, configure: Any
) -> None:
    configure(SWEEP_CERTS_URL=f"http://127.0.0.1:{free_port()}/certs")

    response = post(sweep, token())

    assert response.status_code == 503
    assert error(response)["code"] == "unavailable"


def test_rejections_log_no_token_and_no_caller_address(
    sweep: Any, token: Any, captured_logs: Any
) -> None:
    other = "someone@demo-factoryops.iam.gserviceaccount.com"
    bad = token(aud="https://example.com/x")
    post(sweep, bad)
    post(sweep, token(email=other))

    text = captured_logs.getvalue()
    assert '"reason": "invalid"' in text and '"reason": "not_allowed"' in text
    assert bad not in text and bad.split(".")[1] not in text
    assert other not in text
    assert hashlib.sha256(other.encode()).hexdigest()[:8] not in text, (
        "a plain hash of the address lets anyone with a guess confirm it"
    )


# -- behind Cloud Run's IAM check (SWEEP_AUTH=iam) ------------------------------------


def test_under_iam_the_token_cloud_run_forwards_runs_the_sweep_without_certificates(
    iam_sweep: Any, standins: Any, token: Any
) -> None:
    response = post(iam_sweep, forwarded(token()))

    assert response.status_code == 200
    assert response.get_json()["dry_run"] is True
    assert certificate_fetches(standins) == 0


@pytest.mark.parametrize(
    "changes",
    [
        lambda now: {"aud": "https://example.com/another-function"},
        lambda now: {"aud": None},
        lambda now: {"iss": "https://evil.example"},
        lambda now: {"iss": None},
        lambda now: {"iat": now - 7200, "exp": now - 3600},
        lambda now: {"exp": None},
        lambda now: {"iat": now + 3600, "exp": now + 7200},
    ],
    ids=["audience", "no-audience", "issuer", "no-issuer", "expired", "no-expiry", "future"],
)
def test_under_iam_a_forwarded_token_with_a_wrong_claim_is_401(
    iam_sweep: Any, token: Any, changes: Callable[[int], dict[str, Any]]
) -> None:
    response = post(iam_sweep, forwarded(token(**changes(int(time.time())))))

    assert response.status_code == 401
    assert error(response)["code"] == "unauthenticated"


def test_under_iam_a_forwarded_token_of_another_invoker_or_unverified_is_403(
    iam_sweep: Any, token: Any
) -> None:
    other = token(email="someone@demo-factoryops.iam.gserviceaccount.com")
    for refused in (other, token(email_verified=False), token(email=None)):
        response = post(iam_sweep, forwarded(refused))
        assert response.status_code == 403
        assert error(response)["code"] == "access_denied"


def test_the_marker_is_refused_while_the_check_is_on(sweep: Any, token: Any) -> None:
    response = post(sweep, forwarded(token()))

    assert response.status_code == 401
    assert error(response)["code"] == "unauthenticated"


def test_under_iam_a_token_with_a_signature_is_still_checked_in_full(
    iam_sweep: Any, standins: Any, token: Any, stranger_key: Any
) -> None:
    assert post(iam_sweep, token()).status_code == 200
    assert certificate_fetches(standins) == 1
    forged = sign(stranger_key[0], claims())
    assert post(iam_sweep, forged).status_code == 401
    signed = token()
    for other in ("", "c2lnbmF0dXJl", MARKER.lower(), MARKER + "_"):
        assert post(iam_sweep, signed.rsplit(".", 1)[0] + "." + other).status_code == 401


def test_under_iam_alg_none_is_refused_with_or_without_the_marker(iam_sweep: Any) -> None:
    unsigned = idtokens.unsigned(claims())
    for bare in (unsigned, unsigned + MARKER):
        response = post(iam_sweep, bare)
        assert response.status_code == 401
        assert error(response)["code"] == "unauthenticated"


def test_under_iam_a_marker_on_what_is_no_token_is_401(iam_sweep: Any) -> None:
    for junk in (f"a.b.{MARKER}", f"e30.e30.{MARKER}", MARKER, f".{MARKER}", f"x.y.z.{MARKER}"):
        response = post(iam_sweep, junk)
        assert response.status_code == 401 and error(response)["code"] == "unauthenticated"


def test_under_iam_refusals_log_a_reason_and_no_token(
    iam_sweep: Any, token: Any, captured_logs: Any
) -> None:
    bad = forwarded(token(aud="https://example.com/x"))
    post(iam_sweep, bad)
    post(iam_sweep, forwarded(token(iss="https://evil.example")))

    text = captured_logs.getvalue()
    assert '"reason": "invalid"' in text and '"reason": "issuer"' in text
    assert bad.split(".")[1] not in text


# -- when the check may be off, and when the function refuses to start ----------------


def test_sweep_auth_off_serves_without_a_token_on_the_emulator(
    db: Any, standins: Any, configure: Any, function_client: Any
) -> None:
    configure(SWEEP_AUTH="off")

    response = function_client("retention_sweep").post("/", json={"dry_run": True})

    assert response.status_code == 200


@pytest.mark.parametrize("mode", ["on", "iam"])
@pytest.mark.parametrize("missing", ["SWEEP_AUDIENCE", "SWEEP_INVOKER"])
def test_sweep_auth_on_or_iam_without_audience_or_invoker_refuses_to_start(
    db: Any, configure: Any, function_client: Any, missing: str, mode: str
) -> None:
    configure(SWEEP_AUTH=mode, SWEEP_AUDIENCE=AUDIENCE, SWEEP_INVOKER=INVOKER)
    configure(**{missing: None})

    with pytest.raises(config.ConfigError, match=missing):
        function_client("retention_sweep")


def test_other_methods_are_405_and_a_preflight_needs_no_token(sweep: Any) -> None:
    assert sweep.get("/").status_code == 405
    assert sweep.options("/").status_code == 204

"""Signed requests to the Apps Script web app (the real apps_script/Code.gs, served over
HTTP by devstack/apps_script_server.js): the web app refuses what is not signed with
its key and a copy of what it carried out, and crm.py signs each attempt anew with
CRM_APPS_SCRIPT_KEY and retries only a stale refusal."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from factoryops import crm, keys
from factoryops.config import ConfigError
from factoryops.errors import DownstreamError

from devstack.apps_script import AppsScript
from devstack.standins import StandIns
from tests import script_refusals as refusals

pytestmark = pytest.mark.node

ROWS = [["2024-01-01T09:00:00Z", "contact", "rec1", "Asha", "asha@plant.example", "", "", ""]]
DELETE = json.dumps(
    {"action": "delete", "match": crm.Match(record_ids=frozenset({"rec1"})).payload()}
)


def post(web_app: AppsScript, body: str, **parameter: str) -> dict[str, Any]:
    response = requests.post(
        web_app.url,
        params=parameter,
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def signature(body: str, ts: int, key: str) -> dict[str, str]:
    """Query parameters as crm.py signs them, with a nonce of their own."""
    once = crm._nonce()
    return {
        "ts": str(ts),
        "nonce": once,
        "sig": crm.sign(body, timestamp=ts, nonce=once, key=key.encode()),
    }


@pytest.fixture
def stocked(standins: StandIns) -> AppsScript:
    """The web app (its sheet holding ROWS), with the functions pointed at it."""
    assert standins.crm is not None
    standins.crm.seed(ROWS)
    return standins.crm


def test_the_web_app_carries_out_a_request_signed_with_its_key(stocked: AppsScript) -> None:
    answer = post(stocked, DELETE, **signature(DELETE, int(time.time()), stocked.key))
    assert answer == {"ok": True, "deleted": 1}
    assert stocked.rows() == []


@pytest.mark.parametrize(
    ("case", "refusal"),
    [
        ("unsigned", refusals.UNSIGNED),
        ("sig_without_ts", refusals.UNSIGNED),
        ("without_nonce", refusals.UNSIGNED),
        ("another_key", refusals.BAD_SIGNATURE),
        ("another_body", refusals.BAD_SIGNATURE),
        ("stale_past", refusals.STALE),
        ("stale_future", refusals.STALE),
        ("no_key", refusals.NO_KEY),
    ],
)
def test_the_web_app_refuses_what_its_key_did_not_sign_and_keeps_its_rows(
    stocked: AppsScript, case: str, refusal: dict[str, Any]
) -> None:
    key, now = stocked.key, int(time.time())
    other = DELETE.replace("rec1", "rec2")
    parameter = {
        "unsigned": {},
        "sig_without_ts": {"sig": signature(DELETE, now, key)["sig"]},
        "without_nonce": {
            name: value for name, value in signature(DELETE, now, key).items() if name != "nonce"
        },
        "another_key": signature(DELETE, now, "not-the-key"),
        "another_body": signature(other, now, key),
        "stale_past": signature(DELETE, now - 400, key),
        "stale_future": signature(DELETE, now + 400, key),
        "no_key": signature(DELETE, now, key),
    }[case]
    if case == "no_key":
        stocked.properties(CRM_APPS_SCRIPT_KEY=None)

    assert post(stocked, DELETE, **parameter) == refusal
    assert stocked.rows() == ROWS


def test_the_web_app_refuses_a_copy_of_a_request_it_carried_out(stocked: AppsScript) -> None:
    rows = signature('{"action": "rows"}', int(time.time()), stocked.key)

    assert post(stocked, '{"action": "rows"}', **rows) == {"ok": True, "rows": ROWS}
    assert post(stocked, '{"action": "rows"}', **rows) == refusals.REPLAYED
    # A new lead's row, then a copy of a delete that would match it.
    delete = signature(DELETE, int(time.time()), stocked.key)
    assert post(stocked, DELETE, **delete) == {"ok": True, "deleted": 1}
    stocked.seed(ROWS)
    assert post(stocked, DELETE, **delete) == refusals.REPLAYED
    assert stocked.rows() == ROWS


def test_the_answer_comes_through_a_one_time_redirect_that_runs_no_script(
    stocked: AppsScript,
) -> None:
    parameter = signature(DELETE, int(time.time()), stocked.key)
    first = requests.post(
        stocked.url, params=parameter, data=DELETE, allow_redirects=False, timeout=5
    )
    assert first.status_code == 302
    answer_at = requests.compat.urljoin(stocked.url, first.headers["Location"])
    assert "nonce" not in answer_at and "sig" not in answer_at

    answered = requests.get(answer_at, timeout=5)
    again = requests.get(answer_at, timeout=5)

    assert answered.json() == {"ok": True, "deleted": 1}
    assert again.status_code == 404
    assert stocked.requests() == 1
    assert stocked.rows() == []


# -- the client ---------------------------------------------------------------------------


def test_the_client_signs_with_crm_apps_script_key(stocked: AppsScript) -> None:
    assert crm.read_rows()[0].value("record_id") == "rec1"
    assert crm.delete_rows(crm.Match(record_ids=frozenset({"rec1"}))) == 1
    # Each through the web app's redirect: one POST each, none taken for a copy.
    assert stocked.requests() == 2


def test_each_retry_is_signed_anew_and_never_taken_for_a_copy(
    stocked: AppsScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    nonces: list[str] = []
    make_nonce = crm._nonce

    def recorded() -> str:
        nonces.append(make_nonce())
        return nonces[-1]

    skew = [400]
    monkeypatch.setattr(crm, "_nonce", recorded)
    monkeypatch.setattr(crm, "_now", lambda: int(time.time()) + skew[0])
    row = crm.Row("2024-02-01T00:00:00Z", "contact", "rec9", "", "", "", "", "")
    failures = []
    with pytest.raises(DownstreamError) as stale:  # the functions' clock drifted
        crm.append(row, timeout=5)
    failures.append(stale.value)
    skew[0] = 0
    stocked.fail("503")  # Google's front end fails it: the script does not run
    with pytest.raises(DownstreamError) as unavailable:
        crm.append(row, timeout=5)
    failures.append(unavailable.value)
    stocked.fail(None)

    crm.append(row, timeout=5)
    crm.append(row, timeout=5)  # as after an answer lost on its way back

    assert [f.retryable for f in failures] == [True, True]
    assert len(set(nonces)) == len(nonces) == 4
    assert stocked.requests() == 4
    assert stocked.rows() == [*ROWS, list(row.cells())]


def test_a_wrong_key_is_a_final_refusal(
    stocked: AppsScript, configure: Callable[..., None]
) -> None:
    configure(CRM_APPS_SCRIPT_KEY="not-the-key")

    with pytest.raises(DownstreamError) as raised:
        crm.delete_rows(crm.Match(record_ids=frozenset({"rec1"})))

    assert str(raised.value) == "apps_script refused the request: bad_signature"
    assert raised.value.retryable is False
    assert raised.value.detail == refusals.BAD_SIGNATURE["error"]
    assert stocked.rows() == ROWS


def test_a_script_without_its_key_is_a_final_refusal(stocked: AppsScript) -> None:
    stocked.properties(CRM_APPS_SCRIPT_KEY=None)

    with pytest.raises(DownstreamError) as raised:
        crm.read_rows()

    assert str(raised.value) == "apps_script refused the request: no_key"
    assert raised.value.retryable is False


@pytest.mark.parametrize("skew", [-400, 400])
def test_a_stale_refusal_is_retried_later(
    stocked: AppsScript, monkeypatch: pytest.MonkeyPatch, skew: int
) -> None:
    # The functions' clock 400 s from the script's: each request's ts is that far off.
    monkeypatch.setattr(crm, "_now", lambda: int(time.time()) + skew)

    with pytest.raises(DownstreamError) as raised:
        crm.append(
            crm.Row("2024-02-01T00:00:00Z", "contact", "rec9", "", "", "", "", ""), timeout=5
        )

    assert str(raised.value) == "apps_script refused the request: stale"
    assert raised.value.retryable is True
    assert stocked.rows() == ROWS


def test_other_refusals_stay_final(stocked: AppsScript) -> None:
    with pytest.raises(DownstreamError) as raised:
        crm._apps_script({"action": "drop_table"}, 5)

    assert str(raised.value) == "apps_script refused the action"
    assert raised.value.retryable is False
    assert raised.value.detail == "unsupported action"


def test_outside_the_emulator_a_missing_key_is_a_configuration_error(
    stocked: AppsScript, configure: Callable[..., None]
) -> None:
    configure(CRM_APPS_SCRIPT_KEY=None, FIRESTORE_EMULATOR_HOST=None)

    with pytest.raises(ConfigError) as raised:
        crm.read_rows()

    assert raised.value.name == "CRM_APPS_SCRIPT_KEY"
    assert stocked.requests() == 0


def test_on_the_emulator_a_missing_key_is_random_per_process(
    stocked: AppsScript, configure: Callable[..., None]
) -> None:
    configure(CRM_APPS_SCRIPT_KEY=None, FIRESTORE_EMULATOR_HOST="127.0.0.1:8080")

    with pytest.raises(DownstreamError) as raised:
        crm.read_rows()

    # Signed, with a key the web app was not given.
    assert str(raised.value) == "apps_script refused the request: bad_signature"
    assert keys.crm_apps_script() == keys.crm_apps_script() != keys.rate_limit()
    assert len(keys.crm_apps_script()) == 32

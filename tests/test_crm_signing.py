"""Signed requests to the Apps Script web app (the real apps_script/Code.gs, served over
HTTP by devstack/apps_script_server.js): the web app refuses what is not signed with
its key, and crm.py signs with CRM_APPS_SCRIPT_KEY and retries only a stale refusal."""

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
    return {"ts": str(ts), "sig": crm.sign(body, timestamp=ts, key=key.encode())}


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


# -- the client ---------------------------------------------------------------------------


def test_the_client_signs_with_crm_apps_script_key(stocked: AppsScript) -> None:
    assert crm.read_rows()[0].value("record_id") == "rec1"
    assert crm.delete_rows(crm.Match(record_ids=frozenset({"rec1"}))) == 1


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

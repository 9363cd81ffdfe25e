"""Signed requests to the Apps Script web app, without Node: the stand-in in
devstack/standins.py refuses what Code.gs refuses (tests/test_apps_script.py holds both
to the same answers), and crm.py signs with CRM_APPS_SCRIPT_KEY and retries only a
stale refusal."""

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

from devstack import standins as standin
from devstack.standins import APPS_SCRIPT_PATH, StandIns

ROWS = [["2024-01-01T09:00:00Z", "contact", "rec1", "Asha", "asha@plant.example", "", "", ""]]
DELETE = json.dumps(
    {"action": "delete", "match": crm.Match(record_ids=frozenset({"rec1"})).payload()}
)


def post(standins: StandIns, body: str, **parameter: str) -> dict[str, Any]:
    response = requests.post(
        standins.url + APPS_SCRIPT_PATH,
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
def stocked(standins: StandIns) -> StandIns:
    standins.state.sheet("Leads").extend(list(r) for r in ROWS)
    return standins


def test_the_stand_in_carries_out_a_request_signed_with_its_key(stocked: StandIns) -> None:
    key = stocked.state.apps_script_key
    answer = post(stocked, DELETE, **signature(DELETE, int(time.time()), key))
    assert answer == {"ok": True, "deleted": 1}
    assert stocked.state.rows("Leads") == []


@pytest.mark.parametrize(
    ("case", "refusal"),
    [
        ("unsigned", standin.UNSIGNED),
        ("sig_without_ts", standin.UNSIGNED),
        ("another_key", standin.BAD_SIGNATURE),
        ("another_body", standin.BAD_SIGNATURE),
        ("stale_past", standin.STALE),
        ("stale_future", standin.STALE),
        ("no_key", standin.NO_KEY),
    ],
)
def test_the_stand_in_refuses_as_the_script_does_and_keeps_its_rows(
    stocked: StandIns, case: str, refusal: dict[str, Any]
) -> None:
    key, now = stocked.state.apps_script_key, int(time.time())
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
        stocked.state.apps_script_key = ""

    assert post(stocked, DELETE, **parameter) == refusal
    assert stocked.state.rows("Leads") == ROWS


def test_the_stand_ins_key_comes_from_its_configuration_and_reaches_the_functions() -> None:
    given = StandIns(apps_script_key="a-key-of-its-own")
    assert given.env()["CRM_APPS_SCRIPT_KEY"] == "a-key-of-its-own"
    first, second = StandIns(), StandIns()
    assert first.state.apps_script_key != second.state.apps_script_key
    assert first.env()["CRM_APPS_SCRIPT_KEY"] == first.state.apps_script_key
    for unused in (given, first, second):
        unused._server.server_close()


# -- the client ---------------------------------------------------------------------------


@pytest.fixture
def script(standins: StandIns, configure: Callable[..., None]) -> StandIns:
    """The functions pointed at the Apps Script stand-in, with the key StandIns.env() gave."""
    configure(CRM_BACKEND="apps_script")
    standins.state.sheet("Leads").extend(list(r) for r in ROWS)
    return standins


def test_the_client_signs_with_crm_apps_script_key(script: StandIns) -> None:
    assert crm.read_rows()[0].value("record_id") == "rec1"
    assert crm.delete_rows(crm.Match(record_ids=frozenset({"rec1"}))) == 1


def test_a_wrong_key_is_a_final_refusal(script: StandIns, configure: Callable[..., None]) -> None:
    configure(CRM_APPS_SCRIPT_KEY="not-the-key")

    with pytest.raises(DownstreamError) as raised:
        crm.delete_rows(crm.Match(record_ids=frozenset({"rec1"})))

    assert str(raised.value) == "apps_script refused the request: bad_signature"
    assert raised.value.retryable is False
    assert raised.value.detail == standin.BAD_SIGNATURE["error"]
    assert script.state.rows("Leads") == ROWS


def test_a_script_without_its_key_is_a_final_refusal(script: StandIns) -> None:
    script.state.apps_script_key = ""

    with pytest.raises(DownstreamError) as raised:
        crm.read_rows()

    assert str(raised.value) == "apps_script refused the request: no_key"
    assert raised.value.retryable is False


@pytest.mark.parametrize("skew", [-400, 400])
def test_a_stale_refusal_is_retried_later(
    script: StandIns, monkeypatch: pytest.MonkeyPatch, skew: int
) -> None:
    monkeypatch.setattr(crm, "_now", lambda: int(time.time()) + skew)

    with pytest.raises(DownstreamError) as raised:
        crm.append(
            crm.Row("2024-02-01T00:00:00Z", "contact", "rec9", "", "", "", "", ""), timeout=5
        )

    assert str(raised.value) == "apps_script refused the request: stale"
    assert raised.value.retryable is True
    assert script.state.rows("Leads") == ROWS


def test_other_refusals_stay_final(script: StandIns) -> None:
    with pytest.raises(DownstreamError) as raised:
        crm._apps_script({"action": "drop_table"}, 5)

    assert str(raised.value) == "apps_script refused the action"
    assert raised.value.retryable is False
    assert raised.value.detail == "unsupported action"


def test_outside_the_emulator_a_missing_key_is_a_configuration_error(
    script: StandIns, configure: Callable[..., None]
) -> None:
    configure(CRM_APPS_SCRIPT_KEY=None, FIRESTORE_EMULATOR_HOST=None)

    with pytest.raises(ConfigError) as raised:
        crm.read_rows()

    assert raised.value.name == "CRM_APPS_SCRIPT_KEY"
    assert script.state.requests == []


def test_on_the_emulator_a_missing_key_is_random_per_process(
    script: StandIns, configure: Callable[..., None]
) -> None:
    configure(CRM_APPS_SCRIPT_KEY=None, FIRESTORE_EMULATOR_HOST="127.0.0.1:8080")

    with pytest.raises(DownstreamError) as raised:
        crm.read_rows()

    # Signed, with a key the stand-in was not given.
    assert str(raised.value) == "apps_script refused the request: bad_signature"
    assert keys.crm_apps_script() == keys.crm_apps_script() != keys.rate_limit()
    assert len(keys.crm_apps_script()) == 32

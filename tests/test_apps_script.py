"""apps_script/Code.gs, the CRM web app, run under Node.js by tests/apps_script_harness.js
with the in-memory Apps Script services of devstack/apps_script_shims.js. The requests
are the ones lib/factoryops/crm.py really sends: each POST the client makes is recorded
as it would go on the wire (body and query, signature included), so these tests follow
the client's wire format and signing. The same script served over HTTP
(devstack/apps_script_server.js, which the other tests and `make dev` use) is held to
the same answers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from factoryops import crm
from factoryops.errors import DownstreamError

from devstack.apps_script import AppsScript
from tests import script_refusals as refusals

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "tests" / "apps_script_harness.js"
CODE = ROOT / "apps_script" / "Code.gs"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        NODE is None, reason="Node.js is not installed: Code.gs runs under node in these tests"
    ),
]

HEADER = crm.Row(*crm.COLUMNS)
KEY = "test-key-4f1c9a7e2b"
"""CRM_APPS_SCRIPT_KEY of the client, and by default of the script's properties."""
_real_post = requests.post
UTC = dt.UTC


def lead(n: int, **cells: str) -> crm.Row:
    values = {
        "received_at": f"2024-01-{n:02d}T09:00:00.000Z",
        "source": "contact",
        "record_id": f"rec{n}",
        "name": f"Name {n}",
        "email": f"person{n}@example.com",
        "company": f"Company {n}",
        "message": f"message {n}",
        "page": "/contact",
    }
    values.update(cells)
    return crm.Row(**values)


@dataclass(frozen=True)
class Sent:
    """One POST as the web app receives it: the body, and the query (`e.parameter` holds
    each parameter's first value)."""

    contents: str
    parameter: dict[str, str]
    type: str = "application/json"
    query: str | None = None
    """The query string as sent, when it was recorded from the wire."""
    now: int | None = None
    """The script's clock (Unix seconds) when it arrives; unset: the clock of the run."""

    def query_string(self) -> str:
        return urllib.parse.urlencode(self.parameter) if self.query is None else self.query

    def harness(self) -> dict[str, Any]:
        request = {"contents": self.contents, "query": self.query_string(), "type": self.type}
        return request if self.now is None else {**request, "now": self.now}

    def at(self, now: int) -> Sent:
        """The same request, arriving when the script's clock reads `now`."""
        return dataclasses.replace(self, now=now)

    @property
    def payload(self) -> Any:
        return json.loads(self.contents)


@dataclass(frozen=True)
class Together:
    """Requests that arrive at once: each runs in an execution of its own, side by side."""

    posts: tuple[Sent, ...]

    def harness(self) -> dict[str, Any]:
        return {"together": [post.harness() for post in self.posts]}


def signed(
    request: Any, *, key: str = KEY, ts: int | None = None, nonce: str | None = None
) -> Sent:
    """A payload (sent as JSON) or a str (the raw body), signed as crm.py signs."""
    body = request if isinstance(request, str) else json.dumps(request)
    stamp = crm._now() if ts is None else ts
    once = crm._nonce() if nonce is None else nonce
    sig = crm.sign(body, timestamp=stamp, nonce=once, key=key.encode())
    return Sent(body, {"ts": str(stamp), "nonce": once, "sig": sig})


@dataclass
class CrmClient:
    """crm.py with each POST it makes recorded (and, with `forward`, really sent)."""

    forward: bool = False
    reply: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    """The answer when not forwarded."""
    sent: list[Sent] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        wire = requests.Request(
            "POST",
            url,
            params=kwargs.get("params"),
            data=kwargs.get("data"),
            headers=kwargs.get("headers"),
        ).prepare()
        raw_query = urllib.parse.urlsplit(wire.url).query
        query = urllib.parse.parse_qs(raw_query)
        body = wire.body if isinstance(wire.body, bytes) else str(wire.body or "").encode()
        self.sent.append(
            Sent(
                body.decode("utf-8"),
                {name: values[0] for name, values in query.items()},
                wire.headers.get("Content-Type", ""),
                raw_query,
            )
        )
        if self.forward:
            response = _real_post(url, **kwargs)
        else:
            response = requests.Response()
            response.status_code = 200
            response._content = json.dumps(self.reply).encode()
        self.answers.append(response.json())
        return response

    @property
    def payloads(self) -> list[Any]:
        return [sent.payload for sent in self.sent]

    def append(self, *rows: crm.Row) -> CrmClient:
        for row in rows:
            crm.append(row, timeout=5)
        return self


@pytest.fixture
def crm_client(
    monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None]
) -> Iterator[CrmClient]:
    configure(
        CRM_APPS_SCRIPT_URL="https://script.invalid/exec",
        CRM_APPS_SCRIPT_KEY=KEY,
    )
    recorder = CrmClient()
    monkeypatch.setattr(requests, "post", recorder.post)
    yield recorder


def run(
    posts: list[Any],
    *,
    key: str | None = KEY,
    properties: dict[str, str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Each post is a `Sent` or `Together` (sent as it is), or a payload or str, signed
    with KEY. The script's properties hold `key` as CRM_APPS_SCRIPT_KEY (none when it is
    None)."""
    sent = [post if isinstance(post, Sent | Together) else signed(post) for post in posts]
    script_properties = {} if key is None else {"CRM_APPS_SCRIPT_KEY": key}
    script_properties.update(properties or {})
    done = subprocess.run(
        [str(NODE), str(HARNESS)],
        input=json.dumps(
            {"requests": [r.harness() for r in sent], "properties": script_properties, **options}
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_code_gs_is_a_script_node_parses() -> None:
    done = subprocess.run(
        [str(NODE), "--check", "-"],
        input=CODE.read_text(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_append_writes_the_cells_in_column_order_as_plain_text(crm_client: CrmClient) -> None:
    row = lead(1, name="=HYPERLINK(1)", company="+1 555", message="-x", page="@home")
    crm_client.append(HEADER, row)

    result = run(crm_client.sent)

    assert result["answers"] == [{"ok": True, "appended": True}] * 2
    assert result["rows"] == [list(crm.COLUMNS), row.cells()]
    assert result["rows"][1] == [
        "2024-01-01T09:00:00.000Z",
        "contact",
        "rec1",
        "'=HYPERLINK(1)",
        "person1@example.com",
        "'+1 555",
        "'-x",
        "'@home",
    ]
    assert result["formats"] == [["@"] * 8, ["@"] * 8]


def test_rows_lists_every_row_header_included(crm_client: CrmClient) -> None:
    crm_client.append(HEADER, lead(1), lead(2, name="=1+1"))
    crm.read_rows()

    result = run(crm_client.sent)

    assert crm_client.payloads[-1] == {"action": "rows"}
    assert result["answers"][-1] == {
        "ok": True,
        "rows": [list(crm.COLUMNS), lead(1).cells(), lead(2, name="=1+1").cells()],
    }
    assert [r.value("name") for r in crm._rows_from(result["answers"][-1]["rows"])] == [
        "name",
        "Name 1",
        "=1+1",
    ]


def test_delete_by_record_id_removes_exactly_those_rows_bottom_up(crm_client: CrmClient) -> None:
    crm_client.append(HEADER, *(lead(n) for n in range(1, 7)))
    crm.delete_rows(crm.Match(record_ids=frozenset({"rec1", "rec2", "rec4"})))

    result = run(crm_client.sent)

    assert result["answers"][-1] == {"ok": True, "deleted": 3}
    # rec4 is row 5, rec1 and rec2 rows 2 and 3: the bottom run goes first
    assert result["deletions"] == [[5, 1], [2, 2]]
    assert result["rows"] == [list(crm.COLUMNS), lead(3).cells(), lead(5).cells(), lead(6).cells()]


def test_delete_by_email_ignores_case_and_surrounding_space(crm_client: CrmClient) -> None:
    kept = lead(3, email="other@example.com")
    crm_client.append(
        HEADER,
        lead(1, email="  Ada@Example.COM "),
        kept,
        lead(2, email="ada@example.com"),
        lead(4, email="-ada@example.com"),
    )
    crm.delete_rows(crm.Match(email_keys=frozenset({"ada@example.com", "-ada@example.com"})))

    result = run(crm_client.sent)

    assert crm_client.payloads[-2]["row"]["email"] == "'-ada@example.com"
    assert result["answers"][-1] == {"ok": True, "deleted": 3}
    assert result["rows"] == [list(crm.COLUMNS), kept.cells()]


def test_delete_by_received_before_compares_instants_to_the_microsecond(
    crm_client: CrmClient,
) -> None:
    cutoff = dt.datetime(2024, 3, 1, 0, 0, 0, 1, tzinfo=UTC)
    rows = [
        lead(1, received_at="2024-03-01T00:00:00.000Z"),  # 1 µs before: deleted
        lead(2, received_at="2024-03-01T05:30:00.000001+05:30"),  # the cutoff itself: kept
        lead(3, received_at="2024-02-29T23:59:59"),  # no offset, read as UTC: deleted
        lead(4, received_at="2024-03-01T00:00:01.000Z"),  # after: kept
        lead(5, received_at="not a time"),  # unreadable: kept
    ]
    crm_client.append(HEADER, *rows)
    crm.delete_rows(crm.Match(received_before=cutoff))

    result = run(crm_client.sent)

    assert crm_client.payloads[-1]["match"]["received_before"] == "2024-03-01T00:00:00.000001+00:00"
    assert result["answers"][-1] == {"ok": True, "deleted": 2}
    assert result["rows"] == [list(crm.COLUMNS), *(rows[i].cells() for i in (1, 3, 4))]
    assert [r for r in rows if crm.Match(received_before=cutoff)(_sheet_row(r))] == [
        rows[0],
        rows[2],
    ]


def _sheet_row(row: crm.Row) -> crm.SheetRow:
    return crm.SheetRow(2, tuple(row.cells()))


def test_delete_of_every_row_keeps_the_sheet_valid(crm_client: CrmClient) -> None:
    crm_client.append(lead(1), lead(2), lead(3))
    crm.delete_rows(crm.Match(record_ids=frozenset({"rec1", "rec2", "rec3"})))

    # max_rows 3: the sheet is exactly full, and a sheet may not lose all its rows
    result = run(crm_client.sent, max_rows=3)

    assert result["answers"][-1] == {"ok": True, "deleted": 3}
    assert result["rows"] == []


def test_update_sets_name_email_company_of_matching_rows_neutralised(crm_client: CrmClient) -> None:
    other = lead(2)
    crm_client.append(HEADER, lead(1), other, lead(3, email="ADA@example.com"))
    match = crm.Match(record_ids=frozenset({"rec1"}), email_keys=frozenset({"ada@example.com"}))
    crm.update_rows(match, {"name": "=cmd|calc", "email": "ada.new@example.com", "company": ""})

    result = run(crm_client.sent)

    assert crm_client.payloads[-1]["set"]["name"] == "'=cmd|calc"
    assert result["answers"][-1] == {"ok": True, "updated": 2}
    changed = {"name": "'=cmd|calc", "email": "ada.new@example.com", "company": ""}
    expected = [list(crm.COLUMNS)]
    for row in (lead(1), other, lead(3, email="ADA@example.com")):
        cells = row.cells()
        if row is not other:
            for column, value in changed.items():
                cells[crm.COLUMNS.index(column)] = value
        expected.append(cells)
    assert result["rows"] == expected
    assert result["formats"][1] == ["@"] * 8


def test_update_neutralises_values_a_caller_sent_raw(crm_client: CrmClient) -> None:
    crm_client.append(lead(1))
    raw = {
        "action": "update",
        "match": crm.Match(record_ids=frozenset({"rec1"})).payload(),
        "set": {"name": "=1+1", "company": "'=kept"},
    }

    result = run([*crm_client.sent, raw])

    assert result["answers"][-1] == {"ok": True, "updated": 1}
    assert result["rows"][0][3] == "'=1+1"
    assert result["rows"][0][5] == "'=kept"


def test_requests_it_cannot_carry_out_are_refused_without_personal_data(
    crm_client: CrmClient,
) -> None:
    crm_client.append(lead(1, email="secret.person@example.com"))
    match = crm.Match(email_keys=frozenset({"secret.person@example.com"})).payload()
    refused = [
        {"action": "drop_table"},
        "{not json",
        "[1, 2]",
        {"action": "delete"},
        {"action": "delete", "match": {**match, "received_before": "yesterday"}},
        {"action": "update", "match": match},
        {"action": "update", "match": match, "set": {"phone": "secret.person@example.com"}},
        {"action": "append", "row": {"email": "secret.person@example.com", "phone": "1"}},
    ]

    result = run([*crm_client.sent, *refused])

    answers = result["answers"][1:]
    assert [a["ok"] for a in answers] == [False] * len(refused)
    assert answers[0] == {"ok": False, "error": "unsupported action"}
    assert all("secret" not in a["error"] and "example" not in a["error"] for a in answers)
    assert result["rows"] == [lead(1, email="secret.person@example.com").cells()]


def test_a_busy_lock_is_thrown_so_the_client_retries(crm_client: CrmClient) -> None:
    crm_client.append(lead(1))

    result = run(crm_client.sent, lock_held=True)

    assert "thrown" in result["answers"][0]
    assert result["rows"] == []


def test_an_append_repeated_after_a_lost_answer_adds_no_second_row(crm_client: CrmClient) -> None:
    crm_client.append(lead(1), lead(2), lead(1))

    result = run(crm_client.sent)

    assert [a["appended"] for a in result["answers"]] == [True, True, False]
    assert result["rows"] == [lead(1).cells(), lead(2).cells()]


def test_the_sheet_is_the_one_named_by_crm_sheet_name(crm_client: CrmClient) -> None:
    crm_client.append(lead(1))

    named = run(crm_client.sent, sheet_name="CRM", properties={"CRM_SHEET_NAME": "CRM"})
    missing = run(crm_client.sent, sheet_name="Leads", properties={"CRM_SHEET_NAME": "CRM"})

    assert named["answers"] == [{"ok": True, "appended": True}]
    assert missing["answers"][0]["ok"] is False
    assert missing["rows"] == []


@pytest.fixture
def web_app(apps_script: AppsScript) -> AppsScript:
    """The script served over HTTP, as the other tests and `make dev` use it; empty."""
    apps_script.reset()
    return apps_script


def test_the_stand_in_and_the_script_agree_on_what_the_client_sends(
    crm_client: CrmClient, web_app: AppsScript, configure: Callable[..., None]
) -> None:
    # The client talks to the web app over HTTP, then the same requests are run through
    # the script one by one: the answers and the sheet agree.
    configure(**web_app.env())
    crm_client.forward = True
    crm_client.append(
        HEADER,
        *(lead(n) for n in range(1, 6)),
        lead(6, name="=SUM(A1:A9)", email=" Ada@Example.com", company="@corp"),
        lead(7, email="ada@example.com", message="+44 20"),
        lead(8, received_at="2023-12-31T23:59:59.999Z"),
    )
    crm.read_rows()
    crm.update_rows(
        crm.Match(email_keys=frozenset({"ada@example.com"})),
        {"name": "-renamed", "email": "ada@new.example.com", "company": "Ada Ltd"},
    )
    crm.delete_rows(crm.Match(record_ids=frozenset({"rec2", "rec3", "rec5"})))
    crm.delete_rows(crm.Match(received_before=dt.datetime(2024, 1, 1, tzinfo=UTC)))
    crm.delete_rows(crm.Match(email_keys=frozenset({"ada@new.example.com"})))
    crm.read_rows()

    result = run(crm_client.sent, key=web_app.key)

    assert result["answers"] == crm_client.answers
    assert result["rows"] == web_app.rows()
    assert [a.get("deleted") for a in crm_client.answers if "deleted" in a] == [3, 1, 2]


def test_a_busy_lock_is_an_error_page_over_http_which_the_client_retries(
    web_app: AppsScript, configure: Callable[..., None]
) -> None:
    configure(**web_app.env())
    web_app.hold_lock(True)  # another execution holds the script lock

    with pytest.raises(DownstreamError) as raised:
        crm.append(lead(1), timeout=5)

    assert str(raised.value) == "apps_script answered non-JSON"
    assert raised.value.retryable is True
    web_app.hold_lock(False)
    crm.append(lead(1), timeout=5)
    assert web_app.rows() == [lead(1).cells()]


# -- signed requests ---------------------------------------------------------------------

NOW = 1_760_000_000
"""The script's clock in the tests of signatures, and the client's."""
WINDOW = 60
"""Seconds a request's ts may be from the script's clock, either way (Code.gs, README)."""


@pytest.fixture
def at_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crm, "_now", lambda: NOW)


def delete(*record_ids: str) -> dict[str, Any]:
    return {"action": "delete", "match": crm.Match(record_ids=frozenset(record_ids)).payload()}


def test_the_client_signs_ts_nonce_and_the_exact_body_it_sends(
    crm_client: CrmClient, at_now: None
) -> None:
    crm_client.append(lead(1))
    crm.delete_rows(crm.Match(record_ids=frozenset({"rec1"})))
    crm.read_rows()

    for sent in crm_client.sent:
        assert sent.type == "application/json"
        assert set(sent.parameter) == {"ts", "nonce", "sig"}
        assert sent.parameter["ts"] == str(NOW)
        nonce = sent.parameter["nonce"]
        assert len(nonce) == 32 and set(nonce) <= set("0123456789abcdef")
        message = f"{NOW}\n{nonce}\n{sent.contents}".encode()
        assert sent.parameter["sig"] == hmac.new(KEY.encode(), message, hashlib.sha256).hexdigest()
        assert sent.contents.isascii()
    assert len({sent.parameter["nonce"] for sent in crm_client.sent}) == 3
    assert crm_client.payloads[1] == delete("rec1")


def _another_body(now: int) -> Sent:
    """A signature the client made, carried with a body it did not sign."""
    genuine = signed(delete("rec2"), ts=now)
    return Sent(json.dumps(delete("rec1")), genuine.parameter)


def _tampered(now: int) -> Sent:
    genuine = signed(delete("rec1"), ts=now)
    sig = genuine.parameter["sig"]
    return Sent(
        genuine.contents, {**genuine.parameter, "sig": sig[:-1] + ("0" if sig[-1] != "0" else "1")}
    )


def _moved(now: int, **parameter: str) -> Sent:
    """A genuine signature, with one of the parameters it covers changed."""
    genuine = signed(delete("rec1"), ts=now)
    return Sent(genuine.contents, {**genuine.parameter, **parameter})


def _without(name: str) -> Callable[[int], Sent]:
    def make(now: int) -> Sent:
        genuine = signed(delete("rec1"), ts=now)
        return Sent(genuine.contents, {k: v for k, v in genuine.parameter.items() if k != name})

    return make


REFUSED: dict[str, tuple[Callable[[int], Sent], dict[str, Any]]] = {
    "unsigned": (lambda now: Sent(json.dumps(delete("rec1")), {}), refusals.UNSIGNED),
    "without_sig": (_without("sig"), refusals.UNSIGNED),
    "without_ts": (_without("ts"), refusals.UNSIGNED),
    "without_nonce": (_without("nonce"), refusals.UNSIGNED),
    "nonce_too_short": (
        lambda now: signed(delete("rec1"), ts=now, nonce="0123456789abcdef"),
        refusals.UNSIGNED,
    ),
    "nonce_not_lowercase_hex": (
        lambda now: signed(delete("rec1"), ts=now, nonce="0123456789ABCDEF" * 2),
        refusals.UNSIGNED,
    ),
    "nonce_with_a_newline": (
        lambda now: signed(delete("rec1"), ts=now, nonce="0123456789abcdef\n123456789abcde"),
        refusals.UNSIGNED,
    ),
    "signed_with_another_key": (
        lambda now: signed(delete("rec1"), key="not-the-key", ts=now),
        refusals.BAD_SIGNATURE,
    ),
    "tampered_signature": (_tampered, refusals.BAD_SIGNATURE),
    "signature_over_another_body": (_another_body, refusals.BAD_SIGNATURE),
    "signature_moved_to_another_ts": (
        lambda now: _moved(now, ts=str(now + 1)),
        refusals.BAD_SIGNATURE,
    ),
    "signature_moved_to_another_nonce": (
        lambda now: _moved(now, nonce=crm._nonce()),
        refusals.BAD_SIGNATURE,
    ),
    "stale_past": (lambda now: signed(delete("rec1"), ts=now - WINDOW - 1), refusals.STALE),
    "stale_future": (lambda now: signed(delete("rec1"), ts=now + WINDOW + 1), refusals.STALE),
}
"""A request the client did not sign, made at the script's clock `now`, and its refusal."""


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_a_request_not_signed_by_the_client_is_refused_before_the_sheet(
    web_app: AppsScript, crm_client: CrmClient, at_now: None, case: str
) -> None:
    make, refusal = REFUSED[case]
    crm_client.append(lead(1), lead(2))

    result = run([*crm_client.sent, make(NOW)], now=NOW)

    assert result["answers"] == [{"ok": True, "appended": True}] * 2 + [refusal]
    # Refused before the lock, and before the cache: its nonce is not remembered.
    assert result["touched"][-1] == {"spreadsheet": 0, "lock": 0, "cache": 0}
    assert result["rows"] == [lead(1).cells(), lead(2).cells()]
    # The web app over HTTP, with the same key, refuses the same request made at its own
    # clock, and keeps its rows.
    web_app.properties(CRM_APPS_SCRIPT_KEY=KEY)
    web_app.seed([lead(1).cells(), lead(2).cells()])
    post = make(int(time.time()))
    answer = _real_post(
        web_app.url + "?" + post.query_string(), data=post.contents, timeout=5
    ).json()
    assert answer == refusal
    assert web_app.rows() == [lead(1).cells(), lead(2).cells()]


def test_a_timestamp_up_to_the_window_either_way_is_accepted(
    crm_client: CrmClient, at_now: None
) -> None:
    crm_client.append(lead(1), lead(2), lead(3))
    edges = [signed(delete("rec1"), ts=NOW - WINDOW), signed(delete("rec3"), ts=NOW + WINDOW)]

    result = run([*crm_client.sent, *edges], now=NOW)

    assert result["answers"][-2:] == [{"ok": True, "deleted": 1}, {"ok": True, "deleted": 1}]
    assert result["rows"] == [lead(2).cells()]


def test_a_signed_delete_sent_again_is_refused_and_a_new_leads_row_is_kept(
    crm_client: CrmClient, at_now: None
) -> None:
    # A privacy delete by email, captured on its way; then the person writes again.
    asha = lead(1, email="asha@plant.example")
    crm_client.append(asha, lead(2))
    crm.delete_rows(crm.Match(email_keys=frozenset({"asha@plant.example"})))
    captured = crm_client.sent[-1]
    again = lead(3, email="asha@plant.example")
    crm_client.append(again)

    result = run(
        [
            *crm_client.sent,
            captured.at(NOW + WINDOW // 2),  # a copy within the window
            captured.at(NOW + 2 * WINDOW),  # a copy after it: the 120 s
        ],
        now=NOW,
    )

    assert result["answers"][2] == {"ok": True, "deleted": 1}
    assert result["answers"][-2:] == [refusals.REPLAYED, refusals.STALE]
    assert result["touched"][-2]["spreadsheet"] == 0
    assert result["rows"] == [lead(2).cells(), again.cells()]
    assert result["deletions"] == [[1, 1]]


def test_a_signed_rows_sent_again_is_refused_and_answers_no_rows(
    crm_client: CrmClient, at_now: None
) -> None:
    crm_client.append(lead(1), lead(2))
    crm.read_rows()
    captured = crm_client.sent[-1]

    result = run([*crm_client.sent, captured.at(NOW + 1)], now=NOW)

    assert result["answers"][2] == {"ok": True, "rows": [lead(1).cells(), lead(2).cells()]}
    assert result["answers"][3] == refusals.REPLAYED
    assert result["touched"][3] == {"spreadsheet": 0, "lock": 1, "cache": 1}


def test_a_fresh_request_after_a_refused_copy_is_carried_out(
    crm_client: CrmClient, at_now: None
) -> None:
    crm_client.append(lead(1), lead(2), lead(3))
    crm.delete_rows(crm.Match(record_ids=frozenset({"rec1"})))
    captured = crm_client.sent[-1]

    result = run(
        [
            *crm_client.sent,
            captured.at(NOW + 5),
            signed(delete("rec2"), ts=NOW + 5).at(NOW + 5),
            signed(delete("rec1", "rec3"), ts=NOW + 6).at(NOW + 6),
        ],
        now=NOW,
    )

    assert result["answers"][3:] == [
        {"ok": True, "deleted": 1},
        refusals.REPLAYED,
        {"ok": True, "deleted": 1},
        {"ok": True, "deleted": 1},
    ]
    assert result["rows"] == []


def test_a_nonce_is_remembered_as_long_as_its_ts_is_accepted(
    crm_client: CrmClient, at_now: None
) -> None:
    # First used as early as its ts allows (ts - WINDOW on the script's clock), a copy
    # sent as late as its ts allows (ts + WINDOW) is still known; one second later the ts
    # alone refuses it.
    crm_client.append(lead(1), lead(2))
    first = signed(delete("rec1"), ts=NOW + WINDOW).at(NOW)
    crm_client.append(lead(1))  # put back once deleted, for the copies to find

    result = run(
        [
            *crm_client.sent[:2],
            first,
            crm_client.sent[2].at(NOW + 1),
            first.at(NOW + 2 * WINDOW),
            first.at(NOW + 2 * WINDOW + 1),
        ],
        now=NOW,
    )

    assert result["answers"][2:] == [
        {"ok": True, "deleted": 1},
        {"ok": True, "appended": True},
        refusals.REPLAYED,
        refusals.STALE,
    ]
    assert result["rows"] == [lead(2).cells(), lead(1).cells()]


def test_a_forged_request_spends_no_nonce(crm_client: CrmClient, at_now: None) -> None:
    # Only a signed request reaches the cache: a forged one cannot spend a nonce, nor fill
    # the cache until it drops the ones it holds.
    genuine = signed(delete("rec1"), ts=NOW)
    forged = signed(delete("rec1"), ts=NOW, key="not-the-key", nonce=genuine.parameter["nonce"])
    crm_client.append(lead(1))

    result = run([*crm_client.sent, forged, genuine], now=NOW)

    assert result["answers"][1:] == [refusals.BAD_SIGNATURE, {"ok": True, "deleted": 1}]
    assert result["touched"][1]["cache"] == 0


def test_of_two_copies_arriving_at_once_only_one_is_carried_out(
    crm_client: CrmClient, at_now: None
) -> None:
    crm_client.append(lead(1), lead(2))
    crm.delete_rows(crm.Match(record_ids=frozenset({"rec1"})))
    crm.read_rows()
    *appends, captured_delete, captured_rows = crm_client.sent

    result = run(
        [
            *appends,
            Together((captured_delete, captured_delete)),
            Together((captured_rows, captured_rows, captured_rows)),
        ],
        now=NOW,
    )

    deletes, listings = result["answers"][2:4], result["answers"][4:]
    assert sorted(deletes, key=json.dumps) == sorted(
        [{"ok": True, "deleted": 1}, refusals.REPLAYED], key=json.dumps
    )
    assert listings.count(refusals.REPLAYED) == 2
    assert [a for a in listings if a != refusals.REPLAYED] == [
        {"ok": True, "rows": [lead(2).cells()]}
    ]
    assert result["deletions"] == [[1, 1]]
    assert result["rows"] == [lead(2).cells()]


def test_different_requests_arriving_at_once_are_all_carried_out_one_at_a_time(
    crm_client: CrmClient,
) -> None:
    crm_client.append(lead(1), lead(2), lead(3))

    result = run([Together(tuple(crm_client.sent))])

    assert result["answers"] == [{"ok": True, "appended": True}] * 3
    assert sorted(result["rows"]) == sorted(row.cells() for row in (lead(1), lead(2), lead(3)))
    assert result["touched"] == [{"spreadsheet": 1, "lock": 1, "cache": 1}] * 3


@pytest.mark.parametrize("key", [None, ""], ids=["absent", "empty"])
def test_a_script_without_the_key_property_refuses_everything(
    crm_client: CrmClient, at_now: None, key: str | None
) -> None:
    crm_client.append(lead(1))
    crm.read_rows()

    result = run([*crm_client.sent, "{not json"], key=key, now=NOW)

    assert result["answers"] == [refusals.NO_KEY] * 3
    assert result["touched"] == [{"spreadsheet": 0, "lock": 0, "cache": 0}] * 3
    assert result["rows"] == []


def test_refusals_name_no_personal_data(crm_client: CrmClient, at_now: None) -> None:
    secret = {"action": "append", "row": {"email": "secret.person@example.com"}}
    once = signed(secret, ts=NOW)
    posts = [
        Sent(json.dumps(secret), {}),
        signed(secret, key="not-the-key", ts=NOW),
        signed(secret, ts=NOW - 3600),
        once,
        once,
    ]

    result = run(posts, now=NOW)

    assert [a.get("code") for a in result["answers"]] == [
        "unsigned",
        "bad_signature",
        "stale",
        None,
        "replayed",
    ]
    refused = [a for a in result["answers"] if not a["ok"]]
    assert all("secret" not in a["error"] and "example" not in a["error"] for a in refused)


def test_the_utilities_stand_in_signs_as_apps_script_documents(crm_client: CrmClient) -> None:
    """computeHmacSha256Signature returns Java's signed bytes; Code.gs names UTF-8."""
    value, key = "1760000000\n{}", "k\u00e9y"
    digest = hmac.new(key.encode(), value.encode(), hashlib.sha256).digest()
    as_signed = [b - 256 if b > 127 else b for b in digest]
    assert any(b < 0 for b in as_signed)

    def java_bytes(text: str) -> list[int]:
        return [b - 256 if b > 127 else b for b in text.encode()]

    done = subprocess.run(
        [str(NODE), str(HARNESS)],
        input=json.dumps(
            {
                "utilities": [
                    [value, key, "UTF_8"],
                    [java_bytes(value), java_bytes(key)],
                    [value, "ascii key"],
                    [value, key],
                    [value, java_bytes(key)],
                ]
            }
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["utilities"]

    ascii_key = hmac.new(b"ascii key", value.encode(), hashlib.sha256).digest()
    assert results[0] == as_signed
    assert results[1] == as_signed
    assert results[2] == [b - 256 if b > 127 else b for b in ascii_key]
    assert "thrown" in results[3]  # the two-String form's charset is undocumented
    assert "thrown" in results[4]  # no overload mixes a String and a Byte[]


def _cache(calls: list[tuple[int, str, list[Any]]]) -> list[Any]:
    done = subprocess.run(
        [str(NODE), str(HARNESS)],
        input=json.dumps({"cache": [{"now": t, "call": c, "args": a} for t, c, a in calls]}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[Any] = json.loads(done.stdout)["cache"]
    return results


def test_the_cache_stand_in_keeps_an_item_until_its_expiration_and_no_longer() -> None:
    results = _cache(
        [
            (NOW, "put", ["a", "1", 160]),
            (NOW, "put", ["b", "2"]),  # no expiration given: 600 s
            (NOW + 159, "get", ["a"]),
            (NOW + 160, "get", ["a"]),
            (NOW + 599, "get", ["b"]),
            (NOW + 600, "get", ["b"]),
            (NOW + 600, "get", ["never put"]),
        ]
    )

    assert results == [None, None, "1", None, "2", None, None]


def test_the_cache_stand_in_refuses_what_apps_script_refuses() -> None:
    results = _cache(
        [
            (NOW, "put", ["k" * 251, "1", 60]),
            (NOW, "put", ["k", "1", 21601]),
            (NOW, "put", ["k", "1", 0]),
            (NOW, "put", ["k", "x" * (100 * 1024 + 1), 60]),
            (NOW, "get", ["k" * 251]),
            (NOW, "put", ["k" * 250, "1", 21600]),
            (NOW + 21599, "get", ["k" * 250]),
        ]
    )

    assert all("thrown" in r for r in results[:5])
    assert results[5:] == [None, "1"]


def test_the_cache_stand_in_keeps_the_900_items_farthest_from_expiration_past_1000() -> None:
    # Google: "If more than 1,000 items are written, the cache stores the 900 items
    # farthest from expiration."
    puts = [(NOW, "put", [f"k{n}", "1", 100 + n]) for n in range(1001)]
    gets = [(NOW, "get", [f"k{n}"]) for n in range(1001)]

    results = _cache(puts + gets)[1001:]

    assert results == [None] * 101 + ["1"] * 900

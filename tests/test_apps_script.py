"""apps_script/Code.gs, the CRM web app, run under Node.js by tests/apps_script_harness.js
with in-memory Apps Script services. The requests are the ones lib/factoryops/crm.py
really sends: the client runs with CRM_BACKEND=apps_script and its one POST
(`crm._apps_script`) is recorded, so these tests follow the client's wire format."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from factoryops import crm

from devstack.standins import APPS_SCRIPT_PATH, StandIns

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
_real_post = crm._apps_script
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


@dataclass
class Client:
    """crm.py with its Apps Script POST recorded (and, with `forward`, really sent)."""

    forward: Callable[[dict[str, Any], float], dict[str, Any]] | None = None
    payloads: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)

    def post(self, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.payloads.append(json.loads(json.dumps(payload)))
        answer = self.forward(payload, timeout) if self.forward else {"ok": True}
        self.answers.append(answer)
        return answer

    def append(self, *rows: crm.Row) -> Client:
        for row in rows:
            crm.append(row, timeout=5)
        return self


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None]) -> Iterator[Client]:
    configure(CRM_BACKEND="apps_script", CRM_APPS_SCRIPT_URL="https://script.invalid/exec")
    recorder = Client()
    monkeypatch.setattr(crm, "_apps_script", recorder.post)
    yield recorder


def run(requests: list[Any], **options: Any) -> dict[str, Any]:
    """Each request is a payload (sent as JSON) or a str (sent as the raw body)."""
    bodies = [r if isinstance(r, str) else json.dumps(r) for r in requests]
    done = subprocess.run(
        [str(NODE), str(HARNESS)],
        input=json.dumps({"requests": bodies, **options}),
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


def test_append_writes_the_cells_in_column_order_as_plain_text(client: Client) -> None:
    row = lead(1, name="=HYPERLINK(1)", company="+1 555", message="-x", page="@home")
    client.append(HEADER, row)

    result = run(client.payloads)

    assert result["answers"] == [{"ok": True}, {"ok": True}]
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


def test_rows_lists_every_row_header_included(client: Client) -> None:
    client.append(HEADER, lead(1), lead(2, name="=1+1"))
    crm.read_rows()

    result = run(client.payloads)

    assert client.payloads[-1] == {"action": "rows"}
    assert result["answers"][-1] == {
        "ok": True,
        "rows": [list(crm.COLUMNS), lead(1).cells(), lead(2, name="=1+1").cells()],
    }
    assert [r.value("name") for r in crm._rows_from(result["answers"][-1]["rows"])] == [
        "name",
        "Name 1",
        "=1+1",
    ]


def test_delete_by_record_id_removes_exactly_those_rows_bottom_up(client: Client) -> None:
    client.append(HEADER, *(lead(n) for n in range(1, 7)))
    crm.delete_rows(crm.Match(record_ids=frozenset({"rec1", "rec2", "rec4"})))

    result = run(client.payloads)

    assert result["answers"][-1] == {"ok": True, "deleted": 3}
    # rec4 is row 5, rec1 and rec2 rows 2 and 3: the bottom run goes first
    assert result["deletions"] == [[5, 1], [2, 2]]
    assert result["rows"] == [list(crm.COLUMNS), lead(3).cells(), lead(5).cells(), lead(6).cells()]


def test_delete_by_email_ignores_case_and_surrounding_space(client: Client) -> None:
    kept = lead(3, email="other@example.com")
    client.append(
        HEADER,
        lead(1, email="  Ada@Example.COM "),
        kept,
        lead(2, email="ada@example.com"),
        lead(4, email="-ada@example.com"),
    )
    crm.delete_rows(crm.Match(email_keys=frozenset({"ada@example.com", "-ada@example.com"})))

    result = run(client.payloads)

    assert client.payloads[-2]["row"]["email"] == "'-ada@example.com"
    assert result["answers"][-1] == {"ok": True, "deleted": 3}
    assert result["rows"] == [list(crm.COLUMNS), kept.cells()]


def test_delete_by_received_before_compares_instants_to_the_microsecond(client: Client) -> None:
    cutoff = dt.datetime(2024, 3, 1, 0, 0, 0, 1, tzinfo=UTC)
    rows = [
        lead(1, received_at="2024-03-01T00:00:00.000Z"),  # 1 µs before: deleted
        lead(2, received_at="2024-03-01T05:30:00.000001+05:30"),  # the cutoff itself: kept
        lead(3, received_at="2024-02-29T23:59:59"),  # no offset, read as UTC: deleted
        lead(4, received_at="2024-03-01T00:00:01.000Z"),  # after: kept
        lead(5, received_at="not a time"),  # unreadable: kept
    ]
    client.append(HEADER, *rows)
    crm.delete_rows(crm.Match(received_before=cutoff))

    result = run(client.payloads)

    assert client.payloads[-1]["match"]["received_before"] == "2024-03-01T00:00:00.000001+00:00"
    assert result["answers"][-1] == {"ok": True, "deleted": 2}
    assert result["rows"] == [list(crm.COLUMNS), *(rows[i].cells() for i in (1, 3, 4))]
    assert [r for r in rows if crm.Match(received_before=cutoff)(_sheet_row(r))] == [
        rows[0],
        rows[2],
    ]


def _sheet_row(row: crm.Row) -> crm.SheetRow:
    return crm.SheetRow(2, tuple(row.cells()))


def test_delete_of_every_row_keeps_the_sheet_valid(client: Client) -> None:
    client.append(lead(1), lead(2), lead(3))
    crm.delete_rows(crm.Match(record_ids=frozenset({"rec1", "rec2", "rec3"})))

    # max_rows 3: the sheet is exactly full, and a sheet may not lose all its rows
    result = run(client.payloads, max_rows=3)

    assert result["answers"][-1] == {"ok": True, "deleted": 3}
    assert result["rows"] == []


def test_update_sets_name_email_company_of_matching_rows_neutralised(client: Client) -> None:
    other = lead(2)
    client.append(HEADER, lead(1), other, lead(3, email="ADA@example.com"))
    match = crm.Match(record_ids=frozenset({"rec1"}), email_keys=frozenset({"ada@example.com"}))
    crm.update_rows(match, {"name": "=cmd|calc", "email": "ada.new@example.com", "company": ""})

    result = run(client.payloads)

    assert client.payloads[-1]["set"]["name"] == "'=cmd|calc"
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


def test_update_neutralises_values_a_caller_sent_raw(client: Client) -> None:
    client.append(lead(1))
    raw = {
        "action": "update",
        "match": crm.Match(record_ids=frozenset({"rec1"})).payload(),
        "set": {"name": "=1+1", "company": "'=kept"},
    }

    result = run([*client.payloads, raw])

    assert result["answers"][-1] == {"ok": True, "updated": 1}
    assert result["rows"][0][3] == "'=1+1"
    assert result["rows"][0][5] == "'=kept"


def test_requests_it_cannot_carry_out_are_refused_without_personal_data(client: Client) -> None:
    client.append(lead(1, email="secret.person@example.com"))
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

    result = run([*client.payloads, *refused])

    answers = result["answers"][1:]
    assert [a["ok"] for a in answers] == [False] * len(refused)
    assert answers[0] == {"ok": False, "error": "unsupported action"}
    assert all("secret" not in a["error"] and "example" not in a["error"] for a in answers)
    assert result["rows"] == [lead(1, email="secret.person@example.com").cells()]


def test_a_busy_lock_is_thrown_so_the_client_retries(client: Client) -> None:
    client.append(lead(1))

    result = run(client.payloads, lock_held=True)

    assert "thrown" in result["answers"][0]
    assert result["rows"] == []


def test_the_sheet_is_the_one_named_by_crm_sheet_name(client: Client) -> None:
    client.append(lead(1))

    named = run(client.payloads, sheet_name="CRM", properties={"CRM_SHEET_NAME": "CRM"})
    missing = run(client.payloads, sheet_name="Leads", properties={"CRM_SHEET_NAME": "CRM"})

    assert named["answers"] == [{"ok": True}]
    assert missing["answers"][0]["ok"] is False
    assert missing["rows"] == []


def test_the_stand_in_and_the_script_agree_on_what_the_client_sends(
    client: Client, standins: StandIns, configure: Callable[..., None]
) -> None:
    configure(CRM_BACKEND="apps_script", CRM_APPS_SCRIPT_URL=standins.url + APPS_SCRIPT_PATH)
    client.forward = _real_post
    client.append(
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

    result = run(client.payloads)

    assert result["answers"] == client.answers
    assert result["rows"] == standins.state.rows("Leads")
    assert [a.get("deleted") for a in client.answers if "deleted" in a] == [3, 1, 2]

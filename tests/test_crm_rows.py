"""CRM rows without a sheet: formula neutralising and matching rows (the script deletes
them bottom-up: tests/test_apps_script.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from factoryops import crm

pytestmark = pytest.mark.unit

ROW = crm.Row(
    received_at="2026-11-26T10:00:00.000Z",
    source="contact",
    record_id="rec1",
    name='=HYPERLINK("http://x")',
    email="Asha@Plant.example",
    company="+91 Works",
    message="-minus first\nsecond",
    page="",
)


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r", "\n"])
def test_a_cell_a_sheet_could_read_as_a_formula_gets_a_quote(lead: str) -> None:
    assert crm.neutralise(f"{lead}1+1") == f"'{lead}1+1"
    assert crm.as_entered(crm.neutralise(f"{lead}1+1")) == f"{lead}1+1"


def test_plain_cells_and_quotes_typed_by_people_are_kept() -> None:
    assert crm.neutralise("Asha") == "Asha"
    assert crm.as_entered("'quoted by a person") == "'quoted by a person"


def test_a_row_is_its_columns_in_order_each_neutralised() -> None:
    cells = ROW.cells()
    assert len(cells) == len(crm.COLUMNS) == 8
    assert cells[crm.COLUMNS.index("name")] == '\'=HYPERLINK("http://x")'
    assert cells[crm.COLUMNS.index("company")] == "'+91 Works"


def sheet_row(number: int, row: crm.Row) -> crm.SheetRow:
    return crm.SheetRow(number, tuple(row.cells()))


def test_a_match_finds_rows_by_record_id_email_in_any_case_or_age() -> None:
    stored = sheet_row(2, ROW)
    assert crm.Match(record_ids=frozenset({"rec1"}))(stored)
    assert crm.Match(email_keys=frozenset({"asha@plant.example"}))(stored)
    assert crm.Match(received_before=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))(stored)
    assert not crm.Match(received_before=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))(stored)
    assert not crm.Match(record_ids=frozenset({"other"}))(stored)
    assert not crm.Match()


def test_a_row_with_an_unreadable_time_is_never_taken_as_old() -> None:
    odd = sheet_row(3, crm.Row("yesterday", "chat", "lead", "", "", "", "", ""))
    assert not crm.Match(received_before=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))(odd)

"""The inbox's pieces that need no database: the cursor (opaque, strict), the preview of
a message, the words a person is searched by, the list's query fields."""

from __future__ import annotations

import base64
import json

import pytest
from factoryops import errors
from factoryops.chat import inbox, thread
from factoryops.chat.inbox import Cursor
from factoryops.validation import Moment, Numeral, check, search_terms

pytestmark = pytest.mark.unit

LEAD = "0123456789abcdef"


def packed(body: object) -> str:
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_cursor_reads_back_as_it_was_given_and_holds_no_session_id() -> None:
    for view, part, at in (("open", "awaiting", 1_772_357_400_000), ("closed", "closed", 7)):
        given = Cursor(part, at, LEAD).encode()
        assert Cursor.decode(given, view) == Cursor(part, at, LEAD)
        assert set(json.loads(base64.urlsafe_b64decode(given + "=="))) == {"p", "at", "lead"}
        assert "=" not in given and "/" not in given and "+" not in given


@pytest.mark.parametrize(
    "given",
    [
        "",
        "not base64!",
        "e30",  # {}
        Cursor("awaiting", 5, LEAD).encode()[:-2],  # cut short
        Cursor("awaiting", 5, LEAD).encode() + "A",  # one character more
        packed({"p": "awaiting", "at": 5, "lead": LEAD, "extra": 1}),
        packed({"p": "awaiting", "at": "5", "lead": LEAD}),
        packed({"p": "awaiting", "at": True, "lead": LEAD}),
        packed({"p": "awaiting", "at": -1, "lead": LEAD}),
        packed({"p": "quiet", "at": 10**18, "lead": LEAD}),  # past year 9999
        packed({"p": "awaiting", "at": 2**63, "lead": LEAD}),  # past Firestore's integers
        packed({"p": "awaiting", "at": 5.0, "lead": LEAD}),
        packed({"p": "awaiting", "at": 5, "lead": "secret-session-id"}),
        packed({"p": "elsewhere", "at": 5, "lead": LEAD}),
        packed(["awaiting", 5, LEAD]),
        json.dumps({"p": "awaiting", "at": 5, "lead": LEAD}),
        "é" * 10,
        "A" * (inbox.CURSOR_MAX + 1),
    ],
)
def test_a_garbled_or_forged_cursor_is_an_invalid_request_naming_the_cursor(given: str) -> None:
    with pytest.raises(errors.InvalidRequest) as refused:
        Cursor.decode(given, "open")
    assert refused.value.fields == {"cursor": "is not a cursor this list gave"}


def test_a_cursor_of_one_view_is_refused_by_another() -> None:
    quiet = Cursor("quiet", 5, LEAD).encode()
    assert Cursor.decode(quiet, "open").part == "quiet"
    for view in ("closed", "all"):
        with pytest.raises(errors.InvalidRequest):
            Cursor.decode(quiet, view)


def test_the_preview_is_the_first_line_cut_to_140_characters() -> None:
    assert thread.preview("  Hello team\nsecond line") == "Hello team"
    assert thread.preview("x" * 500) == "x" * thread.PREVIEW_MAX == "x" * 140
    assert thread.preview("\u2028after a line separator") == "after a line separator"


def test_a_person_is_searched_by_the_case_folded_words_of_their_name_and_company() -> None:
    assert search_terms("Asha R. Rao", "=Pune Works") == ["asha", "r", "rao", "pune", "works"]
    assert search_terms("STRASSE", "Straße GmbH", None) == ["strasse", "gmbh"]
    assert search_terms("", None) == []


def test_the_lists_query_fields_take_digits_and_rfc_3339_times_only() -> None:
    spec = {"limit": Numeral(1, 100, absent=50), "changed_after": Moment()}
    assert check({}, spec) == {"limit": 50, "changed_after": None}
    clean = check({"limit": " 7 ", "changed_after": "2026-03-01T09:30:00.000+05:30"}, spec)
    assert clean["limit"] == 7 and clean["changed_after"].isoformat() == "2026-03-01T04:00:00+00:00"
    for bad in ({"limit": "0"}, {"limit": "101"}, {"limit": "1e2"}, {"limit": "٣"}):
        with pytest.raises(errors.InvalidRequest):
            check(bad, spec)
    for bad_time in ("2026-03-01", "yesterday", "2026-03-01T09:30:00", "2026-02-30T00:00:00Z"):
        with pytest.raises(errors.InvalidRequest) as refused:
            check({"changed_after": bad_time}, spec)
        assert set(refused.value.fields) == {"changed_after"}


def test_an_address_prefix_is_a_range_that_holds_exactly_the_addresses_starting_with_it() -> None:
    from factoryops.chat.inbox import address_prefix

    def bounds(prefix: str) -> list[tuple[str, str]]:
        return [(op, value) for _, op, value in address_prefix(prefix).filters]

    assert bounds("asha@f") == [(">=", "asha@f"), ("<", "asha@g")]
    assert bounds("a\ud7ff") == [(">=", "a\ud7ff"), ("<", "a\ue000")]
    assert bounds("a\U0010ffff") == [(">=", "a\U0010ffff"), ("<", "b")]
    assert bounds("\U0010ffff") == [(">=", "\U0010ffff")]

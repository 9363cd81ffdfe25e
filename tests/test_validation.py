"""The one field-spec validator, without a database."""

from __future__ import annotations

from typing import Any

import pytest
from factoryops import errors
from factoryops.validation import (
    Choices,
    Email,
    EmailAddress,
    Field,
    Flag,
    Line,
    Text,
    WholeNumber,
    check,
    parse_email,
)

pytestmark = pytest.mark.unit

SPEC: dict[str, Field] = {
    "name": Line(10),
    "note": Text(20, required=False),
    "email": EmailAddress(),
}


def problems(body: dict[str, Any], spec: dict[str, Field] = SPEC) -> dict[str, str]:
    with pytest.raises(errors.InvalidRequest) as caught:
        check(body, spec)
    assert caught.value.message == errors.InvalidRequest.FIELDS_MESSAGE
    return caught.value.fields


def test_clean_values_are_trimmed_and_typed() -> None:
    values = check({"name": "  Asha ", "email": " Asha@Plant.EXAMPLE "}, SPEC)
    assert values == {
        "name": "Asha",
        "note": "",
        "email": Email(address="Asha@plant.example", key="asha@plant.example"),
    }


def test_every_problem_is_reported_at_once_unknown_fields_included() -> None:
    found = problems({"name": "", "email": "nope", "utm": "x", "note": 5})
    assert found == {
        "utm": "unknown field",
        "name": "is required",
        "email": "is not a valid email address: An email address must have an @-sign.",
        "note": "must be a string",
    }


def test_a_line_turns_breaks_into_spaces_and_text_keeps_them() -> None:
    values = check({"name": "a\r\nb\tc", "note": "one\ntwo", "email": "a@b.example"}, SPEC)
    assert values["name"] == "a b c" and values["note"] == "one\ntwo"


def test_control_characters_and_over_long_values_are_refused() -> None:
    found = problems({"name": "x" * 11, "note": "bell\x07", "email": "a@b.example"})
    assert found == {
        "name": "must be at most 10 characters",
        "note": "contains control characters",
    }


def test_an_ignored_field_is_neither_unknown_nor_returned() -> None:
    values = check({"name": "A", "email": "a@b.example", "website": ""}, SPEC, ignore=("website",))
    assert "website" not in values


def test_flags_choices_and_whole_numbers() -> None:
    spec: dict[str, Field] = {
        "dry_run": Flag(),
        "tasks": Choices(("retention", "deliveries")),
        "days": WholeNumber(1, 730, "RETENTION_DAYS"),
        "uses": WholeNumber(1),
    }
    assert check({}, spec) == {
        "dry_run": False,
        "tasks": ("retention", "deliveries"),
        "days": None,
        "uses": None,
    }
    chosen = check({"tasks": ["deliveries", "retention", "deliveries"], "dry_run": True}, spec)
    assert chosen["tasks"] == ("retention", "deliveries") and chosen["dry_run"] is True
    assert problems({"dry_run": "yes", "tasks": [], "days": 731, "uses": True}, spec) == {
        "dry_run": "must be true or false",
        "tasks": "must be a non-empty list of retention, deliveries",
        "days": "must be a whole number from 1 to 730 (RETENTION_DAYS)",
        "uses": "must be a whole number of at least 1",
    }


def test_email_syntax_only_without_a_dns_lookup() -> None:
    assert parse_email("someone@domain-that-does-not-exist.example").key.endswith(".example")
    with pytest.raises(ValueError, match="@-sign"):
        parse_email("no-at-sign")


def test_text_that_is_not_valid_unicode_is_a_field_error() -> None:
    found = problems({"name": "Asha\ud800", "note": "\udfff", "email": "a@b.example"})
    assert found == {"name": "is not valid Unicode text", "note": "is not valid Unicode text"}


@pytest.mark.parametrize("sneaky", ["\u202e", "\u202a", "\u2066", "\u2069", "\x9b", "\x80", "\x9f"])
def test_bidirectional_overrides_isolates_and_c1_controls_are_refused_in_a_line(
    sneaky: str,
) -> None:
    assert problems({"name": f"Asha{sneaky}Rao", "email": "a@b.example"}) == {
        "name": "contains control characters"
    }


@pytest.mark.parametrize("mark", ["\u202e", "\u202b", "\u2067", "\u200f"])
def test_a_message_keeps_the_bidi_formatting_right_to_left_writing_uses(mark: str) -> None:
    assert check({"name": "A", "note": f"x{mark}y", "email": "a@b.example"}, SPEC)["note"]


@pytest.mark.parametrize("control", ["\x9b", "\x80", "\x9f"])
def test_c1_controls_are_refused_in_a_message_too(control: str) -> None:
    found = problems({"name": "A", "note": f"red{control}31m", "email": "a@b.example"})
    assert found == {"note": "contains control characters"}


@pytest.mark.parametrize("blank", ["\u200b", "\u00a0\u3000", "\ufeff\u2060", "\u200e \u200d"])
def test_a_value_of_invisible_characters_only_is_no_value(blank: str) -> None:
    assert problems({"name": blank, "note": "n", "email": "a@b.example"}) == {"name": "is required"}
    assert check({"name": "A", "note": blank, "email": "a@b.example"}, SPEC)["note"] == ""


@pytest.mark.parametrize(
    "page",
    [
        "javascript:alert(1)",
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "pricing",
        "data:text/html,hi",
        "/a b",
        "/a\u00a0b",
        "/a\u3000b",
        "/a\u200bb",
    ],
)
def test_a_chat_page_must_be_a_path_of_this_site(page: str) -> None:
    from factoryops.validation import PAGE

    assert problems({"page": page}, {"page": PAGE}) == {
        "page": "must be a path of this site, starting with /"
    }


def test_a_site_path_keeps_its_query_and_fragment() -> None:
    from factoryops.validation import PAGE

    assert check({"page": "/pricing?utm=mail#plans"}, {"page": PAGE})["page"] == (
        "/pricing?utm=mail#plans"
    )

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

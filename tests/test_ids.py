"""The ids and tokens the functions hand out and accept, checked without a database."""

from __future__ import annotations

import hashlib
import secrets

import pytest
from factoryops import errors, grants
from factoryops.chat import thread

pytestmark = pytest.mark.unit


def test_a_grant_is_stored_under_the_sha256_of_its_token_and_links_to_the_site() -> None:
    token = secrets.token_urlsafe(grants.TOKEN_BYTES)
    assert grants.grant_id(token) == hashlib.sha256(token.encode()).hexdigest()
    assert grants.link(token) == f"http://localhost:8000/#access={token}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pricing", ["pricing"]),
        (" pricing , case-studies,pricing ", ["pricing", "case-studies"]),
        (["demo", "demo_2"], ["demo", "demo_2"]),
    ],
)
def test_section_names_are_trimmed_and_deduplicated_in_order(
    raw: str | list[str], expected: list[str]
) -> None:
    assert grants.parse_sections(raw) == expected


@pytest.mark.parametrize("raw", ["", "a,,b", "Pricing", "a b", "-lead", "x" * 65])
def test_section_names_outside_the_shape_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        grants.parse_sections(raw)


def test_a_session_id_of_another_shape_is_not_found_without_a_database() -> None:
    valid = secrets.token_urlsafe(thread.SESSION_BYTES)
    assert thread.parse_session_id(f" {valid} ") == valid
    for raw in ("", "has space", "a/b", "__reserved__", "x" * 129, None, 42):
        with pytest.raises(errors.SessionNotFound):
            thread.parse_session_id(raw)


def test_message_ids_are_zero_padded_sequence_numbers_that_sort_in_order() -> None:
    ids = [thread.message_id(n) for n in (1, 2, 10, 100)]
    assert ids == ["00000001", "00000002", "00000010", "00000100"] == sorted(ids)
    assert all(thread.MESSAGE_ID.fullmatch(i) for i in ids)


def test_a_new_session_id_never_starts_with_a_dash_so_a_command_line_takes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from factoryops.chat import endpoint

    drawn = iter(["-looks-like-an-option", "Ab3_first-valid"])
    monkeypatch.setattr(endpoint.secrets, "token_urlsafe", lambda n: next(drawn))
    assert endpoint._new_session_id() == "Ab3_first-valid"

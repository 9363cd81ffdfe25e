"""Validation at the edge: a request body becomes typed, trimmed, length-checked values.

Every problem is reported at once, field by field, in the error body's `fields` map.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from factoryops import errors

NAME_MAX = 200
EMAIL_MAX = 254
COMPANY_MAX = 200
MESSAGE_MAX = 5000
CHAT_TEXT_MAX = 4000
PAGE_MAX = 2048
TOKEN_MAX = 256
SESSION_ID_MAX = 128

_LINE_BREAKS = re.compile(r"[\t\r\n\u2028\u2029\x0b\x0c\x85]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Field:
    limit: int
    required: bool = True
    kind: str = "line"
    """`line` (one line: breaks become spaces), `text` (keeps line breaks) or `email`."""


@dataclass(frozen=True)
class Email:
    address: str
    """As given, with the domain normalised."""
    key: str
    """Trimmed and lower-cased: the lookup key for the privacy tools."""


def email_key(address: str) -> str:
    return address.strip().lower()


def parse_email(raw: str) -> Email:
    """Syntax only, no DNS; raises ValueError with a message fit for a visitor."""
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return Email(address=result.normalized, key=email_key(result.normalized))


def check(
    body: Mapping[str, Any], spec: Mapping[str, Field], *, ignore: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Validate `body` against `spec`; unknown fields are errors. Returns clean values:
    str for text fields (absent optional ones as ""), Email for email fields."""
    problems: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name in body:
        if name not in spec and name not in ignore:
            problems[name] = "unknown field"
    for name, field in spec.items():
        raw = body.get(name)
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            problems[name] = "must be a string"
            continue
        if _CONTROL.search(raw):
            problems[name] = "contains control characters"
            continue
        value = raw.strip()
        if field.kind != "text":
            value = _LINE_BREAKS.sub(" ", value)
        if not value:
            if field.required:
                problems[name] = "is required"
            clean[name] = ""
            continue
        if len(value) > field.limit:
            problems[name] = f"must be at most {field.limit} characters"
            continue
        if field.kind == "email":
            try:
                clean[name] = parse_email(value)
            except ValueError as exc:
                problems[name] = f"is not a valid email address: {exc}"
            continue
        clean[name] = value
    if problems:
        raise errors.InvalidRequest("Some fields are not valid.", fields=problems)
    return clean

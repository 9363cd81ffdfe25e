"""The one field-spec validator: a request body becomes typed, trimmed, checked values.

An endpoint declares its fields as a spec, `{"name": Line(NAME_MAX), ...}`, and `check`
reports every problem at once, field by field, as `InvalidRequest(fields=...)`.
Unknown fields are problems too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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
# C1 controls (NEL, a line break, excepted) and the bidirectional overrides and isolates,
# which can make a name or a path read differently from what it is (in the team's
# inbox, the CRM, the console).
_LINE_CONTROL = re.compile(r"[\x80-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069]")
# C1 controls alone: no text of a person holds one (a message keeps the bidi formatting
# that right-to-left writing uses).
_C1_CONTROL = re.compile(r"[\x80-\x84\x86-\x9f]")
# What shows nothing on its own: spaces of every kind, line breaks, format characters
# (zero-width spaces and joiners, bidi marks, the byte-order mark).
_BLANK = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class Field(Protocol):
    """One field of a spec: `clean` turns a raw JSON value into the typed one or raises
    ValueError with the problem; `absent` is the value of an optional field not given.
    A field may name what a missing value is with a `missing` attribute (default: "is
    required")."""

    @property
    def required(self) -> bool: ...

    @property
    def absent(self) -> Any: ...

    def clean(self, raw: object) -> Any: ...


@dataclass(frozen=True)
class Email:
    address: str
    """As given, with the domain normalised."""
    key: str
    """Trimmed and lower-cased: the lookup key for the privacy tools."""


def email_key(address: str) -> str:
    return address.strip().lower()


_WORD = re.compile(r"\w+")


def search_terms(*texts: str | None) -> list[str]:
    """The words a person is found by (their name's, their company's): case-folded, each
    once, in the order given. The inbox's search folds what the team types the same way."""
    words: list[str] = []
    for text in texts:
        for word in _WORD.findall((text or "").casefold()):
            if word not in words:
                words.append(word)
    return words


def parse_email(raw: str) -> Email:
    """Syntax only, no DNS; raises ValueError with a message fit for a visitor."""
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return Email(address=result.normalized, key=email_key(result.normalized))


def _string(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    if _SURROGATE.search(raw):
        # JSON can spell a lone surrogate (\ud800); no text of a person holds one.
        raise ValueError("is not valid Unicode text")
    if _CONTROL.search(raw):
        raise ValueError("contains control characters")
    return raw.strip()


def _invisible(value: str) -> bool:
    """Whether `value` shows nothing (true of "")."""
    import unicodedata

    return all(unicodedata.category(c) in _BLANK for c in value)


def _within(value: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    return value


@dataclass(frozen=True)
class Line:
    """One line of text: line breaks and tabs become single spaces."""

    limit: int
    required: bool = True
    absent: str = ""

    def clean(self, raw: object) -> str:
        return _within(self._shaped(_string(raw)), self.limit)

    def _shaped(self, value: str) -> str:
        if _LINE_CONTROL.search(value):
            raise ValueError("contains control characters")
        return _LINE_BREAKS.sub(" ", value)


@dataclass(frozen=True)
class Text(Line):
    """Free text that keeps its line breaks (a message)."""

    def _shaped(self, value: str) -> str:
        if _C1_CONTROL.search(value):
            raise ValueError("contains control characters")
        return value


@dataclass(frozen=True)
class SitePath(Line):
    """A path of this site (`/pricing?x=1#y`): no scheme, no host, no backslash (which
    browsers read as a slash), so it can never become a link elsewhere."""

    def _shaped(self, value: str) -> str:
        import urllib.parse

        line = super()._shaped(value)
        parts = urllib.parse.urlsplit(line)
        if not line.startswith("/") or line.startswith("//") or "\\" in line:
            raise ValueError("must be a path of this site, starting with /")
        if parts.scheme or parts.netloc or any(_invisible(c) for c in line):
            raise ValueError("must be a path of this site, starting with /")
        return line


@dataclass(frozen=True)
class EmailAddress:
    """An address checked for syntax (no DNS lookup), as `Email`."""

    required: bool = True
    absent: None = None

    def clean(self, raw: object) -> Email:
        value = _within(_LINE_BREAKS.sub(" ", _string(raw)), EMAIL_MAX)
        try:
            return parse_email(value)
        except ValueError as exc:
            raise ValueError(f"is not a valid email address: {exc}") from None


@dataclass(frozen=True)
class Flag:
    """true or false."""

    required: bool = False
    absent: bool = False

    def clean(self, raw: object) -> bool:
        if not isinstance(raw, bool):
            raise ValueError("must be true or false")
        return raw


@dataclass(frozen=True)
class Choices:
    """A non-empty list of names from `options`, returned in the order of `options`."""

    options: tuple[str, ...]
    required: bool = False

    @property
    def absent(self) -> tuple[str, ...]:
        return self.options

    def clean(self, raw: object) -> tuple[str, ...]:
        if (
            not isinstance(raw, list)
            or not raw
            or not all(isinstance(item, str) and item in self.options for item in raw)
        ):
            raise ValueError(f"must be a non-empty list of {', '.join(self.options)}")
        return tuple(option for option in self.options if option in raw)


@dataclass(frozen=True)
class OneOf:
    """One name of `options`."""

    options: tuple[str, ...]
    absent: str = ""
    required: bool = False

    def clean(self, raw: object) -> str:
        if not isinstance(raw, str) or raw not in self.options:
            raise ValueError(f"must be one of {', '.join(self.options)}")
        return raw


@dataclass(frozen=True)
class WholeNumber:
    """An integer from `minimum` to `maximum` (not a boolean, not a float)."""

    minimum: int = 1
    maximum: int | None = None
    maximum_from: str = ""
    """The setting that `maximum` comes from, named in the problem."""
    required: bool = False
    absent: None = None

    def clean(self, raw: object) -> int:
        if self.maximum is None:
            problem = f"must be a whole number of at least {self.minimum}"
        else:
            problem = f"must be a whole number from {self.minimum} to {self.maximum}"
            if self.maximum_from:
                problem += f" ({self.maximum_from})"
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(problem)
        if raw < self.minimum or (self.maximum is not None and raw > self.maximum):
            raise ValueError(problem)
        return raw


@dataclass(frozen=True)
class Numeral:
    """A whole number from `minimum` to `maximum`, written in digits (a query string's)."""

    minimum: int
    maximum: int
    absent: int | None = None
    required: bool = False

    def clean(self, raw: object) -> int:
        text = raw.strip() if isinstance(raw, str) else ""
        if not (text.isascii() and text.isdigit()) or len(text) > len(str(self.maximum)):
            raise ValueError(f"must be a whole number from {self.minimum} to {self.maximum}")
        value = int(text)
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"must be a whole number from {self.minimum} to {self.maximum}")
        return value


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


@dataclass(frozen=True)
class Moment:
    """A time in RFC 3339 with its offset (`2026-03-01T09:30:00.000Z`), as answers give it."""

    required: bool = False
    absent: None = None

    def clean(self, raw: object) -> dt.datetime:
        problem = "must be a time in RFC 3339, such as 2026-03-01T09:30:00.000Z"
        text = raw.strip() if isinstance(raw, str) else ""
        if not _RFC3339.fullmatch(text):
            raise ValueError(problem)
        try:
            return dt.datetime.fromisoformat(text.replace("z", "Z")).astimezone(dt.UTC)
        except (ValueError, OverflowError):  # no such day; before year 1 once in UTC
            raise ValueError(problem) from None


# The contract's fields, each with its length limit, for every spec that takes them.
NAME = Line(NAME_MAX)
COMPANY = Line(COMPANY_MAX, required=False)
EMAIL = EmailAddress()
MESSAGE = Text(MESSAGE_MAX)
CHAT_TEXT = Text(CHAT_TEXT_MAX)
PAGE = SitePath(PAGE_MAX)
TOKEN = Line(TOKEN_MAX)


def optional(field: Line | Text | EmailAddress) -> Any:
    """The same field, not required."""
    import dataclasses

    return dataclasses.replace(field, required=False)


def _blank(raw: object) -> bool:
    """No value: absent, null, or only invisible characters ("is required" where needed)."""
    return raw is None or (isinstance(raw, str) and _invisible(raw))


def check(
    body: Mapping[str, Any], spec: Mapping[str, Field], *, ignore: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Validate `body` against `spec`; unknown fields are problems, and every problem is
    reported at once. Returns the clean values, an absent optional field as its `absent`."""
    problems: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name in body:
        if name not in spec and name not in ignore:
            problems[name] = "unknown field"
    for name, field in spec.items():
        raw = body.get(name)
        try:
            value = None if _blank(raw) else field.clean(raw)
        except ValueError as exc:
            problems[name] = str(exc)
            continue
        if value is None or value == "":
            if field.required:
                problems[name] = getattr(field, "missing", "is required")
            value = field.absent
        clean[name] = value
    if problems:
        raise errors.InvalidRequest(problems)
    return clean

"""How a setting's text becomes its typed value: the parsers `config.Settings` declares,
each `(variable name, trimmed non-empty value) -> value`, raising ConfigError with the
variable's name."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from factoryops import hours


class ConfigError(ValueError):
    """A configuration variable holds a value that cannot be used."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


@dataclass(frozen=True)
class RateLimit:
    count: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds}"


Parser = Callable[[str, str], Any]
"""(variable name, trimmed non-empty value) -> the typed value, or ConfigError."""


def text(name: str, raw: str) -> str:
    del name
    return raw


def whole(minimum: int = 1, maximum: int | None = None, why: str = "") -> Parser:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(name, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise ConfigError(name, f"must be at most {maximum}{why}")
        return value

    return parse


def rate(name: str, raw: str) -> RateLimit:
    count, sep, seconds = raw.partition("/")
    problem = f"expected COUNT/SECONDS such as 5/600, got {raw!r}"
    try:
        limit = RateLimit(int(count), int(seconds))
    except ValueError:
        raise ConfigError(name, problem) from None
    if not sep or limit.count < 1 or limit.seconds < 1:
        raise ConfigError(name, problem)
    return limit


def url(name: str, raw: str) -> str:
    if not raw.startswith(("https://", "http://")):
        raise ConfigError(name, f"expected an http(s) URL, got {raw!r}")
    return raw


def base_url(name: str, raw: str) -> str:
    """A URL that paths are appended to: without its trailing slash."""
    return url(name, raw).rstrip("/")


def origins(name: str, raw: str) -> tuple[str, ...]:
    found = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in found:
        if not origin.startswith(("https://", "http://")):
            raise ConfigError(name, f"{origin!r} is not an http(s) origin")
    return found


def mailbox(value: str) -> str | None:
    """An address as an allow-list compares it: case-folded. None for one that is not
    what it looks like, which then matches nothing: one that NFKC normalisation would
    change (a Kelvin sign for `k`, a fullwidth letter) or that holds a control, format or
    space character (a trailing newline, a zero-width space)."""
    if unicodedata.normalize("NFKC", value) != value:
        return None
    if any(unicodedata.category(c)[0] in "CZ" for c in value):
        return None
    return value.casefold()


def addresses(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated email addresses, compared case-insensitively (so kept as `mailbox`
    gives them)."""
    found = []
    for entry in (a.strip() for a in raw.split(",") if a.strip()):
        address = mailbox(entry)
        local, at, domain = (address or "").partition("@")
        if address is None or not (local and at and "." in domain):
            raise ConfigError(name, "expected comma-separated email addresses")
        found.append(address)
    return tuple(found)


def one_of(*choices: str) -> Parser:
    """One of `choices`, in any case, kept lower-case."""

    def parse(name: str, raw: str) -> str:
        value = raw.lower()
        if value not in choices:
            raise ConfigError(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def address(name: str, raw: str) -> str:
    """One email address, kept as `mailbox` gives it."""
    found = addresses(name, raw)
    if len(found) != 1:
        raise ConfigError(name, "expected one email address")
    return found[0]


def team_hours(name: str, raw: str) -> hours.TeamHours:
    try:
        return hours.parse(raw)
    except hours.HoursError as exc:
        raise ConfigError(name, str(exc)) from None


def timezone(name: str, raw: str) -> str:
    try:
        hours.zone(raw)
    except hours.HoursError as exc:
        raise ConfigError(name, str(exc)) from None
    return raw

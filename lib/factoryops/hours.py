"""When the team is in: TEAM_HOURS in TEAM_TIMEZONE, and what the visitor is told.

TEAM_HOURS is one or more `;`-separated spans, each days then a time range:
`Mon-Fri 09:00-18:00`, `Mon,Wed,Fri 10:00-16:00; Sat 10:00-13:00`. Days are Mon..Sun,
as a range (`Mon-Fri`, which may wrap: `Sat-Mon`) or a comma list; times are 24 h
`HH:MM`, the end after the start (`24:00` closes at midnight). `availability` is a pure
function of the hours and a moment, so it is tested with any clock.

Standard library only: config.py parses TEAM_HOURS with it on every cold start.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TIME = re.compile(r"([01][0-9]|2[0-4]):([0-5][0-9])")
LOOKAHEAD_DAYS = 8
"""A week and a day: far enough to find the next opening of any schedule."""


class HoursError(ValueError):
    """TEAM_HOURS that cannot be read; the message says why."""


@dataclass(frozen=True)
class Span:
    days: frozenset[int]
    """Weekdays, Monday 0."""
    start: int
    """Minutes after midnight."""
    end: int


@dataclass(frozen=True)
class TeamHours:
    text: str
    """As written (trimmed): what the answers show."""
    spans: tuple[Span, ...]

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Availability:
    available: bool
    back_at: dt.datetime | None
    """The next opening (UTC) while the team is out; None while it is in."""


def _day(raw: str, whole: str) -> int:
    name = raw.strip().capitalize()
    if name not in DAYS:
        raise HoursError(f"{raw.strip()!r} is not a day (Mon..Sun) in {whole!r}")
    return DAYS.index(name)


def _days(raw: str, whole: str) -> frozenset[int]:
    found: set[int] = set()
    for part in raw.split(","):
        first, dash, last = part.partition("-")
        if not dash:
            found.add(_day(first, whole))
            continue
        a, b = _day(first, whole), _day(last, whole)
        found.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(found)


def _minutes(raw: str, whole: str) -> int:
    match = _TIME.fullmatch(raw.strip())
    if not match or (match[1] == "24" and match[2] != "00"):
        raise HoursError(f"{raw.strip()!r} is not a 24 h time such as 09:00 in {whole!r}")
    return int(match[1]) * 60 + int(match[2])


def parse(raw: str) -> TeamHours:
    """TEAM_HOURS as written; HoursError says what is wrong."""
    whole = raw.strip()
    spans: list[Span] = []
    for part in whole.split(";"):
        days, _, times = part.strip().partition(" ")
        start, dash, end = times.strip().partition("-")
        if not days or not dash:
            shape = "DAYS HH:MM-HH:MM such as Mon-Fri 09:00-18:00"
            raise HoursError(f"expected {shape}, got {whole!r}")
        span = Span(_days(days, whole), _minutes(start, whole), _minutes(end, whole))
        if span.end <= span.start:
            raise HoursError(f"{times.strip()!r} ends before it starts in {whole!r}")
        spans.append(span)
    return TeamHours(whole, tuple(spans))


def zone(raw: str) -> zoneinfo.ZoneInfo:
    """An IANA time zone; HoursError when there is no such zone."""
    try:
        return zoneinfo.ZoneInfo(raw.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"{raw.strip()!r} is not an IANA time zone such as Asia/Kolkata") from None


def availability(hours: TeamHours, tz: dt.tzinfo, now: dt.datetime) -> Availability:
    """Whether the team is in at `now` (an aware time), and if not, its next opening."""
    local = now.astimezone(tz)
    openings: list[dt.datetime] = []
    for offset in range(-1, LOOKAHEAD_DAYS):
        day = local.date() + dt.timedelta(days=offset)
        for span in hours.spans:
            if day.weekday() not in span.days:
                continue
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=tz)
            opens = _at(midnight, span.start, tz)
            closes = _at(midnight, span.end, tz)
            if opens <= now < closes:
                return Availability(True, None)
            if opens > now:
                openings.append(opens)
    back = min(openings) if openings else None
    return Availability(False, None if back is None else back.astimezone(dt.UTC))


def _at(midnight: dt.datetime, minutes: int, tz: dt.tzinfo) -> dt.datetime:
    """The local wall-clock time `minutes` after `midnight` (24:00 is the next midnight)."""
    naive = midnight.replace(tzinfo=None) + dt.timedelta(minutes=minutes)
    return naive.replace(tzinfo=tz)


def team(now: dt.datetime | None = None) -> dict[str, object]:
    """The `team` object of the chat's and the contact form's answers, from the settings:
    `{"available", "back_at" (RFC 3339 UTC or null), "hours", "timezone"}`."""
    from factoryops import store
    from factoryops.config import settings

    cfg = settings()
    found = availability(cfg.team_hours, zone(cfg.team_timezone), now or store.now())
    return {
        "available": found.available,
        "back_at": store.rfc3339(found.back_at),
        "hours": str(cfg.team_hours),
        "timezone": cfg.team_timezone,
    }

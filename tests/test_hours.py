"""When the team is in (TEAM_HOURS in TEAM_TIMEZONE): a pure function of a clock."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from factoryops import config, hours

pytestmark = pytest.mark.unit

KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
OFFICE = hours.parse("Mon-Fri 09:00-18:00")


def at(text: str) -> dt.datetime:
    """A local time in Kolkata (2026-12-07 is a Monday)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=KOLKATA)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_inside_hours_the_team_is_in() -> None:
    found = hours.availability(OFFICE, KOLKATA, at("2026-12-09T11:30"))  # Wednesday
    assert found == hours.Availability(True, None)
    assert hours.availability(OFFICE, KOLKATA, at("2026-12-07T09:00")).available  # opening


def test_at_closing_time_and_in_the_evening_it_is_back_next_morning() -> None:
    for moment in ("2026-12-08T18:00", "2026-12-08T22:15", "2026-12-09T03:00"):
        found = hours.availability(OFFICE, KOLKATA, at(moment))
        assert found == hours.Availability(False, utc("2026-12-09T03:30")), moment  # 09:00 IST


def test_at_the_weekend_it_is_back_on_monday() -> None:
    for moment in ("2026-12-11T19:00", "2026-12-12T12:00", "2026-12-13T23:59"):
        found = hours.availability(OFFICE, KOLKATA, at(moment))
        assert found == hours.Availability(False, utc("2026-12-14T03:30")), moment


def test_just_before_opening_it_is_back_in_a_minute() -> None:
    found = hours.availability(OFFICE, KOLKATA, at("2026-12-07T08:59"))
    assert found == hours.Availability(False, utc("2026-12-07T03:30"))


def test_lists_wrapping_ranges_several_spans_and_midnight() -> None:
    parsed = hours.parse("mon,Wed,Fri 10:00-16:00; Sat-Sun 00:00-24:00")
    assert parsed.spans[0].days == frozenset({0, 2, 4})
    assert hours.parse("Sat-Mon 09:00-10:00").spans[0].days == frozenset({5, 6, 0})
    tuesday = at("2026-12-08T12:00")
    assert hours.availability(parsed, KOLKATA, tuesday).back_at == utc("2026-12-09T04:30")
    assert hours.availability(parsed, KOLKATA, at("2026-12-13T23:59")).available
    assert str(parsed) == "mon,Wed,Fri 10:00-16:00; Sat-Sun 00:00-24:00"


def test_a_zone_with_summer_time_keeps_local_opening_hours() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    winter = hours.availability(OFFICE, berlin, utc("2026-12-05T12:00"))  # a Saturday
    summer = hours.availability(OFFICE, berlin, utc("2026-07-04T12:00"))
    assert winter.back_at == utc("2026-12-07T08:00")
    assert summer.back_at == utc("2026-07-06T07:00")


@pytest.mark.parametrize(
    "raw",
    ["", "Mon-Fri", "Mon-Fri 9-18", "Funday 09:00-18:00", "Mon 18:00-09:00", "Mon 24:30-25:00"],
)
def test_unreadable_hours_are_refused_with_the_variable_name(raw: str) -> None:
    with pytest.raises(config.ConfigError, match="TEAM_HOURS"):
        config.from_env({"TEAM_HOURS": raw or "Mon-Fri 09:00", "FIRESTORE_EMULATOR_HOST": "x"})


def test_an_unknown_time_zone_is_refused_and_the_defaults_hold() -> None:
    with pytest.raises(config.ConfigError, match="TEAM_TIMEZONE"):
        config.from_env({"TEAM_TIMEZONE": "Mars/Olympus", "FIRESTORE_EMULATOR_HOST": "x"})
    loaded = config.from_env({"FIRESTORE_EMULATOR_HOST": "x"})
    assert str(loaded.team_hours) == "Mon-Fri 09:00-18:00"
    assert loaded.team_timezone == "Asia/Kolkata"
    assert (loaded.reply_email_after, loaded.reply_email_every) == (180, 900)
    assert loaded.emailjs_reply_template_id == "" and loaded.team_inbox == ""

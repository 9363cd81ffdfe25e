"""The forwarding budget's hours (budget.py), with nothing running: which hour's count an
email takes from, and when a held email is due again."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from factoryops import budget

pytestmark = pytest.mark.unit

NINE = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def test_an_hours_key_is_its_utc_date_and_hour() -> None:
    assert budget.hour_key(NINE) == "2026030109"
    assert budget.hour_key(NINE + dt.timedelta(minutes=59, seconds=59.999)) == "2026030109"
    assert budget.hour_key(NINE + dt.timedelta(hours=1)) == "2026030110"
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert budget.hour_key(dt.datetime(2026, 3, 1, 15, 10, tzinfo=kolkata)) == "2026030109"
    assert budget.hour_key(dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC)) == "2025123123"


def test_the_first_holds_of_an_hour_are_due_in_the_next_one_in_even_slots() -> None:
    due = [budget.release_at(NINE + dt.timedelta(minutes=40), n, 4) for n in range(1, 5)]
    ten = NINE + dt.timedelta(hours=1)
    assert due == [ten + dt.timedelta(minutes=15 * n) for n in range(4)]


def test_a_backlog_drains_within_the_budget_each_hour_oldest_first_whatever_the_jitter() -> None:
    for jitter in (0.0, 0.5, 0.999):
        due = [budget.release_at(NINE, n, 10, jitter=jitter) for n in range(1, 191)]
        assert due == sorted(due) and len(set(due)) == len(due)
        per_hour = Counter(budget.hour_key(at) for at in due)
        assert set(per_hour.values()) == {10} and len(per_hour) == 19
        assert min(due) >= NINE + dt.timedelta(hours=1)
        assert max(due) < NINE + dt.timedelta(hours=20)


def test_jitter_moves_a_hold_within_the_first_half_of_its_slot() -> None:
    slot = dt.timedelta(minutes=12)  # a budget of 5
    start = budget.release_at(NINE, 3, 5)
    assert start == NINE + dt.timedelta(hours=1) + 2 * slot
    assert start <= budget.release_at(NINE, 3, 5, jitter=0.99) < start + slot / 2
    # The next hold, however it is moved, still comes after.
    assert budget.release_at(NINE, 3, 5, jitter=0.99) < budget.release_at(NINE, 4, 5)

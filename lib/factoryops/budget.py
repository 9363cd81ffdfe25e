"""The forwarding budget: at most FORWARD_BUDGET emails through EmailJS in one UTC hour.

A flood of posts (one address, or a botnet's many) is stored like any other, but it
must not spend the month's EmailJS plan in minutes. So every email `mailer.send` makes
first takes one unit of the current hour's budget, counted in `forward_budget/<hour>`
(documents.ForwardBudget, the id `YYYYMMDDHH` in UTC). Past the budget the email is
held: `take` raises `Spent`, and the delivery state machine leaves the delivery pending,
due in a later hour (`release_at`), without counting an attempt. The first hold of an
hour writes one log line (`logs.forward_budget_spent`), which the alert counts. CRM rows
are not emails and take nothing.

The count is an `Increment`, not a transaction: concurrent read-modify-write
transactions on one document mostly fail to commit, while each increment's commit
answers its own new value. A take whose increment passes the budget gives its unit
back and counts a hold instead, in a second write. Units are never given back by a
take that got one, so the first take past the budget comes after the budget's worth
of takes that stand: the hour never sends more than the budget. A unit taken stands
even when the send then fails, since EmailJS may have sent it.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from factoryops import logs, store
from factoryops.config import settings
from factoryops.documents import ForwardBudget, ForwardBudgetFields

HOUR = dt.timedelta(hours=1)
KEPT = dt.timedelta(days=2)
"""How long an hour's count is kept after the hour starts (its `expire_at`): the status
reads the current hour's only; retention and the TTL policy delete it afterwards."""


class Spent(Exception):
    """The hour's budget is used up: the email was not sent and waits until `until`."""

    def __init__(self, until: dt.datetime) -> None:
        super().__init__("the hour's email budget is spent")
        self.until = until


def hour_of(at: dt.datetime) -> dt.datetime:
    """The start of the UTC hour that holds `at`."""
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def hour_key(at: dt.datetime) -> str:
    """The id of the budget document of the hour that holds `at`: `YYYYMMDDHH`, UTC."""
    return hour_of(at).strftime("%Y%m%d%H")


def release_at(
    hour: dt.datetime, position: int, budget: int, *, jitter: float = 0.0
) -> dt.datetime:
    """When the email held `position`-th in `hour` (1 for the first) is due again.

    The holds of an hour fill the hours after it in the order they came, `budget` to an
    hour, each in its own even slot of its hour: a backlog of N drains within the budget
    over N / budget hours, oldest first, and no run of the sweep finds more due at once
    than the hour allows. `jitter` (0 to 1) moves an email within the first half of its
    slot, so that the slots of holds from different hours seldom meet.
    """
    ahead, place = divmod(position - 1, budget)
    slot = HOUR / budget
    return hour_of(hour) + HOUR * (ahead + 1) + slot * (place + jitter / 2)


@dataclass
class _Unit:
    taken: bool = False


_attempt: contextvars.ContextVar[_Unit | None] = contextvars.ContextVar(
    "budget_attempt", default=None
)


@contextlib.contextmanager
def one_email() -> Iterator[None]:
    """One delivery attempt: its first `take` takes a unit, and the sends it tries again
    after EmailJS said it was busy (a 429 sent nothing; deliveries' throttled retries)
    use the same one."""
    token = _attempt.set(_Unit())
    try:
        yield
    finally:
        _attempt.reset(token)


def take() -> None:
    """Take one unit of the current hour's budget for one email; raise `Spent` (and count
    the hold) when the hour's budget is used up."""
    from google.cloud import firestore

    unit = _attempt.get()
    if unit is not None and unit.taken:
        return
    now = store.now()
    hour = hour_of(now)
    budget = settings().forward_budget
    ref = store.collection(store.FORWARD_BUDGET).document(hour_key(hour))
    taken = {ForwardBudgetFields.SENT: firestore.Increment(1)}
    expiry = {ForwardBudgetFields.EXPIRE_AT: hour + KEPT}
    result = ref.set({**taken, **expiry}, merge=True, **store.call_options())
    if store.transform_results(result, taken)[ForwardBudgetFields.SENT] <= budget:
        if unit is not None:
            unit.taken = True
        return
    held = {
        ForwardBudgetFields.SENT: firestore.Increment(-1),
        ForwardBudgetFields.HELD: firestore.Increment(1),
    }
    result = ref.update(held, **store.call_options())
    position = int(store.transform_results(result, held)[ForwardBudgetFields.HELD])
    if position == 1:
        logs.forward_budget_spent(budget=budget, hour=hour_key(hour))
    raise Spent(release_at(hour, position, budget, jitter=random.random()))


@dataclass(frozen=True)
class HourUsage:
    """The current hour's count against the budget, for the status page."""

    hour: dt.datetime
    sent: int
    held: int
    budget: int


def this_hour() -> HourUsage:
    """What the current hour has sent and held so far, and its budget."""
    hour = hour_of(store.now())
    snap = (
        store.collection(store.FORWARD_BUDGET).document(hour_key(hour)).get(**store.call_options())
    )
    budget = settings().forward_budget
    if not snap.exists:
        return HourUsage(hour=hour, sent=0, held=0, budget=budget)
    # A take past the budget counts itself for a moment before it gives its unit back.
    found = ForwardBudget.from_snapshot(snap)
    return HourUsage(hour=hour, sent=found.sent, held=found.held, budget=budget)

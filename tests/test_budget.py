"""The forwarding budget (budget.py) on the real emulator, with the EmailJS stand-in and
the CRM web app: a flood is stored whole while at most FORWARD_BUDGET emails go out in
its hour; the rest are held, never failed, and drain hour by hour, oldest first, each
once; racing senders never pass the budget; the team is alerted once an hour."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from factoryops import budget, deliveries, logs, retention, status, store
from factoryops.cli import main as siteadmin
from factoryops.sweep import DELIVERY_SOURCES

from tests.test_deliveries_sweep import seed_due, state
from tests.together import at_once

pytestmark = [pytest.mark.emulator, pytest.mark.node]

HOUR = dt.timedelta(hours=1)


class Clock:
    """`store.now`, running at the real pace from five minutes past the current hour, so
    that a test's hour does not end under it; `move_to` sets it on to a later moment."""

    def __init__(self) -> None:
        real = dt.datetime.now(dt.UTC)
        self.offset = budget.hour_of(real) + dt.timedelta(minutes=5) - real

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    @property
    def hour(self) -> dt.datetime:
        return budget.hour_of(self.now())

    def move_to(self, moment: dt.datetime) -> None:
        self.offset = moment - dt.datetime.now(dt.UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    running = Clock()
    monkeypatch.setattr(store, "now", running.now)
    yield running


class Alerts(logging.Handler):
    """The `forward budget spent` lines the project's logger writes, as JSON payloads."""

    def __init__(self) -> None:
        super().__init__()
        self.formatter = logs.JsonFormatter()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(self.format(record))
        if line["message"] == "forward budget spent":
            self.lines.append(line)


@pytest.fixture
def alerts() -> Iterator[Alerts]:
    handler = Alerts()
    logs.logger().addHandler(handler)
    yield handler
    logs.logger().removeHandler(handler)


def budget_doc(db: Any, hour: dt.datetime) -> dict[str, Any]:
    snap = db.collection("forward_budget").document(budget.hour_key(hour)).get()
    return snap.to_dict() or {}


def emailed(standins: Any) -> list[str]:
    """The record (or lead) id of every email EmailJS received, in order."""
    return [e["template_params"]["record_id"] for e in standins.state.emails]


def botnet(count: int) -> list[str]:
    """`count` addresses of 2001:db8::/32, two from each /64, the /64s spread over five
    /48s as a botnet's hosts would be."""
    addresses = []
    for n in range(count):
        network = n // 2
        site, subnet = network % 5, network // 5
        addresses.append(str(ipaddress.IPv6Address(f"2001:db8:{site + 1:x}:{subnet + 1:x}::1") + n))
    return addresses


# -- the flood ------------------------------------------------------------------------


@pytest.mark.load
def test_a_flood_of_60_chat_starts_from_30_networks_is_stored_and_emails_at_most_the_budget(
    db: Any,
    standins: Any,
    forwarder: Any,
    function_client: Any,
    configure: Any,
    clock: Clock,
    alerts: Alerts,
) -> None:
    # The chat rate limit is raised so that it does not hide the budget: a botnet spreads
    # its posts over enough addresses to pass any per-client limit. The CRM is left out:
    # its rows take no budget (the overlapping sweeps below append every one).
    configure(FORWARD_BUDGET="10", CHAT_RATE_LIMIT="1000/60", CRM_APPS_SCRIPT_URL=None)
    chat = function_client("chat_message")
    addresses = botnet(60)
    assert len({ipaddress.IPv6Network(f"{a}/64", strict=False) for a in addresses}) == 30
    assert len({ipaddress.IPv6Network(f"{a}/48", strict=False) for a in addresses}) == 5

    for n, address in enumerate(addresses):
        body = {"email": f"bot{n}@spam{n}.example", "page": "/", "text": f"Cheap offer {n}"}
        response = chat.post("/", json=body, headers={"X-Forwarded-For": address})
        assert response.status_code == 201, response.get_json()
    forwarder.settle(timeout=240)

    sessions = [snap.to_dict() for snap in db.collection("chat_sessions").stream()]
    assert len(sessions) == 60, "every post is stored"
    assert len(standins.state.emails) == 10, "no more emails than the budget"
    emails = [session["deliveries"]["email"] for session in sessions]
    held = [email for email in emails if email["state"] == "pending"]
    assert len(held) == 50
    assert sum(email["state"] == "sent" for email in emails) == 10
    for email in held:
        assert email["held_at"] and email["attempts"] == 0
        assert email["due_at"] >= clock.hour + HOUR, "due in a later hour"
        assert "lease_id" not in email and "last_error" not in email
    # The holds drain the budget's worth an hour, in the hours after this one.
    due_hours = sorted(budget.hour_key(email["due_at"]) for email in held)
    assert due_hours[:10] == [budget.hour_key(clock.hour + HOUR)] * 10
    assert due_hours[-1] == budget.hour_key(clock.hour + 5 * HOUR)

    count = budget_doc(db, clock.hour)
    assert (count["sent"], count["held"]) == (10, 50)
    [alert] = alerts.lines
    assert (alert["budget"], alert["hour"], alert["severity"]) == (
        10,
        budget.hour_key(clock.hour),
        "WARNING",
    )
    overview = status.overview()["budget"]
    assert (overview["sent"], overview["budget"], overview["held_now"]) == (10, 10, 50)


# -- the backlog ----------------------------------------------------------------------


def test_the_backlog_drains_a_budgets_worth_each_hour_oldest_first_each_email_once(
    db: Any,
    standins: Any,
    function_client: Any,
    configure: Any,
    clock: Clock,
    alerts: Alerts,
) -> None:
    configure(FORWARD_BUDGET="3", CRM_APPS_SCRIPT_URL=None)
    contact = function_client("contact_submit")
    ids = []
    for n in range(10):
        body = {"name": f"Lead {n}", "email": f"lead{n}@plant.example", "message": "A quote?"}
        response = contact.post("/", json=body, headers={"X-Forwarded-For": f"198.51.100.{n}"})
        assert response.status_code == 201
        ids.append(response.get_json()["id"])
        clock.move_to(clock.now() + dt.timedelta(seconds=1))  # each its own time, in order
    first_hour = clock.hour

    # This hour: the sweep finds all ten due, sends the budget's worth, holds the rest.
    counts = deliveries.run_due(DELIVERY_SOURCES)
    assert (counts.sent, counts.held, counts.retrying, counts.failed) == (3, 7, 0, 0)
    assert emailed(standins) == ids[:3]
    assert deliveries.run_due(DELIVERY_SOURCES).due == 0, "nothing held is due this hour"

    # Each later hour, the sweep runs at its end and sends the next three, oldest first.
    for hours, expected in ((1, ids[3:6]), (2, ids[6:9]), (3, ids[9:])):
        before = len(standins.state.emails)
        clock.move_to(first_hour + hours * HOUR + dt.timedelta(minutes=59))
        counts = deliveries.run_due(DELIVERY_SOURCES)
        assert (counts.sent, counts.held) == (len(expected), 0)
        assert emailed(standins)[before:] == expected

    assert emailed(standins) == ids, "each email exactly once, in the order they came"
    for record_id in ids:
        email = db.collection("contact_submissions").document(record_id).get().to_dict()
        delivery = email["deliveries"]["email"]
        assert delivery["state"] == "sent" and delivery["attempts"] == 1
        assert "held_at" not in delivery
    assert len(alerts.lines) == 1, "one alert: only the first hour was spent"
    assert deliveries.run_due(DELIVERY_SOURCES).due == 0


# -- a held delivery is not a failing one ---------------------------------------------


def test_a_held_delivery_never_counts_an_attempt_nor_fails_however_long_it_waits(
    db: Any, standins: Any, configure: Any, clock: Clock
) -> None:
    # One attempt short of failing: a hold counted as an attempt would fail it.
    configure(FORWARD_BUDGET="1", MAX_DELIVERY_ATTEMPTS="3")
    seed_due(db, "waiting", attempts=2, due_at=clock.now() - dt.timedelta(minutes=1))

    for _ in range(5):
        budget.take()  # another email spent the hour's budget first
        counts = deliveries.run_due(DELIVERY_SOURCES)
        assert (counts.held, counts.failed, counts.retrying) == (1, 0, 0)
        email = state(db, "waiting", "email")
        assert (email["state"], email["attempts"]) == ("pending", 2)
        assert "last_error" not in email and "lease_id" not in email
        assert email["held_at"] <= clock.now() and email["due_at"] >= clock.hour + HOUR
        clock.move_to(email["due_at"] + dt.timedelta(seconds=1))  # the next run finds it due

    assert standins.state.emails == []
    [line] = deliveries.overview(DELIVERY_SOURCES, states=[deliveries.HELD])
    assert (line["id"], line["state"], line["attempts"]) == ("waiting", "held", 2)
    listed = CliRunner().invoke(siteadmin, ["deliveries", "list", "--state", "held"])
    assert listed.exit_code == 0 and "held" in listed.output and "waiting" in listed.output
    assert status.overview()["deliveries"]["email"]["held"]["count"] == 1
    assert status.overview()["deliveries"]["email"]["failed"]["count"] == 0
    shown = CliRunner().invoke(siteadmin, ["status"])
    assert "emails  0 of 1 sent this hour" in shown.output
    assert "1 held for a later hour" in shown.output

    # An hour with its budget free: the attempt is made, and counts as one.
    counts = deliveries.run_due(DELIVERY_SOURCES)
    assert counts.sent == 1 and counts.held == 0
    email = state(db, "waiting", "email")
    assert (email["state"], email["attempts"]) == ("sent", 3)
    assert "held_at" not in email


def test_a_send_that_fails_after_taking_its_unit_still_counts_against_the_hour(
    db: Any, standins: Any, configure: Any, clock: Clock
) -> None:
    configure(FORWARD_BUDGET="2")
    for doc_id in ("a", "b", "c"):
        seed_due(db, doc_id, due_at=clock.now() - dt.timedelta(minutes=1))
    standins.state.fail["emailjs"] = "timeout"
    standins.state.slow_seconds = 0.2

    counts = deliveries.run_due(DELIVERY_SOURCES)

    # The two that timed out may have reached EmailJS: their units stand.
    assert (counts.retrying, counts.held) == (2, 1)
    assert budget_doc(db, clock.hour)["sent"] == 2


def test_a_throttled_send_tried_again_by_the_forwarder_takes_one_unit(
    db: Any, standins: Any, forwarder: Any, function_client: Any, configure: Any, clock: Clock
) -> None:
    configure(FORWARD_BUDGET="3", CRM_APPS_SCRIPT_URL=None)
    standins.limit_emails(per_second=1)

    def post(n: int) -> int:
        body = {"name": f"Lead {n}", "email": f"lead{n}@plant.example", "message": "A quote?"}
        headers = {"X-Forwarded-For": f"198.51.100.{n}"}
        return int(
            function_client("contact_submit").post("/", json=body, headers=headers).status_code
        )

    assert at_once(post, range(3)) == [201] * 3
    forwarder.settle(timeout=90)

    # EmailJS answered 429 to some sends, and they were tried again on their one unit.
    sends = standins.state.requests.count(("POST", "/api/v1.0/email/send"))
    assert len(standins.state.emails) == 3 and sends > 3
    count = budget_doc(db, clock.hour)
    assert count["sent"] == 3 and count.get("held", 0) == 0


# -- racing senders -------------------------------------------------------------------


def test_concurrent_takes_never_pass_the_budget_and_the_alert_is_written_once(
    db: Any, configure: Any, clock: Clock, alerts: Alerts
) -> None:
    configure(FORWARD_BUDGET="7")
    outcomes: list[str] = []
    lock = threading.Lock()

    def take(_: int) -> None:
        try:
            budget.take()
            result = "taken"
        except budget.Spent as held:
            assert held.until >= clock.hour + HOUR
            result = "held"
        with lock:
            outcomes.append(result)

    at_once(take, range(30))

    assert outcomes.count("taken") == 7 and outcomes.count("held") == 23
    count = budget_doc(db, clock.hour)
    assert (count["sent"], count["held"]) == (7, 23)
    assert len(alerts.lines) == 1


def test_overlapping_sweeps_send_no_more_than_the_budget_and_each_email_once(
    db: Any, standins: Any, configure: Any, clock: Clock
) -> None:
    configure(FORWARD_BUDGET="5")
    records = [f"r{n:02d}" for n in range(12)]
    for doc_id in records:
        seed_due(db, doc_id, due_at=clock.now() - dt.timedelta(minutes=1))

    results = at_once(lambda _: deliveries.run_due(DELIVERY_SOURCES, limit=5), range(3))

    assert len(standins.state.emails) == 5
    assert len(set(emailed(standins))) == 5
    assert sum(r.held for r in results) == 7
    assert sum(r.sent for r in results) == 5 + len(records), "and every CRM row"
    held = [d for d in records if state(db, d, "email")["state"] == "pending"]
    assert len(held) == 7 and not set(held) & set(emailed(standins))


# -- the hour's count ------------------------------------------------------------------


def test_an_hours_count_expires_two_days_on_and_retention_deletes_it(
    db: Any, configure: Any, clock: Clock
) -> None:
    configure(FORWARD_BUDGET="2")
    budget.take()
    count = budget_doc(db, clock.hour)
    assert count == {"sent": 1, "expire_at": clock.hour + 2 * 24 * HOUR}
    assert retention.run().deleted.forward_budget == 0

    later = clock.hour + 2 * 24 * HOUR + dt.timedelta(minutes=1)
    assert retention.run(now=later).deleted.forward_budget == 1
    assert budget_doc(db, clock.hour) == {}

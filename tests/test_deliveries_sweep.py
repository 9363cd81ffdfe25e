"""The sweep endpoint's body and counts, and its deliveries task against the EmailJS
stand-in and the CRM web app: leases, backoff, failure, and overlapping sweeps sending
once."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner
from factoryops import deliveries, store
from factoryops.cli import main as siteadmin
from factoryops.sweep import DELIVERY_SOURCES

from tests.test_retention import DAYS, HEADER, ago, row, seed_contact, seed_rows
from tests.together import at_once

pytestmark = [pytest.mark.emulator, pytest.mark.node]


def pending(due_at: dt.datetime | None = None, attempts: int = 0) -> dict[str, Any]:
    due = due_at or store.now() - dt.timedelta(minutes=1)
    return {"state": "pending", "attempts": attempts, "due_at": due, "next_attempt_at": due}


def seed_due(db: Any, doc_id: str, **kwargs: Any) -> None:
    seed_contact(
        db,
        doc_id,
        created_at=ago(1),
        name=f"Visitor {doc_id}",
        email=f"{doc_id}@plant.example",
        deliveries={"email": pending(**kwargs), "crm": pending(**kwargs)},
    )


def state(db: Any, doc_id: str, channel: str) -> dict[str, Any]:
    data = db.collection("contact_submissions").document(doc_id).get().to_dict()
    return dict(data["deliveries"][channel])


@pytest.fixture
def sweep(db: Any, standins: Any, configure: Any, function_client: Any) -> Any:
    """retention_sweep with its caller check off (test_sweep_auth.py checks it)."""
    configure(SWEEP_AUTH="off")
    return function_client("retention_sweep")


# -- the endpoint's body and answer --------------------------------------------------


def test_an_empty_post_runs_both_tasks_and_answers_every_count(sweep: Any, db: Any) -> None:
    response = sweep.post("/")

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"dry_run", "deleted", "deliveries"}
    assert body["dry_run"] is False
    assert set(body["deleted"]) == {
        "contact_submissions",
        "chat_sessions",
        "chat_messages",
        "access_grants",
        "crm_rows",
        "idempotency_keys",
        "rate_limits",
        "privacy_requests",
        "sweep_runs",
        "team_audit",
        "spent_challenges",
        "forward_budget",
    }
    assert body["deliveries"] == {"sent": 0, "retrying": 0, "failed": 0, "held": 0}


def test_one_task_can_be_run_alone(sweep: Any, db: Any, standins: Any) -> None:
    seed_contact(db, "old", created_at=ago(DAYS + 1))
    seed_due(db, "due")

    response = sweep.post("/", json={"tasks": ["deliveries"]})

    assert response.get_json()["deliveries"]["sent"] == 2
    assert response.get_json()["deleted"]["contact_submissions"] == 0
    assert db.collection("contact_submissions").document("old").get().exists


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tasks": ["retention", "vacuum"]}, "tasks"),
        ({"tasks": []}, "tasks"),
        ({"tasks": "retention"}, "tasks"),
        ({"dry_run": "yes"}, "dry_run"),
        ({"dryrun": True}, "dryrun"),
    ],
)
def test_an_unknown_task_or_field_or_a_wrong_type_is_400_naming_the_field(
    sweep: Any, body: dict[str, Any], field: str
) -> None:
    response = sweep.post("/", json=body)

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["fields"]


def test_a_dry_run_over_http_deletes_nothing_and_sends_nothing(
    sweep: Any, db: Any, standins: Any
) -> None:
    seed_contact(db, "old", created_at=ago(DAYS + 1))
    seed_due(db, "due")

    body = sweep.post("/", json={"dry_run": True}).get_json()

    assert body["dry_run"] is True
    assert body["deleted"]["contact_submissions"] == 1
    assert body["deliveries"] == {"sent": 0, "retrying": 0, "failed": 0, "held": 0}
    assert standins.state.emails == [] and standins.crm.rows() == []
    assert state(db, "due", "email")["state"] == "pending"
    assert db.collection("contact_submissions").document("old").get().exists


def test_the_crm_down_during_retention_is_503_after_the_rest_is_done(
    sweep: Any, db: Any, standins: Any
) -> None:
    seed_contact(db, "old", created_at=ago(DAYS + 1))
    db.collection("rate_limits").document("r").set({"count": 1, "expire_at": ago(1)})
    standins.crm.fail("503")

    response = sweep.post("/", json={"tasks": ["retention"]})

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    assert "Retry-After" in response.headers
    assert db.collection("contact_submissions").document("old").get().exists
    assert not db.collection("rate_limits").document("r").get().exists


# -- deliveries ----------------------------------------------------------------------


def test_a_due_delivery_is_sent_once_and_settles_as_sent(db: Any, standins: Any) -> None:
    seed_due(db, "c1")

    counts = deliveries.run_due(DELIVERY_SOURCES)
    again = deliveries.run_due(DELIVERY_SOURCES)

    assert (counts.sent, counts.retrying, counts.failed) == (2, 0, 0)
    assert again.due == 0
    assert len(standins.state.emails) == 1
    assert [r[2] for r in standins.crm.rows()] == ["c1"]
    email = state(db, "c1", "email")
    assert email["state"] == "sent" and email["attempts"] == 1
    assert "due_at" not in email and "lease_id" not in email


def test_a_delivery_not_yet_due_waits(db: Any, standins: Any) -> None:
    seed_due(db, "later", due_at=store.now() + dt.timedelta(minutes=5))

    assert deliveries.run_due(DELIVERY_SOURCES).due == 0
    assert standins.state.emails == []


def test_a_failing_downstream_is_retried_later_with_backoff(db: Any, standins: Any) -> None:
    seed_due(db, "c1", attempts=2)
    standins.state.fail["emailjs"] = "500"

    counts = deliveries.run_due(DELIVERY_SOURCES)

    assert counts.retrying == 1 and counts.sent == 1
    email = state(db, "c1", "email")
    assert email["state"] == "pending" and email["attempts"] == 3
    assert email["last_error"].startswith("emailjs 500")
    # The third failure waits about 30 s * 2^2 (with jitter), and counts from now.
    assert email["next_attempt_at"] == email["due_at"]
    wait = email["due_at"] - store.now()
    assert dt.timedelta(seconds=60) < wait < dt.timedelta(seconds=180)
    assert deliveries.run_due(DELIVERY_SOURCES).due == 0


def test_a_permanent_4xx_fails_at_once(db: Any, standins: Any) -> None:
    seed_due(db, "c1")
    standins.state.fail["emailjs"] = "400"

    counts = deliveries.run_due(DELIVERY_SOURCES)

    assert counts.failed == 1
    email = state(db, "c1", "email")
    assert email["state"] == "failed" and email["attempts"] == 1
    assert "due_at" not in email


def test_the_last_allowed_attempt_failing_marks_the_delivery_failed(
    db: Any, standins: Any, configure: Any
) -> None:
    configure(MAX_DELIVERY_ATTEMPTS="3")
    seed_due(db, "c1", attempts=2)
    standins.crm.fail("503")

    counts = deliveries.run_due(DELIVERY_SOURCES)

    assert counts.failed == 1
    assert state(db, "c1", "crm")["state"] == "failed"
    assert state(db, "c1", "crm")["attempts"] == 3


def test_an_expired_lease_is_taken_up_and_a_live_one_is_left_alone(db: Any, standins: Any) -> None:
    for doc_id, lease_end in (("stale", ago(0, plus=-dt.timedelta(seconds=5))), ("live", None)):
        lease = lease_end or store.now() + dt.timedelta(seconds=50)
        processing = {"state": "processing", "attempts": 0, "lease_id": "x", "due_at": lease}
        seed_contact(
            db,
            doc_id,
            created_at=ago(1),
            deliveries={"email": dict(processing), "crm": dict(processing)},
        )

    counts = deliveries.run_due(DELIVERY_SOURCES)

    assert counts.sent == 2
    assert [e["template_params"]["record_id"] for e in standins.state.emails] == ["stale"]
    assert state(db, "live", "email")["state"] == "processing"


def expired_lease(**extra: Any) -> dict[str, Any]:
    """A delivery whose holder's result was never written: its outcome is unknown."""
    due = store.now() - dt.timedelta(seconds=5)
    return {"state": "processing", "attempts": 0, "lease_id": "x", "due_at": due, **extra}


def test_a_row_that_landed_before_its_result_was_lost_is_not_appended_again(
    db: Any, standins: Any
) -> None:
    seed_contact(
        db,
        "landed",
        created_at=ago(1),
        deliveries={"email": {"state": "sent", "attempts": 1}, "crm": expired_lease()},
    )
    seed_contact(
        db,
        "not-landed",
        created_at=ago(1),
        deliveries={"email": {"state": "sent", "attempts": 1}, "crm": expired_lease()},
    )
    seed_rows(standins, [HEADER, row("landed", ago(1))])

    counts = deliveries.run_due(DELIVERY_SOURCES)

    assert counts.sent == 2
    assert [r[2] for r in standins.crm.rows()] == ["record_id", "landed", "not-landed"]


def test_an_email_with_an_unknown_outcome_is_sent_again_once_then_left_to_the_team(
    db: Any, standins: Any
) -> None:
    seed_contact(
        db,
        "first-unknown",
        created_at=ago(1),
        deliveries={"email": expired_lease(), "crm": {"state": "sent", "attempts": 1}},
    )
    seed_contact(
        db,
        "second-unknown",
        created_at=ago(1),
        deliveries={
            "email": expired_lease(unknown_outcomes=1),
            "crm": {"state": "sent", "attempts": 1},
        },
    )

    counts = deliveries.run_due(DELIVERY_SOURCES)

    assert [e["template_params"]["record_id"] for e in standins.state.emails] == ["first-unknown"]
    assert (counts.sent, counts.failed) == (1, 1)
    gave_up = state(db, "second-unknown", "email")
    assert gave_up["state"] == "failed"
    assert gave_up["last_error"] == "email outcome unknown twice; not sent again"
    assert state(db, "first-unknown", "email")["unknown_outcomes"] == 1
    # The team's retry starts it over.
    assert deliveries.retry_failed(DELIVERY_SOURCES) == 1
    assert "unknown_outcomes" not in state(db, "second-unknown", "email")


def test_overlapping_sweeps_send_each_email_and_append_each_row_exactly_once(
    db: Any, standins: Any
) -> None:
    records = [f"r{n:02d}" for n in range(12)]
    for doc_id in records:
        seed_due(db, doc_id)

    results = at_once(lambda _: deliveries.run_due(DELIVERY_SOURCES, limit=5), range(3))

    sent_emails = sorted(e["template_params"]["record_id"] for e in standins.state.emails)
    appended_rows = sorted(r[2] for r in standins.crm.rows())
    assert sent_emails == records
    assert appended_rows == records
    assert sum(r.sent for r in results) == 2 * len(records)
    assert all(state(db, d, c)["state"] == "sent" for d in records for c in ("email", "crm"))


def test_a_dry_run_of_the_deliveries_counts_what_is_due_and_sends_nothing(
    db: Any, standins: Any
) -> None:
    seed_due(db, "c1")

    counts = deliveries.run_due(DELIVERY_SOURCES, dry_run=True)

    assert counts.due == 2 and counts.sent == 0
    assert standins.state.emails == []
    assert state(db, "c1", "email") == {**state(db, "c1", "email"), "state": "pending"}


def test_deliveries_logs_name_records_but_hold_no_personal_data(
    db: Any, standins: Any, captured_logs: Any
) -> None:
    seed_due(db, "c1")
    standins.state.fail["emailjs"] = "500"

    deliveries.run_due(DELIVERY_SOURCES)

    text = captured_logs.getvalue()
    assert "c1" in text
    assert "plant.example" not in text and "Visitor" not in text


# -- siteadmin deliveries and sweep ------------------------------------------------------


def test_deliveries_list_shows_unsettled_deliveries_without_personal_data(
    db: Any, standins: Any
) -> None:
    seed_due(db, "waiting", attempts=3)
    seed_contact(
        db,
        "broken",
        created_at=ago(1),
        deliveries={
            "email": {"state": "failed", "attempts": 8, "last_error": "emailjs 400: bad"},
            "crm": {"state": "sent", "attempts": 1},
        },
    )
    seed_contact(db, "done", created_at=ago(1))

    result = CliRunner().invoke(siteadmin, ["deliveries", "list", "--json"])

    assert result.exit_code == 0, result.output
    lines = json.loads(result.stdout)
    assert {(line["id"], line["channel"], line["state"]) for line in lines} == {
        ("waiting", "email", "pending"),
        ("waiting", "crm", "pending"),
        ("broken", "email", "failed"),
    }
    assert set(lines[0]) == {
        "kind",
        "id",
        "channel",
        "state",
        "attempts",
        "last_error",
        "next_attempt_at",
    }
    assert "plant.example" not in result.output

    table = CliRunner().invoke(siteadmin, ["deliveries", "list", "--state", "failed"])
    assert table.exit_code == 0
    assert "broken" in table.output and "waiting" not in table.output
    assert "emailjs 400: bad" in table.output


def test_deliveries_retry_puts_failed_ones_back_due_now_and_the_next_sweep_sends_them(
    db: Any, standins: Any
) -> None:
    seed_contact(
        db,
        "broken",
        created_at=ago(1),
        deliveries={
            "email": {"state": "failed", "attempts": 8, "last_error": "emailjs 500"},
            "crm": {"state": "failed", "attempts": 1, "last_error": "apps_script 400"},
        },
    )

    result = CliRunner().invoke(siteadmin, ["deliveries", "retry", "--json"])

    assert result.exit_code == 0, result.output
    assert '"retried": 2' in result.output
    assert state(db, "broken", "email")["state"] == "pending"
    assert deliveries.run_due(DELIVERY_SOURCES).sent == 2
    assert len(standins.state.emails) == 1 and len(standins.crm.rows()) == 1


def test_siteadmin_sweep_runs_retention_and_deliveries_from_a_laptop(
    db: Any, standins: Any
) -> None:
    seed_contact(db, "old", created_at=ago(DAYS + 1))
    seed_rows(standins, [HEADER, row("old", ago(DAYS + 1))])
    seed_due(db, "due")

    dry = CliRunner().invoke(siteadmin, ["sweep", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output
    assert db.collection("contact_submissions").document("old").get().exists

    result = CliRunner().invoke(siteadmin, ["sweep", "--json"])

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["deleted"]["contact_submissions"] == 1 and body["deleted"]["crm_rows"] == 1
    assert body["deliveries"] == {"sent": 2, "retrying": 0, "failed": 0, "held": 0, "due": 2}
    assert body["tasks"] == ["retention", "deliveries"]
    assert [r[2] for r in standins.crm.rows()] == ["record_id", "due"]


def test_siteadmin_sweep_exits_non_zero_when_the_crm_is_down(db: Any, standins: Any) -> None:
    seed_contact(db, "old", created_at=ago(DAYS + 1))
    standins.crm.fail("500")

    result = CliRunner().invoke(siteadmin, ["sweep", "--task", "retention"])

    assert result.exit_code == 1
    assert "CRM could not be reached" in result.output

"""`siteadmin status`: deliveries waiting or failed per channel, the sweep's last runs,
open chats and those awaiting a reply, active grants; and the sweep's run records."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner
from factoryops import grants, sweep
from factoryops.chat import team
from factoryops.cli import main as siteadmin

from tests.test_retention import seed_contact

pytestmark = [pytest.mark.emulator, pytest.mark.node]


def ago(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)


def state(name: str, attempts: int) -> dict[str, Any]:
    return {"state": name, "attempts": attempts}


def run(*args: str) -> Any:
    result = CliRunner().invoke(siteadmin, ["status", *args])
    assert result.exit_code == 0, result.output
    return result


def test_a_sweep_run_is_recorded_with_its_tasks_counts_and_outcome_and_no_personal_data(
    db: Any, standins: Any
) -> None:
    seed_contact(db, "old-contact", created_at=ago(days=800))
    sweep.run(sweep.SweepRequest(tasks=("retention",)))
    sweep.run(sweep.SweepRequest(tasks=("deliveries",), dry_run=True))  # a dry run: no record

    [record] = [d.to_dict() for d in db.collection("sweep_runs").stream()]
    assert record["tasks"] == ["retention"] and record["outcome"] == "ok"
    assert record["deleted"]["contact_submissions"] == 1
    assert record["started_at"] <= record["finished_at"]
    kept = record["expire_at"] - record["finished_at"]
    assert dt.timedelta(days=89) < kept <= dt.timedelta(days=90)
    assert "Asha" not in json.dumps(record, default=str)


def test_status_counts_deliveries_by_channel_and_state_with_the_oldest_age(
    db: Any, standins: Any
) -> None:
    seed_contact(
        db,
        "new",
        created_at=ago(minutes=5),
        deliveries={"email": state("pending", 0), "crm": state("processing", 0)},
    )
    seed_contact(
        db,
        "retrying",
        created_at=ago(hours=3),
        deliveries={"email": state("pending", 2), "crm": state("sent", 1)},
    )
    seed_contact(
        db,
        "failed",
        created_at=ago(days=2),
        deliveries={"email": state("failed", 8), "crm": state("failed", 1)},
    )
    seed_contact(
        db,
        "done",
        created_at=ago(days=9),
        deliveries={"email": state("sent", 1), "crm": state("disabled", 0)},
    )

    found = json.loads(run("--json").stdout)["deliveries"]

    assert found["email"]["pending"]["count"] == 1
    assert 290 < found["email"]["pending"]["oldest_age_seconds"] < 400
    assert found["email"]["retrying"]["count"] == 1
    assert 3 * 3600 - 60 < found["email"]["retrying"]["oldest_age_seconds"] < 3 * 3600 + 60
    assert found["email"]["failed"]["count"] == found["crm"]["failed"]["count"] == 1
    assert found["crm"]["pending"]["count"] == 1 and found["crm"]["retrying"]["count"] == 0
    assert found["crm"]["retrying"]["oldest_age_seconds"] is None


def test_status_shows_the_last_runs_open_chats_awaiting_a_reply_and_active_grants(
    db: Any, standins: Any, function_client: Any
) -> None:
    sweep.run(sweep.SweepRequest(tasks=("deliveries",)))
    chat = function_client("chat_message")
    waiting = chat.post("/", json={"email": "a@plant.example", "page": "/", "text": "hi"})
    answered = chat.post("/", json={"email": "b@plant.example", "page": "/", "text": "hi"})
    team.reply(team.find(answered.get_json()["session_id"]), "hello")
    silent = chat.post("/", json={"email": "c@plant.example", "page": "/"})
    closed = chat.post("/", json={"email": "d@plant.example", "page": "/", "text": "bye"})
    team.close(team.find(closed.get_json()["session_id"]))
    assert waiting.status_code == silent.status_code == 201
    grants.create(lead="Active", sections="pricing", no_email=True)
    revoked = grants.create(lead="Revoked", sections="pricing", no_email=True)
    grants.revoke(revoked.grant.id)

    overview = json.loads(run("--json").stdout)

    assert overview["chats"] == {"open": 3, "awaiting_reply": 1}
    assert overview["grants"] == {"active": 1}
    assert overview["runs"]["retention"] is None
    deliveries_run = overview["runs"]["deliveries"]
    assert deliveries_run["outcome"] == "ok" and deliveries_run["counts"]["sent"] == 0
    text = run().stdout
    assert "3 open, 1 awaiting a reply" in text and "1 active" in text
    assert "retention" in text and "never" in text
    for address in ("a@plant.example", "b@plant.example"):
        assert address not in text

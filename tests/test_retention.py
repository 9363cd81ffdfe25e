"""Retention on the real emulator, with the CRM web app (the real Code.gs) holding the rows.

Records are seeded directly with the Firestore client, an hour either side of the
RETENTION_DAYS window, so these tests depend only on the data model.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from factoryops import crm, retention, store
from factoryops.validation import search_terms

pytestmark = [pytest.mark.emulator, pytest.mark.node]

DAYS = 730
HOUR = dt.timedelta(hours=1)
HEADER = list(crm.COLUMNS)


def ago(days: float, *, plus: dt.timedelta = dt.timedelta()) -> dt.datetime:
    return store.now() - dt.timedelta(days=days) + plus


OUTSIDE = -HOUR
"""Added to `ago(DAYS)`: an hour past the window."""
INSIDE = HOUR
"""Added to `ago(DAYS)`: an hour before the window closes."""


# -- seeding --------------------------------------------------------------------------


def seed_contact(
    db: Any,
    doc_id: str,
    *,
    created_at: dt.datetime,
    email: str = "Asha.Rao@Plant.example",
    name: str = "Asha Rao",
    company: str = "Pune Stamping Works",
    deliveries: dict[str, Any] | None = None,
) -> None:
    db.collection("contact_submissions").document(doc_id).set(
        {
            "name": name,
            "email": email,
            "email_key": email.strip().lower(),
            "company": company,
            "message": f"private message of {name}",
            "search_terms": search_terms(name, company),
            "created_at": created_at,
            "expire_at": created_at + dt.timedelta(days=DAYS),
            "deliveries": deliveries
            or {"email": {"state": "sent", "attempts": 1}, "crm": {"state": "sent", "attempts": 1}},
        }
    )


def seed_session(
    db: Any,
    session_id: str,
    *,
    lead_id: str,
    last_activity_at: dt.datetime,
    messages: list[dt.datetime],
    email: str = "Asha.Rao@Plant.example",
) -> None:
    ref = db.collection("chat_sessions").document(session_id)
    created_at = min([last_activity_at, *messages])
    ref.set(
        {
            "email": email,
            "email_key": email.strip().lower(),
            "page": "/pricing",
            "status": "open",
            "created_at": created_at,
            "last_activity_at": last_activity_at,
            "expire_at": last_activity_at + dt.timedelta(days=DAYS),
            "lead_id": lead_id,
            "awaiting_since": None,
            "message_count": len(messages),
            "first_message_id": "m001" if messages else None,
            "deliveries": {"email": {"state": "sent"}, "crm": {"state": "sent"}},
        }
    )
    for seq, created in enumerate(messages, start=1):
        ref.collection("messages").document(f"m{seq:03d}").set(
            {
                "author": "visitor",
                "text": f"chat text {seq} of {session_id}",
                "created_at": created,
                "expire_at": created + dt.timedelta(days=DAYS),
                "seq": seq,
            }
        )


def seed_grant(
    db: Any,
    grant_id: str,
    *,
    created_at: dt.datetime,
    expires_at: dt.datetime | None = None,
    email: str | None = "Asha.Rao@Plant.example",
    lead: str = "Asha at Pune",
) -> None:
    db.collection("access_grants").document(grant_id).set(
        {
            "lead": lead,
            "email": email,
            "email_key": email.lower() if email else None,
            "company": "Pune Stamping Works",
            "search_terms": search_terms(lead, "Pune Stamping Works"),
            "sections": ["pricing"],
            "created_at": created_at,
            "expires_at": expires_at,
            "revoked_at": None,
            "max_uses": None,
            "redemptions": 0,
            "first_redeemed_at": None,
            "last_redeemed_at": None,
            "expire_at": created_at + dt.timedelta(days=DAYS),
        }
    )


def row(
    record_id: str,
    received_at: dt.datetime,
    *,
    source: str = "contact",
    email: str = "asha.rao@plant.example",
    name: str = "Asha Rao",
) -> list[str]:
    return crm.Row(
        received_at=store.rfc3339(received_at) or "",
        source=source,
        record_id=record_id,
        name=name,
        email=email,
        company="Pune Stamping Works",
        message="private message",
        page="",
    ).cells()


def seed_rows(standins: Any, rows: list[list[str]]) -> None:
    """Rows already in the sheet (written as plain text, as the script writes them)."""
    standins.crm.seed(rows)


def ids(db: Any, collection: str) -> set[str]:
    return {doc.id for doc in db.collection(collection).stream()}


def message_ids(db: Any, session_id: str) -> set[str]:
    ref = db.collection("chat_sessions").document(session_id).collection("messages")
    return {doc.id for doc in ref.stream()}


def record_ids_in_sheet(standins: Any) -> list[str]:
    return [r[2] for r in standins.crm.rows()]


@pytest.fixture
def world(db: Any, standins: Any) -> dict[str, Any]:
    """Something of every kind just outside and just inside the window, with CRM rows."""
    old, new = ago(DAYS, plus=OUTSIDE), ago(DAYS, plus=INSIDE)
    seed_contact(db, "contact-old", created_at=old)
    seed_contact(db, "contact-new", created_at=new)
    seed_session(db, "session-old", lead_id="lead-old", last_activity_at=old, messages=[old, old])
    seed_session(
        db,
        "session-live",
        lead_id="lead-live",
        last_activity_at=ago(1),
        messages=[old, new, ago(1)],
    )
    seed_grant(db, "grant-old", created_at=old, expires_at=old + dt.timedelta(days=30))
    seed_grant(db, "grant-old-no-expiry", created_at=old)
    seed_grant(db, "grant-new", created_at=new)
    now = store.now()
    db.collection("idempotency_keys").document("key-old").set(
        {"request_hash": "h", "state": "done", "expire_at": now - HOUR}
    )
    db.collection("idempotency_keys").document("key-new").set(
        {"request_hash": "h", "state": "done", "expire_at": now + HOUR}
    )
    db.collection("rate_limits").document("rate-old").set({"count": 3, "expire_at": now - HOUR})
    db.collection("rate_limits").document("rate-new").set({"count": 3, "expire_at": now + HOUR})
    db.collection("privacy_requests").document("request-old").set(
        {"kind": "delete", "email_hmac": "0" * 64, "expire_at": now - HOUR}
    )
    db.collection("privacy_requests").document("request-new").set(
        {"kind": "delete", "email_hmac": "1" * 64, "expire_at": now + HOUR}
    )
    db.collection("sweep_runs").document("run-old").set({"outcome": "ok", "expire_at": now - HOUR})
    db.collection("sweep_runs").document("run-new").set({"outcome": "ok", "expire_at": now + HOUR})
    db.collection("team_audit").document("audit-old").set(
        {"action": "chat.reply", "member": "asha@factoryopsai.com", "expire_at": now - HOUR}
    )
    db.collection("team_audit").document("audit-new").set(
        {"action": "chat.reply", "member": "asha@factoryopsai.com", "expire_at": now + HOUR}
    )
    # Quarantined posts live QUARANTINE_DAYS (30 by default), whatever the window.
    for doc_id, since in (("held-old", now - dt.timedelta(days=30) - HOUR), ("held-new", ago(29))):
        seed_contact(db, doc_id, created_at=since)
        db.collection("contact_submissions").document(doc_id).update(
            {"quarantined_at": since, "quarantine_reason": "no proof of work", "deliveries": {}}
        )
    db.collection("spent_challenges").document("old").set({"expire_at": now - HOUR})
    db.collection("spent_challenges").document("new").set({"expire_at": now + HOUR})
    db.collection("forward_budget").document("2026030109").set({"sent": 5, "expire_at": now - HOUR})
    db.collection("forward_budget").document("2026030110").set({"sent": 1, "expire_at": now + HOUR})
    seed_rows(
        standins,
        [
            HEADER,
            row("contact-old", old),
            row("contact-new", new),
            row("lead-old", old, source="chat"),
            row("lead-live", old, source="chat"),  # a live chat whose lead row is past the window
            row("gone-record", old),  # its record already went (the TTL backstop)
            row("lead-recent", ago(3), source="chat"),
        ],
    )
    return {"old": old, "new": new}


EXPECTED = {
    "contact_submissions": 2,  # one past the window, one quarantined past its 30 days
    "chat_sessions": 1,
    "chat_messages": 3,  # two under the old session, one old message of the live one
    "access_grants": 2,
    "crm_rows": 4,
    "idempotency_keys": 1,
    "rate_limits": 1,
    "privacy_requests": 1,
    "sweep_runs": 1,
    "team_audit": 1,
    "spent_challenges": 1,
    "forward_budget": 1,
}


# -- what goes and what stays --------------------------------------------------------


def test_a_run_deletes_everything_just_outside_the_window_and_keeps_everything_just_inside(
    db: Any, standins: Any, world: Any
) -> None:
    outcome = retention.run()

    assert outcome.crm_error is None
    assert outcome.deleted.as_dict() == EXPECTED
    assert ids(db, "contact_submissions") == {"contact-new", "held-new"}
    assert ids(db, "chat_sessions") == {"session-live"}
    assert ids(db, "spent_challenges") == {"new"}
    assert message_ids(db, "session-old") == set()
    assert message_ids(db, "session-live") == {"m002", "m003"}
    assert ids(db, "access_grants") == {"grant-new"}
    assert ids(db, "idempotency_keys") == {"key-new"}
    assert ids(db, "rate_limits") == {"rate-new"}
    assert ids(db, "privacy_requests") == {"request-new"}
    assert ids(db, "sweep_runs") == {"run-new"}
    assert ids(db, "team_audit") == {"audit-new"}
    assert ids(db, "forward_budget") == {"2026030110"}
    assert record_ids_in_sheet(standins) == ["record_id", "contact-new", "lead-recent"]


def test_a_second_run_finds_nothing_more_to_delete(db: Any, standins: Any, world: Any) -> None:
    retention.run()

    again = retention.run()

    assert again.deleted.as_dict() == dict.fromkeys(EXPECTED, 0)


def test_a_session_past_the_window_goes_with_every_document_under_it(
    db: Any, standins: Any
) -> None:
    old = ago(DAYS, plus=OUTSIDE)
    seed_session(db, "s1", lead_id="l1", last_activity_at=old, messages=[old] * 5)
    nested = db.document("chat_sessions/s1/messages/m001/notes/n1")
    nested.set({"created_at": ago(1)})
    gate = db.document("chat_sessions/s1/gate/open")
    gate.set({"expire_at": old + dt.timedelta(days=DAYS)})

    outcome = retention.run()

    assert outcome.deleted.chat_sessions == 1
    # The five messages are counted; the document under one, and the gate, go with them.
    assert outcome.deleted.chat_messages == 5
    assert not nested.get().exists and not gate.get().exists
    assert list(db.collection_group("messages").stream()) == []


def test_a_live_session_loses_only_its_messages_past_the_window(db: Any, standins: Any) -> None:
    seed_session(
        db,
        "live",
        lead_id="l1",
        last_activity_at=ago(0),
        messages=[ago(DAYS + 10), ago(DAYS, plus=OUTSIDE), ago(DAYS, plus=INSIDE), ago(0)],
    )

    outcome = retention.run()

    assert outcome.deleted.chat_messages == 2
    assert outcome.deleted.chat_sessions == 0
    assert message_ids(db, "live") == {"m003", "m004"}


def test_messages_left_behind_by_a_deleted_session_go_once_past_the_window(
    db: Any, standins: Any
) -> None:
    # The TTL backstop deletes a session document but not its subcollection.
    seed_session(
        db, "ttl-gone", lead_id="l1", last_activity_at=ago(DAYS + 1), messages=[ago(DAYS + 2)]
    )
    db.collection("chat_sessions").document("ttl-gone").delete()

    outcome = retention.run()

    assert outcome.deleted.chat_messages == 1
    assert list(db.collection_group("messages").stream()) == []


def test_access_grants_go_by_creation_whatever_their_expiry(db: Any, standins: Any) -> None:
    old = ago(DAYS, plus=OUTSIDE)
    seed_grant(db, "expired-long-ago", created_at=ago(DAYS + 60), expires_at=ago(DAYS + 30))
    seed_grant(db, "no-expiry-old", created_at=old)
    seed_grant(db, "expired-recently", created_at=old, expires_at=ago(10))
    seed_grant(db, "expired-but-new", created_at=ago(20), expires_at=ago(10))
    seed_grant(db, "no-expiry-new", created_at=ago(DAYS, plus=INSIDE))

    outcome = retention.run()

    assert outcome.deleted.access_grants == 3
    assert ids(db, "access_grants") == {"expired-but-new", "no-expiry-new"}


def test_crm_rows_go_bottom_up_by_received_at_or_by_a_deleted_record_leaving_the_rest_in_order(
    db: Any, standins: Any
) -> None:
    old, new = ago(DAYS, plus=OUTSIDE), ago(DAYS, plus=INSIDE)
    seed_contact(db, "expired", created_at=old)
    seed_rows(
        standins,
        [
            HEADER,
            row("a-old", old),
            row("b-old", old),
            row("c-new", new),
            row("expired", new),  # recorded late, but its record is past the window
            row("d-new", new),
            row("e-old", old),
            row("f-old", old),
            row("g-new", new),
            ["not a date", "contact", "h-odd"],
            row("i-old", old),
        ],
    )

    outcome = retention.run()

    assert outcome.deleted.crm_rows == 6
    assert record_ids_in_sheet(standins) == ["record_id", "c-new", "d-new", "g-new", "h-odd"]
    assert standins.crm.rows()[1] == row("c-new", new)


def test_paging_reaches_every_expired_record_beyond_the_first_page(
    db: Any, standins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PAGE", 2)
    for n in range(7):
        seed_contact(db, f"c{n}", created_at=ago(DAYS + n + 1))
    seed_contact(db, "kept", created_at=ago(1))

    outcome = retention.run()

    assert outcome.deleted.contact_submissions == 7
    assert ids(db, "contact_submissions") == {"kept"}


# -- dry run, interruption, CRM outage -----------------------------------------------


def snapshot(db: Any, standins: Any) -> dict[str, Any]:
    return {
        "contacts": ids(db, "contact_submissions"),
        "sessions": ids(db, "chat_sessions"),
        "messages": {d.reference.path for d in db.collection_group("messages").stream()},
        "grants": ids(db, "access_grants"),
        "keys": ids(db, "idempotency_keys"),
        "rates": ids(db, "rate_limits"),
        "rows": standins.crm.rows(),
    }


def test_a_dry_run_reports_the_counts_of_a_real_run_and_deletes_nothing(
    db: Any, standins: Any, world: Any
) -> None:
    before = snapshot(db, standins)

    dry = retention.run(dry_run=True)

    assert dry.dry_run is True
    assert snapshot(db, standins) == before
    assert dry.deleted.as_dict() == EXPECTED
    assert retention.run().deleted.as_dict() == dry.deleted.as_dict()


def test_a_run_interrupted_half_way_loses_nothing_and_the_next_run_finishes_it(
    db: Any, standins: Any, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = {
        "contacts": {"contact-new", "held-new"},
        "grants": {"grant-new"},
        "live": {"m002", "m003"},
        "rows": ["record_id", "contact-new", "lead-recent"],
    }
    real_delete = store.BulkDeleter.delete
    calls = {"n": 0}

    def crash_on_fourth(self: store.BulkDeleter, ref: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("process killed")
        real_delete(self, ref)

    monkeypatch.setattr(store.BulkDeleter, "delete", crash_on_fourth)
    with pytest.raises(RuntimeError, match="process killed"):
        retention.run()
    monkeypatch.setattr(store.BulkDeleter, "delete", real_delete)

    # Half done: the CRM rows went first; records past the window are still there.
    assert record_ids_in_sheet(standins) == kept["rows"]
    assert "contact-old" in ids(db, "contact_submissions") or "session-old" in ids(
        db, "chat_sessions"
    )

    second = retention.run()

    assert second.crm_error is None
    assert ids(db, "contact_submissions") == kept["contacts"]
    assert ids(db, "chat_sessions") == {"session-live"}
    assert message_ids(db, "session-old") == set()
    assert message_ids(db, "session-live") == kept["live"]
    assert ids(db, "access_grants") == kept["grants"]
    assert ids(db, "idempotency_keys") == {"key-new"}
    assert ids(db, "rate_limits") == {"rate-new"}
    assert record_ids_in_sheet(standins) == kept["rows"]
    assert second.deleted.crm_rows == 0


def test_with_the_crm_down_records_owning_rows_are_kept_and_the_next_run_deletes_both(
    db: Any, standins: Any, world: Any
) -> None:
    standins.crm.fail("500")

    first = retention.run()

    assert first.crm_error is not None
    assert first.deleted.contact_submissions == 0 and first.deleted.chat_sessions == 0
    assert "contact-old" in ids(db, "contact_submissions")
    assert message_ids(db, "session-old") == {"m001", "m002"}
    assert ids(db, "access_grants") == {"grant-new"}  # what owns no rows still goes
    assert message_ids(db, "session-live") == {"m002", "m003"}

    standins.crm.fail(None)
    second = retention.run()

    assert second.crm_error is None
    assert second.deleted.contact_submissions == 2
    assert second.deleted.chat_sessions == 1 and second.deleted.chat_messages == 2
    assert record_ids_in_sheet(standins) == ["record_id", "contact-new", "lead-recent"]


def test_without_a_crm_the_records_still_go(
    db: Any, standins: Any, world: Any, configure: Any
) -> None:
    configure(CRM_APPS_SCRIPT_URL=None)

    outcome = retention.run()

    assert outcome.deleted.crm_rows == 0
    assert outcome.deleted.contact_submissions == 2
    assert len(standins.crm.rows()) == 7


def test_retention_days_comes_from_the_configuration(
    db: Any, standins: Any, configure: Any
) -> None:
    configure(RETENTION_DAYS="30")
    seed_contact(db, "month-old", created_at=ago(31))
    seed_contact(db, "week-old", created_at=ago(7))

    assert retention.run().deleted.contact_submissions == 1
    assert ids(db, "contact_submissions") == {"week-old"}


def test_retention_logs_carry_counts_and_no_personal_data(
    db: Any, standins: Any, world: Any, captured_logs: Any
) -> None:
    standins.crm.fail("500")
    retention.run()
    standins.crm.fail(None)
    retention.run()

    text = captured_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line["message"] == "retention run finished" for line in lines)
    for secret in ("asha", "Asha", "Pune", "private message", "chat text", "session-"):
        assert secret not in text

"""What the code stores is what the shapes declare (documents.py): every flow run on the
real emulator, with the stand-ins and the CRM web app, then every stored field checked
against its collection's shape."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from factoryops import documents, store
from factoryops.documents import (
    Delivery,
    DeliveryFields,
    IdempotencyFields,
    IdempotencyKey,
    ResponseFields,
    SessionFields,
)

from tests.conftest import SettledClient

pytestmark = [pytest.mark.emulator, pytest.mark.node]


def _documents(db: Any) -> Iterator[tuple[str, Any]]:
    """Every stored document, at any depth, with the id of its collection."""

    def walk(collection: Any) -> Iterator[tuple[str, Any]]:
        for snap in collection.stream():
            yield collection.id, snap
            for sub in snap.reference.collections():
                yield from walk(sub)

    for collection in db.collections():
        yield from walk(collection)


def undeclared_fields(db: Any) -> tuple[list[str], set[str]]:
    """Every stored field (and field of a document's delivery or stored response) that its
    collection's shape does not declare; and the collections seen."""
    from factoryops.sweep import DELIVERY_SOURCES

    channels = {channel for source in DELIVERY_SOURCES for channel in source.channels}
    problems: list[str] = []
    seen: set[str] = set()
    for collection, snap in _documents(db):
        path, data = snap.reference.path, snap.to_dict() or {}
        shape = store.SHAPES.get(collection)
        if shape is None:
            problems.append(f"{path}: collection {collection} has no shape")
            continue
        seen.add(collection)
        shape.from_dict(data)
        problems += [f"{path}: {name}" for name in set(data) - documents.names(shape.FIELDS)]
        if issubclass(shape, documents.Forwarded):
            for channel, state in data.get(SessionFields.DELIVERIES, {}).items():
                if channel not in channels:
                    problems.append(f"{path}: delivery channel {channel}")
                unknown = set(state) - documents.names(DeliveryFields)
                problems += [f"{path}: {documents.delivery_path(channel, n)}" for n in unknown]
        if shape is IdempotencyKey and IdempotencyFields.RESPONSE in data:
            unknown = set(data[IdempotencyFields.RESPONSE]) - documents.names(ResponseFields)
            problems += [f"{path}: response.{name}" for name in unknown]
    return sorted(problems), seen


def test_every_field_the_flows_store_is_declared_by_its_collections_shape(
    db: Any,
    standins: Any,
    configure: Any,
    function_client: Any,
    forwarder: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from factoryops import audit, budget, deliveries, grants, privacy, sweep
    from factoryops.chat import team
    from factoryops.sweep import DELIVERY_SOURCES

    configure(
        EMAILJS_NOTIFY_TEMPLATE_ID="template_notify",
        NOTIFY_AFTER="60",
        MAX_DELIVERY_ATTEMPTS="2",
        SWEEP_AUTH="off",
    )
    contact, chat = (
        SettledClient(function_client(name), forwarder)
        for name in ("contact_submit", "chat_message")
    )
    access = function_client("access_grant")
    problems: list[str] = []
    seen: set[str] = set()

    def look() -> None:
        """Read every stored document now: some fields last only a while (a retry's
        `next_attempt_at`, a failure's `failed_at`, a lease)."""
        found, collections = undeclared_fields(db)
        problems.extend(problem for problem in found if problem not in problems)
        seen.update(collections)

    person = {"name": "Ada Rao", "email": "ada@plant.example", "company": "Plant 4"}

    # A contact post, idempotent and rate-limited, forwarded; another whose email fails.
    sent = contact.post(
        "/", json={**person, "message": "Our line stops"}, headers={"Idempotency-Key": "k1"}
    )
    assert sent.status_code == 201
    standins.state.fail["emailjs"] = "500"
    assert contact.post("/", json={**person, "message": "Again"}).status_code == 201
    standins.state.fail.clear()
    # One without the site's proof of work: held in the quarantine.
    bare = function_client("contact_submit", proving=False)
    assert bare.post("/", json={**person, "message": "No script"}).status_code == 201
    look()

    # A chat: started with text, a later message (a nudge), a poll, a team reply, closed.
    start = {"email": person["email"], "page": "/pricing", "text": "Hello"}
    session_id = chat.post("/", json=start).get_json()["session_id"]
    headers = {"X-Chat-Session": session_id}
    assert chat.post("/", json={"text": "Anyone?"}, headers=headers).status_code == 201
    assert chat.get("/", headers=headers).status_code == 200
    session = team.find(session_id)
    assert session is not None
    team.reply(session, "Yes, here.", name="Priya")

    # The deliveries sweep, later: the failing email fails for good, the nudge is skipped;
    # put back, it finds the hour's email budget spent and is held for a later hour; one
    # lease left to lapse, the next sweep sends it.
    later = store.now() + dt.timedelta(minutes=10)
    monkeypatch.setattr(store, "now", lambda: later)
    standins.state.fail["emailjs"] = "500"
    deliveries.run_due(DELIVERY_SOURCES)
    look()
    standins.state.fail.clear()
    configure(FORWARD_BUDGET="1")
    with contextlib.suppress(budget.Spent):
        budget.take()  # the hour's one email, unless this hour's earlier sends took it
    assert deliveries.retry_failed(DELIVERY_SOURCES) == 1
    forwarder.settle()
    deliveries.run_due(DELIVERY_SOURCES)
    assert len(deliveries.overview(DELIVERY_SOURCES, states=[deliveries.HELD])) == 1
    look()
    configure(FORWARD_BUDGET=standins.env()["FORWARD_BUDGET"])
    lapsed = Delivery(state=deliveries.PROCESSING, lease_id="lapsed", due_at=later)
    first = store.collection(store.CONTACT_SUBMISSIONS).document(sent.get_json()["id"])
    first.update({documents.delivery_path("crm"): lapsed.to_dict()})
    sweep.run(sweep.SweepRequest())
    team.close(session)

    # Grants: one with max uses redeemed and re-checked, one revoked.
    limited = grants.create(lead="Ada Rao", sections="pricing", email=person["email"], max_uses=2)
    redeemed = access.post("/", json={"token": limited.token}).get_json()
    assert redeemed["unlocked"] is True
    grants.recheck(limited.token, redeemed["receipt"])
    grants.revoke(grants.create(lead="Trade fair", sections="demo", no_email=True).grant.id)

    # A privacy export and correction, and the console's audit record.
    address = privacy.subject(person["email"])
    privacy.export(address)
    privacy.correct(address, privacy.correction(company="Plant 5"))
    audit.record(member="asha@factoryopsai.com", action="chat.reply", target=session.lead_id)

    look()

    assert problems == []
    assert seen == set(store.COLLECTIONS), "the flows write every collection"

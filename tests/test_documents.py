"""Every document's shape declared once (documents.py): every collection has one and the
code names fields only through them (what the code stores is what they declare:
test_documents_stored.py)."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from factoryops import documents, store
from factoryops.documents import (
    AccessGrant,
    ChatSession,
    Delivery,
    IdempotencyKey,
    SessionFields,
    StoredResponse,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lib" / "factoryops"
NESTED: tuple[type[documents.Shape], ...] = (
    documents.Document,
    documents.Forwarded,
    Delivery,
    StoredResponse,
)
"""The shapes that are not a collection's: the bases, and the maps inside a document."""
WRITES = ("update", "set", "create", "add")
FIELD_ARGUMENTS = ("field_filter", "order_by", "select", "collection", "collection_group")


# -- the declarations --------------------------------------------------------------------


def test_every_collection_the_project_writes_has_a_shape_with_an_expire_at() -> None:
    assert set(store.SHAPES) == set(store.COLLECTIONS), "add the shape to store.SHAPES"
    for collection, shape in store.SHAPES.items():
        assert issubclass(shape, documents.Document), collection
        assert documents.DocumentFields.EXPIRE_AT in documents.names(shape.FIELDS)


def test_each_shape_names_exactly_the_fields_it_declares() -> None:
    for shape in (*store.SHAPES.values(), *NESTED):
        declared = {spec.name for spec in dataclasses.fields(shape)}
        assert documents.names(shape.FIELDS) == declared, shape.__name__


AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
NEW_SESSION = ChatSession(
    email="Meera@Foundry.example",
    email_key="meera@foundry.example",
    page="/pricing",
    status="open",
    lead_id="0123456789abcdef",
    expire_at=AT,
)


def test_a_new_document_stores_its_set_fields_and_asks_the_server_for_its_times() -> None:
    from google.cloud import firestore

    stored = NEW_SESSION.to_dict()

    assert set(stored) == {
        "email",
        "email_key",
        "page",
        "status",
        "lead_id",
        "created_at",
        "last_activity_at",
        "message_count",
        "last_seq",
        "expire_at",
        "awaiting_since",
        "last_message_at",
    }, "a field stored only once set is left out of a new document"
    assert stored[SessionFields.AWAITING_SINCE] is None, "stored null: the inbox queries it"
    assert stored[SessionFields.CREATED_AT] is firestore.SERVER_TIMESTAMP
    assert stored[SessionFields.LAST_ACTIVITY_AT] is firestore.SERVER_TIMESTAMP
    assert stored[SessionFields.EXPIRE_AT] == AT
    leased = dataclasses.replace(NEW_SESSION, deliveries={"email": Delivery(state="disabled")})
    assert leased.to_dict()[SessionFields.DELIVERIES] == {
        "email": {"state": "disabled", "attempts": 0}
    }


def test_a_stored_document_reads_back_as_the_shape_it_was_written_from() -> None:
    samples: list[documents.Shape] = [
        dataclasses.replace(
            NEW_SESSION,
            status="closed",
            created_at=AT,
            last_activity_at=AT,
            message_count=2,
            last_seq=3,
            last_author="team",
            last_text="We run Fanuc 0i.",
            last_name="Priya",
            last_message_at=AT,
            awaiting_since=1_772_357_400_000,
            closes=1,
            first_message_id="00000001",
            deliveries={
                "email": Delivery(state="sent", attempts=1, sent_at=AT),
                "nudge": Delivery(state="pending", due_at=AT, unknown_outcomes=1),
            },
        ),
        AccessGrant(
            lead="Plant 4",
            email=None,
            email_key=None,
            company=None,
            sections=["pricing"],
            created_at=AT,
            expires_at=None,
            max_uses=2,
            receipts=["0f3a"],
            search_terms=["plant", "4"],
            expire_at=AT,
        ),
        IdempotencyKey(
            request_hash="9b1c",
            state="done",
            claimed_at=AT,
            response=StoredResponse(status=201, body="{}", headers={"Location": "/x"}),
            expire_at=AT,
        ),
    ]
    for sample in samples:
        assert type(sample).from_dict(sample.to_dict()) == sample


def test_the_shapes_import_nothing_but_the_standard_library() -> None:
    script = (
        "import sys; before = set(sys.modules); import factoryops.documents; "
        "print(sorted(m for m in set(sys.modules) - before "
        "if m.split('.')[0] not in sys.stdlib_module_names))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "lib")},
    ).stdout.strip()
    assert loaded == "['factoryops', 'factoryops.documents']", "a cold start imports it"


# -- the code names fields through the declarations ------------------------------------


def _literal_names(node: ast.expr) -> list[str]:
    """The field names `node` spells out: a string, an f-string, or a list of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [ast.unparse(node)]
    if isinstance(node, ast.List | ast.Tuple):
        return [name for item in node.elts for name in _literal_names(item)]
    return []


def _spelled_out(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Field names written as literals in a write's dict or a query's arguments."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        name = node.func.id if isinstance(node.func, ast.Name) else name
        if name in WRITES:
            for argument in node.args:
                if isinstance(argument, ast.Dict):
                    for key in argument.keys:
                        for literal in [] if key is None else _literal_names(key):
                            yield node.lineno, literal
        if name in FIELD_ARGUMENTS and node.args:
            for literal in _literal_names(node.args[0]):
                yield node.lineno, literal


def test_no_module_spells_out_a_field_name_in_a_write_or_a_query() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {literal}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, literal in _spelled_out(ast.parse(path.read_text(), str(path)))
    ]
    assert found == [], "name fields (and collections) through documents.py and store.py"


def test_the_scan_finds_field_names_spelled_out() -> None:
    source = """
ref.update({"last_seq": 1})
batch.update(ref, {f"deliveries.{channel}.state": "sent"})
query.where(filter=store.field_filter("lead_id", "==", lead))
query.select(["created_at", Fields.LEAD_ID])
ref.update({Fields.LAST_SEQ: 1, **other})
"""
    assert [literal for _, literal in sorted(_spelled_out(ast.parse(source)))] == [
        "last_seq",
        "f'deliveries.{channel}.state'",
        "lead_id",
        "created_at",
    ]

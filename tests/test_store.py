"""store's mechanics and declarations that need no database: reading what a write's
transforms produced, a TTL policy per collection, the indexes its queries need."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from factoryops import store
from google.cloud.firestore_v1.types import document, write
from google.protobuf import timestamp_pb2

from tests.conftest import ROOT

pytestmark = pytest.mark.unit


def test_transform_results_are_matched_to_fields_in_field_path_order() -> None:
    at = timestamp_pb2.Timestamp(seconds=1_800_000_000)
    result = write.WriteResult(
        transform_results=[
            document.Value(timestamp_value=at),  # last_activity_at
            document.Value(integer_value=7),  # last_seq
            document.Value(integer_value=3),  # message_count
        ]
    )
    values = store.transform_results(result, ["message_count", "last_activity_at", "last_seq"])
    assert values["message_count"] == 3 and values["last_seq"] == 7
    assert values["last_activity_at"] == dt.datetime.fromtimestamp(1_800_000_000, dt.UTC)


def test_dotted_paths_sort_as_firestore_sends_them() -> None:
    result = write.WriteResult(
        transform_results=[document.Value(integer_value=1), document.Value(integer_value=2)]
    )
    values = store.transform_results(result, ["deliveries_count", "deliveries.email.attempts"])
    assert values == {"deliveries.email.attempts": 1, "deliveries_count": 2}


def test_every_collection_the_project_writes_has_a_ttl_policy() -> None:
    assert set(store.TTL_GROUPS) == set(store.COLLECTIONS)
    assert len(set(store.COLLECTIONS)) == len(store.COLLECTIONS)


def test_the_collection_group_range_over_messages_has_its_index_declared() -> None:
    spec = json.loads((ROOT / "firestore.indexes.json").read_text())
    [override] = [
        o
        for o in spec["fieldOverrides"]
        if (o["collectionGroup"], o["fieldPath"]) == ("messages", "created_at")
    ]
    scopes = {(i.get("order"), i["queryScope"]) for i in override["indexes"]}
    assert ("ASCENDING", "COLLECTION_GROUP") in scopes
    # An override replaces the field's automatic indexes, so it must keep them too.
    assert {("ASCENDING", "COLLECTION"), ("DESCENDING", "COLLECTION")} <= scopes


def declared_indexes() -> set[tuple[str, frozenset[str], tuple[tuple[str, str], ...]]]:
    """firestore.indexes.json's composite indexes, as `Indexed.index()` names one: the
    collection, the leading ascending fields a query's equalities use (in any order), and
    the ordered fields after them."""
    spec = json.loads((ROOT / "firestore.indexes.json").read_text())
    found = set()
    for index in spec["indexes"]:
        assert index["queryScope"] == "COLLECTION", index
        fields = [(f["fieldPath"], f["order"]) for f in index["fields"]]
        # Every split into equalities and order is a shape this index serves.
        for cut in range(len(fields)):
            if all(order == "ASCENDING" for _, order in fields[:cut]):
                equal = frozenset(path for path, _ in fields[:cut])
                found.add((index["collectionGroup"], equal, tuple(fields[cut:])))
    return found


def test_every_query_of_the_inbox_has_its_composite_index_declared() -> None:
    # The emulator serves any query without an index; production refuses one whose
    # composite index is missing, so each shape the code builds is checked here.
    from factoryops.chat import inbox

    declared = declared_indexes()
    needed = {shape.index() for shape in inbox.shapes()} - {None}
    missing = [index for index in needed if index not in declared]
    assert missing == [], "declare them in firestore.indexes.json"
    assert len(needed) == len(json.loads((ROOT / "firestore.indexes.json").read_text())["indexes"])


def test_the_index_rule_tells_composite_queries_from_single_field_ones() -> None:
    from factoryops.chat.inbox import ASCENDING, DESCENDING, Indexed

    single = [
        Indexed("c", filters=(("a", "==", 1), ("b", "==", 2))),
        Indexed("c", filters=(("a", ">", 1),), order=(("a", DESCENDING),)),
        Indexed("c", filters=(("tags", "array_contains", "x"),)),
        Indexed("c", filters=(("a", "in", [1, 2]),)),
    ]
    assert [shape.index() for shape in single] == [None] * len(single)
    ranged = Indexed("c", filters=(("a", "==", 1), ("b", ">", 0)))
    assert ranged.index() == ("c", frozenset({"a"}), (("b", ASCENDING),))
    ordered = Indexed("c", order=(("a", DESCENDING), ("b", DESCENDING)))
    assert ordered.index() == ("c", frozenset(), (("a", DESCENDING), ("b", DESCENDING)))

"""The document-store contract, documents: reads, writes, merges, the values a document holds, ids
and paths.

Every adapter passes the same tests: each takes `store` (SQLite in memory, SQLite on a file, and
the Firestore emulator when FIRESTORE_EMULATOR_HOST is set), `clock` (the store's injected now)
and `col` (collection names unique to the test); see conftest.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from shared.store import (
    MAX_VECTOR_DIMENSIONS,
    Embedding,
    Filter,
    InvalidDocument,
    Order,
    Store,
    Write,
)
from tests.contract.conftest import Col, ids

# --- CRUD


def test_get_of_a_missing_document_is_none(store: Store, col: Col) -> None:
    assert store.get(col("things"), "nope") is None


def test_set_then_get_returns_the_data(store: Store, col: Col) -> None:
    store.set(col("things"), "a", {"name": "Mug", "price": 12})
    assert store.get(col("things"), "a") == {"name": "Mug", "price": 12}


def test_set_replaces_the_whole_document(store: Store, col: Col) -> None:
    store.set(col("things"), "a", {"name": "Mug", "price": 12, "tags": ["x"]})
    store.set(col("things"), "a", {"name": "Cup"})
    assert store.get(col("things"), "a") == {"name": "Cup"}


def test_merge_deep_merges_nested_maps(store: Store, col: Col) -> None:
    c = col("things")
    store.set(c, "a", {"name": "Mug", "attrs": {"color": "red", "size": {"h": 10, "w": 8}}})
    store.merge(c, "a", {"price": 5, "attrs": {"size": {"h": 11}, "glaze": True}})
    assert store.get(c, "a") == {
        "name": "Mug",
        "price": 5,
        "attrs": {"color": "red", "size": {"h": 11, "w": 8}, "glaze": True},
    }


def test_merge_replaces_non_map_values_and_lists_whole(store: Store, col: Col) -> None:
    c = col("things")
    store.set(c, "a", {"tags": ["a", "b"], "attrs": "plain", "keep": 1})
    store.merge(c, "a", {"tags": ["c"], "attrs": {"now": "a map"}})
    assert store.get(c, "a") == {"tags": ["c"], "attrs": {"now": "a map"}, "keep": 1}


def test_merge_with_an_empty_map_sets_the_field_to_an_empty_map(store: Store, col: Col) -> None:
    # Firestore writes an empty map as a value, replacing what was there.
    c = col("things")
    store.set(c, "a", {"attrs": {"color": "red"}, "keep": 1})
    store.merge(c, "a", {"attrs": {}})
    assert store.get(c, "a") == {"attrs": {}, "keep": 1}


def test_merge_creates_a_missing_document(store: Store, col: Col) -> None:
    store.merge(col("things"), "new", {"a": {"b": 1}})
    assert store.get(col("things"), "new") == {"a": {"b": 1}}


def test_delete_removes_and_deleting_a_missing_document_is_fine(store: Store, col: Col) -> None:
    c = col("things")
    store.set(c, "a", {"x": 1})
    store.set(c, "b", {"x": 2})
    store.delete(c, "a")
    store.delete(c, "never-existed")
    assert store.get(c, "a") is None
    assert store.get(c, "b") == {"x": 2}
    assert ids(store.query(c)) == ["b"]


def test_create_writes_only_if_absent(store: Store, col: Col) -> None:
    c = col("events")
    assert store.create(c, "m1", {"n": 1}) is True
    assert store.create(c, "m1", {"n": 2}) is False
    assert store.get(c, "m1") == {"n": 1}


# --- values


ROUND_TRIP_VALUES = [
    pytest.param("plain", id="str"),
    pytest.param("café ☕ 𝄞", id="unicode-str"),
    pytest.param("", id="empty-str"),
    pytest.param(0, id="int-zero"),
    pytest.param(-(2**63), id="int-min"),
    pytest.param(2**63 - 1, id="int-max"),
    pytest.param(0.1, id="float"),
    pytest.param(2.0, id="float-integral"),
    pytest.param(-1.5e300, id="float-huge"),
    pytest.param(True, id="bool-true"),
    pytest.param(False, id="bool-false"),
    pytest.param(None, id="none"),
    pytest.param([1, "two", 3.0, None, True, {"k": "v"}], id="list"),
    pytest.param([], id="empty-list"),
    pytest.param({}, id="empty-map"),
    pytest.param({"a": {"b": {"c": [1, 2], "d": None}}, "e": 1.25}, id="nested-map"),
    pytest.param({"$ts": "not a timestamp", "$map": 1, "$vec": 1}, id="map-with-tag-like-keys"),
    pytest.param(datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), id="datetime-utc"),
    pytest.param(
        datetime(2031, 1, 2, 3, 4, 5, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        id="datetime-offset",
    ),
    pytest.param({"when": datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)}, id="nested-dt"),
]


@pytest.mark.parametrize("value", ROUND_TRIP_VALUES)
def test_values_round_trip(store: Store, col: Col, value: Any) -> None:
    store.set(col("values"), "v", {"value": value})
    got = store.get(col("values"), "v")
    assert got is not None
    assert got["value"] == value
    if isinstance(value, datetime):
        assert isinstance(got["value"], datetime)
        assert got["value"].utcoffset() is not None
        assert got["value"].microsecond == value.microsecond
    else:
        assert type(got["value"]) is type(value)


def test_a_tuple_comes_back_as_a_list(store: Store, col: Col) -> None:
    store.set(col("values"), "v", {"value": (1, "a")})
    assert store.get(col("values"), "v") == {"value": [1, "a"]}


def test_embedding_round_trips_with_its_model(store: Store, col: Col) -> None:
    vec = Embedding([0.25, -1.5, 3.0e-3, 7.0], "model-a")
    store.set(col("vectors"), "v", {"embedding": vec, "name": "x"})
    got = store.get(col("vectors"), "v")
    assert got is not None
    assert set(got) == {"embedding", "name"}  # "embedding_model" is folded back in
    assert isinstance(got["embedding"], Embedding)
    assert got["embedding"] == vec
    assert got["embedding"].model == "model-a"


def test_documents_can_be_queried_by_the_model_of_their_embedding(store: Store, col: Col) -> None:
    """How intent exemplars of the current model are loaded, and stale ones found."""
    store.set(col("vectors"), "a", {"embedding": Embedding([1.0, 0.0], "model-a"), "n": 1})
    store.set(col("vectors"), "b", {"embedding": Embedding([0.0, 1.0], "model-b"), "n": 2})
    got = store.query(col("vectors"), where=[Filter("embedding_model", "==", "model-b")])
    assert [d.id for d in got] == ["b"]
    assert got[0].data == {"embedding": Embedding([0.0, 1.0], "model-b"), "n": 2}


def test_embedding_of_the_maximum_dimension_round_trips(store: Store, col: Col) -> None:
    values = np.linspace(-1, 1, MAX_VECTOR_DIMENSIONS, dtype=np.float32)
    store.set(col("vectors"), "big", {"e": Embedding(values, "m")})
    got = store.get(col("vectors"), "big")
    assert got is not None
    assert got["e"] == Embedding(values, "m")


def test_an_embedding_with_an_explicit_model_field_is_rejected(store: Store, col: Col) -> None:
    with pytest.raises(InvalidDocument):
        store.set(col("vectors"), "v", {"e": Embedding([1.0], "m"), "e_model": "other"})


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"x": float("nan")}, id="nan"),
        pytest.param({"x": float("inf")}, id="inf"),
        pytest.param({"x": 2**63}, id="int-overflow"),
        pytest.param({"x": datetime(2031, 1, 1)}, id="naive-datetime"),
        pytest.param({"x": [[1]]}, id="nested-array"),
        pytest.param({"x": {1: "a"}}, id="non-string-key"),
        pytest.param({"": 1}, id="empty-key"),
        pytest.param({"x": object()}, id="unsupported-type"),
        pytest.param({"x": {"e": Embedding([1.0], "m")}}, id="nested-embedding"),
        pytest.param({"x": "y" * (1024 * 1024)}, id="over-1-mib"),
    ],
)
def test_invalid_values_are_rejected_and_nothing_is_written(
    store: Store, col: Col, data: dict[str, Any]
) -> None:
    with pytest.raises(InvalidDocument):
        store.set(col("values"), "bad", data)
    with pytest.raises(InvalidDocument):
        store.merge(col("values"), "bad", data)
    assert store.get(col("values"), "bad") is None


# --- names and paths


BAD_IDS = [
    pytest.param("", id="empty"),
    pytest.param("a/b", id="slash"),
    pytest.param(".", id="dot"),
    pytest.param("..", id="dotdot"),
    pytest.param("__reserved__", id="reserved"),
    pytest.param("x" * 1501, id="too-long"),
]


@pytest.mark.parametrize("doc_id", BAD_IDS)
def test_invalid_document_ids_are_rejected(store: Store, col: Col, doc_id: str) -> None:
    c = col("things")
    with pytest.raises(InvalidDocument):
        store.get(c, doc_id)
    with pytest.raises(InvalidDocument):
        store.set(c, doc_id, {"x": 1})
    with pytest.raises(InvalidDocument):
        store.merge(c, doc_id, {"x": 1})
    with pytest.raises(InvalidDocument):
        store.create(c, doc_id, {"x": 1})
    with pytest.raises(InvalidDocument):
        store.delete(c, doc_id)
    with pytest.raises(InvalidDocument):
        store.write_batch([Write("set", c, doc_id, {"x": 1})])
    assert store.query(c) == []


def test_long_but_valid_document_ids_work(store: Store, col: Col) -> None:
    doc_id = "é" * 750  # 1,500 bytes: the limit
    store.set(col("things"), doc_id, {"x": 1})
    assert store.get(col("things"), doc_id) == {"x": 1}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("", id="empty"),
        pytest.param("{c}/doc", id="document-path"),
        pytest.param("{c}//messages", id="empty-segment"),
        pytest.param("{c}/s1/messages/m1", id="ends-on-a-document"),
        pytest.param("__c__", id="reserved"),
        pytest.param("{c}/../x", id="dotdot"),
    ],
)
def test_invalid_collection_paths_are_rejected(store: Store, col: Col, path: str) -> None:
    path = path.format(c=col("sessions"))
    with pytest.raises(InvalidDocument):
        store.get(path, "a")
    with pytest.raises(InvalidDocument):
        store.set(path, "a", {"x": 1})
    with pytest.raises(InvalidDocument):
        store.query(path)
    with pytest.raises(InvalidDocument):
        store.nearest(path, field="e", query=Embedding([1.0], "m"), k=1)


def test_subcollections_are_separate_per_parent(store: Store, col: Col) -> None:
    sessions = col("sessions")
    store.set(sessions, "s1", {"user": "u1"})
    store.set(f"{sessions}/s1/messages", "m1", {"text": "hi", "n": 1})
    store.set(f"{sessions}/s1/messages", "m2", {"text": "there", "n": 2})
    store.set(f"{sessions}/s2/messages", "m1", {"text": "other", "n": 1})

    assert ids(store.query(f"{sessions}/s1/messages", order_by=[Order("n")])) == ["m1", "m2"]
    assert store.get(f"{sessions}/s2/messages", "m1") == {"text": "other", "n": 1}
    assert ids(store.query(sessions)) == ["s1"]  # s2 has messages but no document of its own

    store.delete(sessions, "s1")  # as in Firestore, a parent's delete leaves its children
    assert store.get(sessions, "s1") is None
    assert ids(store.query(f"{sessions}/s1/messages")) == ["m1", "m2"]


def test_ping(store: Store) -> None:
    store.ping()

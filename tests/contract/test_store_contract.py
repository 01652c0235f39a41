"""The document-store contract: every adapter passes the same tests.

Each test takes `store` (SQLite in memory, SQLite on a file, and the Firestore emulator when
FIRESTORE_EMULATOR_HOST is set), `clock` (the store's injected now) and `col` (collection names
unique to the test).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from shared.store import (
    EXPIRES_AT,
    MAX_BATCH_WRITES,
    MAX_NEAREST_LIMIT,
    MAX_VECTOR_DIMENSIONS,
    DistanceMeasure,
    Embedding,
    Filter,
    Increment,
    InvalidDocument,
    InvalidQuery,
    Order,
    ReadAfterWriteError,
    Store,
    TransactionFailed,
    VectorLimitError,
    VectorMismatchError,
    Write,
)
from tests.contract.conftest import CORPUS_GROUPS, CORPUS_MODEL, Corpus, FakeClock

Col = Callable[[str], str]


def ids(docs: list[Any]) -> list[str]:
    return [d.id for d in docs]


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


# --- queries


@pytest.fixture
def shop(store: Store, col: Col) -> str:
    """Products with a mix of fields; `missing-price` has no price."""
    c = col("products")
    rows = {
        "p1": {"kind": "bean", "price": 12.5, "tags": ["dark", "organic"], "stock": 3},
        "p2": {"kind": "bean", "price": 9, "tags": ["light"], "stock": 0},
        "p3": {"kind": "mug", "price": 15, "tags": [], "stock": 3},
        "p4": {"kind": "bean", "price": 12.5, "tags": ["organic"], "stock": 7},
        "p5": {"kind": "grinder", "price": 99.99, "tags": ["dark"], "stock": 1},
        "missing-price": {"kind": "bean", "tags": ["dark"], "stock": 2},
    }
    store.write_batch(Write("set", c, k, v) for k, v in rows.items())
    return c


def test_query_without_filters_returns_everything_by_id(store: Store, shop: str) -> None:
    assert ids(store.query(shop)) == ["missing-price", "p1", "p2", "p3", "p4", "p5"]


def test_query_of_an_empty_collection_is_empty(store: Store, col: Col) -> None:
    assert store.query(col("nothing"), where=[Filter("x", "==", 1)], limit=5) == []


def test_equality_filters(store: Store, shop: str) -> None:
    assert ids(store.query(shop, where=[Filter("kind", "==", "bean")])) == [
        "missing-price",
        "p1",
        "p2",
        "p4",
    ]
    both = [Filter("kind", "==", "bean"), Filter("stock", "==", 3)]
    assert ids(store.query(shop, where=both)) == ["p1"]
    # Firestore compares numbers by value: the int 15 equals the float 15.0.
    assert ids(store.query(shop, where=[Filter("price", "==", 15.0)])) == ["p3"]
    assert store.query(shop, where=[Filter("kind", "==", "teapot")]) == []


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("<", 12.5, ["p2"]),
        ("<=", 12.5, ["p2", "p1", "p4"]),
        (">", 12.5, ["p3", "p5"]),
        (">=", 15, ["p3", "p5"]),
        (">", "a string", []),  # range filters match values of the same type only
    ],
)
def test_range_filters_order_by_the_filtered_field_first(
    store: Store, shop: str, op: Any, value: Any, expected: list[str]
) -> None:
    # With no order_by, Firestore orders by the inequality field, then by id.
    assert ids(store.query(shop, where=[Filter("price", op, value)])) == expected


def test_equality_and_range_filters_together(store: Store, shop: str) -> None:
    where = [Filter("kind", "==", "bean"), Filter("price", ">=", 10)]
    assert ids(store.query(shop, where=where, order_by=[Order("price")])) == ["p1", "p4"]
    where = [Filter("price", ">", 10), Filter("price", "<", 20)]
    assert ids(store.query(shop, where=where)) == ["p1", "p4", "p3"]


def test_in_filter(store: Store, shop: str) -> None:
    where = [Filter("kind", "in", ["mug", "grinder", "teapot"])]
    assert ids(store.query(shop, where=where)) == ["p3", "p5"]
    assert ids(store.query(shop, where=[Filter("stock", "in", [0, 7])])) == ["p2", "p4"]


def test_array_contains_filter(store: Store, shop: str) -> None:
    where = [Filter("tags", "array-contains", "dark")]
    assert ids(store.query(shop, where=where)) == ["missing-price", "p1", "p5"]
    where = [Filter("tags", "array-contains", "organic"), Filter("stock", "==", 7)]
    assert ids(store.query(shop, where=where)) == ["p4"]


def test_filters_on_nested_fields(store: Store, col: Col) -> None:
    c = col("shops")
    store.set(c, "a", {"address": {"city": "Oslo"}})
    store.set(c, "b", {"address": {"city": "Lima"}})
    store.set(c, "c", {"address": "no map here"})
    assert ids(store.query(c, where=[Filter("address.city", "==", "Lima")])) == ["b"]
    assert ids(store.query(c, order_by=[Order("address.city")])) == ["b", "a"]


def test_timestamp_range_filters(store: Store, col: Col, clock: FakeClock) -> None:
    c = col("sessions")
    t0 = clock.now
    for i in range(5):
        store.set(c, f"s{i}", {"created_at": t0 + timedelta(minutes=i)})
    where = [Filter("created_at", ">", t0 + timedelta(minutes=1))]
    assert ids(store.query(c, where=where, limit=2)) == ["s2", "s3"]
    where = [Filter("created_at", "<=", t0 + timedelta(minutes=1, microseconds=1))]
    assert ids(store.query(c, where=where)) == ["s0", "s1"]


def test_order_ascending_and_descending(store: Store, shop: str) -> None:
    assert ids(store.query(shop, order_by=[Order("stock")])) == [
        "p2",
        "p5",
        "missing-price",
        "p1",
        "p3",
        "p4",
    ]
    assert ids(store.query(shop, order_by=[Order("stock", descending=True)])) == [
        "p4",
        "p3",
        "p1",
        "missing-price",
        "p5",
        "p2",
    ]


def test_order_by_several_fields_then_by_id_in_the_last_direction(store: Store, shop: str) -> None:
    by_price = [Order("price", descending=True), Order("stock")]
    assert ids(store.query(shop, order_by=by_price)) == ["p5", "p3", "p1", "p4", "p2"]
    ties = [Order("kind"), Order("price")]
    assert ids(store.query(shop, order_by=ties)) == ["p2", "p1", "p4", "p5", "p3"]
    ties_desc = [Order("kind"), Order("price", descending=True)]
    assert ids(store.query(shop, order_by=ties_desc)) == ["p4", "p1", "p2", "p5", "p3"]


def test_order_by_excludes_documents_missing_the_field(store: Store, shop: str) -> None:
    got = ids(store.query(shop, order_by=[Order("price")]))
    assert "missing-price" not in got
    assert got == ["p2", "p1", "p4", "p3", "p5"]


def test_limit(store: Store, shop: str) -> None:
    assert ids(store.query(shop, order_by=[Order("price")], limit=2)) == ["p2", "p1"]
    assert ids(store.query(shop, limit=1)) == ["missing-price"]
    assert len(store.query(shop, limit=100)) == 6


def test_order_across_value_types(store: Store, col: Col, clock: FakeClock) -> None:
    # Firestore's cross-type order: null < bool < number < timestamp < string < array < map.
    c = col("mixed")
    values = {
        "a-map": {"k": 1},
        "b-list": [1],
        "c-str": "s",
        "d-time": clock.now,
        "e-num": 3,
        "f-float": 2.5,
        "g-bool": False,
        "h-null": None,
    }
    store.write_batch(Write("set", c, k, {"v": v}) for k, v in values.items())
    expected = ["h-null", "g-bool", "f-float", "e-num", "d-time", "c-str", "b-list", "a-map"]
    assert ids(store.query(c, order_by=[Order("v")])) == expected


# --- TTL


def test_get_hides_a_document_once_it_expires(store: Store, col: Col, clock: FakeClock) -> None:
    c = col("sessions")
    expires = clock.now + timedelta(minutes=30)
    store.set(c, "s", {"user": "u", EXPIRES_AT: expires})
    store.set(c, "forever", {"user": "v"})
    assert store.get(c, "s") is not None
    clock.advance(minutes=29, seconds=59)
    assert store.get(c, "s") is not None
    clock.now = expires
    assert store.get(c, "s") is None  # expires_at <= now: gone
    clock.advance(days=400)
    assert store.get(c, "s") is None
    assert store.get(c, "forever") == {"user": "v"}


def test_query_skips_expired_documents(store: Store, col: Col, clock: FakeClock) -> None:
    c = col("cache")
    for i in range(6):
        store.set(c, f"d{i}", {"n": i, EXPIRES_AT: clock.now + timedelta(minutes=i + 1)})
    clock.advance(minutes=3)
    assert ids(store.query(c)) == ["d3", "d4", "d5"]
    assert ids(store.query(c, where=[Filter("n", ">=", 1)])) == ["d3", "d4", "d5"]
    assert ids(store.query(c, order_by=[Order("n", descending=True)])) == ["d5", "d4", "d3"]


@pytest.mark.parametrize(
    "order_by",
    [
        pytest.param([], id="by-id"),
        pytest.param([Order("n")], id="by-field"),
        pytest.param([Order(EXPIRES_AT)], id="by-expiry"),
    ],
)
def test_query_limit_is_filled_after_skipping_expired_documents(
    store: Store, col: Col, clock: FakeClock, order_by: list[Order]
) -> None:
    c = col("cache")
    # The first seven in every order are expired, interleaved with live ones after them.
    live = []
    for i in range(20):
        expired = i < 7 or i % 3 == 0
        offset = timedelta(minutes=-1 if expired else 10)
        store.set(c, f"d{i:02d}", {"n": i, EXPIRES_AT: clock.now + offset + timedelta(seconds=i)})
        if not expired:
            live.append(f"d{i:02d}")
    assert ids(store.query(c, order_by=order_by, limit=4)) == live[:4]
    assert ids(store.query(c, order_by=order_by, limit=1)) == live[:1]
    assert ids(store.query(c, order_by=order_by, limit=50)) == live


def test_query_limit_after_expired_documents_keeps_the_implicit_order_of_two_inequalities(
    store: Store, col: Col, clock: FakeClock
) -> None:
    # Firestore orders by the inequality fields by name (a, then b), whatever the filter order.
    c = col("cache")
    expired = {"d03", "d02", "d01", "d06"}  # the first three in that order, and one more
    for i in range(12):
        offset = timedelta(minutes=-1 if f"d{i:02d}" in expired else 1)
        store.set(c, f"d{i:02d}", {"a": i // 4 + 1, "b": 4 - i % 4, EXPIRES_AT: clock.now + offset})
    where = [Filter("b", ">", 0), Filter("a", ">", 0)]
    assert ids(store.query(c, where=where, limit=3)) == ["d00", "d07", "d05"]
    assert ids(store.query(c, where=where)) == [
        "d00",
        "d07",
        "d05",
        "d04",
        "d11",
        "d10",
        "d09",
        "d08",
    ]


def test_nearest_skips_expired_documents_and_still_fills_k(
    store: Store, col: Col, clock: FakeClock
) -> None:
    c = col("response_cache")
    for i in range(10):
        expires = clock.now + timedelta(minutes=5 if i % 2 else -5)  # the even ones are expired
        store.set(c, f"q{i}", {"embedding": Embedding([1.0, i / 10], "m"), EXPIRES_AT: expires})
    hits = store.nearest(
        c,
        field="embedding",
        query=Embedding([1.0, 0.0], "m"),
        k=3,
        measure=DistanceMeasure.EUCLIDEAN,
    )
    assert ids(hits) == ["q1", "q3", "q5"]
    clock.advance(minutes=10)
    assert store.nearest(c, field="embedding", query=Embedding([1.0, 0.0], "m"), k=3) == []


def test_create_over_an_expired_document_writes(store: Store, col: Col, clock: FakeClock) -> None:
    c = col("processed_events")
    assert store.create(c, "m", {"n": 1, EXPIRES_AT: clock.now + timedelta(hours=1)}) is True
    assert store.create(c, "m", {"n": 2}) is False
    clock.advance(hours=1)
    assert store.create(c, "m", {"n": 3}) is True
    assert store.get(c, "m") == {"n": 3}


def test_transaction_reads_treat_expired_documents_as_absent(
    store: Store, col: Col, clock: FakeClock
) -> None:
    c = col("rate_limits")
    store.set(c, "k", {"tokens": 1, EXPIRES_AT: clock.now + timedelta(seconds=1)})
    clock.advance(seconds=1)
    assert store.transaction(lambda t: t.get(c, "k")) is None


# --- increments


def test_increment_on_missing_int_and_float_fields(store: Store, col: Col) -> None:
    c = col("counters")
    store.set(c, "k", {"i": 5, "f": 1.5, "s": "text"})
    store.merge(
        c, "k", {"i": Increment(2), "f": Increment(1), "new": Increment(3), "s": Increment(4)}
    )
    got = store.get(c, "k")
    assert got == {"i": 7, "f": 2.5, "new": 3, "s": 4}
    assert type(got["i"]) is int  # type: ignore[index]
    assert type(got["f"]) is float  # type: ignore[index]
    store.merge(c, "k", {"i": Increment(0.5), "f": Increment(-2.5)})
    got = store.get(c, "k")
    assert got is not None
    assert got["i"] == 7.5
    assert type(got["i"]) is float
    assert got["f"] == 0.0


def test_increment_in_nested_maps(store: Store, col: Col) -> None:
    c = col("metrics_minutes")
    store.set(c, "m", {"counters": {"turns": 1, "by_intent": {"PRODUCT_RAG": 2}}, "x": 1})
    store.merge(
        c, "m", {"counters": {"turns": Increment(1), "by_intent": {"LOCATION_RAG": Increment(1)}}}
    )
    store.merge(c, "m", {"counters": {"by_intent": {"PRODUCT_RAG": Increment(5)}}})
    assert store.get(c, "m") == {
        "counters": {"turns": 2, "by_intent": {"PRODUCT_RAG": 7, "LOCATION_RAG": 1}},
        "x": 1,
    }


def test_increment_in_set_and_in_batches_starts_from_zero(store: Store, col: Col) -> None:
    c = col("counters")
    store.set(c, "a", {"n": 100})
    store.set(c, "a", {"n": Increment(2), "nested": {"m": Increment(3)}})
    assert store.get(c, "a") == {"n": 2, "nested": {"m": 3}}
    store.write_batch(
        [Write("merge", c, "a", {"n": Increment(1)}), Write("merge", c, "b", {"n": Increment(1)})]
    )
    assert store.get(c, "a") == {"n": 3, "nested": {"m": 3}}
    assert store.get(c, "b") == {"n": 1}


def test_an_increment_inside_a_list_is_rejected(store: Store, col: Col) -> None:
    with pytest.raises(InvalidDocument):
        store.merge(col("counters"), "a", {"n": [Increment(1)]})


def test_concurrent_increments_are_exact(store: Store, col: Col) -> None:
    c = col("metrics_minutes")
    threads, per_thread = 16, 25
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        start.wait()
        try:
            for _ in range(per_thread):
                store.merge(c, "hot", {"n": Increment(1), "by": {f"w{worker % 2}": Increment(2)}})
        except BaseException as e:
            errors.append(e)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    half = threads // 2 * per_thread * 2
    assert store.get(c, "hot") == {"n": threads * per_thread, "by": {"w0": half, "w1": half}}


# --- transactions


def test_transaction_commits_its_writes_and_returns_fn_result(store: Store, col: Col) -> None:
    c = col("accounts")
    store.set(c, "a", {"balance": 10})
    store.set(c, "gone", {"x": 1})

    def move(t: Any) -> int:
        a = t.get(c, "a")
        b = t.get(c, "b")
        assert b is None
        t.set(c, "a", {"balance": a["balance"] - 3})
        t.merge(c, "b", {"balance": 3, "meta": {"from": "a"}})
        t.delete(c, "gone")
        return int(a["balance"])

    assert store.transaction(move) == 10
    assert store.get(c, "a") == {"balance": 7}
    assert store.get(c, "b") == {"balance": 3, "meta": {"from": "a"}}
    assert store.get(c, "gone") is None


def test_read_after_write_in_a_transaction_raises_and_writes_nothing(
    store: Store, col: Col
) -> None:
    c = col("accounts")

    def bad(t: Any) -> None:
        t.set(c, "a", {"x": 1})
        t.get(c, "a")

    with pytest.raises(ReadAfterWriteError):
        store.transaction(bad)
    assert store.get(c, "a") is None


def test_an_exception_in_a_transaction_leaves_nothing_written(store: Store, col: Col) -> None:
    c = col("accounts")
    store.set(c, "keep", {"v": 1})
    store.set(c, "doomed", {"v": 1})

    class Boom(Exception):
        pass

    def fn(t: Any) -> None:
        t.get(c, "keep")
        t.set(c, "new", {"v": 2})
        t.merge(c, "keep", {"v": 3})
        t.delete(c, "doomed")
        raise Boom

    with pytest.raises(Boom):
        store.transaction(fn)
    assert store.get(c, "new") is None
    assert store.get(c, "keep") == {"v": 1}
    assert store.get(c, "doomed") == {"v": 1}


def test_an_invalid_write_in_a_transaction_raises_and_writes_nothing(
    store: Store, col: Col
) -> None:
    c = col("accounts")

    def fn(t: Any) -> None:
        t.set(c, "ok", {"v": 1})
        t.set(c, "bad", {"v": float("nan")})

    with pytest.raises(InvalidDocument):
        store.transaction(fn)
    assert store.get(c, "ok") is None


def test_transactions_under_contention_lose_no_update(store: Store, col: Col) -> None:
    c = col("counters")
    store.set(c, "n", {"value": 0})
    # The emulator breaks each deadlock with a 2 s lock timeout, so it gets fewer writers.
    threads, per_thread = (3, 2) if store.kind == "firestore" else (8, 25)
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def bump(t: Any) -> int:
        value = int(t.get(c, "n")["value"])
        t.set(c, "n", {"value": value + 1})
        return value

    def work() -> None:
        start.wait()
        try:
            for _ in range(per_thread):
                for _attempt in range(5):  # TransactionFailed means "retry later"
                    try:
                        store.transaction(bump)
                        break
                    except TransactionFailed:
                        continue
                else:
                    raise AssertionError("5 transactions in a row lost to contention")
        except BaseException as e:
            errors.append(e)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert store.get(c, "n") == {"value": threads * per_thread}


# --- batches


def test_write_batch_over_the_commit_limit_lands_every_write(store: Store, col: Col) -> None:
    c = col("inventory")
    store.write_batch(Write("set", c, f"old{i}", {"q": i}) for i in range(3))
    total = 1_203
    writes = [Write("set", c, f"i{i:04d}", {"q": i, "shop": f"s{i % 7}"}) for i in range(1_100)]
    writes += [
        Write("merge", c, f"i{i:04d}", {"q": Increment(1000), "m": True}) for i in range(100)
    ]
    writes += [Write("delete", c, f"old{i}") for i in range(3)]
    assert len(writes) == total > 2 * MAX_BATCH_WRITES
    assert store.write_batch(iter(writes)) == total
    docs = {d.id: d.data for d in store.query(c)}
    assert len(docs) == 1_100
    assert docs["i0000"] == {"q": 1000, "shop": "s0", "m": True}
    assert docs["i0099"] == {"q": 1099, "shop": "s1", "m": True}
    assert docs["i1099"] == {"q": 1099, "shop": "s0"}
    assert sum(d["q"] for d in docs.values()) == sum(range(1_100)) + 100 * 1000


def test_write_batch_of_nothing_is_zero(store: Store) -> None:
    assert store.write_batch([]) == 0


def test_write_batch_rejects_an_invalid_write(store: Store, col: Col) -> None:
    c = col("inventory")
    with pytest.raises(InvalidDocument):
        store.write_batch([Write("set", c, "a", {"q": 1}), Write("set", c, "b", {"q": object()})])
    assert store.get(c, "a") is None  # one commit: all or nothing


# --- nearest: exactness against a numpy oracle


def oracle(vectors: np.ndarray, q: np.ndarray, measure: DistanceMeasure) -> np.ndarray:
    """Distances in float64 under Firestore's definitions."""
    m = vectors.astype(np.float64)
    qq = q.astype(np.float64)
    if measure is DistanceMeasure.EUCLIDEAN:
        return np.linalg.norm(m - qq, axis=1)
    if measure is DistanceMeasure.COSINE:
        return 1.0 - (m @ qq) / (np.linalg.norm(m, axis=1) * np.linalg.norm(qq))
    return m @ qq


def oracle_top(distances: np.ndarray, measure: DistanceMeasure, k: int) -> np.ndarray:
    keys = -distances if measure is DistanceMeasure.DOT_PRODUCT else distances
    return np.argsort(keys, kind="stable")[:k]


def corpus_queries(corpus: Corpus) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    random = [rng.standard_normal(corpus.vectors.shape[1]).astype(np.float32) for _ in range(4)]
    near = corpus.vectors[123] + 0.05 * random[0]  # close to a stored vector
    return [*random, near.astype(np.float32), corpus.vectors[4321].copy()]  # and one exactly


@pytest.mark.parametrize("measure", list(DistanceMeasure))
def test_nearest_is_exact_against_a_numpy_oracle(corpus: Corpus, measure: DistanceMeasure) -> None:
    k = 10
    for q in corpus_queries(corpus):
        expected = oracle(corpus.vectors, q, measure)
        top = oracle_top(expected, measure, k)
        hits = corpus.store.nearest(
            corpus.collection,
            field="embedding",
            query=Embedding(q, CORPUS_MODEL),
            k=k,
            measure=measure,
        )
        assert len(hits) == k
        got = [int(h.id[1:]) for h in hits]
        assert set(got) == set(top.tolist())  # recall@10 = 1.0
        np.testing.assert_allclose([h.distance for h in hits], expected[got], atol=1e-4, rtol=0)
        np.testing.assert_allclose([h.distance for h in hits], expected[top], atol=1e-4, rtol=0)
        first = hits[0]
        assert first.data["embedding"] == Embedding(corpus.vectors[got[0]], CORPUS_MODEL)
        assert first.data["n"] == got[0]


@pytest.mark.parametrize("measure", [DistanceMeasure.EUCLIDEAN, DistanceMeasure.COSINE])
def test_a_stored_vector_is_its_own_nearest_at_distance_zero(
    corpus: Corpus, measure: DistanceMeasure
) -> None:
    for index in range(0, len(corpus.ids), 250):
        q = Embedding(corpus.vectors[index], CORPUS_MODEL)
        hits = corpus.store.nearest(
            corpus.collection, field="embedding", query=q, k=1, measure=measure
        )
        assert ids(hits) == [corpus.ids[index]]
        assert hits[0].distance == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("measure", list(DistanceMeasure))
def test_nearest_with_equality_prefilters_is_exact(
    corpus: Corpus, measure: DistanceMeasure
) -> None:
    k = 25
    q = corpus_queries(corpus)[1]
    expected = oracle(corpus.vectors, q, measure)
    for group in range(CORPUS_GROUPS):
        members = np.flatnonzero(corpus.groups == group)
        top = members[oracle_top(expected[members], measure, k)]
        hits = corpus.store.nearest(
            corpus.collection,
            field="embedding",
            query=Embedding(q, CORPUS_MODEL),
            k=k,
            measure=measure,
            where=[Filter("group", "==", group)],
        )
        got = [int(h.id[1:]) for h in hits]
        assert set(got) == set(top.tolist())
        assert all(h.data["group"] == group for h in hits)
        np.testing.assert_allclose([h.distance for h in hits], expected[top], atol=1e-4, rtol=0)
    one = corpus.store.nearest(
        corpus.collection,
        field="embedding",
        query=Embedding(q, CORPUS_MODEL),
        k=5,
        measure=measure,
        where=[Filter("group", "==", 2), Filter("n", "==", 10)],
    )
    assert ids(one) == ["p00010"]


@pytest.mark.parametrize("measure", list(DistanceMeasure))
def test_nearest_threshold_against_the_oracle(corpus: Corpus, measure: DistanceMeasure) -> None:
    q = corpus_queries(corpus)[4]
    expected = oracle(corpus.vectors, q, measure)
    order = oracle_top(expected, measure, len(expected))
    # A threshold half-way between the 7th and 8th nearest keeps exactly seven.
    threshold = float((expected[order[6]] + expected[order[7]]) / 2)
    hits = corpus.store.nearest(
        corpus.collection,
        field="embedding",
        query=Embedding(q, CORPUS_MODEL),
        k=50,
        measure=measure,
        threshold=threshold,
    )
    assert [int(h.id[1:]) for h in hits] == order[:7].tolist()


def test_nearest_k_of_the_maximum_returns_that_many(corpus: Corpus) -> None:
    q = corpus_queries(corpus)[0]
    hits = corpus.store.nearest(
        corpus.collection,
        field="embedding",
        query=Embedding(q, CORPUS_MODEL),
        k=MAX_NEAREST_LIMIT,
        measure=DistanceMeasure.EUCLIDEAN,
    )
    expected = oracle(corpus.vectors, q, DistanceMeasure.EUCLIDEAN)
    assert len(hits) == MAX_NEAREST_LIMIT
    got = [int(h.id[1:]) for h in hits]
    assert set(got) == set(
        oracle_top(expected, DistanceMeasure.EUCLIDEAN, MAX_NEAREST_LIMIT).tolist()
    )
    distances = [h.distance for h in hits]
    assert distances == sorted(distances)


# --- nearest: thresholds, ordering and pre-filters on small exact cases


@pytest.fixture
def points(store: Store, col: Col) -> str:
    """Integer vectors whose distances to (1, 0) are exact in float32 and float64."""
    c = col("points")
    rows = {
        "east": ([2.0, 0.0], "a"),  # euclid 1, cos 0, dot 2
        "far-east": ([5.0, 0.0], "b"),  # euclid 4, cos 0, dot 5
        "north": ([0.0, 3.0], "a"),  # euclid sqrt(10), cos 1, dot 0
        "west": ([-1.0, 0.0], "b"),  # euclid 2, cos 2, dot -1
        "diag": ([4.0, 3.0], "a"),  # euclid sqrt(18), cos 0.2, dot 4
    }
    store.write_batch(
        Write("set", c, k, {"e": Embedding(v, "m"), "side": s}) for k, (v, s) in rows.items()
    )
    return c


@pytest.mark.parametrize(
    ("measure", "threshold", "expected"),
    [
        (DistanceMeasure.EUCLIDEAN, None, ["east", "west", "north", "far-east", "diag"]),
        (DistanceMeasure.EUCLIDEAN, 2.0, ["east", "west"]),  # <=, inclusive
        (DistanceMeasure.EUCLIDEAN, 0.5, []),
        (DistanceMeasure.COSINE, 0.25, ["east", "far-east", "diag"]),
        (DistanceMeasure.COSINE, 1.0, ["east", "far-east", "diag", "north"]),
        (DistanceMeasure.DOT_PRODUCT, None, ["far-east", "diag", "east", "north", "west"]),
        (DistanceMeasure.DOT_PRODUCT, 2.0, ["far-east", "diag", "east"]),  # >=, inclusive
        (DistanceMeasure.DOT_PRODUCT, 0.0, ["far-east", "diag", "east", "north"]),
        (DistanceMeasure.DOT_PRODUCT, 6.0, []),
    ],
)
def test_nearest_thresholds_per_measure(
    store: Store,
    points: str,
    measure: DistanceMeasure,
    threshold: float | None,
    expected: list[str],
) -> None:
    hits = store.nearest(
        points,
        field="e",
        query=Embedding([1.0, 0.0], "m"),
        k=10,
        measure=measure,
        threshold=threshold,
    )
    got = ids(hits)
    if measure is DistanceMeasure.COSINE:
        # east, far-east are both at distance 0: ties come back in either order.
        assert sorted(got[:2]) == sorted(expected[:2])
        assert got[2:] == expected[2:]
    else:
        assert got == expected


def test_nearest_reports_exact_distances(store: Store, points: str) -> None:
    q = Embedding([1.0, 0.0], "m")
    by_measure = {
        DistanceMeasure.EUCLIDEAN: {"east": 1, "west": 2, "north": 10**0.5, "far-east": 4},
        DistanceMeasure.COSINE: {"diag": 0.2, "north": 1.0, "west": 2.0},
        DistanceMeasure.DOT_PRODUCT: {"far-east": 5, "diag": 4, "north": 0, "west": -1},
    }
    for measure, expected in by_measure.items():
        hits = {
            h.id: h.distance
            for h in store.nearest(points, field="e", query=q, k=5, measure=measure)
        }
        for doc_id, distance in expected.items():
            assert hits[doc_id] == pytest.approx(distance, abs=1e-6)


def test_nearest_prefilter_and_k(store: Store, points: str) -> None:
    q = Embedding([1.0, 0.0], "m")
    hits = store.nearest(
        points,
        field="e",
        query=q,
        k=2,
        measure=DistanceMeasure.EUCLIDEAN,
        where=[Filter("side", "==", "b")],
    )
    assert ids(hits) == ["west", "far-east"]
    assert all(h.data["side"] == "b" for h in hits)
    assert hits[0].data["e"] == Embedding([-1.0, 0.0], "m")
    assert store.nearest(points, field="e", query=q, k=2, where=[Filter("side", "==", "c")]) == []


def test_nearest_default_measure_is_dot_product(store: Store, points: str) -> None:
    hits = store.nearest(points, field="e", query=Embedding([1.0, 0.0], "m"), k=2)
    assert ids(hits) == ["far-east", "diag"]
    assert [h.distance for h in hits] == [5.0, 4.0]


def test_nearest_on_an_empty_collection_or_field_is_empty(store: Store, col: Col) -> None:
    q = Embedding([1.0, 0.0], "m")
    assert store.nearest(col("nothing"), field="e", query=q, k=3) == []
    store.set(col("plain"), "a", {"x": 1})
    assert store.nearest(col("plain"), field="e", query=q, k=3) == []


def test_nearest_keeps_each_models_vectors_apart(store: Store, col: Col) -> None:
    c = col("intent_exemplars")
    store.write_batch(
        [
            Write("set", c, "old1", {"e": Embedding([1.0, 0.0], "old-model")}),
            Write("set", c, "old2", {"e": Embedding([0.0, 1.0], "old-model")}),
            Write("set", c, "new1", {"e": Embedding([1.0, 0.0, 0.0], "new-model")}),
        ]
    )
    old = store.nearest(c, field="e", query=Embedding([1.0, 0.1], "old-model"), k=5)
    assert ids(old) == ["old1", "old2"]
    new = store.nearest(c, field="e", query=Embedding([1.0, 0.0, 0.0], "new-model"), k=5)
    assert ids(new) == ["new1"]
    # Nothing within the threshold is an empty answer, not a mismatch: new-model vectors exist.
    none = store.nearest(
        c,
        field="e",
        query=Embedding([-1.0, 0.0, 0.0], "new-model"),
        k=5,
        measure=DistanceMeasure.EUCLIDEAN,
        threshold=0.5,
    )
    assert none == []
    with pytest.raises(VectorMismatchError):
        store.nearest(c, field="e", query=Embedding([1.0, 0.0], "third-model"), k=5)


# --- nearest: limits and mismatches


@pytest.mark.parametrize("k", [0, -1, MAX_NEAREST_LIMIT + 1, 2.5, True])
def test_nearest_k_out_of_range_is_a_limit_error(store: Store, points: str, k: Any) -> None:
    with pytest.raises(VectorLimitError):
        store.nearest(points, field="e", query=Embedding([1.0, 0.0], "m"), k=k)


def test_an_embedding_over_the_dimension_limit_cannot_be_built() -> None:
    with pytest.raises(VectorLimitError):
        Embedding(np.ones(MAX_VECTOR_DIMENSIONS + 1), "m")
    with pytest.raises(VectorLimitError):
        Embedding([], "m")
    with pytest.raises(InvalidDocument):
        Embedding([1.0], "")
    with pytest.raises(InvalidDocument):
        Embedding([float("nan")], "m")


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "in", "array-contains"])
def test_nearest_takes_equality_prefilters_only(store: Store, points: str, op: Any) -> None:
    value = ["a"] if op == "in" else "a"
    with pytest.raises(InvalidQuery):
        store.nearest(
            points,
            field="e",
            query=Embedding([1.0, 0.0], "m"),
            k=2,
            where=[Filter("side", op, value)],
        )


def test_nearest_with_another_model_is_a_mismatch(store: Store, points: str) -> None:
    with pytest.raises(VectorMismatchError):
        store.nearest(points, field="e", query=Embedding([1.0, 0.0], "other-model"), k=2)


def test_nearest_with_another_dimension_is_a_mismatch(store: Store, points: str) -> None:
    # The emulator skips vectors of another size (an empty result); the store then probes the
    # stored vectors and reports the mismatch. Real Firestore fails such a query earlier, with
    # FAILED_PRECONDITION for a missing index of that dimension, which is a StoreError too.
    with pytest.raises(VectorMismatchError):
        store.nearest(points, field="e", query=Embedding([1.0, 0.0, 0.0], "m"), k=2)


def test_a_threshold_must_be_a_number(store: Store, points: str) -> None:
    with pytest.raises(InvalidQuery):
        store.nearest(points, field="e", query=Embedding([1.0, 0.0], "m"), k=2, threshold="0.5")  # type: ignore[arg-type]


def test_filter_arguments_are_checked() -> None:
    with pytest.raises(InvalidQuery):
        Filter("x", "!=", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidQuery):
        Filter("x", "in", [])
    with pytest.raises(InvalidQuery):
        Filter("x", "in", list(range(31)))


def test_ping(store: Store) -> None:
    store.ping()


def test_merging_none_over_an_embedding_keeps_its_model_field(store: Store, col: Col) -> None:
    """Firestore keeps "<field>_model" when the vector itself is replaced by a plain value."""
    store.set(col("vectors"), "v", {"embedding": Embedding([1.0, 0.0], "m"), "n": 1})
    store.merge(col("vectors"), "v", {"embedding": None})
    assert store.get(col("vectors"), "v") == {"embedding": None, "embedding_model": "m", "n": 1}
    found = store.query(col("vectors"), where=[Filter("embedding_model", "==", "m")])
    assert [d.id for d in found] == ["v"]
    hits = store.nearest(col("vectors"), field="embedding", query=Embedding([1.0, 0.0], "m"), k=1)
    assert hits == []


def test_a_merge_that_leaves_the_vector_alone_keeps_it(store: Store, col: Col) -> None:
    store.set(col("vectors"), "v", {"embedding": Embedding([0.6, 0.8], "m"), "hits": 0})
    store.merge(col("vectors"), "v", {"hits": Increment(1)})
    assert store.get(col("vectors"), "v") == {"embedding": Embedding([0.6, 0.8], "m"), "hits": 1}
    (hit,) = store.nearest(col("vectors"), field="embedding", query=Embedding([0.6, 0.8], "m"), k=1)
    assert hit.id == "v" and hit.data["hits"] == 1


@pytest.mark.parametrize("limit", [0, -1, True, 2.5])
def test_a_limit_must_be_a_positive_integer(store: Store, col: Col, limit: Any) -> None:
    store.set(col("things"), "a", {"n": 1})
    with pytest.raises(InvalidQuery):
        store.query(col("things"), limit=limit)


def test_a_vector_of_another_size_is_left_out_of_the_search(store: Store, col: Col) -> None:
    """As a Firestore index of one dimension: the odd one is not searched, the rest are."""
    for i, values in enumerate(([1.0, 0.0], [0.0, 1.0], [0.7, 0.7])):
        store.set(col("vectors"), f"v{i}", {"embedding": Embedding(values, "m")})
    store.set(col("vectors"), "odd", {"embedding": Embedding([1.0, 0.0, 0.0], "m")})
    hits = store.nearest(col("vectors"), field="embedding", query=Embedding([1.0, 0.0], "m"), k=10)
    assert sorted(h.id for h in hits) == ["v0", "v1", "v2"]

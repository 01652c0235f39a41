"""The document-store contract, queries: filters, ordering, limits.

Every adapter passes the same tests: each takes `store` (SQLite in memory, SQLite on a file, and
the Firestore emulator when FIRESTORE_EMULATOR_HOST is set), `clock` (the store's injected now)
and `col` (collection names unique to the test); see conftest.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.store import (
    Filter,
    InvalidQuery,
    Order,
    Store,
    Write,
)
from tests.contract.conftest import Col, FakeClock, ids

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


@pytest.mark.parametrize("limit", [0, -1, True, 2.5])
def test_a_limit_must_be_a_positive_integer(store: Store, col: Col, limit: Any) -> None:
    store.set(col("things"), "a", {"n": 1})
    with pytest.raises(InvalidQuery):
        store.query(col("things"), limit=limit)

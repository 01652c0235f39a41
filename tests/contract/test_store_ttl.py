"""The document-store contract, tTL: an expired document is gone for every read, before the store
deletes it.

Every adapter passes the same tests: each takes `store` (SQLite in memory, SQLite on a file, and
the Firestore emulator when FIRESTORE_EMULATOR_HOST is set), `clock` (the store's injected now)
and `col` (collection names unique to the test); see conftest.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.store import (
    EXPIRES_AT,
    DistanceMeasure,
    Embedding,
    Filter,
    Order,
    Store,
)
from tests.contract.conftest import Col, FakeClock, ids

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

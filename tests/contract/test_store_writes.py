"""The document-store contract, atomic writes: increments, transactions under contention, batches
over the commit limit.

Every adapter passes the same tests: each takes `store` (SQLite in memory, SQLite on a file, and
the Firestore emulator when FIRESTORE_EMULATOR_HOST is set), `clock` (the store's injected now)
and `col` (collection names unique to the test); see conftest.py.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from shared.store import (
    MAX_BATCH_WRITES,
    Increment,
    InvalidDocument,
    ReadAfterWriteError,
    Store,
    TransactionFailed,
    Write,
)
from tests.contract.conftest import Col

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

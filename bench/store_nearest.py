"""Nearest search in the embedded store on 10,000 x 384 vectors, against a bare numpy scan.

The peer is the physical floor: one matrix-vector product and a top-k partition over the same
float32 matrix, no store around it. The ratio says what the store's work (locking, version
check, TTL and pre-filter checks, reading the k documents) costs on top of that.
"""

from __future__ import annotations

import statistics

import numpy as np

from bench.report import machine, row, time_calls
from shared.store import DistanceMeasure, Embedding, Filter, Increment, Write
from shared.store.sqlite_store import SqliteStore

N, DIM, K, QUERIES = 10_000, 384, 10, 1_000
MODEL = "bench-model@384"
KINDS = ("coffee", "drink", "equipment")


def build(rng: np.random.Generator) -> tuple[SqliteStore, np.ndarray]:
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = SqliteStore(":memory:")
    store.write_batch(
        Write(
            "set",
            "products",
            f"p{i:05d}",
            {"name": f"Product {i}", "kind": KINDS[i % 3], "embedding": Embedding(v, MODEL)},
        )
        for i, v in enumerate(vectors)
    )
    return store, vectors


def main() -> None:
    rng = np.random.default_rng(7)
    store, matrix = build(rng)
    queries = rng.standard_normal((QUERIES, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    embeddings = [Embedding(q, MODEL) for q in queries]
    it = iter(range(10**9))

    def floor() -> None:
        q = queries[next(it) % QUERIES]
        scores = matrix @ q
        top = np.argpartition(-scores, K)[:K]
        top[np.argsort(-scores[top])]

    def ours(measure: DistanceMeasure, where: tuple[Filter, ...] = ()) -> None:
        store.nearest(
            "products",
            field="embedding",
            query=embeddings[next(it) % QUERIES],
            k=K,
            measure=measure,
            where=where,
        )

    base = time_calls(floor, QUERIES)
    dot = time_calls(lambda: ours(DistanceMeasure.DOT_PRODUCT), QUERIES)
    cos = time_calls(lambda: ours(DistanceMeasure.COSINE), QUERIES)
    filtered = time_calls(
        lambda: ours(DistanceMeasure.DOT_PRODUCT, (Filter("kind", "==", "drink"),)), QUERIES
    )

    def write_then_search() -> None:  # a cache hit bumps its counter, then the next lookup
        store.merge("products", f"p{next(it) % N:05d}", {"hits": Increment(1)})
        ours(DistanceMeasure.DOT_PRODUCT)

    after_write = time_calls(write_then_search, QUERIES)
    print(f"store_nearest: {N:,} x {DIM} float32, k={K}, {QUERIES:,} queries  [{machine()}]")
    print(row("numpy floor (GEMV + top-k, no store)", base))
    print(row("SqliteStore.nearest DOT_PRODUCT", dot))
    print(row("SqliteStore.nearest COSINE", cos))
    print(row("SqliteStore.nearest DOT_PRODUCT + kind == drink", filtered))
    print(row("merge(Increment) then nearest", after_write))
    ratio = statistics.median(dot) / statistics.median(base)
    print(f"  store / floor at p50: {ratio:.2f}x")


if __name__ == "__main__":
    main()

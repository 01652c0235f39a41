"""The document-store contract, vector search: exact against a numpy oracle, thresholds, pre-
filters, limits, models.

Every adapter passes the same tests: each takes `store` (SQLite in memory, SQLite on a file, and
the Firestore emulator when FIRESTORE_EMULATOR_HOST is set), `clock` (the store's injected now)
and `col` (collection names unique to the test); see conftest.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shared.store import (
    MAX_NEAREST_LIMIT,
    MAX_VECTOR_DIMENSIONS,
    DistanceMeasure,
    Embedding,
    Filter,
    Increment,
    InvalidDocument,
    InvalidQuery,
    Store,
    VectorLimitError,
    VectorMismatchError,
    Write,
)
from tests.contract.conftest import CORPUS_GROUPS, CORPUS_MODEL, Col, Corpus, ids

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


def test_a_vector_of_another_size_is_left_out_of_the_search(store: Store, col: Col) -> None:
    """As a Firestore index of one dimension: the odd one is not searched, the rest are."""
    for i, values in enumerate(([1.0, 0.0], [0.0, 1.0], [0.7, 0.7])):
        store.set(col("vectors"), f"v{i}", {"embedding": Embedding(values, "m")})
    store.set(col("vectors"), "odd", {"embedding": Embedding([1.0, 0.0, 0.0], "m")})
    hits = store.nearest(col("vectors"), field="embedding", query=Embedding([1.0, 0.0], "m"), k=10)
    assert sorted(h.id for h in hits) == ["v0", "v1", "v2"]


def test_string_prefilters_match_exactly_whatever_else_the_document_holds(
    store: Store, col: Col
) -> None:
    """A string equality filter is exact on every kind of document: one with a "$" key (stored
    wrapped), one whose value only looks alike (a number, a list, another case), one with a
    second vector, one without the field; and a query() by the same filter agrees."""
    c = col("mixed")
    docs: dict[str, dict[str, Any]] = {
        "plain": {"tag": "a b", "e": Embedding([1.0, 0.0], "m")},
        "dollar": {"tag": "a b", "$price": 3, "n": 3, "e": Embedding([0.9, 0.1], "m")},
        "nested": {"tag": "a b", "m": {"$x": {"y": 1}}, "e": Embedding([0.8, 0.2], "m")},
        "two": {"tag": "a b", "e": Embedding([0.7, 0.3], "m"), "f": Embedding([0.0, 1.0], "m")},
        "case": {"tag": "A B", "e": Embedding([1.0, 0.0], "m")},
        "list": {"tag": ["a b"], "e": Embedding([1.0, 0.0], "m")},
        "number": {"tag": 1, "e": Embedding([1.0, 0.0], "m")},
        "none": {"e": Embedding([1.0, 0.0], "m")},
        "quote": {"tag": 'a "b"', "e": Embedding([1.0, 0.0], "m")},
    }
    store.write_batch(Write("set", c, i, d) for i, d in docs.items())
    q = Embedding([1.0, 0.0], "m")
    hits = store.nearest(c, field="e", query=q, k=10, where=[Filter("tag", "==", "a b")])
    assert ids(hits) == ["plain", "dollar", "nested", "two"]
    assert hits[1].data["$price"] == 3 and hits[2].data["m"] == {"$x": {"y": 1}}
    assert hits[3].data["e"] == docs["two"]["e"] and hits[3].data["f"] == docs["two"]["f"]
    assert ids(store.nearest(c, field="e", query=q, k=10, where=[Filter("tag", "==", 1)])) == [
        "number"
    ]
    quoted = store.nearest(c, field="e", query=q, k=10, where=[Filter("tag", "==", 'a "b"')])
    assert ids(quoted) == ["quote"]
    found = store.query(c, where=[Filter("tag", "==", "a b")])
    assert sorted(d.id for d in found) == ["dollar", "nested", "plain", "two"]
    both = store.query(c, where=[Filter("tag", "==", "a b"), Filter("n", ">", 2)])
    assert [d.id for d in both] == ["dollar"]

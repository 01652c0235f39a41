"""Exact nearest-neighbour search over one vector field, with Firestore's distance semantics."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared.store.base import MODEL_SUFFIX, DistanceMeasure, Embedding, VectorMismatchError

_BLOCK_ROWS = 4096  # rows per block of the Euclidean search's temporary differences


@dataclass
class ModelRows:
    """The vectors one model made: row i belongs to ids[i]."""

    ids: list[str]
    matrix: np.ndarray  # (n, d) float32, as stored
    sq_norms: np.ndarray  # (n,) float32, |row|^2
    positions: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.positions = {doc_id: i for i, doc_id in enumerate(self.ids)}


@dataclass
class VectorIndex:
    """A snapshot of one (collection, field), rebuilt when the collection's version moves."""

    version: int
    groups: dict[tuple[str, int], ModelRows] = field(default_factory=dict)

    @classmethod
    def build(cls, version: int, rows: Sequence[tuple[str, str, bytes]]) -> VectorIndex:
        """One matrix per (model, dimension): like a Firestore index, a vector of another size
        than the query's is not searched."""
        grouped: dict[tuple[str, int], tuple[list[str], list[np.ndarray]]] = {}
        for doc_id, model, blob in rows:
            vec = np.frombuffer(blob, dtype=np.float32)
            ids, vecs = grouped.setdefault((model, vec.size), ([], []))
            ids.append(doc_id)
            vecs.append(vec)
        index = cls(version)
        for key, (ids, vecs) in grouped.items():
            matrix = np.vstack(vecs)
            index.groups[key] = ModelRows(ids, matrix, np.einsum("ij,ij->i", matrix, matrix))
        return index

    def search(
        self,
        query: Embedding,
        k: int,
        measure: DistanceMeasure,
        threshold: float | None,
        keep: Callable[[str], bool],
        *,
        only: Collection[str] | None = None,
        fetch: Callable[[list[str]], None] | None = None,
    ) -> list[tuple[str, float]]:
        """The k nearest ids that `keep` accepts, nearest first, with their distances.
        `only`: the ids that may match at all (a store's pre-selection), the others are never
        looked at. `fetch` is told each run of ids before `keep` is asked about them, so a
        store can read their documents in one go."""
        rows = self._rows_for(query)
        if rows is None:
            return []
        if only is None:
            positions = None
            distances = _distances(rows.matrix, rows.sq_norms, query.values, measure)
        else:
            positions = np.fromiter(
                sorted(p for i in only if (p := rows.positions.get(i)) is not None), dtype=np.intp
            )
            distances = _distances(
                rows.matrix[positions], rows.sq_norms[positions], query.values, measure
            )
        ids = rows.ids if positions is None else [rows.ids[p] for p in positions]
        keys = -distances if measure is DistanceMeasure.DOT_PRODUCT else distances
        # Most searches end within the first few k candidates: sort those only, and sort
        # the rest only when filters or expiry turned too many of them away.
        head = min(len(keys), 4 * k)
        if head == 0:
            return []
        first = np.argpartition(keys, head - 1)[:head] if head < len(keys) else np.arange(head)
        first = first[np.argsort(keys[first], kind="stable")]
        out: list[tuple[str, float]] = []
        scan = _Scan(ids, distances, k, measure, threshold, keep, fetch, out)
        if not scan.collect(first) and head < len(keys):
            rest = np.setdiff1d(np.arange(len(keys)), first, assume_unique=True)
            scan.collect(rest[np.argsort(keys[rest], kind="stable")])
        return out

    def vector_of(self, query: Embedding, doc_id: str) -> np.ndarray | None:
        """The stored vector of `doc_id` in the query's model and size (a copy), if any."""
        rows = self.groups.get((query.model, query.dimension))
        position = None if rows is None else rows.positions.get(doc_id)
        return None if rows is None or position is None else rows.matrix[position].copy()

    def _rows_for(self, query: Embedding) -> ModelRows | None:
        rows = self.groups.get((query.model, query.dimension))
        if rows is not None:
            return rows
        sizes = sorted(d for m, d in self.groups if m == query.model)
        if sizes:
            raise VectorMismatchError(
                f"Stored vectors of {query.model!r} have {sizes} dimensions; "
                f"the query has {query.dimension}."
            )
        if self.groups:
            raise VectorMismatchError(
                f"The stored vectors come from {sorted({m for m, _ in self.groups})}, the query "
                f"from {query.model!r}: search with the same embedding model, or re-ingest."
            )
        return None


@dataclass
class _Scan:
    """Walks candidates best first, in runs (each told to `fetch`), until k are kept."""

    ids: Sequence[str]
    distances: np.ndarray
    k: int
    measure: DistanceMeasure
    threshold: float | None
    keep: Callable[[str], bool]
    fetch: Callable[[list[str]], None] | None
    out: list[tuple[str, float]]

    def collect(self, order: np.ndarray) -> bool:
        """Append accepted rows in order; True once k are found or the threshold ends it."""
        step = 2 * self.k
        for start in range(0, len(order), step):
            run = order[start : start + step]
            if self.fetch is not None:
                self.fetch([self.ids[i] for i in run])
            for i in run:
                d = float(self.distances[i])
                if self.threshold is not None and not _within(d, self.threshold, self.measure):
                    return True  # sorted best first: nothing after passes either
                if self.keep(self.ids[i]):
                    self.out.append((self.ids[i], d))
                    if len(self.out) == self.k:
                        return True
        return False


def _distances(
    matrix: np.ndarray, sq_norms: np.ndarray, q: np.ndarray, measure: DistanceMeasure
) -> np.ndarray:
    if measure is DistanceMeasure.EUCLIDEAN:
        return _euclidean(matrix, q)
    dots: np.ndarray = matrix @ q
    if measure is DistanceMeasure.DOT_PRODUCT:
        return dots
    q_sq = float(q @ q)
    norms = np.sqrt(sq_norms) * np.sqrt(q_sq)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(norms > 0, dots / norms, 0.0)
    return 1.0 - cos


def _euclidean(matrix: np.ndarray, q: np.ndarray) -> np.ndarray:
    """|row - q| from the differences: |row|^2 + |q|^2 - 2 row.q cancels to noise near 0 in
    float32 (0.004 for a 64-dim vector against itself); in blocks, to bound the memory."""
    out = np.empty(len(matrix), dtype=np.float32)
    for start in range(0, len(matrix), _BLOCK_ROWS):
        diff = matrix[start : start + _BLOCK_ROWS] - q
        out[start : start + _BLOCK_ROWS] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def _within(distance: float, threshold: float, measure: DistanceMeasure) -> bool:
    if measure is DistanceMeasure.DOT_PRODUCT:
        return distance >= threshold
    return distance <= threshold


def attach_vectors(
    data: Mapping[str, Any], vectors: Mapping[str, tuple[str, np.ndarray]]
) -> dict[str, Any]:
    """Put each field's Embedding back in place of its marker and model field (vectors the
    store read back: checked when they were written)."""
    out = dict(data)
    for name, (model, values) in vectors.items():
        out[name] = Embedding.stored(values, model)
        out.pop(name + MODEL_SUFFIX, None)
    return out

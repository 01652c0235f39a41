"""Retrieval quality on a labelled query set over the benchmark catalog: hit@5, MRR, and the
share of unanswerable queries that come back empty.

Usage: python -m scripts.eval_retrieval [--set data/retrieval/dev.jsonl] [--catalog DIR] [-v]

The catalog is ingested into an in-memory store through the same upsert and embedder as the
ingest function; each labelled line is {"query", "kind", "relevant": [ids], "shop"?}.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from shared import catalog, wiring
from shared.catalog import profile
from shared.catalog.files import catalog_files, kind_of, read_jsonl
from shared.chat.sources import relevant as shown
from shared.search.retrieval import Retriever
from shared.store.sqlite_store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK = ROOT.parent / "shared" / "data" / "catalog"
K = 5


@dataclass(frozen=True)
class Scores:
    answerable: int
    hit_at_5: float
    mrr: float
    unanswerable: int
    empty_when_unanswerable: float
    misses: list[str]
    precision: float = 0.0  # of the hits a turn would show (sources), over answerable queries


def load_catalog(store: SqliteStore, directory: Path) -> None:
    embedder = wiring.get_embedder()
    for path in catalog_files(directory):
        lines, bad = read_jsonl(path)
        if bad:
            raise ValueError(f"{path}: {len(bad)} lines are not JSON")
        good, rejected = catalog.validate_records(kind_of(path), [line.record for line in lines])
        if rejected:
            raise ValueError(f"{path}: {rejected[0].reason}")
        catalog.upsert(store, kind_of(path), good, datetime.now(UTC), embedder)
    profile.refresh(store)


def evaluate(retriever: Retriever, rows: list[dict[str, Any]]) -> Scores:
    hits, reciprocal, answerable, empties, unanswerable = 0, 0.0, 0, 0, 0
    good_shown, all_shown = 0, 0
    misses: list[str] = []
    queries = [r["query"] for r in rows]
    vectors = retriever.embedder.embed(queries, "query")
    for row, vector in zip(rows, vectors, strict=True):
        result = retriever.search(row["query"], row["kind"], K, vector=vector)
        found = [h.id for h in result.hits]
        relevant = set(row["relevant"])
        if relevant:
            cards = [h.id for h in shown(result.hits, row["query"], others=[])]
            good_shown += len(set(cards) & relevant)
            all_shown += len(cards)
        if not relevant:
            unanswerable += 1
            empties += not found
            if found:
                misses.append(f"[should be empty] {row['query']!r} -> {found}")
            continue
        answerable += 1
        rank = next((i for i, f in enumerate(found, start=1) if f in relevant), None)
        if rank is not None:
            hits += 1
            reciprocal += 1 / rank
        else:
            misses.append(f"{row['query']!r} -> {found} (want {sorted(relevant)[:5]})")
    return Scores(
        answerable,
        hits / max(1, answerable),
        reciprocal / max(1, answerable),
        unanswerable,
        empties / max(1, unanswerable),
        misses,
        good_shown / max(1, all_shown),
    )


class DenseOnly:
    """The baseline: the record's embedding alone, the five nearest, nothing else (no floors,
    no filters, no lexical ranking). What a plain vector search gives on the same store."""

    def __init__(self, store: SqliteStore, embedder: Any) -> None:
        self.store, self.embedder = store, embedder

    def search(self, query: str, kind: str, k: int, *, vector: Any) -> Any:
        from shared.search.retrieval import SearchHit, SearchResult
        from shared.search.understand import Understood
        from shared.store import DistanceMeasure, Embedding

        collection = "document_chunks" if kind == "documents" else kind
        found = self.store.nearest(
            collection,
            field="embedding",
            query=Embedding(vector, self.embedder.model_id),
            k=k * 4 if kind == "documents" else k,
            measure=DistanceMeasure.DOT_PRODUCT,
        )
        hits, seen = [], set()
        for h in found:
            doc_id = str(h.data.get("doc_id", h.id))
            if doc_id in seen:
                continue
            seen.add(doc_id)
            label: Literal["product", "shop", "document"] = (
                "product" if kind == "products" else "shop" if kind == "shops" else "document"
            )
            hits.append(
                SearchHit(doc_id, label, str(h.data.get("name", "")), float(h.distance), {})
            )
        return SearchResult(hits[:k], Understood())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=ROOT / "data" / "retrieval" / "dev.jsonl")
    parser.add_argument("--catalog", type=Path, default=BENCHMARK)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--dense", action="store_true", help="the plain dense baseline instead")
    args = parser.parse_args(argv)
    store = SqliteStore()
    load_catalog(store, args.catalog)
    rows = [json.loads(line) for line in args.set.read_text().splitlines() if line.strip()]
    embedder = wiring.get_embedder()
    searcher = DenseOnly(store, embedder) if args.dense else Retriever(store, embedder)
    scores = evaluate(searcher, rows)  # type: ignore[arg-type]
    print(
        f"{args.set.name}: hit@{K} {scores.hit_at_5:.3f}, MRR {scores.mrr:.3f} over "
        f"{scores.answerable} answerable queries, precision of shown {scores.precision:.3f}; "
        f"empty for {scores.empty_when_unanswerable:.2f} "
        f"of {scores.unanswerable} unanswerable"
    )
    if args.verbose:
        print("\n".join(scores.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

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
from typing import Any

from shared import catalog, wiring
from shared.catalog.files import catalog_files, kind_of, read_jsonl
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


def evaluate(retriever: Retriever, rows: list[dict[str, Any]]) -> Scores:
    hits, reciprocal, answerable, empties, unanswerable = 0, 0.0, 0, 0, 0
    misses: list[str] = []
    queries = [r["query"] for r in rows]
    vectors = retriever.embedder.embed(queries, "query")
    for row, vector in zip(rows, vectors, strict=True):
        found = [h.id for h in retriever.search(row["query"], row["kind"], K, vector=vector).hits]
        relevant = set(row["relevant"])
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
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=ROOT / "data" / "retrieval" / "dev.jsonl")
    parser.add_argument("--catalog", type=Path, default=BENCHMARK)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    store = SqliteStore()
    load_catalog(store, args.catalog)
    rows = [json.loads(line) for line in args.set.read_text().splitlines() if line.strip()]
    scores = evaluate(Retriever(store, wiring.get_embedder()), rows)
    print(
        f"{args.set.name}: hit@{K} {scores.hit_at_5:.3f}, MRR {scores.mrr:.3f} over "
        f"{scores.answerable} answerable queries; empty for {scores.empty_when_unanswerable:.2f} "
        f"of {scores.unanswerable} unanswerable"
    )
    if args.verbose:
        print("\n".join(scores.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

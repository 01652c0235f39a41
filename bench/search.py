"""Search over the outdoor benchmark catalog (format v2, no outdoor code): our retrieval
(understanding from the catalog profile, a 100-record pool, BM25 fused with the embedding,
filters) against the peer run in the same process on the same store and vectors: a plain dense
search (the five nearest records, nothing else). Latency excludes embedding the query (both get
the same vector); quality is hit@5, MRR and the precision of the sources a turn would show, on
the development and held-out sets.

Then the first question after a catalog load at 10,000 products (300 real ones copied 33 times
under new ids and names): the instance reads the stored profile and builds its lexicon once,
where the code before the profile read every product and shop to build its gazetteer.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from pathlib import Path

from bench.report import machine, row, time_calls
from scripts.eval_retrieval import DenseOnly, evaluate, load_catalog
from shared import wiring
from shared.catalog import CATALOG_DOC, META
from shared.catalog import profile as profiles
from shared.chat.sources import search_for
from shared.search.retrieval import Retriever
from shared.search.understand import understand
from shared.store import Write
from shared.store.sqlite_store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
OUTDOOR = ROOT.parent / "shared" / "data" / "outdoor"
SETS = {
    "dev": ROOT / "data" / "outdoor-eval" / "retrieval_dev.jsonl",
    "held-out": ROOT / "data" / "outdoor-eval" / "retrieval_heldout.jsonl",
}
# The chat turn's search stage on both benchmark catalogs, over their labelled queries.
STAGE_SETS = (
    ("coffee", ROOT.parent / "shared" / "data" / "catalog",
     (ROOT / "data" / "retrieval" / "dev.jsonl", ROOT / "tests" / "eval" / "retrieval_eval.jsonl")),
    ("outdoor", OUTDOOR, tuple(SETS.values())),
)  # fmt: skip
INTENTS = {"products": "PRODUCT_RAG", "shops": "LOCATION_RAG", "documents": "PRODUCT_RAG"}
COPIES = 33  # 300 x 34 ~ 10,000 products


def main() -> None:
    store = SqliteStore()
    load_catalog(store, OUTDOOR)
    embedder = wiring.get_embedder()
    ours, dense = Retriever(store, embedder), DenseOnly(store, embedder)
    rows = [json.loads(x) for p in SETS.values() for x in p.read_text().splitlines() if x]
    vectors = embedder.embed([r["query"] for r in rows], "query")
    it = iter(range(10**9))

    def call(searcher: Retriever | DenseOnly) -> None:
        i = next(it) % len(rows)
        searcher.search(rows[i]["query"], rows[i]["kind"], 5, vector=vectors[i])

    print(f"search: outdoor catalog, {len(rows)} labelled queries  [{machine()}]")
    mine = time_calls(lambda: call(ours), 2000)
    peer = time_calls(lambda: call(dense), 2000)
    print(row("ours: understand + pool + BM25 + filters", mine))
    print(row("peer: dense five nearest only", peer))
    print(f"  ours / peer at p50: {statistics.median(mine) / statistics.median(peer):.2f}x")
    for name, path in SETS.items():
        labelled = [json.loads(x) for x in path.read_text().splitlines() if x]
        a, b = evaluate(ours, labelled), evaluate(dense, labelled)  # type: ignore[arg-type]
        print(
            f"  {name:>8}: ours hit@5 {a.hit_at_5:.3f} MRR {a.mrr:.3f} precision {a.precision:.3f}"
            f" | dense hit@5 {b.hit_at_5:.3f} MRR {b.mrr:.3f} precision {b.precision:.3f}"
        )
    chat_search_stage()
    first_question_at_scale(store)


def chat_search_stage() -> None:
    """What a chat turn reports as `timings_ms.search`: its intent's searches and the cut to
    the sources it shows (`search_for`), on each benchmark catalog's labelled queries, the
    text read against the catalog once beforehand as a turn does."""
    embedder = wiring.get_embedder()
    for name, directory, paths in STAGE_SETS:
        store = SqliteStore()
        load_catalog(store, directory)
        retriever = Retriever(store, embedder)
        rows = [json.loads(x) for p in paths for x in p.read_text().splitlines() if x]
        vectors = embedder.embed([r["query"] for r in rows], "query")
        lexicon = retriever.view().lexicon
        turns = [
            (INTENTS[r["kind"]], r["query"], v, understand(r["query"], lexicon))
            for r, v in zip(rows, vectors, strict=True)
        ]
        cycle = itertools.cycle(turns)
        timed = time_calls(lambda: search_for(retriever, *next(cycle)), 2000)  # noqa: B023
        print(row(f"chat turn search stage, {name} ({len(rows)} queries)", timed))


def first_question_at_scale(store: SqliteStore) -> None:
    products = list(store.query("products"))
    store.write_batch(
        Write(
            "set",
            "products",
            f"{d.id}-c{c}",
            {**d.data, "name": f"{d.data['name']} Mk{c}", "content_hash": f"{d.id}-{c}"},
        )
        for c in range(1, COPIES + 1)
        for d in products
    )
    count = len(store.query("products"))
    meta = store.get(META, CATALOG_DOC) or {}
    store.set(META, CATALOG_DOC, {**meta, "version": int(meta.get("version", 0)) + 1})
    started = time.perf_counter()
    profiles.refresh(store)  # the ingest function's work, once per batch that changed it
    built = (time.perf_counter() - started) * 1000
    embedder = wiring.get_embedder()
    vector = embedder.embed(["a 2 person tent under 2 kg"], "query")[0]
    cold = []
    for _ in range(5):
        retriever = Retriever(store, embedder)  # a new instance: nothing read yet
        started = time.perf_counter()
        retriever.search("a 2 person tent under 2 kg", "products", 5, vector=vector)
        cold.append((time.perf_counter() - started) * 1000)
    warm = time_calls(
        lambda: retriever.search("a 2 person tent under 2 kg", "products", 5, vector=vector), 50
    )
    print(f"  {count:,} products: profile built at ingest in {built:.0f} ms")
    print(row("first question on a new instance", cold))
    print(row("the questions after it", warm))


if __name__ == "__main__":
    main()

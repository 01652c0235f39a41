"""Catalog ingest end to end, against the embedder alone on the same texts.

End to end: the benchmark catalog's files (catalog_files order, catalog_files.batches) are
published to the LocalBus, whose ingest subscription is the real ingest function loaded by
functions-framework's `create_app`, as `make dev` loads it (scripts/devserver.py), writing to a
fresh SQLite store in a temporary directory; timed from the first publish to the drained bus.
The peer is the floor: one `embed` call over the products' and shops' texts, no bus, no
validation, no store. Embedded records/s end to end over the peer's texts/s says what the
ingest path costs around the model (the goal is at least 0.8).

Then the same catalog again into the same store: nothing changed, so nothing is embedded.
Each run checks (untimed) that the store holds the catalog's counts and every product and
shop has an embedding.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from functions_framework import create_app

from bench.report import machine
from shared import catalog, wiring
from shared.bus.local_bus import LocalBus, wsgi_subscriber
from shared.catalog.files import batches, catalog_files, kind_of, read_jsonl
from shared.catalog.indexing import embedding_text
from shared.config import get_settings
from shared.store import Embedding, Store

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT.parent / "shared" / "data" / "catalog"
RUNS = 3
GOAL = 0.8


@dataclass
class Catalog:
    messages: list[dict[str, Any]] = field(default_factory=list)  # in publish order
    ids: dict[str, set[str]] = field(default_factory=dict)  # by kind
    texts: list[str] = field(default_factory=list)  # products' and shops', as ingest embeds them

    @property
    def records(self) -> int:
        return sum(len(ids) for ids in self.ids.values())

    @property
    def embedded(self) -> int:
        return sum(len(v) for k, v in self.ids.items() if k in catalog.EMBEDDED_KINDS)


@dataclass
class Run:
    ingest_s: float
    redelivery_s: float
    embed_s: float


def read_catalog(directory: Path) -> Catalog:
    """The messages an operator would publish, and what the store should hold after them."""
    out = Catalog()
    for path in catalog_files(directory):
        kind = kind_of(path)
        lines, bad = read_jsonl(path)
        records = [line.record for line in lines]
        good, rejected = catalog.validate_records(kind, records)
        if bad or rejected:
            raise RuntimeError(f"{path}: {len(bad)} unreadable and {len(rejected)} invalid lines")
        out.ids[kind] = {catalog.record_id(r) for r in good}
        if len(out.ids[kind]) != len(good):
            raise RuntimeError(f"{path}: duplicate ids")
        if kind in catalog.EMBEDDED_KINDS:
            out.texts += [embedding_text(r) for r in good]
        out.messages += batches(kind, records)
    return out


@contextmanager
def local_stack(directory: Path) -> Iterator[None]:
    """Settings for a fresh SQLite store in `directory` and the local bus; instances rebuilt."""
    overrides = {
        "LOCAL_DIR": str(directory),
        "SQLITE_PATH": str(directory / "store.sqlite3"),
        "STORE_BACKEND": "sqlite",
        "BUS_BACKEND": "local",
        "LOG_LEVEL": "WARNING",  # no "ingested" line per message in the figures
    }
    wiring.reset()
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    get_settings.cache_clear()
    try:
        yield
    finally:
        wiring.reset()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def count_texts(embedder: Any) -> list[int]:
    """From now on, the size of each `embed` call on this (the wiring's) embedder."""
    calls: list[int] = []  # list.append is atomic: the bus's worker threads embed concurrently
    inner = embedder.embed

    def embed(texts: Sequence[str], task: Any) -> np.ndarray:
        calls.append(len(texts))
        return inner(texts, task)  # type: ignore[no-any-return]

    embedder.embed = embed
    return calls


def publish(bus: LocalBus, topic: str, messages: list[dict[str, Any]]) -> float:
    """Seconds from the first publish to the drained bus."""
    start = time.perf_counter()
    for message in messages:
        bus.publish(topic, message)
    if not bus.drain(timeout_s=600):
        raise RuntimeError("the bus did not drain in 600 s")
    return time.perf_counter() - start


def check(store: Store, cat: Catalog, model: str, dimension: int) -> catalog.CatalogMeta:
    """The store holds exactly the catalog, and every product and shop has its embedding."""
    meta = catalog.read_catalog_meta(store)
    expected = {kind: len(ids) for kind, ids in cat.ids.items()}
    if meta is None or meta.counts != expected:
        raise RuntimeError(f"meta/catalog counts {meta and meta.counts}, expected {expected}")
    for kind, ids in cat.ids.items():
        docs = store.query(kind)
        if {d.id for d in docs} != ids:
            raise RuntimeError(f"{kind}: {len(docs)} stored, not the catalog's {len(ids)}")
        if kind not in catalog.EMBEDDED_KINDS:
            continue
        for d in docs:
            vector = d.data.get("embedding")
            if not (
                isinstance(vector, Embedding)
                and vector.model == model
                and vector.dimension == dimension
            ):
                raise RuntimeError(f"{kind}/{d.id} has no {model} embedding: {vector!r}")
    return meta


def run_once(cat: Catalog, directory: Path) -> Run:
    with local_stack(directory):
        settings = get_settings()
        bus = wiring.get_bus()
        if not isinstance(bus, LocalBus):
            raise RuntimeError(f"expected the local bus, got {type(bus).__name__}")
        app = create_app(
            target="ingest",
            source=str(ROOT / "functions" / "ingest" / "main.py"),
            signature_type="cloudevent",
        )
        bus.subscribe(settings.ingest_topic, wsgi_subscriber(app), name="ingest")
        dead: list[Any] = []
        dead_topic = settings.dead_letter_topic(settings.ingest_topic)
        bus.subscribe(dead_topic, dead.append, name="dead-letters")
        embedder = wiring.get_embedder()
        embedder.embed(["warm up"], "document")  # the model loads here, not in the timing
        calls = count_texts(embedder)
        store = wiring.get_store()

        ingest_s = publish(bus, settings.ingest_topic, cat.messages)
        if dead or bus.dead_letters:
            raise RuntimeError(f"{len(dead) + len(bus.dead_letters)} dead letters")
        meta = check(store, cat, embedder.model_id, embedder.dimension)
        if sum(calls) != cat.embedded:
            raise RuntimeError(f"{sum(calls)} texts embedded, expected {cat.embedded}")

        redelivery_s = publish(bus, settings.ingest_topic, cat.messages)
        again = check(store, cat, embedder.model_id, embedder.dimension)
        if dead or bus.dead_letters or sum(calls) != cat.embedded or again != meta:
            raise RuntimeError(
                f"unchanged re-delivery: {sum(calls) - cat.embedded} texts re-embedded, "
                f"catalog version {meta.version} -> {again.version}, {len(dead)} dead letters"
            )

        start = time.perf_counter()
        embedder.embed(cat.texts, "document")
        embed_s = time.perf_counter() - start
        return Run(ingest_s, redelivery_s, embed_s)


def main() -> None:
    if not CATALOG.is_dir():
        print(f"ingest: skipped, no benchmark catalog at {CATALOG}")
        return
    cat = read_catalog(CATALOG)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for i in range(RUNS):
            runs.append(run_once(cat, Path(tmp) / f"run-{i}"))
        with local_stack(Path(tmp) / "model"):
            embedder = wiring.get_embedder()
            inner = getattr(embedder, "inner", embedder)  # GuardedEmbedder's model
            model, threads = embedder.model_id, getattr(inner, "threads", "?")

    ingest_s = statistics.median(r.ingest_s for r in runs)
    redelivery_s = statistics.median(r.redelivery_s for r in runs)
    embed_s = statistics.median(r.embed_s for r in runs)
    total_rate, embedded_rate = cat.records / ingest_s, cat.embedded / ingest_s
    raw_rate = len(cat.texts) / embed_s
    counts = ", ".join(f"{len(ids)} {kind}" for kind, ids in cat.ids.items())
    print(
        f"ingest: benchmark catalog ({counts}; {len(cat.messages)} messages), {model}, "
        f"{threads} intra-op threads, median of {RUNS}  [{machine()}]"
    )
    per_run = "  ".join(f"{r.ingest_s:.3f}" for r in runs)
    label = "end to end: LocalBus -> ingest function -> SQLite"
    print(f"  {label:<52} {ingest_s:8.3f} s         (runs: {per_run} s)")
    print(f"  {'  all records (' + str(cat.records) + ')':<52} {total_rate:8.0f} records/s")
    label = f"  embedded records ({cat.embedded} products and shops)"
    print(f"  {label:<52} {embedded_rate:8.0f} records/s")
    label = f"embedder alone: {len(cat.texts)} texts, one embed call"
    print(f"  {label:<52} {raw_rate:8.0f} texts/s   ({embed_s:.3f} s)")
    verdict = "meets" if embedded_rate / raw_rate >= GOAL else "below"
    print(
        f"  end-to-end embedded records/s / embedder texts/s: {embedded_rate / raw_rate:.2f}  "
        f"({verdict} the goal of {GOAL})"
    )
    label = f"unchanged re-delivery: {cat.records} records, 0 embedded"
    print(f"  {label:<52} {cat.records / redelivery_s:8.0f} records/s ({redelivery_s:.3f} s)")
    print(
        "  checked each run: meta/catalog counts = the catalog's, every product and shop "
        "embedded, no dead letters"
    )


if __name__ == "__main__":
    main()

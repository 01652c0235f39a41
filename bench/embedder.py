"""The offline embedder (int8 ONNX MiniLM) against the same model in float32 numpy.

Load time, single-query latency on shopper questions, batch throughput on catalog-like texts,
and agreement with bench/minilm_reference.py, a float32 forward pass of the same weights: the
peer that says what int8 costs in accuracy and buys in speed. The peer runs in this process, on
the same texts, after ours.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from bench.minilm_reference import MiniLM
from bench.report import machine, row, time_calls
from shared.ai import local_embedder
from shared.ai.local_embedder import BATCH_SIZE, LocalEmbedder

QUERIES, CATALOG, AGREEMENT = 300, 1_000, 200
PLACES = ("Main Street", "the station", "Riverside", "the airport", "Old Town", "the university")
DRINKS = ("latte", "flat white", "cappuccino", "cold brew", "mocha", "chai latte", "americano")
ORIGINS = ("Ethiopian", "Colombian", "Kenyan", "Guatemalan", "Sumatran", "Brazilian", "Rwandan")
ROASTS = ("light", "medium", "dark", "espresso")
METHODS = ("espresso", "pour-over", "French press", "AeroPress", "cold brew", "moka pot")
NOTES = ("jasmine", "blueberry", "dark chocolate", "caramel", "citrus", "hazelnut", "red wine")
MILKS = ("oat", "almond", "soy", "lactose-free", "whole")
GEAR = ("a burr grinder", "a gooseneck kettle", "paper filters", "a travel mug", "a scale")
QUESTIONS = (
    "where is the nearest shop to {place}?",
    "what time does the {place} store open on sunday",
    "do you have {milk} milk for a {drink}?",
    "how much is a large {drink}",
    "which coffee would you recommend for {method}?",
    "is the {origin} {roast} roast good for {method}",
    "can I order {origin} beans online and pick them up at {place}?",
    "do you sell {gear}?",
    "is there wifi at the {place} cafe",
    "what does the {origin} coffee taste like",
)


def fill(template: str, rng: np.random.Generator) -> str:
    pick = {
        "place": PLACES, "drink": DRINKS, "origin": ORIGINS, "roast": ROASTS,
        "method": METHODS, "milk": MILKS, "gear": GEAR,
    }  # fmt: skip
    return template.format(**{key: rng.choice(values) for key, values in pick.items()})


def questions(n: int, rng: np.random.Generator) -> list[str]:
    return [fill(QUESTIONS[i % len(QUESTIONS)], rng) for i in range(n)]


def catalog(n: int, rng: np.random.Generator) -> list[str]:
    """Products and shops as ingestion embeds them: mostly 20 to 100 tokens, 1% past 256."""
    out = []
    for i in range(n):
        if i % 4 == 3:
            text = fill("Cymbal Coffee {place}. Open 7am to 7pm, weekends from 8am.", rng)
            milks = ", ".join(rng.choice(MILKS, 3, replace=False))
            out.append(f"{text} Seating, Wi-Fi, {milks} milk.")
            continue
        notes = ", ".join(rng.choice(NOTES, 3, replace=False))
        text = fill("{origin} single origin, {roast} roast. Best for {method}. ", rng)
        text += f"Tasting notes of {notes}. 250 g bag, ${rng.integers(9, 30)}.99."
        story = 40 if i % 100 == 0 else int(rng.integers(0, 8))
        out.append(text + " Grown at altitude, washed and sun dried." * story)
    return out


def load_ms() -> tuple[float, bool]:
    """The first embed of a fresh embedder, and whether this process had the model already."""
    embedder = LocalEmbedder()
    already = embedder.threads in local_embedder._loaded
    start = time.perf_counter()
    embedder.embed(["warm up"], "query")
    return (time.perf_counter() - start) * 1000, already


def throughput(embedder: LocalEmbedder, texts: list[str], runs: int = 3) -> float:
    """Texts per second of one `embed` call over all of `texts` (batches of BATCH_SIZE), median."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        embedder.embed(texts, "document")
        seconds.append(time.perf_counter() - start)
    return len(texts) / statistics.median(seconds)


def main() -> None:
    rng = np.random.default_rng(11)
    asks, items = questions(QUERIES, rng), catalog(CATALOG, rng)
    loaded_ms, already = load_ms()
    embedder = LocalEmbedder()
    it = iter(range(10**9))
    ours = time_calls(lambda: embedder.embed([asks[next(it) % QUERIES]], "query"), QUERIES)
    rate = throughput(embedder, items)

    reference = MiniLM()
    peer = time_calls(lambda: reference.embed([asks[next(it) % QUERIES]]), QUERIES)
    sample = asks[: AGREEMENT // 2] + items[: AGREEMENT // 2]
    cosines = np.sum(embedder.embed(sample, "document") * reference.embed(sample), axis=1)

    print(f"embedder: {LocalEmbedder.model_id}, {embedder.threads} intra-op threads  [{machine()}]")
    note = "  (already loaded in this process)" if already else ""
    print(f"  {'load: first embed of a fresh LocalEmbedder':<46} {loaded_ms:8.1f} ms{note}")
    print(row(f"int8 ONNX, 1 shopper question ({QUERIES} distinct)", ours))
    print(row("float32 numpy reference, same questions (peer)", peer))
    tokens = statistics.mean(len(e.ids) for e in reference.tokenizer.encode_batch(items))
    label = f"int8 ONNX, {CATALOG:,} catalog texts, batch {BATCH_SIZE}"
    print(f"  {label:<46} {rate:8.0f} texts/s   (mean {tokens:.0f} tokens)")
    print(
        f"  agreement int8 vs float32 over {len(sample)} texts: "
        f"mean cosine {cosines.mean():.5f}, min {cosines.min():.5f}"
    )
    ratio = statistics.median(ours) / statistics.median(peer)
    print(f"  ours / peer at p50: {ratio:.2f}x")


if __name__ == "__main__":
    main()

"""Our router against semantic-router (PyPI), in one process, on the same everything.

Same encoder (the offline MiniLM), same exemplars (shared/intent/routes.json), each tuned on
the same development set (data/intent/dev.jsonl: ours by `make calibrate`'s search, the peer
by its own `fit` plus the best confidence threshold for it on that set), and scored on the same
held-out set (tests/eval/routing_eval.jsonl). Decision time excludes embedding: every query is
embedded once beforehand and both routers get the vector for free (the peer through an
encoder that returns the precomputed vectors). A peer's "no route" counts as our default
route, as ours does with no model to ask.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import machine, row
from shared import wiring
from shared.ai import INTENTS
from shared.intent.evaluation import load_labelled, report
from shared.intent.exemplars import load_routes
from shared.intent.router import DEFAULT_INTENT

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "data" / "intent" / "dev.jsonl"
EVAL = ROOT / "tests" / "eval" / "routing_eval.jsonl"


def peer_router(vectors: dict[str, np.ndarray], dev: tuple[list[str], list[str]]) -> Any:
    """semantic-router's IndexedRouter (top-5 mean, its defaults) on our precomputed vectors."""
    from semantic_router import Route
    from semantic_router.encoders import DenseEncoder
    from semantic_router.routers import IndexedRouter

    class Precomputed(DenseEncoder):  # type: ignore[misc]
        name: str = "all-MiniLM-L6-v2-int8"

        def __call__(self, docs: list[Any]) -> list[list[float]]:
            return [vectors[d].tolist() for d in docs]

    examples = load_routes()
    routes = [
        Route(name=intent, utterances=[t for i, t in examples if i == intent]) for intent in INTENTS
    ]
    peer = IndexedRouter(encoder=Precomputed(), routes=routes)
    peer.fit(*dev)
    best = max(
        np.arange(0.0, 1.0, 0.02),
        key=lambda t: _accuracy(peer, *dev, threshold=float(t)),
    )
    peer.confidence_threshold = float(best)
    return peer


def _peer_intent(peer: Any, query: str, threshold: float | None = None) -> str:
    choice = peer(query, threshold=threshold)
    return choice.name or DEFAULT_INTENT


def _accuracy(peer: Any, queries: list[str], truth: list[str], threshold: float) -> float:
    picks = [_peer_intent(peer, q, threshold) for q in queries]
    return float(np.mean([p == t for p, t in zip(picks, truth, strict=True)]))


def alternating(
    ours: Any, peer: Any, vectors: dict[str, np.ndarray], queries: list[str], blocks: int = 6
) -> tuple[list[float], list[float]]:
    """Milliseconds per decision, in blocks of 400 calls that alternate between the two, so
    that drift of the machine weighs on both alike. (Not call by call: semantic-router's
    worker threads are still winding down after each call and would slow ours.)"""
    ours_ms: list[float] = []
    peer_ms: list[float] = []

    def block(decide: Any, out: list[float]) -> None:
        for i in range(450):
            q = queries[i % len(queries)]
            start = time.perf_counter()
            decide(q)
            if i >= 50:  # warm-up
                out.append((time.perf_counter() - start) * 1000)

    for _ in range(blocks):
        block(lambda q: ours.decide(vectors[q], q), ours_ms)
        block(peer, peer_ms)
    return ours_ms, peer_ms


def main() -> None:
    try:
        import semantic_router  # noqa: F401
    except ImportError:
        print("routing: semantic-router is not installed here; `make bench` installs it")
        return
    ours = wiring.get_intent_router()
    dev, held_out = load_labelled(DEV), load_labelled(EVAL)
    texts = list({*dev[0], *held_out[0], *(t for _, t in load_routes())})
    vectors = dict(zip(texts, ours.embedder.embed(texts, "query"), strict=True))
    peer = peer_router(vectors, dev)
    queries, truth = held_out
    ours_pred = [ours.decide(vectors[q], q).intent for q in queries]
    peer_pred = [_peer_intent(peer, q) for q in queries]
    ours_ms, peer_ms = alternating(ours, peer, vectors, queries)
    print(
        f"routing: {ours.embedder.model_id}, {len(ours.texts)} exemplars, "
        f"{len(queries)} held-out queries  [{machine()}]"
    )
    print(
        f"  accuracy  ours {report(truth, ours_pred).accuracy:.4f}   "
        f"semantic-router {report(truth, peer_pred).accuracy:.4f}"
    )
    print(row("ours: decision, embedding excluded", [m * 1000 for m in ours_ms], unit="us"))
    print(row("semantic-router: the same", [m * 1000 for m in peer_ms], unit="us"))
    ratio = statistics.median(ours_ms) / statistics.median(peer_ms)
    print(f"  ours / semantic-router at p50: {ratio:.3f} (1/{1 / ratio:.0f})")
    print(
        "\n  ours on the held-out set:\n  " + report(truth, ours_pred).table().replace("\n", "\n  ")
    )


if __name__ == "__main__":
    main()

"""Calibrate the router's thresholds on the labelled development set, for the configured
embedder, and write them into shared/intent/calibration.json (a new version for that model).

Usage: python -m scripts.calibrate_router [--dev FILE[=CATALOG_DIR] ...]   (make calibrate)

The development sets are pooled (by default: the coffee catalog's, the outdoor catalog's,
retail questions from twenty other domains, and everyday requests that have nothing to do
with a shop). A set given with its catalog directory also calibrates the catalog evidence
(shared/intent/evidence.py): how far a query naming the catalog's own things moves the head
towards a route.

Two deciders are fitted, and the better on the development set is kept:
- nearest-example voting: k (top-k mean), the dense/lexical blend, the margin and one threshold
  per route, searched on the development set;
- a linear head (shared/intent/head.py) trained on the exemplars and the development set. Its
  L2 penalty, word weight, margin and thresholds are chosen on out-of-fold probabilities (5-fold
  cross-validation over the development set), so its figure is for sentences it never saw;
  then it is trained on everything and written to shared/intent/heads/.
Accuracy counts the ambiguity band as resolved by the default route (what happens with no model
to ask). Among equally good values the search takes the middle one, the least likely to be on an
edge. The held-out set (tests/eval) is never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from shared import wiring
from shared.ai import INTENTS
from shared.catalog.profile import build_from_directory
from shared.intent.calibration import CALIBRATION_FILE, Calibration
from shared.intent.evaluation import load_labelled, report
from shared.intent.evidence import Evidence, evidence
from shared.intent.head import Head, save_head, train
from shared.intent.router import DEFAULT_INTENT, IntentRouter, undoubted
from shared.search.lexicon import Lexicon

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
DEV_SETS = (
    f"{ROOT / 'data' / 'intent' / 'dev.jsonl'}={SHARED_DATA / 'catalog'}",
    f"{ROOT / 'data' / 'outdoor-eval' / 'intent_dev.jsonl'}={SHARED_DATA / 'outdoor'}",
    f"{ROOT / 'data' / 'thirdparty' / 'pets-dev' / 'intent_dev.jsonl'}"
    f"={ROOT / 'data' / 'thirdparty' / 'pets'}",
    str(ROOT / "data" / "intent" / "neutral_dev.jsonl"),
    str(ROOT / "data" / "intent" / "offtopic_dev.jsonl"),
)
EVIDENCE_WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
THRESHOLDS = np.round(np.arange(0.0, 0.80, 0.01), 3)
MARGINS = np.round(np.arange(0.0, 0.15, 0.005), 3)
KS = (1, 2, 3, 4, 5, 8)
ALPHAS = (1.0, 0.8, 0.7, 0.6)
L2S = (3e-5, 1e-4, 3e-4)
LEXICAL_SCALES = (0.5, 1.0)
FOLDS = 5


def predict(
    scores: np.ndarray,
    thresholds: np.ndarray,
    margin: float,
    evidences: Sequence[Evidence] | None = None,
) -> np.ndarray:
    """Route indices for rows of per-route scores, ambiguity going where the router sends it
    offline: the route the catalog's words alone point at, else the default route."""
    order = np.argsort(-scores, axis=1)
    best, second = order[:, 0], order[:, 1]
    rows = np.arange(len(scores))
    top, runner = scores[rows, best], scores[rows, second]
    clear = (top >= thresholds[best]) & (top - runner >= margin)
    said: Sequence[Evidence | None] = evidences or [None] * len(scores)
    doubt = [INTENTS.index(undoubted(e)) for e in said]
    return np.where(clear, best, np.array(doubt, dtype=int))


def search(
    scores: np.ndarray, truth: np.ndarray, evidences: Sequence[Evidence] | None = None
) -> tuple[float, np.ndarray, float]:
    """Coordinate ascent over the margin and each route's threshold; returns the best found."""
    thresholds, margin = np.zeros(len(INTENTS)), 0.0

    def accuracy(t: np.ndarray, m: float) -> float:
        return float((predict(scores, t, m, evidences) == truth).mean())

    for _ in range(4):
        margin = _middle_best(MARGINS, [accuracy(thresholds, m) for m in MARGINS])
        for r in range(len(INTENTS)):
            if INTENTS[r] == DEFAULT_INTENT:
                continue  # a doubt resolves to it anyway: its own bar only hides "embedding"
            candidates = []
            for value in THRESHOLDS:
                trial = thresholds.copy()
                trial[r] = value
                candidates.append(accuracy(trial, margin))
            thresholds[r] = _middle_best(THRESHOLDS, candidates)
    return accuracy(thresholds, margin), thresholds, margin


def _middle_best(values: np.ndarray, scores: list[float]) -> float:
    best = max(scores)
    tied = [v for v, s in zip(values, scores, strict=True) if s == best]
    return float(tied[len(tied) // 2])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", action="append", help="FILE or FILE=CATALOG_DIR (repeatable)")
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args(argv)
    queries, intents, evidences = _labelled(args.dev or list(DEV_SETS))
    router = wiring.get_intent_router()
    model = router.embedder.model_id
    vectors = router.embedder.embed(queries, "query")
    truth = np.array([INTENTS.index(i) for i in intents])

    print("nearest-example voting, searched on the development set:")
    knn: tuple[float, int, float, np.ndarray, float] | None = None
    for alpha in ALPHAS:
        for k in KS:
            router.calibration = Calibration(k=k, alpha=alpha)
            scores = _scores(router, vectors, queries)
            acc, thresholds, margin = search(scores, truth, evidences)
            print(f"  alpha={alpha} k={k}: dev accuracy {acc:.4f}")
            if knn is None or acc > knn[0]:
                knn = (acc, k, alpha, thresholds, margin)
    assert knn is not None

    print(f"linear head, {FOLDS}-fold out-of-fold accuracy on the development set:")
    best: tuple[float, float, float, np.ndarray, float] | None = None
    for l2 in L2S:
        for scale in LEXICAL_SCALES:
            scores = _out_of_fold(router, vectors, queries, intents, l2, scale)
            acc, thresholds, margin = search(scores, truth, evidences)
            print(f"  l2={l2} lexical_scale={scale}: {acc:.4f}")
            if best is None or acc > best[0]:
                best = (acc, l2, scale, thresholds, margin)
    assert best is not None

    head: Head | None = None
    weights = (0.0, 0.0, 0.0)
    if best[0] >= knn[0]:
        acc, l2, scale, thresholds, margin = best
        oof = _out_of_fold(router, vectors, queries, intents, l2, scale)
        print("catalog evidence weights (product, place, named), on the same out-of-fold scores:")
        for a in EVIDENCE_WEIGHTS:
            for b in EVIDENCE_WEIGHTS:
                found = search(_weighed(oof, evidences, a, b, 0.0), truth, evidences)
                if found[0] > acc + 1e-9:
                    acc, thresholds, margin, weights = found[0], found[1], found[2], (a, b, 0.0)
        for c in EVIDENCE_WEIGHTS:  # a name on top, the other two as found
            found = search(_weighed(oof, evidences, weights[0], weights[1], c), truth, evidences)
            if found[0] > acc + 1e-9:
                acc, thresholds, margin = found[0], found[1], found[2]
                weights = (weights[0], weights[1], c)
        print(f"  kept {weights}: {acc:.4f}")
        texts, labels = [*router.texts, *queries], [*router.labels, *intents]
        head = train(
            np.vstack([router.matrix, vectors]), texts, labels, INTENTS, l2=l2, lexical_scale=scale
        )
        print(
            f"\nkept: the head (l2={l2}, lexical_scale={scale}) written to "
            f"{save_head(head, model, args.out.parent / 'heads')}"
        )
        calibration = _write(
            args.out, model, acc, knn[1], knn[2], thresholds, margin, head, weights
        )
    else:
        acc, k, alpha, thresholds, margin = knn
        print(f"\nkept: nearest-example voting (k={k}, alpha={alpha})")
        calibration = _write(args.out, model, acc, k, alpha, thresholds, margin, None)
    print(f"{model}: margin={calibration.margin}, thresholds={calibration.thresholds}")
    print(f"written to {args.out} as version {calibration.version}\n")
    if head is None:
        router.calibration = calibration
        decided = [
            INTENTS[i]
            for i in predict(
                _scores(router, vectors, queries),
                np.array([calibration.thresholds[r] for r in INTENTS]),
                calibration.margin,
                evidences,
            )
        ]
        print("on the development set (its own calibration set):")
    else:  # what the head said of each sentence while it was held out
        oof = _out_of_fold(router, vectors, queries, intents, best[1], best[2])
        oof = _weighed(oof, evidences, *weights)
        limits = np.array([calibration.thresholds[r] for r in INTENTS])
        decided = [INTENTS[i] for i in predict(oof, limits, calibration.margin, evidences)]
        print("on the development set, each sentence judged by a head that never saw it:")
    print(report(intents, decided).table())
    return 0


def _labelled(specs: list[str]) -> tuple[list[str], list[str], list[Evidence]]:
    """Every set's sentences and labels, and for those with a catalog, what its words say."""
    queries: list[str] = []
    intents: list[str] = []
    evidences: list[Evidence] = []
    for spec in specs:
        path, _, catalog = spec.partition("=")
        q, i = load_labelled(Path(path))
        lexicon = Lexicon.build(build_from_directory(Path(catalog))) if catalog else None
        evidences += [evidence(t, lexicon) if lexicon else Evidence() for t in q]
        queries += q
        intents += i
        print(
            f"{Path(path).name}: {len(q)} sentences" + (f", catalog {catalog}" if catalog else "")
        )
    return queries, intents, evidences


def _weighed(
    scores: np.ndarray, evidences: list[Evidence], a: float, b: float, c: float
) -> np.ndarray:
    """Head probabilities (INTENTS order) moved by the catalog evidence, as the router does."""
    logits = np.log(np.maximum(scores, 1e-9))
    logits[:, INTENTS.index("PRODUCT_RAG")] += a * np.array([e.product for e in evidences])
    logits[:, INTENTS.index("PRODUCT_RAG")] += c * np.array([e.named for e in evidences])
    logits[:, INTENTS.index("LOCATION_RAG")] += b * np.array([e.place for e in evidences])
    logits -= logits.max(axis=1, keepdims=True)
    weighed: np.ndarray = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return weighed


def _scores(router: IntentRouter, vectors: np.ndarray, queries: list[str]) -> np.ndarray:
    """(queries x routes) scores in INTENTS order."""
    rows = [router.scores(v, q)[0] for v, q in zip(vectors, queries, strict=True)]
    return np.array([[row[r] for r in INTENTS] for row in rows])


def _out_of_fold(
    router: IntentRouter,
    vectors: np.ndarray,
    queries: list[str],
    intents: list[str],
    l2: float,
    scale: float,
) -> np.ndarray:
    """Each development sentence scored by a head trained without its fold."""
    order = np.random.default_rng(0).permutation(len(queries))
    scores = np.zeros((len(queries), len(INTENTS)))
    for held in np.array_split(order, FOLDS):
        kept = np.setdiff1d(order, held)
        head = train(
            np.vstack([router.matrix, vectors[kept]]),
            [*router.texts, *(queries[i] for i in kept)],
            [*router.labels, *(intents[i] for i in kept)],
            INTENTS,
            l2=l2,
            lexical_scale=scale,
        )
        for i in held:
            scores[i] = head.probabilities(vectors[i], queries[i])
    return scores


def _write(
    path: Path,
    model: str,
    acc: float,
    k: int,
    alpha: float,
    thresholds: np.ndarray,
    margin: float,
    head: Head | None,
    weights: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> Calibration:
    data = json.loads(path.read_text()) if path.exists() else {"models": {}}
    previous = data["models"].get(model, {}).get("version", 0)
    calibration = Calibration(
        k=k,
        alpha=alpha,
        margin=round(margin, 4),
        thresholds={r: round(float(t), 4) for r, t in zip(INTENTS, thresholds, strict=True)},
        version=previous + 1,
        dev_accuracy=round(acc, 4),
        product_evidence=weights[0],
        place_evidence=weights[1],
        named_evidence=weights[2],
        head=head,
    )
    data["models"][model] = {**calibration.to_json(), "created": datetime.now(UTC).isoformat()}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return calibration


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Calibrate the router's thresholds on the labelled development set, for the configured
embedder, and write them into shared/routing/calibration.json (a new version for that model).

Usage: python -m scripts.calibrate_router [--dev data/routing/dev.jsonl]   (make calibrate)

The search maximises accuracy with the ambiguity band resolved by the default route (what
happens with no model to ask), over k (top-k mean), the margin and one threshold per route;
among equally good values it takes the middle one, the least likely to be on an edge.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from shared import wiring
from shared.ai.ports import INTENTS
from shared.routing.calibration import CALIBRATION_FILE, Calibration
from shared.routing.evaluation import load_labelled, report
from shared.routing.router import DEFAULT_INTENT

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = np.round(np.arange(0.0, 0.80, 0.01), 3)
MARGINS = np.round(np.arange(0.0, 0.15, 0.005), 3)
KS = (1, 2, 3, 4, 5, 8)
ALPHAS = (1.0, 0.8, 0.7, 0.6)


def predict(scores: np.ndarray, thresholds: np.ndarray, margin: float) -> np.ndarray:
    """Route indices for rows of per-route scores, ambiguity going to the default route."""
    order = np.argsort(-scores, axis=1)
    best, second = order[:, 0], order[:, 1]
    rows = np.arange(len(scores))
    top, runner = scores[rows, best], scores[rows, second]
    clear = (top >= thresholds[best]) & (top - runner >= margin)
    return np.where(clear, best, INTENTS.index(DEFAULT_INTENT))


def search(scores: np.ndarray, truth: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Coordinate ascent over the margin and each route's threshold; returns the best found."""
    thresholds, margin = np.zeros(len(INTENTS)), 0.0

    def accuracy(t: np.ndarray, m: float) -> float:
        return float((predict(scores, t, m) == truth).mean())

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
    parser.add_argument("--dev", type=Path, default=ROOT / "data" / "routing" / "dev.jsonl")
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args(argv)
    queries, intents = load_labelled(args.dev)
    router = wiring.get_router()
    model = router.embedder.model_id
    vectors = router.embedder.embed(queries, "query")
    truth = np.array([INTENTS.index(i) for i in intents])
    best: tuple[float, int, float, np.ndarray, float] | None = None
    for alpha in ALPHAS:
        for k in KS:
            router.calibration = Calibration(k=k, alpha=alpha)
            scores = np.array(
                [
                    [router.scores(v, q)[0][r] for r in INTENTS]
                    for v, q in zip(vectors, queries, strict=True)
                ]
            )
            acc, thresholds, margin = search(scores, truth)
            print(f"alpha={alpha} k={k}: dev accuracy {acc:.4f}")
            if best is None or acc > best[0]:
                best = (acc, k, alpha, thresholds, margin)
    assert best is not None
    acc, k, alpha, thresholds, margin = best
    calibration = _write(args.out, model, acc, k, alpha, thresholds, margin)
    router.calibration = calibration
    decided = [router.decide(v, q).intent for v, q in zip(vectors, queries, strict=True)]
    print(f"\n{model}: k={k}, alpha={alpha}, margin={margin}, thresholds={calibration.thresholds}")
    print(f"written to {args.out} as version {calibration.version}\n")
    print(report(intents, decided).table())
    return 0


def _write(
    path: Path, model: str, acc: float, k: int, alpha: float, thresholds: np.ndarray, margin: float
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
    )
    data["models"][model] = {**calibration.to_json(), "created": datetime.now(UTC).isoformat()}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return calibration


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The intent router: a trained linear head over the query's embedding and words (or, for a
model with no head yet, the top-k mean similarity per route), calibrated thresholds, and an
ambiguity band settled by the model or by the default. The nearest example of each route comes
from one matrix product against the exemplars."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from shared.ai import INTENTS, Embedder, Intent, ModelError, ModelUnavailable, TextGenerator
from shared.intent.calibration import Calibration
from shared.intent.lexical import Lexical
from shared.logs import fields

if TYPE_CHECKING:
    import numpy as np

    from shared.intent.evidence import Evidence

log = logging.getLogger("shared.intent")
Method = Literal["embedding", "llm", "default"]
DEFAULT_INTENT: Intent = "GENERAL_CONVERSATION"


@dataclass(frozen=True)
class Decision:
    intent: Intent
    confidence: float  # the head's probability (0..1), or the top-k mean similarity (-1..1)
    exemplar: str | None  # the nearest example of the chosen route
    method: Method
    scores: dict[str, float]


class IntentRouter:
    """Exemplars sorted by route, as rows of one unit-length matrix."""

    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[Intent],
        matrix: np.ndarray,
        calibration: Calibration,
        *,
        embedder: Embedder,
        generator: TextGenerator | None = None,
    ) -> None:
        import numpy as np

        order = sorted(range(len(texts)), key=lambda i: INTENTS.index(labels[i]))
        self.texts = [texts[i] for i in order]
        self.labels = [labels[i] for i in order]
        self.matrix = np.ascontiguousarray(matrix[order], dtype=np.float32)
        self.blocks = {r: _block(self.labels, r) for r in INTENTS if r in self.labels}
        longest = max(stop - start for start, stop in self.blocks.values())
        self._shortest = min(stop - start for start, stop in self.blocks.values())
        pad = len(self.texts)  # the index of the -inf appended to every query's similarities
        self._grid = np.array(
            [
                list(range(start, stop)) + [pad] * (longest - (stop - start))
                for start, stop in self.blocks.values()
            ]
        )
        self.calibration = calibration
        self.lexical = Lexical(self.texts)

        self.embedder = embedder
        self.generator = generator

    @property
    def calibration(self) -> Calibration:
        return self._calibration

    @calibration.setter
    def calibration(self, calibration: Calibration) -> None:
        head = calibration.head
        self._head_order = [head.routes.index(r) for r in self.blocks] if head else []
        self._calibration = calibration

    def route(self, text: str, evidence: Evidence | None = None) -> Decision:
        """Embed the text (as a query) and decide."""
        return self.decide(self.embedder.embed([text], "query")[0], text, evidence)

    def decide(self, vector: np.ndarray, text: str, evidence: Evidence | None = None) -> Decision:
        """Decide from a query vector already made (a chat turn embeds its text once), and what
        the catalog's own words in it point at."""
        means, best_rows = self._score_rows(vector, text, evidence)
        values = means.tolist()
        routes: list[str] = list(self.blocks)
        order = sorted(range(len(values)), key=values.__getitem__, reverse=True)
        best, top = routes[order[0]], values[order[0]]
        runner_up = values[order[1]] if len(order) > 1 else -1.0
        scores = dict(zip(routes, values, strict=True))
        cal = self.calibration
        if top >= cal.thresholds.get(best, 0.0) and top - runner_up >= cal.margin:
            exemplar = self.texts[int(best_rows[order[0]])]
            return Decision(best, top, exemplar, "embedding", scores)  # type: ignore[arg-type]  # a route name is an Intent
        nearest = {r: self.texts[i] for r, i in zip(routes, best_rows.tolist(), strict=True)}
        return self._ambiguous(text, scores, nearest, evidence)

    def scores(
        self, vector: np.ndarray, text: str, evidence: Evidence | None = None
    ) -> tuple[dict[str, float], dict[str, str]]:
        """Per route: its score (the head's probability, or the mean of its k best
        similarities), and its nearest example."""
        means, best_rows = self._score_rows(vector, text, evidence)
        routes: list[str] = list(self.blocks)
        scores = dict(zip(routes, means.tolist(), strict=True))
        nearest = {r: self.texts[i] for r, i in zip(routes, best_rows.tolist(), strict=True)}
        return scores, nearest

    def _score_rows(
        self, vector: np.ndarray, text: str, evidence: Evidence | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """All routes at once: similarities gathered into one (routes x longest block) array,
        padded with -inf, one argmax for the nearest example of each route, and the scores:
        the head's probabilities, or one partition for the top-k mean."""
        import numpy as np

        cal = self.calibration
        alpha = cal.alpha
        n = len(self.texts)
        sims = np.empty(n + 1, dtype=np.float32)
        sims[n] = -np.inf  # what the padding of shorter routes points at
        np.matmul(self.matrix, vector, out=sims[:n])
        if cal.head is not None:
            grid = sims[self._grid]
            nearest = self._grid[np.arange(len(grid)), grid.argmax(axis=1)]
            probabilities = cal.head.probabilities(vector, text)
            if evidence is not None and (evidence.product or evidence.place):
                probabilities = _weigh(probabilities, cal.head.routes, evidence, cal)
            return probabilities[self._head_order], nearest
        if alpha < 1.0:
            sims[:n] *= alpha
            sims[:n] += (1.0 - alpha) * self.lexical.similarities(text)
        grid = sims[self._grid]
        k = min(self.calibration.k, self._shortest)
        top = np.partition(grid, grid.shape[1] - k, axis=1)[:, -k:]
        return top.mean(axis=1), self._grid[np.arange(len(grid)), grid.argmax(axis=1)]

    def _ambiguous(
        self,
        text: str,
        scores: dict[str, float],
        nearest: dict[str, str],
        evidence: Evidence | None = None,
    ) -> Decision:
        """Too low, or too close to call: the model settles it when there is one; without one,
        the catalog's own words do when they point one way, else the default route."""
        generator = self.generator
        if generator is not None and generator.can_classify:
            try:
                label = generator.classify(text, list(INTENTS))
            except (ModelUnavailable, ModelError) as e:
                log.warning("classification failed", extra=fields(error=type(e).__name__))
            else:
                intent: Intent = label  # type: ignore[assignment]  # classify returns a label
                return Decision(intent, scores.get(intent, 0.0), nearest.get(intent), "llm", scores)
        fallback = undoubted(evidence)
        return Decision(fallback, scores.get(fallback, 0.0), None, "default", scores)


def undoubted(evidence: Evidence | None) -> Intent:
    """The route a doubt falls to with no model to settle it: where the query names only what
    the catalog sells (a product's bare name, a category and a value), a product
    question; only its places, a shop question; else (both, or neither) the default route."""
    if evidence is not None and evidence.product != evidence.place:
        return "PRODUCT_RAG" if evidence.product else "LOCATION_RAG"
    return DEFAULT_INTENT


def _weigh(
    probabilities: np.ndarray, routes: Sequence[str], evidence: Evidence, cal: Calibration
) -> np.ndarray:
    """The head's probabilities moved towards the routes the catalog's words point at."""
    import numpy as np

    logits = np.log(np.maximum(probabilities, 1e-9))
    if evidence.product:
        logits[routes.index("PRODUCT_RAG")] += cal.product_evidence
    if evidence.named:
        logits[routes.index("PRODUCT_RAG")] += cal.named_evidence
    if evidence.place:
        logits[routes.index("LOCATION_RAG")] += cal.place_evidence
    logits -= logits.max()
    weighed: np.ndarray = np.exp(logits) / np.exp(logits).sum()
    return weighed


def _block(labels: Sequence[str], route: str) -> tuple[int, int]:
    start = labels.index(route)
    return start, start + labels.count(route)

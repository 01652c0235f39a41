"""The intent router: one matrix product against the exemplars, top-k mean per route,
calibrated thresholds, and an ambiguity band settled by the model or by the default."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from shared.ai.ports import INTENTS, Embedder, Generator, Intent, ModelError, ModelUnavailable
from shared.logs import fields
from shared.routing.calibration import Calibration

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("shared.routing")
Method = Literal["embedding", "llm", "default"]
DEFAULT_INTENT: Intent = "GENERAL_CONVERSATION"


@dataclass(frozen=True)
class Decision:
    intent: Intent
    confidence: float  # the winning route's top-k mean similarity (cosine, -1..1)
    exemplar: str | None  # the nearest example of the chosen route
    method: Method
    scores: dict[str, float]


class Router:
    """Exemplars sorted by route, as rows of one unit-length matrix."""

    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[Intent],
        matrix: np.ndarray,
        calibration: Calibration,
        *,
        embedder: Embedder,
        generator: Generator | None = None,
    ) -> None:
        import numpy as np

        order = sorted(range(len(texts)), key=lambda i: INTENTS.index(labels[i]))
        self.texts = [texts[i] for i in order]
        self.labels = [labels[i] for i in order]
        self.matrix = np.ascontiguousarray(matrix[order], dtype=np.float32)
        self.blocks = {r: _block(self.labels, r) for r in INTENTS if r in self.labels}
        self.calibration = calibration
        self.embedder = embedder
        self.generator = generator

    def route(self, text: str) -> Decision:
        """Embed the text (as a query) and decide."""
        return self.decide(self.embedder.embed([text], "query")[0], text)

    def decide(self, vector: np.ndarray, text: str) -> Decision:
        """Decide from a query vector already made (a chat turn embeds its text once)."""
        scores, nearest = self.scores(vector)
        ranked = sorted(scores, key=scores.__getitem__, reverse=True)
        best = ranked[0]
        runner_up = scores[ranked[1]] if len(ranked) > 1 else -1.0
        cal = self.calibration
        if scores[best] >= cal.thresholds.get(best, 0.0) and scores[best] - runner_up >= cal.margin:
            return Decision(best, scores[best], nearest[best], "embedding", scores)  # type: ignore[arg-type]
        return self._ambiguous(text, scores, nearest)

    def scores(self, vector: np.ndarray) -> tuple[dict[str, float], dict[str, str]]:
        """Per route: the mean of its k best similarities, and its nearest example."""
        import numpy as np

        sims = self.matrix @ vector
        k = self.calibration.k
        scores: dict[str, float] = {}
        nearest: dict[str, str] = {}
        for route, (start, stop) in self.blocks.items():
            block = sims[start:stop]
            top = block if len(block) <= k else np.partition(block, len(block) - k)[-k:]
            scores[route] = float(top.mean())
            nearest[route] = self.texts[start + int(block.argmax())]
        return scores, nearest

    def _ambiguous(self, text: str, scores: dict[str, float], nearest: dict[str, str]) -> Decision:
        """Too low, or too close to call: the model settles it when there is one."""
        generator = self.generator
        if generator is not None and generator.can_classify:
            try:
                label = generator.classify(text, list(INTENTS))
            except (ModelUnavailable, ModelError) as e:
                log.warning("classification failed", extra=fields(error=type(e).__name__))
            else:
                intent: Intent = label  # type: ignore[assignment]  # classify returns a label
                return Decision(intent, scores.get(intent, 0.0), nearest.get(intent), "llm", scores)
        return Decision(DEFAULT_INTENT, scores.get(DEFAULT_INTENT, 0.0), None, "default", scores)


def _block(labels: Sequence[str], route: str) -> tuple[int, int]:
    start = labels.index(route)
    return start, start + labels.count(route)

"""A trained linear head over the query's embedding and its words: softmax regression fitted by
`make calibrate` on the exemplars and the labelled development set, stored as JSON per model.

Nearest-example voting only compares a query with the exemplars one by one; the head learns
which directions of the embedding and which words (\"stock\", \"open\", \"thanks\") tell the
routes apart, from every labelled sentence at once. Deciding is one (routes x dimension)
product plus a gather of the query's few known words.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.intent.lexical import features

if TYPE_CHECKING:
    import numpy as np

HEADS_DIR = Path(__file__).with_name("heads")


@dataclass(frozen=True)
class Head:
    routes: tuple[str, ...]
    vocabulary: dict[str, int]
    dense: np.ndarray  # (dimension, routes)
    lexical: np.ndarray  # (vocabulary, routes)
    bias: np.ndarray  # (routes,)
    lexical_scale: float

    def probabilities(self, vector: np.ndarray, text: str) -> np.ndarray:
        import numpy as np

        logits = vector @ self.dense + self.bias
        cols, values = lexical_features(text, self.vocabulary)
        if cols:
            logits = logits + (self.lexical_scale * np.asarray(values)) @ self.lexical[cols]
        logits = logits - logits.max()
        exp = np.exp(logits)
        result: np.ndarray = exp / exp.sum()
        return result

    def to_json(self) -> dict[str, Any]:
        words = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {
            "routes": list(self.routes),
            "lexical_scale": self.lexical_scale,
            "bias": _rounded(self.bias.tolist()),
            "dense": [_rounded(row) for row in self.dense.tolist()],
            "lexical": {w: _rounded(self.lexical[self.vocabulary[w]].tolist()) for w in words},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Head:
        import numpy as np

        words = list(data["lexical"])
        lexical = np.array([data["lexical"][w] for w in words], dtype=np.float32)
        return cls(
            routes=tuple(data["routes"]),
            vocabulary={w: i for i, w in enumerate(words)},
            dense=np.array(data["dense"], dtype=np.float32),
            lexical=lexical.reshape(len(words), len(data["routes"])),
            bias=np.array(data["bias"], dtype=np.float32),
            lexical_scale=float(data["lexical_scale"]),
        )


def lexical_features(text: str, vocabulary: dict[str, int]) -> tuple[list[int], list[float]]:
    """The text's known words and word pairs, log-damped counts, unit length."""
    counts = Counter(f for f in features(text) if f in vocabulary)
    if not counts:
        return [], []
    values = [math.log1p(n) for n in counts.values()]
    norm = math.sqrt(sum(v * v for v in values))
    return [vocabulary[f] for f in counts], [v / norm for v in values]


def train(
    vectors: np.ndarray,
    texts: Sequence[str],
    labels: Sequence[str],
    routes: Sequence[str],
    *,
    l2: float,
    lexical_scale: float,
    iterations: int = 600,
) -> Head:
    """Softmax regression with an L2 penalty, full-batch Adam: deterministic for its inputs."""
    import numpy as np

    vocabulary = {f: i for i, f in enumerate(sorted({f for t in texts for f in features(t)}))}
    lex = np.zeros((len(texts), len(vocabulary)))
    for row, text in enumerate(texts):
        cols, values = lexical_features(text, vocabulary)
        lex[row, cols] = values
    x = np.hstack([np.asarray(vectors, dtype=np.float64), lexical_scale * lex])
    y = np.eye(len(routes))[[routes.index(label) for label in labels]]
    n, d = x.shape
    w, b = np.zeros((d, len(routes))), np.zeros(len(routes))
    moments = [np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)]
    rate, beta1, beta2 = 0.05, 0.9, 0.999
    for step in range(1, iterations + 1):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - y) / n
        for param, g, m, v in (
            (w, x.T @ grad + l2 * w, moments[0], moments[1]),
            (b, grad.sum(axis=0), moments[2], moments[3]),
        ):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            param -= rate * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + 1e-8)
    dim = np.asarray(vectors).shape[1]
    return Head(
        routes=tuple(routes),
        vocabulary=vocabulary,
        dense=w[:dim].astype(np.float32),
        lexical=w[dim:].astype(np.float32),
        bias=b.astype(np.float32),
        lexical_scale=lexical_scale,
    )


def head_path(model_id: str, directory: Path = HEADS_DIR) -> Path:
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in model_id)
    return directory / f"{safe}.json"


def load_head(model_id: str, directory: Path = HEADS_DIR) -> Head | None:
    path = head_path(model_id, directory)
    if not path.exists():
        return None
    return Head.from_json(json.loads(path.read_text()))


def save_head(head: Head, model_id: str, directory: Path = HEADS_DIR) -> Path:
    path = head_path(model_id, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(head.to_json(), separators=(",", ":")) + "\n")
    return path


def _rounded(values: list[float]) -> list[float]:
    return [float(f"{v:.5g}") for v in values]

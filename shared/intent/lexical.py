"""Word and word-pair overlap (TF-IDF cosine) with each example: names of shops, cities and
products weigh in where the dense embedding blurs them."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shared.text import tokens

if TYPE_CHECKING:
    import numpy as np

_WORD = re.compile(r"[a-z0-9']+")


def features(text: str) -> list[str]:
    words = tokens(text, _WORD)
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


class Lexical:
    """TF-IDF of the examples (rows unit length), vocabulary from the examples, stored by
    feature: a query gathers the few rows of its own features."""

    def __init__(self, texts: Sequence[str]) -> None:
        import numpy as np

        df = Counter(f for t in texts for f in set(features(t)))
        self.size = len(texts)
        self.index = {f: i for i, f in enumerate(df)}
        self._idf = [math.log((1 + len(texts)) / (1 + df[f])) + 1 for f in df]
        by_feature = np.zeros((len(df), len(texts)), dtype=np.float32)
        for r, text in enumerate(texts):
            for f, n in Counter(features(text)).items():
                by_feature[self.index[f], r] = n * self._idf[self.index[f]]
        norms = np.linalg.norm(by_feature, axis=0)
        self._by_feature = by_feature / np.where(norms > 0, norms, 1)

    def similarities(self, text: str) -> np.ndarray:
        """Cosine of the text's TF-IDF vector with every example (0 where nothing is shared).
        Plain Python for the few features of one query: cheaper than numpy's call overhead."""
        import numpy as np

        weights: dict[int, float] = {}
        for f in features(text):
            col = self.index.get(f)
            if col is not None:
                weights[col] = weights.get(col, 0.0) + self._idf[col]
        if not weights:
            return np.zeros(self.size, dtype=np.float32)
        count = len(weights)
        cols = np.fromiter(weights.keys(), dtype=np.intp, count=count)
        query = np.fromiter(weights.values(), dtype=np.float32, count=count)
        sims: np.ndarray = query @ self._by_feature[cols]
        sims *= 1.0 / math.sqrt(sum(w * w for w in weights.values()))
        return sims

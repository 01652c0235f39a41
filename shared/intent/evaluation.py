"""Labelled sets for routing: loading, accuracy, a confusion matrix, precision and recall."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.ai import INTENTS


def load_labelled(path: Path) -> tuple[list[str], list[str]]:
    """(queries, intents) from JSON Lines of {"query", "intent"}."""
    queries, intents = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["intent"] not in INTENTS:
            raise ValueError(f"{path.name}:{number}: unknown intent {row['intent']!r}")
        queries.append(row["query"])
        intents.append(row["intent"])
    return queries, intents


@dataclass(frozen=True)
class Report:
    accuracy: float
    confusion: dict[str, dict[str, int]]  # true intent -> predicted intent -> count
    precision: dict[str, float]
    recall: dict[str, float]

    def table(self) -> str:
        """The confusion matrix and per-route precision/recall, for people."""
        short = {i: i.split("_")[0][:8] for i in INTENTS}
        head = "true \\ predicted".ljust(22) + "".join(short[i].rjust(10) for i in INTENTS)
        lines = [head + "   precision  recall"]
        for t in INTENTS:
            row = "".join(str(self.confusion[t][p]).rjust(10) for p in INTENTS)
            lines.append(f"{t:<22}{row}   {self.precision[t]:9.3f} {self.recall[t]:7.3f}")
        lines.append(f"accuracy {self.accuracy:.4f} over {self._total()} queries")
        return "\n".join(lines)

    def _total(self) -> int:
        return sum(sum(row.values()) for row in self.confusion.values())


def report(truth: Sequence[str], predicted: Sequence[str]) -> Report:
    confusion: dict[str, dict[str, int]] = {t: dict.fromkeys(INTENTS, 0) for t in INTENTS}
    for t, p in zip(truth, predicted, strict=True):
        confusion[t][p] += 1
    precision: dict[str, float] = {}
    recall: dict[str, float] = {}
    for i in INTENTS:
        said = sum(confusion[t][i] for t in INTENTS)
        real = sum(confusion[i].values())
        precision[i] = confusion[i][i] / said if said else 0.0
        recall[i] = confusion[i][i] / real if real else 0.0
    hits = sum(confusion[i][i] for i in INTENTS)
    return Report(hits / max(1, len(truth)), confusion, precision, recall)

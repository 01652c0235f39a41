"""Per-model routing thresholds, written by `make calibrate` into calibration.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.intent.head import Head

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@dataclass(frozen=True)
class Calibration:
    """A route wins outright when its score reaches its threshold and leads the next by
    `margin`; anything else is ambiguous. With a trained head the scores are its probabilities;
    without one, each route's top-k mean similarity to its examples."""

    k: int = 3
    margin: float = 0.03
    alpha: float = 1.0  # weight of the dense similarity; the rest is lexical (TF-IDF)
    thresholds: dict[str, float] = field(default_factory=dict)
    version: int = 0  # 0: not calibrated for this model, the defaults above
    dev_accuracy: float | None = None
    # Added to a route's log-probability when the catalog's own words in the query point at it
    # (shared/intent/evidence.py): chosen with the head on the catalogs' development sets.
    product_evidence: float = 0.0
    place_evidence: float = 0.0
    named_evidence: float = 0.0  # a product or brand of the catalog named, on top of product
    head: Head | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "head": self.head is not None,
            "k": self.k,
            "margin": self.margin,
            "alpha": self.alpha,
            "thresholds": self.thresholds,
            "version": self.version,
            "dev_accuracy": self.dev_accuracy,
            "product_evidence": self.product_evidence,
            "place_evidence": self.place_evidence,
            "named_evidence": self.named_evidence,
        }


def load_calibration(model_id: str, path: Path = CALIBRATION_FILE) -> Calibration:
    """The calibration made for this embedding model, or the defaults when there is none."""
    try:
        entry = json.loads(path.read_text())["models"].get(model_id)
    except FileNotFoundError:
        entry = None
    if entry is None:
        return Calibration()
    head = None
    if entry.get("head"):
        from shared.intent.head import load_head

        head = load_head(model_id, path.parent / "heads")
        if head is None:
            raise FileNotFoundError(f"calibration.json names a head for {model_id}; it is missing")
    return Calibration(
        k=int(entry["k"]),
        margin=float(entry["margin"]),
        alpha=float(entry.get("alpha", 1.0)),
        thresholds={k: float(v) for k, v in entry["thresholds"].items()},
        version=int(entry["version"]),
        dev_accuracy=entry.get("dev_accuracy"),
        product_evidence=float(entry.get("product_evidence", 0.0)),
        place_evidence=float(entry.get("place_evidence", 0.0)),
        named_evidence=float(entry.get("named_evidence", 0.0)),
        head=head,
    )

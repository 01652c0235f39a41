"""`make calibrate` (scripts/calibrate_router.py) scores thresholds with the decision rule the
router uses: a clear route wins; a doubt goes where the router sends it offline."""

from __future__ import annotations

import numpy as np

from scripts.calibrate_router import predict
from shared.ai import INTENTS
from shared.intent.evidence import Evidence
from shared.intent.router import undoubted

P, L, G = (INTENTS.index(r) for r in ("PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"))


def row(product: float, location: float, general: float) -> list[float]:
    values = {P: product, L: location, G: general}
    return [values[i] for i in range(len(INTENTS))]


def test_a_doubt_is_scored_where_the_router_sends_it_offline() -> None:
    scores = np.array([row(0.9, 0.05, 0.05)] + [row(0.4, 0.2, 0.4)] * 4)
    said = [Evidence(), Evidence(product=True), Evidence(place=True),
            Evidence(product=True, place=True), Evidence()]  # fmt: skip
    thresholds, margin = np.full(len(INTENTS), 0.5), 0.1
    decided = predict(scores, thresholds, margin, said)
    assert decided.tolist() == [P, P, L, G, G]
    assert decided[1:].tolist() == [INTENTS.index(undoubted(e)) for e in said[1:]]
    # with no evidence given, every doubt goes to the default route
    assert predict(scores, thresholds, margin).tolist() == [P, G, G, G, G]

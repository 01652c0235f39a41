"""Routing accuracy on the held-out set (never the exemplars, never the calibration set),
with the offline embedder and no model to settle doubts: the harshest way it runs."""

from __future__ import annotations

from pathlib import Path

from shared import wiring
from shared.catalog.profile import build_from_directory
from shared.intent.evaluation import load_labelled, report
from shared.intent.evidence import evidence
from shared.search.lexicon import Lexicon

EVAL = Path(__file__).with_name("routing_eval.jsonl")
DEV = Path(__file__).resolve().parents[2] / "data" / "intent" / "dev.jsonl"
COFFEE = Path(__file__).resolve().parents[3] / "shared" / "data" / "catalog"
# Measured 0.954 (2026-11-30) by a head that knew only this catalog; 0.929 (2026-12-06) by the
# domain-neutral head that also keeps everyday requests out (0.963 of them, was 0.877) and
# reads the catalog's own words from its profile, as the chat does; 0.929 again with
# calibration v10 (the pets development set pooled in); 0.933 once a "you" asked for opening
# hours counts as naming one of the catalog's shops (2026-12-07); 0.942 with calibration v11, a
# doubt offline following the catalog's words. The target is 0.95.
MIN_ACCURACY = 0.92
MIN_RECALL = 0.80  # no route may be starved to lift the others


def test_routing_accuracy_on_the_held_out_set() -> None:
    router = wiring.get_intent_router()
    queries, truth = load_labelled(EVAL)
    vectors = router.embedder.embed(queries, "query")
    lexicon = Lexicon.build(build_from_directory(COFFEE))  # the catalog the set was written for
    decided = [
        router.decide(v, q, evidence(q, lexicon)) for v, q in zip(vectors, queries, strict=True)
    ]
    result = report(truth, [d.intent for d in decided])
    print("\n" + result.table())
    assert {d.method for d in decided} <= {"embedding", "default"}  # offline: no model asked
    assert result.accuracy >= MIN_ACCURACY
    assert min(result.recall.values()) >= MIN_RECALL


def test_the_three_sets_never_share_a_sentence() -> None:
    from shared.intent.exemplars import load_routes

    def norm(text: str) -> str:
        return " ".join(text.lower().split())

    exemplars = {norm(t) for _, t in load_routes()}
    dev = {norm(q) for q in load_labelled(DEV)[0]}
    held_out = {norm(q) for q in load_labelled(EVAL)[0]}
    assert not exemplars & dev and not exemplars & held_out and not dev & held_out

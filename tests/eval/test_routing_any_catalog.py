"""Routing for any catalog: the outdoor catalog's held-out queries (its own words weigh in
through its profile; no outdoor sentence was ever an exemplar), retail questions from ten
domains no set or exemplar covers, and everyday requests that have nothing to do with a shop.
Offline embedder, no model to settle doubts: the harshest way it runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared import wiring
from shared.catalog.profile import build_from_directory
from shared.intent.evaluation import load_labelled, report
from shared.intent.evidence import Evidence, evidence
from shared.intent.exemplars import load_routes
from shared.search.lexicon import Lexicon

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
OUTDOOR = ROOT.parent / "shared" / "data" / "outdoor"
COFFEE = ROOT.parent / "shared" / "data" / "catalog"
HELD_OUT = {
    "outdoor": (ROOT / "data" / "outdoor-eval" / "intent_heldout.jsonl", OUTDOOR),
    "coffee": (HERE / "routing_eval.jsonl", COFFEE),
    "ten other domains": (HERE / "intent_neutral_heldout.jsonl", None),
    "hearth": (
        ROOT / "data" / "thirdparty" / "hearth-eval" / "intent_heldout.jsonl",
        ROOT / "data" / "thirdparty" / "hearth",
    ),
}
DEV = [
    ROOT / "data" / "intent" / "dev.jsonl",
    ROOT / "data" / "intent" / "neutral_dev.jsonl",
    ROOT / "data" / "intent" / "offtopic_dev.jsonl",
    ROOT / "data" / "outdoor-eval" / "intent_dev.jsonl",
]
OFF_TOPIC = HERE / "offtopic_heldout.jsonl"
# measured 2026-12-06 (docs/intent.md): outdoor 0.960, coffee 0.929, ten other domains 0.964 (0.951
# with calibration v10),
# hearth (a third catalog written by an outsider from catalog_format.md alone) 0.958, everyday
# requests 0.963 / 0.958 kept general; each bound a little under its measure. 2026-12-07,
# calibration v11 (a doubt offline follows the catalog's words): outdoor 0.960, coffee 0.942,
# ten domains 0.951, hearth 0.963, everyday requests 0.968 / 0.963 (docs/intent.md)
MIN_ACCURACY = {"outdoor": 0.94, "coffee": 0.92, "ten other domains": 0.94, "hearth": 0.94}
MIN_OFF_TOPIC = 0.95


def decide(queries: list[str], catalog: Path | None) -> list[str]:
    router = wiring.get_intent_router()
    lexicon = Lexicon.build(build_from_directory(catalog)) if catalog else None
    vectors = router.embedder.embed(queries, "query")
    decided = []
    for v, q in zip(vectors, queries, strict=True):
        said = evidence(q, lexicon) if lexicon else Evidence()
        decided.append(router.decide(v, q, said))
    assert {d.method for d in decided} <= {"embedding", "default"}  # offline: no model asked
    return [d.intent for d in decided]


@pytest.mark.parametrize("name", list(HELD_OUT))
def test_held_out_accuracy_with_the_catalogs_own_words(name: str) -> None:
    path, catalog = HELD_OUT[name]
    queries, truth = load_labelled(path)
    result = report(truth, decide(queries, catalog))
    print(f"\n{name}: {len(queries)} queries\n" + result.table())
    assert result.accuracy >= MIN_ACCURACY[name]
    assert min(result.recall.values()) >= 0.8


def test_everyday_requests_stay_out_of_the_catalog() -> None:
    queries, truth = load_labelled(OFF_TOPIC)
    assert set(truth) == {"GENERAL_CONVERSATION"} and len(queries) >= 400
    for catalog in (COFFEE, OUTDOOR):  # whatever catalog is loaded
        decided = decide(queries, catalog)
        share = decided.count("GENERAL_CONVERSATION") / len(decided)
        print(f"\n{catalog.name}: {share:.3f} of {len(queries)} everyday requests stay general")
        assert share >= MIN_OFF_TOPIC


def test_no_held_out_sentence_is_an_exemplar_or_a_development_sentence() -> None:
    """Held-out sets share nothing with what tuning saw (exemplars, development sets), nor
    exemplars with development sets (development sets may share a "yo" among themselves)."""

    def norm(text: str) -> str:
        return " ".join(text.lower().split())

    def read(path: Path) -> set[str]:
        return {norm(json.loads(x)["query"]) for x in path.read_text().splitlines() if x}

    exemplars = {norm(t) for _, t in load_routes()}
    seen = exemplars | set().union(*map(read, DEV))
    for dev in DEV:
        assert not exemplars & read(dev), dev.name
    for path in [*(p for p, _ in HELD_OUT.values()), OFF_TOPIC]:
        assert not seen & read(path), (path.name, sorted(seen & read(path))[:3])

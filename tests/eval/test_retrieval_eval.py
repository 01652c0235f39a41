"""Retrieval quality on the benchmark catalog (../shared/data/catalog), with the offline
embedder, on held-out labelled queries that tuning never used (tuning: data/retrieval/dev.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.eval_retrieval import BENCHMARK, DenseOnly, evaluate, load_catalog
from shared import wiring
from shared.search.retrieval import Retriever
from shared.store.sqlite_store import SqliteStore

EVAL = Path(__file__).with_name("retrieval_eval.jsonl")
MIN_HIT_AT_5 = 0.93  # measured 0.971 (2026-11-30); 0.971 from the catalog profile (2026-12-06)
MIN_MRR = 0.85  # measured 0.913; 0.912
MIN_EMPTY_WHEN_UNANSWERABLE = 0.3  # measured 0.40, then 0.50: "nothing" is hard to tell
MIN_PRECISION = 0.75  # of the sources a turn shows; measured 0.733, then 0.774 with named shops


def test_hit_at_5_and_mrr_on_the_benchmark_catalog() -> None:
    assert BENCHMARK.is_dir(), f"the benchmark catalog is expected at {BENCHMARK}"
    store = SqliteStore()
    load_catalog(store, BENCHMARK)
    rows = [json.loads(line) for line in EVAL.read_text().splitlines() if line.strip()]
    scores = evaluate(Retriever(store, wiring.get_embedder()), rows)
    empty = scores.empty_when_unanswerable
    print(f"\nhit@5 {scores.hit_at_5:.3f}  MRR {scores.mrr:.3f}  empty {empty:.2f}")
    print("\n".join(scores.misses))
    assert scores.answerable >= 100 and scores.unanswerable >= 8
    assert scores.hit_at_5 >= MIN_HIT_AT_5
    assert scores.mrr >= MIN_MRR
    assert scores.empty_when_unanswerable >= MIN_EMPTY_WHEN_UNANSWERABLE
    assert scores.precision >= MIN_PRECISION


OUTDOOR = BENCHMARK.parent / "outdoor"
ROOT = Path(__file__).resolve().parents[2]
OUTDOOR_EVAL = ROOT / "data" / "outdoor-eval"


HEARTH = ROOT / "data" / "thirdparty" / "hearth"
PETS = ROOT / "data" / "thirdparty" / "pets"
# catalog, its labelled set, and the least hit@5, MRR and precision: a little under what was
# measured, on sets written by outsiders before (outdoor) or without (hearth) any tuning on
# them. Measured 2026-12-06: outdoor 0.924 / 0.889 / 0.736 (dense search alone 0.889 / 0.737 /
# 0.368); hearth, a home-and-kitchen store written from catalog_format.md alone, 0.876 / 0.821 /
# 0.662 (dense 0.857 / 0.743 / 0.384). Then, once amounts were read against ranges and guessed
# attributes only ranked (tuned on the pets development set, written by an outsider for this):
# outdoor 0.951 / 0.912 / 0.732, hearth 0.943 / 0.888 / 0.718. The pets set is a development
# set (0.863 -> 0.979 / 0.927 / 0.625, dense 0.926 / 0.801 / 0.356): it is here so that a change
# that loses what was tuned on it is seen, not as a measure.
OTHER_CATALOGS = {
    "outdoor": (OUTDOOR, OUTDOOR_EVAL / "retrieval_heldout.jsonl", 0.93, 0.88, 0.70),
    "hearth": (HEARTH, HEARTH.with_name("hearth-eval") / "retrieval_heldout.jsonl",
               0.92, 0.85, 0.68),
    "pets (dev)": (PETS, PETS.with_name("pets-dev") / "retrieval_dev.jsonl", 0.95, 0.90, 0.60),
}  # fmt: skip


@pytest.mark.parametrize("name", list(OTHER_CATALOGS))
def test_other_catalogs_with_no_code_of_theirs_beat_plain_dense_search(name: str) -> None:
    """Nothing in shared/ names these domains. The baseline is the same embeddings' five
    nearest records, nothing else."""
    directory, held_out, least_hit, least_mrr, least_precision = OTHER_CATALOGS[name]
    store = SqliteStore()
    load_catalog(store, directory)
    rows = [json.loads(x) for x in held_out.read_text().splitlines() if x.strip()]
    embedder = wiring.get_embedder()
    ours = evaluate(Retriever(store, embedder), rows)
    dense = evaluate(DenseOnly(store, embedder), rows)  # type: ignore[arg-type]
    for label, s in (("hybrid", ours), ("dense", dense)):
        print(
            f"\n{name} {label}: hit@5 {s.hit_at_5:.3f} MRR {s.mrr:.3f} precision {s.precision:.3f}"
        )
    assert ours.answerable >= 90 and ours.unanswerable >= 5
    assert ours.hit_at_5 >= least_hit and ours.hit_at_5 >= dense.hit_at_5
    assert ours.mrr >= least_mrr and ours.mrr >= dense.mrr
    assert ours.precision >= least_precision and ours.precision >= dense.precision + 0.2


def test_every_labelled_id_exists_in_the_benchmark_catalog() -> None:
    known = {
        json.loads(line)["id"]
        for name in ("products.jsonl", "shops.jsonl")
        for line in (BENCHMARK / name).read_text().splitlines()
        if line.strip()
    }
    dev = Path(__file__).resolve().parents[2] / "data" / "retrieval" / "dev.jsonl"
    for path in (EVAL, dev):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        assert {i for r in rows for i in r["relevant"]} <= known, path.name
        assert not {r["query"].lower() for r in rows} & (
            set()
            if path == dev
            else {json.loads(x)["query"].lower() for x in dev.read_text().splitlines() if x.strip()}
        )

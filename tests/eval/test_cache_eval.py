"""The semantic cache's guard on the benchmark catalog (../shared/data/catalog) with the offline
embedder: no wrong hit on the near-duplicates of either held-out set, and the share of their
paraphrases that still hit. The tables and the floor were chosen on data/cache/dev_pairs.jsonl
and data/intent/dev.jsonl only; the held-out sets were written apart and never tuned on
(docs/cache.md)."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from shared.ai.local_embedder import LocalEmbedder
from shared.cache.guard import ANCHORED_MIN_SIMILARITY, SEMANTIC_MIN_SIMILARITY, Guard
from shared.catalog.profile import build_from_directory

ROOT = Path(__file__).resolve().parents[2]
BENCHMARK = ROOT.parent / "shared" / "data" / "catalog"
HERE = Path(__file__).parent
DEV = ROOT / "data" / "cache" / "dev_pairs.jsonl"
ROUTING_DEV = ROOT / "data" / "intent" / "dev.jsonl"
MODEL = LocalEmbedder.model_id
# The least paraphrase hit rate of each held-out set: just under the rate measured once, after
# the content words became a sequence, tuned on dev only (docs/cache.md), so that a change that
# costs hits is seen.
# Measured 0.519 (42/81) and 0.475 (28/59) with a vocabulary written for coffee; 0.407 (33/81)
# and 0.322 (19/59) since the guard knows a catalog only from its profile (2026-12-06; this
# catalog has no manifest to name its synonyms). No wrong hit either way.
# Then 0.506 (41/81) and 0.458 (27/59) with the changes of docs/cache.md's table.
HELD_OUT = {
    "cache_pairs.jsonl": 0.48,
    "cache_pairs_adversarial.jsonl": 0.42,
}
# Catalogs the guard has no word of its own for: held-out pairs written by outsiders. Measured
# 2026-12-06: outdoor 0.133 (8/60), hearth 0.125 (5/40) of paraphrases hit; 0 wrong hits; then
# 0.150 (9/60) and 0.175 (7/40) once names said apart and brands said beside them were read.
OTHER_CATALOGS = {
    "outdoor": (ROOT.parent / "shared" / "data" / "outdoor",
                ROOT / "data" / "outdoor-eval" / "cache_heldout.jsonl", 0.20),
    "hearth": (ROOT / "data" / "thirdparty" / "hearth",
               ROOT / "data" / "thirdparty" / "hearth-eval" / "cache_heldout.jsonl", 0.20),
    # a development set (tuned on: 1/40, then 5/40 with units, shops and synonyms read), here
    # so that its near-duplicates stay apart
    "pets (dev)": (ROOT / "data" / "thirdparty" / "pets",
                   ROOT / "data" / "thirdparty" / "pets-dev" / "cache_dev.jsonl", 0.10),
}  # fmt: skip
OUTDOOR_DEV = ROOT / "data" / "outdoor-eval" / "cache_dev.jsonl"
LABELS = {"paraphrase", "near_duplicate"}
INTENTS = {"PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"}


@dataclass(frozen=True)
class Judged:
    row: dict[str, str]
    similarity: float
    hit: bool  # the guard lets b reuse a's cached answer
    reason: str | None

    def __str__(self) -> str:
        return f"{self.similarity:.3f} {self.reason} {self.row['a']!r} / {self.row['b']!r}"


def read(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def guard() -> Guard:
    assert BENCHMARK.is_dir(), f"the benchmark catalog is expected at {BENCHMARK}"
    return Guard.build(read(BENCHMARK / "products.jsonl"), read(BENCHMARK / "shops.jsonl"))


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def dense_floor(embedder: LocalEmbedder) -> float:
    """The baseline: a plain dense cache (cosine alone), its floor set as ours is, on the
    development sets only: just above every near-duplicate there, so that it too makes no
    wrong hit on them."""
    rows = [r for path in (DEV, OUTDOOR_DEV) for r in read(path)]
    return max(j.similarity for j in judge(None, embedder, rows) if j.row["label"] != "paraphrase")


def beats_dense(name: str, judged: list[Judged], floor: float) -> bool:
    """Prints the plain dense cache beside ours on one set; True when ours makes fewer wrong
    hits, or as few and more paraphrase hits."""
    near = [j for j in judged if j.row["label"] == "near_duplicate"]
    paraphrases = [j for j in judged if j.row["label"] == "paraphrase"]
    ours = (sum(j.hit for j in near), sum(j.hit for j in paraphrases))
    dense = (
        sum(j.similarity > floor for j in near),
        sum(j.similarity > floor for j in paraphrases),
    )
    print(
        f"  {name}: ours {ours[0]} wrong hits, paraphrase hits {ours[1]}/{len(paraphrases)}; "
        f"plain dense cache (cosine > {floor:.4f}) {dense[0]} wrong, {dense[1]}/{len(paraphrases)}"
    )
    return ours[0] < dense[0] or (ours[0] == dense[0] and ours[1] > dense[1])


def judge(guard: Guard | None, embedder: LocalEmbedder, rows: list[dict[str, str]]) -> list[Judged]:
    """Both sides of every pair embedded in one batch; b is the new query, a the cached one.
    Without a guard: the similarities alone (no hit)."""
    vectors = embedder.embed([r["a"] for r in rows] + [r["b"] for r in rows], "query")
    out = []
    for row, va, vb in zip(rows, vectors[: len(rows)], vectors[len(rows) :], strict=True):
        similarity = float(va @ vb)
        if guard is None:
            out.append(Judged(row, similarity, False, None))
            continue
        hit = guard.same_question(row["b"], row["a"], similarity, model_id=MODEL)
        out.append(Judged(row, similarity, hit, guard.reason(row["b"], row["a"])))
    return out


def report(name: str, judged: list[Judged]) -> tuple[list[Judged], float]:
    """Prints the figures of one set; returns its wrong hits and its paraphrase hit rate."""
    near = [j for j in judged if j.row["label"] == "near_duplicate"]
    paraphrases = [j for j in judged if j.row["label"] == "paraphrase"]
    wrong = [j for j in near if j.hit]
    rate = sum(j.hit for j in paraphrases) / len(paraphrases)
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for j in near:
        by_kind[j.row["differs"]][0] += j.hit
        by_kind[j.row["differs"]][1] += 1
    by_intent: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for j in paraphrases:
        by_intent[j.row["intent"]][0] += j.hit
        by_intent[j.row["intent"]][1] += 1
    stopped = Counter("floor" if j.reason is None else j.reason for j in near if not j.hit)
    print(
        f"\n{name}: near-duplicate wrong hits {len(wrong)}/{len(near)}, stopped by {dict(stopped)}"
    )
    print(
        "  wrong hits by kind: "
        + ", ".join(f"{k} {w}/{n}" for k, (w, n) in sorted(by_kind.items()))
    )
    print(
        f"  paraphrase hit rate {rate:.3f} ({sum(j.hit for j in paraphrases)}/{len(paraphrases)})"
    )
    print("  by intent: " + ", ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(by_intent.items())))
    print("\n".join(f"  WRONG HIT [{j.row['differs']}] {j}" for j in wrong))
    print("\n".join(f"  miss {j}" for j in paraphrases if not j.hit))
    return wrong, rate


@pytest.mark.parametrize("name", HELD_OUT)
def test_no_wrong_hit_on_held_out_near_duplicates_and_most_paraphrases_hit(
    name: str, guard: Guard, embedder: LocalEmbedder, dense_floor: float
) -> None:
    path = HERE / name
    assert path.is_file(), f"the held-out set {name} is missing"
    judged = judge(guard, embedder, read(path))
    wrong, rate = report(name, judged)
    assert wrong == []
    assert rate >= HELD_OUT[name]
    assert beats_dense(name, judged, dense_floor)


@pytest.mark.parametrize("name", list(OTHER_CATALOGS))
def test_other_catalogs_no_wrong_hit_from_their_profile_alone(
    name: str, embedder: LocalEmbedder, dense_floor: float
) -> None:
    directory, pairs, least = OTHER_CATALOGS[name]
    guard = Guard.from_profile(build_from_directory(directory))
    rows = [{**r, "differs": r.get("differs", "?")} for r in read(pairs)]
    judged = judge(guard, embedder, rows)
    wrong, rate = report(name, judged)
    assert wrong == []
    assert rate >= least
    assert beats_dense(name, judged, dense_floor)


def test_no_wrong_hit_on_dev_near_duplicates(guard: Guard, embedder: LocalEmbedder) -> None:
    wrong, _ = report("dev", judge(guard, embedder, read(DEV)))
    assert wrong == []


def test_the_floor_follows_from_the_routing_dev_set(embedder: LocalEmbedder) -> None:
    """The floor asks the embedding to rate a pair as more alike than 99 in 100 pairs of
    different questions with one intent, with 0.05 to spare, rounded up to a multiple of 0.05
    (docs/cache.md)."""
    intents = {r["query"]: r["intent"] for r in read(ROUTING_DEV)}
    queries = list(intents)
    vectors = embedder.embed(queries, "query")
    upper = np.triu_indices(len(queries), 1)
    labels = np.array([intents[q] for q in queries])
    same_intent = labels[upper[0]] == labels[upper[1]]
    all_pairs = (vectors @ vectors.T)[upper]
    similarities = all_pairs[same_intent]
    p99 = float(np.quantile(similarities, 0.99))
    print(f"\n99th percentile of {len(similarities)} same-intent pairs: {p99:.3f}")
    assert math.ceil((p99 + 0.05) * 20 - 1e-9) / 20 == pytest.approx(SEMANTIC_MIN_SIMILARITY)
    # The floor for two queries naming the same catalog things: more alike than 19 in 20
    # pairs of questions with different intents.
    p95 = float(np.quantile(all_pairs[~same_intent], 0.95))
    print(f"95th percentile of {int((~same_intent).sum())} cross-intent pairs: {p95:.3f}")
    assert math.ceil((p95 + 0.05) * 20 - 1e-9) / 20 == pytest.approx(ANCHORED_MIN_SIMILARITY)


@pytest.mark.parametrize(
    ("path", "least", "per_label"),
    [(HERE / "cache_pairs.jsonl", 150, 70), (HERE / "cache_pairs_adversarial.jsonl", 150, 50),
     (DEV, 250, 90)],
)  # fmt: skip
def test_pair_sets_are_well_formed(path: Path, least: int, per_label: int) -> None:
    rows = read(path)
    labels = Counter(r["label"] for r in rows)
    assert len(rows) >= least and min(labels.values()) >= per_label and set(labels) == LABELS
    assert {r["intent"] for r in rows} == INTENTS
    assert all(("differs" in r) == (r["label"] == "near_duplicate") for r in rows)
    assert all(r["a"].strip().lower() != r["b"].strip().lower() for r in rows)


def test_held_out_sets_cover_every_kind_of_detail_and_share_no_sentence_with_dev() -> None:
    differs = Counter(r["differs"] for r in read(HERE / "cache_pairs.jsonl") if "differs" in r)
    wanted = ("number", "time", "place", "name", "negation", "comparative", "roast", "kind",
              "amenity")  # fmt: skip
    assert all(differs[d] >= 4 for d in wanted), differs
    dev = {s.lower() for r in read(DEV) for s in (r["a"], r["b"])}
    for name in HELD_OUT:
        held_out = {s.lower() for r in read(HERE / name) for s in (r["a"], r["b"])}
        assert not held_out & dev, name

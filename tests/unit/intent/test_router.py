"""The router's decisions on hand-made vectors: a stand-in embedder and generator (our ports)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from shared.ai import ModelUnavailable, Prompt, Task
from shared.intent.calibration import Calibration
from shared.intent.evidence import Evidence
from shared.intent.router import IntentRouter

# Three routes along three axes; a query's direction decides.
EXAMPLES = [
    ("PRODUCT_RAG", "a light roast", [1.0, 0.0, 0.0]),
    ("PRODUCT_RAG", "a dark roast", [0.9, 0.1, 0.0]),
    ("LOCATION_RAG", "where is the shop", [0.0, 1.0, 0.0]),
    ("LOCATION_RAG", "opening hours", [0.1, 0.9, 0.0]),
    ("GENERAL_CONVERSATION", "hello", [0.0, 0.0, 1.0]),
    ("GENERAL_CONVERSATION", "thanks", [0.0, 0.1, 0.9]),
]


def unit(v: Sequence[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


class Axes:
    model_id, dimension = "axes@3", 3

    def embed(self, texts: Sequence[str], task: Task) -> np.ndarray:
        raise AssertionError("the router is given vectors in these tests")


class Classifier:
    model_id, can_classify = "scripted", True

    def __init__(self, answer: str | Exception) -> None:
        self.answer, self.asked = answer, 0

    def generate(self, prompt: Prompt) -> str:
        raise AssertionError

    def stream(self, prompt: Prompt) -> Iterator[str]:
        raise AssertionError

    def classify(self, text: str, labels: Sequence[str]) -> str:
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def router(calibration: Calibration, generator: Classifier | None = None) -> IntentRouter:
    intents = [i for i, _, _ in EXAMPLES]
    texts = [t for _, t, _ in EXAMPLES]
    matrix = np.vstack([unit(v) for _, _, v in EXAMPLES])
    return IntentRouter(texts, intents, matrix, calibration, embedder=Axes(), generator=generator)


def test_a_clear_query_is_decided_by_embedding_with_its_nearest_example() -> None:
    d = router(Calibration(k=2, margin=0.1)).decide(unit([0.85, 0.1, 0.0]), "q")
    assert (d.intent, d.method, d.exemplar) == ("PRODUCT_RAG", "embedding", "a dark roast")
    assert d.confidence == pytest.approx(d.scores["PRODUCT_RAG"])


def test_scores_are_the_mean_of_the_k_best_per_route() -> None:
    r = router(Calibration(k=1))
    q = unit([0.0, 1.0, 0.0])
    scores, _ = r.scores(q, "q")
    assert scores["LOCATION_RAG"] == pytest.approx(1.0)
    r2 = router(Calibration(k=2))
    expected = (1.0 + float(unit([0.1, 0.9, 0.0]) @ q)) / 2
    assert r2.scores(q, "q")[0]["LOCATION_RAG"] == pytest.approx(expected)


def test_exemplars_of_any_order_are_grouped_by_route() -> None:
    shuffled = [EXAMPLES[i] for i in (4, 0, 2, 5, 1, 3)]
    r = IntentRouter(
        [t for _, t, _ in shuffled],
        [i for i, _, _ in shuffled],
        np.vstack([unit(v) for _, _, v in shuffled]),
        Calibration(k=1),
        embedder=Axes(),
    )
    assert r.decide(unit([0, 0, 1]), "hi").exemplar == "hello"


def test_a_low_score_without_a_model_goes_to_the_default_route() -> None:
    cal = Calibration(k=1, thresholds={"PRODUCT_RAG": 0.99})
    d = router(cal).decide(unit([0.8, 0.6, 0.0]), "q")
    assert (d.intent, d.method, d.exemplar) == ("GENERAL_CONVERSATION", "default", None)


def test_a_doubt_without_a_model_follows_the_catalogs_words_when_they_point_one_way() -> None:
    cal = Calibration(k=1, thresholds={"PRODUCT_RAG": 0.99, "LOCATION_RAG": 0.99})
    vector = unit([0.8, 0.6, 0.0])
    for said, route in [
        (Evidence(product=True), "PRODUCT_RAG"),  # "Saffron Reserve", "fishing stool"
        (Evidence(product=True, named=True), "PRODUCT_RAG"),
        (Evidence(place=True), "LOCATION_RAG"),
        (Evidence(product=True, place=True), "GENERAL_CONVERSATION"),  # both: no way to tell
        (Evidence(), "GENERAL_CONVERSATION"),
    ]:
        d = router(cal).decide(vector, "q", said)
        assert (d.intent, d.method, d.exemplar) == (route, "default", None), said
    # a model, when there is one, settles it whatever the words say
    llm = Classifier("GENERAL_CONVERSATION")
    d = router(cal, llm).decide(vector, "q", Evidence(product=True))
    assert (d.intent, d.method) == ("GENERAL_CONVERSATION", "llm")


def test_two_close_routes_ask_the_model() -> None:
    llm = Classifier("LOCATION_RAG")
    d = router(Calibration(k=1, margin=0.2), llm).decide(unit([1.0, 1.0, 0.0]), "q")
    assert (d.intent, d.method, llm.asked) == ("LOCATION_RAG", "llm", 1)


def test_a_failing_model_falls_back_to_the_default() -> None:
    llm = Classifier(ModelUnavailable("503"))
    d = router(Calibration(k=1, margin=0.2), llm).decide(unit([1.0, 1.0, 0.0]), "q")
    assert (d.intent, d.method) == ("GENERAL_CONVERSATION", "default")


def test_a_clear_decision_never_asks_the_model() -> None:
    llm = Classifier("LOCATION_RAG")
    d = router(Calibration(k=1, margin=0.1), llm).decide(unit([1.0, 0.0, 0.0]), "q")
    assert (d.method, llm.asked) == ("embedding", 0)


def test_a_named_product_weighs_on_top_of_the_products_evidence() -> None:
    from shared.intent.evidence import Evidence
    from shared.intent.router import _weigh

    routes = ("PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION")
    start = np.array([0.2, 0.2, 0.6])
    cal = Calibration(product_evidence=0.5, place_evidence=1.0, named_evidence=1.0)
    product = _weigh(start, routes, Evidence(product=True), cal)
    named = _weigh(start, routes, Evidence(product=True, named=True), cal)
    assert start[0] < product[0] < named[0] and named.sum() == pytest.approx(1.0)
    unweighed = Calibration(product_evidence=0.5, place_evidence=1.0)  # v10 keeps it at 0
    assert _weigh(start, routes, Evidence(product=True, named=True), unweighed)[0] == (
        pytest.approx(product[0])
    )

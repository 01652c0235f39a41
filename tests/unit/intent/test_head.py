"""The trained linear head: fitting, its words, storage, and the router deciding with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shared.intent.calibration import Calibration, load_calibration
from shared.intent.head import Head, head_path, lexical_features, load_head, save_head, train
from shared.intent.router import IntentRouter
from tests.unit.intent.test_router import EXAMPLES, Axes, unit

ROUTES = ["PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"]


def fitted(scale: float = 1.0) -> Head:
    vectors = np.vstack([unit(v) for _, _, v in EXAMPLES])
    return train(
        vectors,
        [t for _, t, _ in EXAMPLES],
        [i for i, _, _ in EXAMPLES],
        ROUTES,
        l2=1e-4,
        lexical_scale=scale,
    )


def test_the_head_learns_the_routes_from_vectors() -> None:
    head = fitted(scale=0.0)
    for intent, _, v in EXAMPLES:
        p = head.probabilities(unit(v), "")
        assert ROUTES[int(p.argmax())] == intent
        assert p.sum() == pytest.approx(1.0, abs=1e-5)


def test_known_words_move_the_decision() -> None:
    head = fitted(scale=1.0)
    between = unit([1.0, 1.0, 0.0])  # halfway between a product and a shop
    shop_words = head.probabilities(between, "where is the shop opening hours")
    product_words = head.probabilities(between, "a light roast a dark roast")
    assert shop_words[1] > shop_words[0] and product_words[0] > product_words[1]


def test_lexical_features_are_unit_length_and_ignore_unknown_words() -> None:
    vocabulary = {"dark": 0, "roast": 1, "dark roast": 2}
    cols, values = lexical_features("A DARK roast, please", vocabulary)
    assert sorted(cols) == [0, 1, 2]
    assert sum(v * v for v in values) == pytest.approx(1.0)
    assert lexical_features("nothing known", vocabulary) == ([], [])


def test_a_stored_head_decides_as_the_trained_one(tmp_path: Path) -> None:
    head = fitted()
    path = save_head(head, "axes@3", tmp_path)
    assert path == head_path("axes@3", tmp_path) and path.name == "axes_3.json"
    loaded = load_head("axes@3", tmp_path)
    assert loaded is not None
    q = unit([0.3, 0.7, 0.1])
    assert np.allclose(
        loaded.probabilities(q, "the shop"), head.probabilities(q, "the shop"), atol=1e-4
    )
    assert load_head("other@3", tmp_path) is None


def test_training_is_deterministic() -> None:
    a, b = fitted(), fitted()
    assert np.array_equal(a.dense, b.dense) and np.array_equal(a.lexical, b.lexical)


def test_calibration_names_its_head_and_a_missing_head_is_an_error(tmp_path: Path) -> None:
    entry = {"k": 3, "margin": 0.0, "thresholds": {}, "version": 2, "head": True}
    (tmp_path / "calibration.json").write_text(json.dumps({"models": {"axes@3": entry}}))
    with pytest.raises(FileNotFoundError, match="axes@3"):
        load_calibration("axes@3", tmp_path / "calibration.json")
    save_head(fitted(), "axes@3", tmp_path / "heads")
    cal = load_calibration("axes@3", tmp_path / "calibration.json")
    assert cal.head is not None and cal.to_json()["head"] is True


def test_the_router_decides_with_the_head_and_reports_the_nearest_example() -> None:
    shuffled = [EXAMPLES[i] for i in (4, 0, 2, 5, 1, 3)]  # not in route order
    router = IntentRouter(
        [t for _, t, _ in shuffled],
        [i for i, _, _ in shuffled],
        np.vstack([unit(v) for _, _, v in shuffled]),
        Calibration(k=1, margin=0.0, head=fitted(scale=0.0)),
        embedder=Axes(),
    )
    d = router.decide(unit([0.1, 0.95, 0.0]), "q")
    assert (d.intent, d.method, d.exemplar) == ("LOCATION_RAG", "embedding", "opening hours")
    assert 0.0 < d.confidence <= 1.0 and d.confidence == pytest.approx(d.scores["LOCATION_RAG"])
    assert sum(d.scores.values()) == pytest.approx(1.0, abs=1e-5)


def test_below_its_threshold_the_head_is_in_doubt() -> None:
    cal = Calibration(k=1, margin=0.0, thresholds={"PRODUCT_RAG": 0.999}, head=fitted(scale=0.0))
    router = IntentRouter(
        [t for _, t, _ in EXAMPLES],
        [i for i, _, _ in EXAMPLES],
        np.vstack([unit(v) for _, _, v in EXAMPLES]),
        cal,
        embedder=Axes(),
    )
    d = router.decide(unit([0.8, 0.5, 0.0]), "q")
    assert (d.intent, d.method) == ("GENERAL_CONVERSATION", "default")

"""Exemplar embeddings cached in the store, keyed by model and text."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from shared.intent.exemplars import COLLECTION, exemplar_key, exemplar_matrix, load_routes
from shared.store.sqlite_store import SqliteStore


class Counting:
    """Deterministic vectors per text; counts what it was asked to embed."""

    def __init__(self, model_id: str = "counting@8") -> None:
        self.model_id, self.dimension = model_id, 8
        self.batches: list[int] = []

    def embed(self, texts: Sequence[str], task: str) -> np.ndarray:
        assert task == "query"
        self.batches.append(len(texts))
        rows = []
        for t in texts:
            seed = int.from_bytes(
                hashlib.sha256((self.model_id + t).encode()).digest()[:8], "little"
            )
            v = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.vstack(rows)


EXAMPLES = [("PRODUCT_RAG", f"product question {i}") for i in range(150)] + [
    ("LOCATION_RAG", f"shop question {i}") for i in range(90)
]


def test_a_cold_instance_with_cached_exemplars_embeds_nothing() -> None:
    store = SqliteStore()
    first = Counting()
    matrix = exemplar_matrix(store, first, EXAMPLES)
    assert first.batches == [100, 100, 40]  # every example, in batches of at most 100
    cold = Counting()  # a new instance: same store, same model
    again = exemplar_matrix(store, cold, EXAMPLES)
    assert cold.batches == []
    assert np.allclose(again, matrix, atol=1e-6)


def test_only_missing_examples_are_embedded() -> None:
    store = SqliteStore()
    exemplar_matrix(store, Counting(), EXAMPLES[:200])
    later = Counting()
    exemplar_matrix(store, later, EXAMPLES)
    assert later.batches == [40]


def test_another_embedding_model_gets_its_own_keys() -> None:
    store = SqliteStore()
    exemplar_matrix(store, Counting("model-a@8"), EXAMPLES)
    other = Counting("model-b@8")
    exemplar_matrix(store, other, EXAMPLES)
    assert sum(other.batches) == len(EXAMPLES)
    text = EXAMPLES[0][1]
    assert exemplar_key("model-a@8", text) != exemplar_key("model-b@8", text)
    doc = store.get(COLLECTION, exemplar_key("model-b@8", text))
    assert doc is not None and doc["intent"] == "PRODUCT_RAG"
    assert doc["embedding"].model == "model-b@8"


def test_the_shipped_routes_have_enough_varied_examples() -> None:
    routes = load_routes()
    for intent in ("PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"):
        texts = [t for i, t in routes if i == intent]
        assert len(texts) >= 25 and len({t.lower().strip() for t in texts}) == len(texts)


def test_an_unknown_intent_in_the_routes_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "routes.json"
    bad.write_text(json.dumps({"routes": {"SHOPPING": ["x"]}}))
    with pytest.raises(ValueError, match="SHOPPING"):
        load_routes(bad)

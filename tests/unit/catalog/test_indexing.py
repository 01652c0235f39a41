"""Embedding at ingest: what is embedded, only what changed, chunked documents by version,
and a crash half-way through a batch followed by redelivery."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from shared import catalog
from shared.ai import ModelUnavailable, Task
from shared.catalog import TextDocument
from shared.catalog.indexing import CHUNKS, chunk_document, embedding_text
from shared.store import Embedding
from shared.store.sqlite_store import SqliteStore
from tests.unit.catalog.test_catalog import PRODUCT

T0 = datetime(2026, 11, 1, tzinfo=UTC)


class CountingEmbedder:
    """Our embedder port: a vector from each text's hash; counts texts and calls."""

    dimension = 8

    def __init__(self, model_id: str = "counting@8", fail_on_call: int | None = None) -> None:
        self.model_id, self.fail_on_call = model_id, fail_on_call
        self.calls, self.texts = 0, []

    def embed(self, texts: Sequence[str], task: Task) -> np.ndarray:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise ModelUnavailable("503 from the embedding service")
        self.texts.extend(texts)
        rows = []
        for t in texts:
            v = np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], dtype=np.uint8) + 1.0
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32)


def products(n: int, **changes: object) -> list[catalog.Record]:
    raw = [{**PRODUCT, "id": f"cof-{i}", "name": f"Roast {i}", **changes} for i in range(n)]
    good, bad = catalog.validate_records("products", raw)
    assert not bad
    return good


def document(text: str, doc_id: str = "guide-1") -> TextDocument:
    return TextDocument(id=doc_id, title="Brewing guide", text=text)


def test_the_embedding_text_carries_the_fields_a_shopper_asks_about() -> None:
    (p,), _ = catalog.validate_records(
        "products",
        [{**PRODUCT, "attributes": {"origin": "Kenya", "region": "Nyeri", "roast": "light",
                                    "notes": ["blackcurrant", "grapefruit"], "decaf": True}}],
    )  # fmt: skip
    text = embedding_text(p)
    said = ("Test Roast", "origin: Kenya", "region: Nyeri", "roast: light", "blackcurrant", "decaf")
    for word in (*said, "Bright"):
        assert word in text
    (s,), _ = catalog.validate_records(
        "shops",
        [{"id": "s1", "name": "Cymbal Pike", "address": "1 Pike St", "city": "Seattle",
          "state": "WA", "location": {"lat": 47.6, "lng": -122.3},
          "hours": {"mon_fri": "07:00-19:00", "sat_sun": "closed"}, "amenities": ["wifi"]}],
    )  # fmt: skip
    text = embedding_text(s)
    hours = ("Monday\u2013Friday 07:00\u201319:00", "Saturday\u2013Sunday closed")
    for word in ("Seattle, WA", "1 Pike St", "wifi", *hours):
        assert word in text


def test_only_new_or_changed_records_are_embedded() -> None:
    store, embedder = SqliteStore(), CountingEmbedder()
    first = catalog.upsert(store, "products", products(3), T0, embedder)
    assert (first.written, first.embedded, len(embedder.texts)) == (3, 3, 3)
    doc = store.get("products", "cof-1")
    assert isinstance(doc["embedding"], Embedding) and doc["embedding"].model == "counting@8"
    again = catalog.upsert(store, "products", products(3), T0 + timedelta(minutes=1), embedder)
    assert (again.unchanged, again.embedded, len(embedder.texts)) == (3, 0, 3)
    changed = products(3)[:2] + products(3, price=99.0)[2:]
    third = catalog.upsert(store, "products", changed, T0 + timedelta(minutes=2), embedder)
    assert (third.written, third.unchanged, len(embedder.texts)) == (1, 2, 4)


def test_a_new_embedding_model_re_embeds_unchanged_records() -> None:
    store = SqliteStore()
    catalog.upsert(store, "products", products(2), T0, CountingEmbedder("old@8"))
    newer = CountingEmbedder("new@8")
    result = catalog.upsert(store, "products", products(2), T0 + timedelta(minutes=1), newer)
    assert (result.written, result.embedded) == (2, 2)
    assert store.get("products", "cof-0")["embedding"].model == "new@8"


def test_a_stale_redelivery_embeds_nothing() -> None:
    store, embedder = SqliteStore(), CountingEmbedder()
    catalog.upsert(store, "products", products(1, price=20.0), T0 + timedelta(minutes=5), embedder)
    late = catalog.upsert(store, "products", products(1), T0, embedder)
    assert (late.stale, len(embedder.texts)) == (1, 1)
    assert store.get("products", "cof-0")["price"] == 20.0


def test_a_crash_half_way_then_redelivery_leaves_one_current_version_of_each() -> None:
    store = SqliteStore()
    crashing = CountingEmbedder(fail_on_call=2)  # the second transaction's records never embed
    with pytest.raises(ModelUnavailable):
        catalog.upsert(store, "products", products(300), T0, crashing)
    assert len(store.query("products")) == 200  # the first 200 landed, atomically with...
    assert catalog.read_catalog_meta(store).version == 1  # ...one version step
    retry = CountingEmbedder()
    result = catalog.upsert(store, "products", products(300), T0, retry)
    assert (result.written, result.unchanged, len(retry.texts)) == (100, 200, 100)
    docs = store.query("products")
    assert len(docs) == 300 and len({d.id for d in docs}) == 300
    meta = catalog.read_catalog_meta(store)
    assert (meta.version, meta.counts) == (2, {"products": 300})


def test_documents_are_cut_into_overlapping_chunks_with_the_title() -> None:
    sentences = [
        f"Sentence {i} says something useful about brewing coffee well." for i in range(60)
    ]
    chunks = chunk_document(document(" ".join(sentences)), words=60, overlap=15)
    assert len(chunks) > 5 and [c.position for c in chunks] == list(range(len(chunks)))
    for a, b in itertools.pairwise(chunks):
        assert a.text.startswith("Brewing guide. ")
        tail = a.text.split()[-10:]
        assert " ".join(tail) in b.text  # the overlap repeats the end of the previous chunk
        assert a.text.endswith(".")  # cut at a sentence end
    body = " ".join(" ".join(c.text.split()[2:]) for c in chunks)
    assert all(f"Sentence {i} " in body for i in range(60))  # nothing lost
    assert len(chunk_document(document("Short and sweet."))) == 1
    with pytest.raises(ValueError, match="overlap"):
        chunk_document(document("x"), words=10, overlap=10)


def test_a_document_has_one_vector_per_chunk_and_a_new_version_replaces_the_old() -> None:
    store, embedder = SqliteStore(), CountingEmbedder()
    text = " ".join(f"Step {i}: pour slowly and wait for the bloom." for i in range(80))
    catalog.upsert(store, "documents", [document(text)], T0, embedder)
    doc = store.get("documents", "guide-1")
    chunks = store.query(CHUNKS)
    assert doc["chunks"] == len(chunks) > 3
    assert {c.data["doc_hash"] for c in chunks} == {doc["content_hash"]}
    assert all(isinstance(c.data["embedding"], Embedding) for c in chunks)
    catalog.upsert(store, "documents", [document(text)], T0 + timedelta(minutes=1), embedder)
    assert len(store.query(CHUNKS)) == doc["chunks"]  # a redelivery adds nothing
    catalog.upsert(
        store, "documents", [document("A new, short guide.")], T0 + timedelta(minutes=2), embedder
    )
    (only,) = store.query(CHUNKS)
    assert only.data["text"] == "Brewing guide. A new, short guide."
    assert only.data["doc_hash"] == store.get("documents", "guide-1")["content_hash"]


def test_an_older_document_version_never_writes_its_chunks_over_the_newer() -> None:
    store, embedder = SqliteStore(), CountingEmbedder()
    catalog.upsert(
        store, "documents", [document("The newer text.")], T0 + timedelta(minutes=5), embedder
    )
    late = catalog.upsert(store, "documents", [document("The older text.")], T0, embedder)
    assert late.stale == 1
    assert [c.data["text"] for c in store.query(CHUNKS)] == ["Brewing guide. The newer text."]

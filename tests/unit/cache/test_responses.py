"""The response cache on the embedded store, with the real offline embedder and guard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared import wiring
from shared.ai import Turn
from shared.cache.responses import (
    RESPONSE_CACHE,
    CacheQuery,
    ResponseCache,
    cache_key,
    context_fingerprint,
    normalise,
    ttl_for,
)
from shared.catalog import CATALOG_DOC, META
from shared.catalog import profile as profiles
from shared.store.sqlite_store import SqliteStore
from tests.fakes.clock import FakeClock as Clock

PRODUCTS = [
    {"id": "cof-1", "category": "coffee", "name": "Kenya Nyeri AA", "price": 18.5},
    {"id": "cof-2", "category": "coffee", "name": "Sumatra Mandheling", "price": 16.0},
]
SHOPS = [
    {"id": "shop-1", "name": "Cymbal Coffee Seattle Riverside", "city": "Seattle", "state": "WA"},
    {"id": "shop-2", "name": "Cymbal Coffee Portland Pearl", "city": "Portland", "state": "OR"},
]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> ResponseCache:
    store = SqliteStore(clock=clock)
    for p in PRODUCTS:
        store.set("products", p["id"], p)
    for s in SHOPS:
        store.set("shops", s["id"], s)
    store.set(META, CATALOG_DOC, {"version": 3, "counts": {"products": 2}})
    profiles.refresh(store)  # as the ingest function does: the guard reads the profile
    return ResponseCache(store, ttl_s=3600, clock=clock)


def remember(cache: ResponseCache, query: str, answer: str, **kw: Any) -> str | None:
    return cache.store_answer(
        question(query, **kw),
        answer=answer,
        sources=[{"id": "cof-1", "kind": "product", "name": "Kenya Nyeri AA", "score": 0.7}],
    )


def ask(cache: ResponseCache, query: str, **kw: Any) -> Any:
    return cache.lookup(question(query, **kw))


def question(query: str, **kw: Any) -> CacheQuery:
    embedder = wiring.get_embedder()
    return CacheQuery(
        query,
        embedder.embed([query], "query")[0],
        embedder.model_id,
        intent=kw.get("intent", "PRODUCT_RAG"),
        context=kw.get("context", ""),
        catalog_version=kw.get("version", 3),
    )


def test_normalisation_ignores_case_space_and_trailing_punctuation() -> None:
    assert normalise("  Is the  Kenya\tDECAF?! ") == normalise("is the kenya decaf") != ""
    assert normalise("what\u2019s new") == normalise("what's new")
    assert cache_key("Hi!", "GENERAL_CONVERSATION", "", 1) == cache_key(
        "hi", "GENERAL_CONVERSATION", "", 1
    )
    assert cache_key("hi", "GENERAL_CONVERSATION", "", 1) != cache_key(
        "hi", "GENERAL_CONVERSATION", "", 2
    )


def test_an_exact_hit_counts_atomically(cache: ResponseCache) -> None:
    key = remember(cache, "Tell me about the Kenya Nyeri AA", "It is bright.")
    hit = ask(cache, "tell me about the kenya nyeri aa?")
    assert hit is not None and hit.kind == "exact" and hit.answer == "It is bright."
    ask(cache, "Tell me about the Kenya Nyeri AA")
    cache.flush_hits()
    entry = cache.store.get(RESPONSE_CACHE, str(key))
    assert entry is not None and entry["hits"] == 2


def test_a_paraphrase_is_a_semantic_hit(cache: ResponseCache) -> None:
    remember(cache, "How much does the Kenya Nyeri AA cost?", "$18.50.")
    hit = ask(cache, "What does the Kenya Nyeri AA cost?")
    assert hit is not None and hit.kind == "semantic" and hit.answer == "$18.50."


@pytest.mark.parametrize(
    ("cached", "asked"),
    [
        ("How much does the Kenya Nyeri AA cost?", "How much does the Sumatra Mandheling cost?"),
        ("Coffees under $15", "Coffees under $20"),
        (
            "Which shops are open on Sunday in Seattle?",
            "Which shops are open on Sunday in Portland?",
        ),
        ("What is your cheapest coffee?", "What is your most expensive coffee?"),
        ("a latte with milk", "a latte without milk"),
    ],
)
def test_a_near_duplicate_is_never_a_hit(cache: ResponseCache, cached: str, asked: str) -> None:
    intent = "LOCATION_RAG" if "shops" in cached else "PRODUCT_RAG"
    remember(cache, cached, "the answer to another question", intent=intent)
    assert ask(cache, asked, intent=intent) is None


def test_nothing_is_served_across_versions_intents_or_contexts(cache: ResponseCache) -> None:
    remember(cache, "Tell me about the Kenya Nyeri AA", "It is bright.")
    assert ask(cache, "Tell me about the Kenya Nyeri AA", version=4) is None
    assert ask(cache, "Tell me about the Kenya Nyeri AA", intent="GENERAL_CONVERSATION") is None
    assert ask(cache, "Tell me about the Kenya Nyeri AA", context="abc") is None


def test_entries_expire_by_intent_and_volatility(cache: ResponseCache, clock: Clock) -> None:
    assert ttl_for("recommend a coffee", "PRODUCT_RAG", 3600) == 3600
    assert ttl_for("where is the Seattle shop", "LOCATION_RAG", 3600) == 1800
    assert ttl_for("is the Seattle shop open on sundays", "LOCATION_RAG", 3600) == 150
    assert ttl_for("is the Seattle shop open right now", "LOCATION_RAG", 3600) == 0
    assert ttl_for("what is open today", "LOCATION_RAG", 3600) == 0
    assert ttl_for("is the Kenya in stock", "PRODUCT_RAG", 3600) == 300
    remember(cache, "Is the Kenya Nyeri AA in stock?", "Yes.")
    clock.now += timedelta(seconds=299)
    assert ask(cache, "Is the Kenya Nyeri AA in stock?") is not None
    clock.now += timedelta(seconds=2)
    assert ask(cache, "Is the Kenya Nyeri AA in stock?") is None


def test_a_follow_up_is_keyed_on_the_conversation() -> None:
    history = [Turn("user", "tell me about the kenya"), Turn("assistant", "It is bright.")]
    other = [Turn("user", "tell me about the sumatra"), Turn("assistant", "It is earthy.")]
    assert context_fingerprint("is it decaf?", history) != context_fingerprint(
        "is it decaf?", other
    )
    assert context_fingerprint("is it decaf?", history) != ""
    assert context_fingerprint("and cheaper?", history) != ""
    assert context_fingerprint("recommend a decaf coffee", history) == ""
    assert context_fingerprint("is it decaf?", []) == ""


def test_a_hit_on_a_vanished_entry_leaves_only_an_expiring_stub(cache: ResponseCache) -> None:
    key = remember(cache, "Tell me about the Kenya Nyeri AA", "It is bright.")
    entry = cache.store.get(RESPONSE_CACHE, str(key))
    assert entry is not None
    cache.store.delete(RESPONSE_CACHE, str(key))
    cache._count_hit(str(key), entry)
    cache.flush_hits()
    stub = cache.store.get(RESPONSE_CACHE, str(key))
    assert stub is not None and "answer" not in stub and stub["expires_at"] == entry["expires_at"]
    assert ask(cache, "Tell me about the Kenya Nyeri AA") is None

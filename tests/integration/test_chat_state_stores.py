"""Sessions, rate limits and the response cache on each store: the embedded SQLite one and,
where the Firestore emulator runs, the real google-cloud-firestore client against it (the
transactions, the subcollection query, find_nearest with equality pre-filters, increments).
Each Firestore test gets its own project on the emulator, so nothing is shared."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import errors
from shared.ai.local_embedder import LocalEmbedder
from shared.cache.responses import RESPONSE_CACHE, CacheQuery, ResponseCache
from shared.catalog import CATALOG_DOC, META
from shared.chat.ratelimit import RateLimiter
from shared.chat.sessions import Sessions, messages_of
from shared.store.sqlite_store import SqliteStore
from tests import conftest as root
from tests.fakes.clock import FakeClock as Clock

KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store(request: pytest.FixtureRequest, clock: Clock, tmp_path: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "store.sqlite3", clock=clock)
        yield s
        s.close()
        return
    if root.FIRESTORE_EMULATOR_HOST is None:
        pytest.skip("FIRESTORE_EMULATOR_HOST is not set (make test starts the emulator)")
    from google.cloud import firestore

    from shared.store.firestore_store import FirestoreStore

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIRESTORE_EMULATOR_HOST", root.FIRESTORE_EMULATOR_HOST)
        client = firestore.Client(project=f"demo-chat-{uuid.uuid4().hex[:12]}")
    yield FirestoreStore(client, clock=clock)
    client.close()


def test_a_session_lives_slides_and_dies(store: Any, clock: Clock) -> None:
    sessions = Sessions(store, KEY, ttl_s=600, history_turns=4, history_chars=500, clock=clock)
    s = sessions.create("user-1")
    for i in range(3):
        clock.now += timedelta(seconds=5)
        assert sessions.record_turn(
            s.id, f"q{i}", f"a{i}", intent="PRODUCT_RAG", sources=[{"id": f"p{i}"}]
        )
    listed = [m.public() for m in sessions.messages(s.id)[0]]
    assert [m["content"] for m in listed] == ["q0", "a0", "q1", "a1", "q2", "a2"]
    assert listed[-1]["sources"] == [{"id": "p2"}]
    assert [t.content for t in sessions.get(s.id).turns] == ["q1", "a1", "q2", "a2"]
    clock.now += timedelta(seconds=601)
    with pytest.raises(errors.NotFound):
        sessions.get(s.id)
    s2 = sessions.create(None)
    sessions.record_turn(s2.id, "q", "a", intent="GENERAL_CONVERSATION", sources=[])
    sessions.delete(s2.id)
    assert store.query(messages_of(s2.id)) == []
    with pytest.raises(errors.NotFound):
        sessions.get(s2.id)


def test_rate_limits_hold_across_both_buckets(store: Any, clock: Clock) -> None:
    limiter = RateLimiter(store, 3, clock=clock)
    verdicts = [limiter.take(["user:a", "ip:1"]).allowed for _ in range(4)]
    assert verdicts == [True, True, True, False]
    assert limiter.take(["user:a", "ip:1"]).retry_after_s == 20
    clock.now += timedelta(seconds=20)
    assert limiter.take(["user:a", "ip:1"]).allowed


def test_the_cache_hits_exactly_semantically_and_never_across_versions(
    store: Any, clock: Clock
) -> None:
    store.set(
        "products",
        "cof-1",
        {"id": "cof-1", "name": "Kenya Nyeri AA", "kind": "coffee", "price": 18.5},
    )
    store.set(
        "shops", "shop-1", {"id": "shop-1", "name": "Cymbal Coffee Ballard", "city": "Seattle"}
    )
    store.set(META, CATALOG_DOC, {"version": 7, "counts": {"products": 1}})
    cache = ResponseCache(store, ttl_s=600, clock=clock)
    embedder = LocalEmbedder()

    def vec(text: str) -> Any:
        return embedder.embed([text], "query")[0]

    asked = "How much is the Kenya Nyeri AA?"
    cache.store_answer(
        CacheQuery(asked, vec(asked), embedder.model_id, "PRODUCT_RAG", "", 7),
        answer="$18.50.",
        sources=[{"id": "cof-1"}],
    )

    def look(text: str, version: int = 7) -> Any:
        return cache.lookup(
            CacheQuery(text, vec(text), embedder.model_id, "PRODUCT_RAG", "", version)
        )

    exact = look("how much is the kenya nyeri aa")
    assert exact is not None and exact.kind == "exact"
    para = look("What does the Kenya Nyeri AA cost?")
    assert para is not None and para.kind == "semantic" and para.answer == "$18.50."
    assert look("How much is the Kenya Nyeri AA in a 1 kg bag?") is None
    assert look("How much is the Kenya Nyeri AA?", version=8) is None
    cache.flush_hits()
    entry = store.query(RESPONSE_CACHE)[0].data
    assert entry["hits"] == 2
    clock.now += timedelta(seconds=601)
    assert look("How much is the Kenya Nyeri AA?") is None


def test_metrics_aggregate_once_and_summarise(store: Any, clock: Clock) -> None:
    from shared.metrics.aggregate import record
    from shared.metrics.event import TurnEvent
    from shared.metrics.summary import summarize

    now = clock.now
    sent = [
        TurnEvent.model_validate(
            {
                "turn_id": f"turn-{i:04d}",
                "ts": now - timedelta(minutes=i % 3),
                "intent": ("PRODUCT_RAG", "LOCATION_RAG")[i % 2],
                "confidence": 0.9,
                "method": "embedding",
                "cached": i % 4 == 0,
                "cache_kind": "exact" if i % 4 == 0 else None,
                "result_count": 2,
                "timings_ms": {"total": 10.0 + i, "search": 3.0},
            }
        )
        for i in range(24)
    ]
    for e in sent:
        assert record(store, e, shards=4, ttl=timedelta(days=30))
    assert not record(store, sent[5], shards=4, ttl=timedelta(days=30))
    s = summarize(store, 3, now=now)
    assert s["turns"] == 24 and s["by_intent"] == {"LOCATION_RAG": 12, "PRODUCT_RAG": 12}
    assert s["cache_hits"] == 6 and [p["turns"] for p in s["series"]] == [8, 8, 8]


def test_an_event_without_timings_keeps_the_minutes_histograms(store: Any, clock: Clock) -> None:
    from shared.metrics.aggregate import record
    from shared.metrics.event import TurnEvent
    from shared.metrics.summary import summarize

    def turn(i: int, timings: dict[str, float]) -> TurnEvent:
        return TurnEvent.model_validate(
            {
                "turn_id": f"turn-{i:04d}",
                "ts": clock.now,
                "intent": "PRODUCT_RAG",
                "confidence": 0.9,
                "method": "embedding",
                "cached": False,
                "result_count": 1,
                "timings_ms": timings,
            }
        )

    for i in range(3):
        record(store, turn(i, {"total": 20.0}), shards=1, ttl=timedelta(days=30))
    record(store, turn(9, {}), shards=1, ttl=timedelta(days=30))
    s = summarize(store, 1, now=clock.now)
    assert s["turns"] == 4 and s["latency_ms"]["p50"] is not None

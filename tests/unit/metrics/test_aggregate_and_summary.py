"""Metrics aggregation: bins, percentiles, shards and summaries, on the embedded store."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.metrics.aggregate import BIN_COUNT, EDGES, MINUTES, bin_of, record, shard_of
from shared.metrics.event import TurnEvent
from shared.metrics.summary import percentile, summarize
from shared.store.sqlite_store import SqliteStore

NOW = datetime(2026, 11, 30, 12, 30, 20, tzinfo=UTC)
TTL = timedelta(days=30)


def event(**kw: Any) -> TurnEvent:
    body: dict[str, Any] = {
        "turn_id": uuid.uuid4().hex,
        "ts": NOW,
        "intent": "PRODUCT_RAG",
        "confidence": 0.9,
        "method": "embedding",
        "cached": False,
        "result_count": 3,
        "timings_ms": {"total": 20.0, "search": 5.0},
        **kw,
    }
    return TurnEvent.model_validate(body)


def test_bins_hold_their_values_and_cover_the_range() -> None:
    for ms in (0.0, 0.1, 0.25, 0.26, 1.0, 17.3, 999.0, 60_000.0):
        i = bin_of(ms)
        assert ms <= EDGES[i] and (i == 0 or ms > EDGES[i - 1])
    assert bin_of(10**9) == BIN_COUNT - 1
    assert EDGES[-1] > 120_000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_are_within_one_bin_of_the_exact_value(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(3.5, 0.8) for _ in range(5000)]  # ms, a skewed latency
    bins = Counter(bin_of(v) for v in values)
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[max(0, int(q * len(values) + 0.999999) - 1)]  # nearest rank
        estimate = percentile(bins, q)
        assert estimate is not None
        assert abs(bin_of(estimate) - bin_of(exact)) <= 1
        assert exact <= estimate <= exact * 1.2 + 1e-9  # the bin's upper edge
    assert percentile({}, 0.5) is None


def test_aggregation_is_exact_and_a_turn_counts_once() -> None:
    store = SqliteStore()
    sent = [
        event(intent="PRODUCT_RAG"),
        event(intent="PRODUCT_RAG", cached=True, cache_kind="semantic"),
        event(intent="LOCATION_RAG", fallback="static", error="model_failed"),
        event(intent="GENERAL_CONVERSATION", method="default", cached=True, cache_kind="exact"),
    ]
    for e in sent:
        assert record(store, e, shards=4, ttl=TTL)
    assert not record(store, sent[0], shards=4, ttl=TTL)  # a redelivery
    s = summarize(store, 5, now=NOW)
    assert s["turns"] == 4
    assert s["by_intent"] == {"GENERAL_CONVERSATION": 1, "LOCATION_RAG": 1, "PRODUCT_RAG": 2}
    assert s["by_method"] == {"default": 1, "embedding": 3}
    assert s["cache_hits"] == 2 and s["cache_hit_rate"] == 0.5
    assert s["cache_kinds"] == {"exact": 1, "semantic": 1}
    assert s["fallbacks"] == {"static": 1} and s["errors"] == {"model_failed": 1}
    assert s["latency_ms"]["p50"] == pytest.approx(EDGES[bin_of(20.0)], abs=1e-3)
    assert set(s["stages_ms"]) == {"total", "search"}
    assert [p["turns"] for p in s["series"]] == [0, 0, 0, 0, 4]


def test_writes_spread_over_the_shards_of_a_minute() -> None:
    store = SqliteStore()
    for _ in range(400):
        record(store, event(), shards=8, ttl=TTL)
    docs = store.query(MINUTES)
    assert len(docs) == 8
    per_shard = [d.data["turns"] for d in docs]
    assert sum(per_shard) == 400 and max(per_shard) < 2 * 400 / 8
    assert {d.id for d in docs} == {f"202611301230_{i:02d}" for i in range(8)}
    assert all(d.data["expires_at"] == datetime(2026, 12, 30, 12, 30, tzinfo=UTC) for d in docs)
    assert shard_of("abc", 8) == shard_of("abc", 8)


def test_the_window_takes_its_minutes_and_no_others() -> None:
    store = SqliteStore()
    for minutes_ago in (0, 1, 2, 59, 60, 61, 200):
        record(store, event(ts=NOW - timedelta(minutes=minutes_ago)), shards=2, ttl=TTL)
    assert summarize(store, 1, now=NOW)["turns"] == 1
    assert summarize(store, 3, now=NOW)["turns"] == 3
    s = summarize(store, 60, now=NOW)
    assert s["turns"] == 4 and len(s["series"]) == 60
    assert s["window"] == {
        "minutes": 60,
        "start": "2026-11-30T11:31:00Z",
        "end": "2026-11-30T12:31:00Z",
    }
    assert s["series"][0]["minute"] == "2026-11-30T11:31:00Z" and s["series"][0]["turns"] == 1
    assert summarize(store, 62, now=NOW)["turns"] == 6


@pytest.mark.parametrize(
    "bad",
    [
        {"turn_id": "x"},
        {"intent": "SHOPPING"},
        {"ts": "2026-11-30T12:00:00"},  # no time zone
        {"timings_ms": {"weird_stage": 1.0}},
        {"error": "Not A Code!"},
        {"result_count": -1},
    ],
)
def test_malformed_events_are_refused(bad: dict[str, Any]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        event(**bad)


def test_an_event_without_usable_timings_keeps_the_histograms() -> None:
    store = SqliteStore()
    for _ in range(3):
        record(
            store, event(turn_id=uuid.uuid4().hex, timings_ms={"total": 20.0}), shards=1, ttl=TTL
        )
    record(store, event(timings_ms={}), shards=1, ttl=TTL)
    record(store, event(timings_ms={"total": float("nan"), "search": -1.0}), shards=1, ttl=TTL)
    s = summarize(store, 1, now=NOW)
    assert s["turns"] == 5 and s["latency_ms"]["p50"] == pytest.approx(
        EDGES[bin_of(20.0)], abs=1e-3
    )
    assert s["errors"] == {}
    doc = store.query(MINUTES)[0].data
    assert doc["counts"]["bad_timings"] == 1


def test_a_hand_edited_minute_document_does_not_break_the_summary() -> None:
    store = SqliteStore()
    record(store, event(), shards=1, ttl=TTL)
    doc = store.query(MINUTES)[0]
    broken = {
        **doc.data,
        "turns": "many",
        "counts": {"intent_PRODUCT_RAG": None, "cached": 2},
        "hist": {"total": {"bx": 3, "b999": 1, "b10": True}, "search": "oops"},
    }
    store.set(MINUTES, doc.id, broken)
    s = summarize(store, 1, now=NOW)
    assert s["turns"] == 0 and s["cache_hits"] == 2
    assert s["latency_ms"]["p50"] == pytest.approx(EDGES[-1], abs=1e-3)  # b999: the last bin


def test_the_live_minutes_are_read_for_any_window() -> None:
    """A turn counted seconds ago is in the next summary, however long its window (the
    per-minute cache of older minutes: test_summary_cache.py)."""
    from shared.metrics.summary import Summaries

    store, now = SqliteStore(), [0.0]
    summaries = Summaries(store, clock=lambda: now[0])  # the wall clock: the real one
    record(store, event(ts=datetime.now(UTC)), shards=1, ttl=TTL)
    assert summaries.get(60)["turns"] == summaries.get(1440)["turns"] == 1
    record(store, event(ts=datetime.now(UTC)), shards=1, ttl=TTL)
    assert summaries.get(60)["turns"] == summaries.get(1440)["turns"] == 2

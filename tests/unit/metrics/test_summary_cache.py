"""The per-minute cache behind GET /summary: the same results as reading every document, at the
cost of the live minutes per request whatever the window, and older minutes at most every 30 s."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.metrics.aggregate import MINUTES, record
from shared.metrics.event import STAGES, TurnEvent
from shared.metrics.summary import (
    LIVE_MINUTES,
    MAX_WINDOW_MINUTES,
    SUMMARY_CACHE_S,
    Summaries,
    _figures,
    _iso,
    _merge,
    _point,
    combine,
    summarize,
)
from shared.store import Document, Filter, Order
from shared.store.sqlite_store import SqliteStore

NOW = datetime(2026, 11, 30, 12, 30, 20, tzinfo=UTC)
TTL = timedelta(days=30)
MINUTE = timedelta(minutes=1)
WINDOWS = (1, 2, 4, 5, 6, 7, 30, 59, 60, 61, 119, 120, 121, 600, 1000, 1439, 1440)


def random_event(rng: random.Random, ts: datetime) -> TurnEvent:
    cached = rng.random() < 0.3
    timings = {s: rng.lognormvariate(2.5, 1.0) for s in rng.sample(STAGES, rng.randint(0, 4))}
    return TurnEvent.model_validate(
        {
            "turn_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "ts": ts,
            "intent": rng.choice(["PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"]),
            "confidence": 0.8,
            "method": rng.choice(["embedding", "llm", "default"]),
            "cached": cached,
            "cache_kind": rng.choice(["exact", "semantic"]) if cached else None,
            "fallback": rng.choice([None, None, "static", "apology"]),
            "result_count": 2,
            "timings_ms": timings,
            "error": rng.choice([None, None, None, "model_failed", "ungrounded"]),
        }
    )


def full_read(store: SqliteStore, minutes: int, now: datetime) -> dict[str, Any]:
    """The reference: `summarize` as it was before the per-minute cache (every document of
    the window merged at once, the series from the documents stamped on each minute)."""
    end = now.replace(second=0, microsecond=0)
    start = end - timedelta(minutes=minutes - 1)
    docs = store.query(
        MINUTES,
        where=[Filter("minute", ">=", start), Filter("minute", "<=", end)],
        order_by=[Order("minute")],
    )
    per_minute: dict[datetime, list[dict[str, Any]]] = {}
    for doc in docs:
        per_minute.setdefault(doc.data["minute"], []).append(doc.data)
    span = [start + i * MINUTE for i in range(minutes)]
    return {
        **_figures(_merge(d.data for d in docs)),
        "series": [_point(m, _merge(per_minute.get(m, []))) for m in span],
        "window": {"minutes": minutes, "start": _iso(start), "end": _iso(end + MINUTE)},
    }


class Clocks:
    """The monotonic clock (cache ages) and the wall clock (the window), both by hand."""

    def __init__(self) -> None:
        self.mono, self.wall = 0.0, NOW

    def summaries(self, store: SqliteStore) -> Summaries:
        return Summaries(store, clock=lambda: self.mono, now=lambda: self.wall)

    def live(self) -> datetime:
        """The live span's first minute."""
        return self.wall.replace(second=0, microsecond=0) - (LIVE_MINUTES - 1) * MINUTE


class Reads:
    """Counts the store's queries of the minute documents, and what each returned."""

    def __init__(self, store: SqliteStore, delay_s: float = 0.0) -> None:
        self.calls: list[tuple[datetime, list[Document]]] = []
        self._lock = threading.Lock()
        inner = store.query

        def query(collection: str, **kw: Any) -> list[Document]:
            docs = inner(collection, **kw)
            lower = next((f.value for f in kw.get("where", ()) if f.op in (">", ">=")), None)
            if collection == MINUTES and lower is not None:  # a window's read, not a test's
                time.sleep(delay_s)
                with self._lock:
                    self.calls.append((lower, docs))
            return docs

        store.query = query  # type: ignore[method-assign]

    def clear(self) -> None:
        self.calls.clear()

    def minutes_read(self) -> set[datetime]:
        return {d.data["minute"] for _, docs in self.calls for d in docs}

    def documents(self) -> int:
        return sum(len(docs) for _, docs in self.calls)


def fill(
    store: SqliteStore, rng: random.Random, minutes: int, per_minute: Callable[[], int]
) -> None:
    for ago in range(minutes):
        for _ in range(per_minute()):
            ts = NOW - ago * MINUTE + timedelta(seconds=rng.uniform(-20, 39))
            record(store, random_event(rng, ts), shards=4, ttl=TTL)


def hand_edits(store: SqliteStore) -> None:
    """Documents no aggregation writes: stamped inside a minute rather than on it (the window
    counts them, the series does not), and counters that are not counters."""
    end = NOW.replace(second=0)
    for i, stamp in enumerate(
        [end - 7 * MINUTE + timedelta(seconds=30), end + timedelta(seconds=5)]
    ):
        store.set(
            MINUTES,
            f"odd_{i}",
            {"minute": stamp, "turns": 3, "counts": {"intent_PRODUCT_RAG": 3, "cached": 1}},
        )
    store.set(
        MINUTES,
        "odd_broken",
        {
            "minute": end - 9 * MINUTE,
            "turns": "many",
            "counts": {"intent_LOCATION_RAG": None, "fallback_static": 2},
            "hist": {"total": {"bx": 3, "b999": 1, "b10": True, "b3": 2}, "search": "oops"},
        },
    )


@pytest.mark.parametrize("seed", [4, 5])
def test_combining_merged_minutes_equals_merging_all_their_documents(seed: int) -> None:
    rng, store = random.Random(seed), SqliteStore()
    fill(store, rng, 40, lambda: rng.choice([0, 1, 3]))
    hand_edits(store)
    docs = [d.data for d in store.query(MINUTES)]
    docs.append({"minute": NOW, "counts": {"cached": 0, "error_x": -1}, "hist": {"embed": {}}})
    rng.shuffle(docs)
    cuts = sorted(rng.sample(range(1, len(docs)), 12))
    groups = [docs[a:b] for a, b in zip([0, *cuts], [*cuts, len(docs)], strict=True)]
    assert combine(_merge(g) for g in [*groups, []]) == _merge(docs)
    assert combine([]) == _merge([])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cached_summaries_equal_a_full_read(seed: int) -> None:
    """Property: for random data, windows and clock steps, and turns landing in live minutes
    between two calls, `get(N)` is exactly `summarize` over the store."""
    rng, clocks, store = random.Random(seed), Clocks(), SqliteStore()
    fill(store, rng, 1500, lambda: rng.choice([0, 0, 1, 2]))
    hand_edits(store)
    summaries = clocks.summaries(store)
    for _ in range(40):
        n = rng.choice([*WINDOWS, rng.randint(1, MAX_WINDOW_MINUTES)])
        end = clocks.wall.replace(second=0, microsecond=0)
        for _ in range(rng.randint(0, 3)):  # turns of this window's live minutes
            ts = end - rng.randrange(min(n, LIVE_MINUTES)) * MINUTE + timedelta(seconds=1)
            record(store, random_event(rng, ts), shards=4, ttl=TTL)
        expected = full_read(store, n, clocks.wall)
        assert summarize(store, n, now=clocks.wall) == expected, n
        assert summaries.get(n) == expected, n
        clocks.mono += rng.choice([0.0, 1.5, 7.0, 12.0, 31.0])
        clocks.wall += timedelta(seconds=rng.choice([0, 0, 10, 45, 75]))


def test_hand_edited_documents_count_as_in_a_full_read_once_their_minute_closes() -> None:
    rng, clocks, store = random.Random(6), Clocks(), SqliteStore()
    fill(store, rng, 20, lambda: 1)
    hand_edits(store)  # one stamped 5 s into the current minute: out of the window until it ends
    summaries = clocks.summaries(store)
    for n in WINDOWS:
        expected = full_read(store, n, clocks.wall)
        assert summarize(store, n, now=clocks.wall) == summaries.get(n) == expected, n
    clocks.mono += 1.0
    clocks.wall += LIVE_MINUTES * MINUTE  # the minute read as current is now served cached
    for n in WINDOWS:
        expected = full_read(store, n, clocks.wall)
        assert summarize(store, n, now=clocks.wall) == summaries.get(n) == expected, n
    assert summaries.get(60)["turns"] == summaries.get(1)["turns"] + 20 + 6  # both edits counted


def test_after_one_day_any_window_reads_only_the_live_minutes_for_30_s() -> None:
    rng, clocks, store = random.Random(7), Clocks(), SqliteStore()
    fill(store, rng, 1445, lambda: 1)
    fill(store, rng, LIVE_MINUTES + 2, lambda: 6)
    reads, summaries = Reads(store), clocks.summaries(store)
    end = NOW.replace(second=0)

    summaries.get(1440)
    assert len(reads.calls) == 1
    assert reads.minutes_read() == {end - i * MINUTE for i in range(1440)}
    full = reads.documents()

    for n in (1439, 1000, 600, 120, 119, 60, 6, 5, 3, 1, 1440):
        clocks.mono += 2.0
        reads.clear()
        summaries.get(n)
        live = {end - i * MINUTE for i in range(min(n, LIVE_MINUTES))}
        assert len(reads.calls) == 1, n
        assert reads.minutes_read() == live, n
        live_docs = [d for d in store.query(MINUTES) if d.data["minute"] in live]
        assert reads.documents() == len(live_docs), n

    clocks.mono = SUMMARY_CACHE_S - 0.1  # the day was read at 0.0: still fresh
    reads.clear()
    summaries.get(1439)
    assert reads.minutes_read() == {end - i * MINUTE for i in range(LIVE_MINUTES)}

    clocks.mono = SUMMARY_CACHE_S  # 30 s old: read again, in one query
    reads.clear()
    summaries.get(1439)
    assert len(reads.calls) == 1
    assert reads.minutes_read() == {end - i * MINUTE for i in range(1439)}
    oldest = [d for d in store.query(MINUTES) if d.data["minute"] == end - 1439 * MINUTE]
    assert reads.documents() == full - len(oldest) and oldest


def test_a_minute_leaving_the_live_span_is_served_as_last_read() -> None:
    rng, clocks, store = random.Random(8), Clocks(), SqliteStore()
    fill(store, rng, 1445, lambda: 1)
    reads, summaries = Reads(store), clocks.summaries(store)
    summaries.get(1440)
    clocks.mono += 10.0
    clocks.wall += MINUTE  # a new minute: the oldest live one closes, a new one is live
    reads.clear()
    assert summaries.get(1440) == summarize(store, 1440, now=clocks.wall)
    assert reads.calls[0][0] == clocks.live()  # only the live span was queried


def test_a_turn_shows_at_once_in_a_live_minute_within_30_s_in_an_older_one() -> None:
    rng, clocks, store = random.Random(9), Clocks(), SqliteStore()
    fill(store, rng, 100, lambda: 1)
    summaries = clocks.summaries(store)
    before = {n: summaries.get(n)["turns"] for n in (5, 60, 1440)}

    clocks.mono += 1.0
    record(store, random_event(rng, NOW), shards=4, ttl=TTL)
    record(store, random_event(rng, NOW - (LIVE_MINUTES - 1) * MINUTE), shards=4, ttl=TTL)
    for n in (5, 60, 1440):
        assert summaries.get(n)["turns"] == before[n] + 2, n

    record(store, random_event(rng, NOW - 10 * MINUTE), shards=4, ttl=TTL)  # a late turn
    clocks.mono = SUMMARY_CACHE_S - 0.5
    assert summaries.get(60)["turns"] == before[60] + 2  # its minute is served as read at 0
    assert summaries.get(1440)["turns"] == before[1440] + 2
    clocks.mono = SUMMARY_CACHE_S
    assert summaries.get(60)["turns"] == before[60] + 3
    assert summaries.get(1440)["turns"] == before[1440] + 3
    assert summaries.get(5)["turns"] == before[5] + 2
    assert summaries.get(60) == summarize(store, 60, now=clocks.wall)


def test_the_cache_keeps_at_most_a_days_minutes() -> None:
    rng, clocks, store = random.Random(10), Clocks(), SqliteStore()
    fill(store, rng, 30, lambda: 1)
    summaries = clocks.summaries(store)
    summaries.get(1440)
    kept: dict[datetime, Any] = summaries._minutes  # the bound is the point
    assert len(kept) == MAX_WINDOW_MINUTES
    clocks.wall += 100 * MINUTE
    summaries.get(1440)
    assert len(kept) == MAX_WINDOW_MINUTES
    assert min(kept) == clocks.wall.replace(second=0) - (MAX_WINDOW_MINUTES - 1) * MINUTE
    clocks.wall += timedelta(days=3)
    assert summaries.get(1)["turns"] == 0
    assert list(kept) == [clocks.wall.replace(second=0)]
    clocks.wall -= timedelta(days=2)  # the wall clock stepped back
    summaries.get(1440)
    assert len(kept) <= MAX_WINDOW_MINUTES and max(kept) == clocks.wall.replace(second=0)


def run_together(requests: list[Callable[[], Any]]) -> list[Any]:
    """Runs the requests on threads started at once; their results, or raises the first error."""
    barrier, got, failed = threading.Barrier(len(requests)), [], []

    def run(request: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            got.append(request())
        except Exception as e:  # raised below
            failed.append(e)

    threads = [threading.Thread(target=run, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise failed[0]
    return got


def test_concurrent_requests_read_the_older_minutes_once() -> None:
    rng, clocks, store = random.Random(11), Clocks(), SqliteStore()
    fill(store, rng, 1445, lambda: rng.choice([0, 1, 2]))
    expected = {n: summarize(store, n, now=NOW) for n in (1440, 5)}
    reads, summaries = Reads(store, delay_s=0.05), clocks.summaries(store)
    windows = [1440] * 6 + [5] * 2
    got = run_together([lambda n=n: (n, summaries.get(n)) for n in windows])
    assert sorted(n for n, _ in got) == sorted(windows)
    assert all(result == expected[n] for n, result in got)
    older = [lower for lower, _ in reads.calls if lower < clocks.live()]
    assert older == [NOW.replace(second=0) - 1439 * MINUTE]  # one read; the others waited


def test_concurrent_requests_and_turns_keep_the_cache_consistent() -> None:
    rng, clocks, store = random.Random(12), Clocks(), SqliteStore()
    fill(store, rng, 1445, lambda: rng.choice([0, 1]))
    summaries = clocks.summaries(store)
    end = NOW.replace(second=0)

    def write() -> None:
        for i in range(40):  # turns in live minutes only, as requests read them
            record(store, random_event(rng, end - (i % LIVE_MINUTES) * MINUTE), shards=4, ttl=TTL)

    def ask(seed: int) -> None:
        pick = random.Random(seed)
        for _ in range(10):
            summaries.get(pick.choice(WINDOWS))

    run_together([write, *(lambda s=s: ask(s) for s in range(7))])
    for n in WINDOWS:
        assert summaries.get(n) == summarize(store, n, now=NOW), n


def test_a_slower_older_read_does_not_replace_a_newer_one() -> None:
    rng, clocks, store = random.Random(13), Clocks(), SqliteStore()
    fill(store, rng, 20, lambda: 1)
    summaries, inner = clocks.summaries(store), store.query
    summaries.get(60)  # the hour is cached
    read, go_on = threading.Event(), threading.Event()

    def query(collection: str, **kw: Any) -> list[Document]:
        docs = inner(collection, **kw)
        if threading.current_thread().name == "slow":
            read.set()
            go_on.wait(5)
        return docs

    store.query = query  # type: ignore[method-assign]
    slow = threading.Thread(target=summaries.get, args=(5,), name="slow")
    slow.start()
    assert read.wait(5)  # the slow request has read the live minutes, not stored them yet
    record(store, random_event(rng, NOW), shards=4, ttl=TTL)
    clocks.mono += 1.0
    assert summaries.get(5)["turns"] == 6  # a later request reads the new turn and stores it
    go_on.set()
    slow.join()
    clocks.wall += LIVE_MINUTES * MINUTE  # NOW's minute is closed: served as last read
    assert summaries.get(60) == summarize(store, 60, now=clocks.wall)
    assert summaries.get(60)["turns"] == 21

"""Summaries of a window of minutes: counts, rates and latency percentiles, per minute too.

Each minute's shard documents are merged once into a per-minute aggregate (`_merge`); a window
is the merge of its minutes' aggregates (`combine`), which gives exactly what merging all the
window's documents at once would. `Summaries` keeps each instance's per-minute aggregates, so a
request costs one read of the live minutes however long its window, plus, at most every
SUMMARY_CACHE_S, one read of the older minutes that went stale.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.metrics.aggregate import BIN_COUNT, EDGES, MINUTES
from shared.store import Clock, Filter, Order, Store, utc_now

MAX_WINDOW_MINUTES = 1440
SUMMARY_CACHE_S = 30.0
LIVE_MINUTES = 5  # the current minute and the 4 before it: always read from the store
_MINUTE = timedelta(minutes=1)


def percentile(bins: Mapping[int, int], q: float) -> float | None:
    """The upper edge of the bin holding the q-quantile (nearest rank); None with no data."""
    total = sum(bins.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(bins):
        seen += bins[index]
        if seen >= rank:
            return round(EDGES[index], 3)
    return round(EDGES[max(bins)], 3)  # pragma: no cover - the loop always reaches rank


@dataclass(frozen=True)
class _Minute:
    """One minute's documents, merged. `point`: those stamped with the minute itself (the
    series' point, and the window's); `extra`: those stamped within it but not on it (only a
    hand edit does that), which a window counts but the series does not, as `summarize` always
    has. `read_at`: the monotonic clock before the read."""

    point: dict[str, Any]
    extra: dict[str, Any] | None
    read_at: float


class Summaries:
    """Summaries of this instance's store. A minute older than the live span (the current
    minute and the LIVE_MINUTES - 1 before it) is served from this instance's per-minute cache
    when read less than SUMMARY_CACHE_S ago; the live minutes, and any stale or missing older
    ones, are read in one range query. So a request reads the live minutes' documents (at most
    LIVE_MINUTES x shards) whatever its window, and the older minutes of a day (1,440 x shards
    documents) at most once per SUMMARY_CACHE_S, whichever N the requests ask for. At most
    MAX_WINDOW_MINUTES minutes are kept. `clock` (monotonic seconds) ages the cache; `now`
    (aware datetime) places the window."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float] = time.monotonic,
        now: Clock = utc_now,
    ) -> None:
        self.store, self._clock, self._now = store, clock, now
        self._lock = threading.Lock()  # guards _minutes
        self._refresh = threading.Lock()  # one read of older minutes at a time
        self._minutes: dict[datetime, _Minute] = {}

    def get(self, minutes: int) -> dict[str, Any]:
        start, end = _bounds(minutes, self._now())
        live = max(start, end - (LIVE_MINUTES - 1) * _MINUTE)
        first, kept = self._plan(start, live)
        if first < live:  # older minutes to read: requests that need them wait for one read
            with self._refresh:
                first, kept = self._plan(start, live)  # perhaps read while this one waited
                fresh = self._read(first, end)
        else:
            fresh = self._read(first, end)
        return _summary(start, end, {**kept, **fresh})

    def _plan(self, start: datetime, live: datetime) -> tuple[datetime, dict[datetime, _Minute]]:
        """The first minute to read (the earliest older minute that is missing or stale, else
        the live span's first) and the cached minutes before it."""
        age_from = self._clock()
        kept: dict[datetime, _Minute] = {}
        with self._lock:
            minute = start
            while minute < live:
                cached = self._minutes.get(minute)
                if cached is None or age_from - cached.read_at >= SUMMARY_CACHE_S:
                    return minute, kept
                kept[minute] = cached
                minute += _MINUTE
        return live, kept

    def _read(self, first: datetime, end: datetime) -> dict[datetime, _Minute]:
        fresh = _read_minutes(self.store, first, end, self._clock())
        oldest = end - (MAX_WINDOW_MINUTES - 1) * _MINUTE
        with self._lock:
            for minute, entry in fresh.items():
                cached = self._minutes.get(minute)
                if cached is None or cached.read_at <= entry.read_at:
                    self._minutes[minute] = entry
            for minute in [m for m in self._minutes if not oldest <= m <= end]:
                del self._minutes[minute]  # out of any window now (or the clock went back)
        return fresh


def summarize(store: Store, minutes: int, now: datetime | None = None) -> dict[str, Any]:
    """The window of the last `minutes` whole and current minutes, merged (no cache)."""
    start, end = _bounds(minutes, now or utc_now())
    return _summary(start, end, _read_minutes(store, start, end, 0.0))


def combine(merged: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Merged aggregates (what `_merge` returns) merged into one: the same as `_merge` over
    all their documents at once (the same counters, stages and bins, zeros included)."""
    turns = 0
    counts: dict[str, int] = {}
    hist: dict[str, dict[int, int]] = {}
    for m in merged:
        turns += m["turns"]
        for key, value in m["counts"].items():
            counts[key] = counts.get(key, 0) + value
        for stage, bins in m["hist"].items():
            into = hist.setdefault(stage, {})
            for index, value in bins.items():
                into[index] = into.get(index, 0) + value
    return {"turns": turns, "counts": counts, "hist": hist}


def _bounds(minutes: int, now: datetime) -> tuple[datetime, datetime]:
    """The window's first and last (current) minutes."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0)
    return end - (minutes - 1) * _MINUTE, end


def _read_minutes(
    store: Store, first: datetime, end: datetime, read_at: float
) -> dict[datetime, _Minute]:
    """Every minute from `first` to `end`, merged, from one range query (a minute without
    documents too: it is known to be empty)."""
    docs = store.query(
        MINUTES,
        where=[Filter("minute", ">=", first), Filter("minute", "<", end + _MINUTE)],
        order_by=[Order("minute")],
    )
    on: dict[datetime, list[Mapping[str, Any]]] = {}
    within: dict[datetime, list[Mapping[str, Any]]] = {}
    for doc in docs:
        stamp = doc.data["minute"]  # a timestamp: the range filter matches no other type
        minute = _floor(stamp)
        (on if stamp == minute else within).setdefault(minute, []).append(doc.data)
    span = (first + i * _MINUTE for i in range((end - first) // _MINUTE + 1))
    return {
        m: _Minute(_merge(on.get(m, [])), _merge(within[m]) if m in within else None, read_at)
        for m in span
    }


def _floor(stamp: datetime) -> datetime:
    t = stamp.astimezone(UTC)
    return datetime(t.year, t.month, t.day, t.hour, t.minute, tzinfo=UTC)


def _summary(start: datetime, end: datetime, cached: Mapping[datetime, _Minute]) -> dict[str, Any]:
    """The window's figures and series from its minutes' aggregates. Documents stamped after
    the current minute's start but within it are left out, as the range `<= end` always did."""
    minutes = (end - start) // _MINUTE + 1
    span = [start + i * _MINUTE for i in range(minutes)]
    parts = [cached[m].point for m in span]
    parts += [x for m in span[:-1] if (x := cached[m].extra) is not None]
    return {
        **_figures(combine(parts)),
        "series": [_point(m, cached[m].point) for m in span],
        "window": {"minutes": minutes, "start": _iso(start), "end": _iso(end + _MINUTE)},
    }


def _merge(docs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    turns = 0
    counts: dict[str, int] = {}
    hist: dict[str, dict[int, int]] = {}
    for data in docs:
        turns += _count(data.get("turns"))
        for key, value in _mapping(data.get("counts")).items():
            counts[key] = counts.get(key, 0) + _count(value)
        for stage, bins in _mapping(data.get("hist")).items():
            merged = hist.setdefault(stage, {})
            for key, value in _mapping(bins).items():
                index = _bin_key(key)
                if index is not None:
                    merged[index] = merged.get(index, 0) + _count(value)
    return {"turns": turns, "counts": counts, "hist": hist}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(value: Any) -> int:
    """A stored counter; anything else (a document edited by hand) counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _bin_key(key: str) -> int | None:
    if not (key.startswith("b") and key[1:].isdigit()):
        return None
    return min(int(key[1:]), BIN_COUNT - 1)


def _prefixed(counts: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in sorted(counts.items()) if k.startswith(prefix)}


def _figures(m: Mapping[str, Any]) -> dict[str, Any]:
    turns, counts, hist = m["turns"], m["counts"], m["hist"]
    total = hist.get("total", {})
    return {
        "turns": turns,
        "by_intent": _prefixed(counts, "intent_"),
        "by_method": _prefixed(counts, "method_"),
        "cache_hits": counts.get("cached", 0),
        "cache_hit_rate": round(counts.get("cached", 0) / turns, 4) if turns else 0.0,
        "cache_kinds": _prefixed(counts, "cache_"),
        "fallbacks": _prefixed(counts, "fallback_"),
        "errors": _prefixed(counts, "error_"),
        "latency_ms": {"p50": percentile(total, 0.5), "p95": percentile(total, 0.95)},
        "stages_ms": {
            stage: {"p50": percentile(bins, 0.5), "p95": percentile(bins, 0.95)}
            for stage, bins in sorted(hist.items())
        },
    }


def _point(minute: datetime, m: Mapping[str, Any]) -> dict[str, Any]:
    total = m["hist"].get("total", {})
    return {
        "minute": _iso(minute),
        "turns": m["turns"],
        "cache_hits": m["counts"].get("cached", 0),
        "by_intent": _prefixed(m["counts"], "intent_"),
        "fallbacks": sum(_prefixed(m["counts"], "fallback_").values()),
        "errors": sum(_prefixed(m["counts"], "error_").values()),
        "p50_ms": percentile(total, 0.5),
        "p95_ms": percentile(total, 0.95),
    }


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")

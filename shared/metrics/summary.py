"""Summaries of a window of minutes: counts, rates and latency percentiles, per minute too."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.metrics.aggregate import BIN_COUNT, EDGES, MINUTES
from shared.store import Filter, Order, Store

MAX_WINDOW_MINUTES = 1440
SUMMARY_CACHE_S = 30.0


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


class Summaries:
    """Summaries of this instance's store; a long window (CACHED_FROM minutes or more, the
    costly ones: minutes x shards documents) is kept SUMMARY_CACHE_S, so a dashboard that
    several people keep open does not read a day's documents for each of them."""

    CACHED_FROM = 120

    def __init__(self, store: Store, clock: Any = time.monotonic) -> None:
        self.store, self._clock = store, clock
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[float, dict[str, Any]]] = {}

    def get(self, minutes: int) -> dict[str, Any]:
        if minutes < self.CACHED_FROM:
            return summarize(self.store, minutes)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(minutes)
        if hit is not None and now - hit[0] < SUMMARY_CACHE_S:
            return hit[1]
        result = summarize(self.store, minutes)
        with self._lock:
            self._cache[minutes] = (now, result)
        return result


def summarize(store: Store, minutes: int, now: datetime | None = None) -> dict[str, Any]:
    """The window of the last `minutes` whole and current minutes, merged."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = now.replace(second=0, microsecond=0)
    start = end - timedelta(minutes=minutes - 1)
    docs = store.query(
        MINUTES,
        where=[Filter("minute", ">=", start), Filter("minute", "<=", end)],
        order_by=[Order("minute")],
    )
    per_minute: dict[datetime, list[Mapping[str, Any]]] = {}
    for doc in docs:
        per_minute.setdefault(doc.data["minute"], []).append(doc.data)
    window = _merge(d.data for d in docs)
    series = [
        _point(minute, _merge(per_minute.get(minute, [])))
        for minute in (start + timedelta(minutes=i) for i in range(minutes))
    ]
    return {
        **_figures(window),
        "series": series,
        "window": {
            "minutes": minutes,
            "start": _iso(start),
            "end": _iso(end + timedelta(minutes=1)),
        },
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

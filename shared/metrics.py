"""Per-turn metrics: events aggregated into per-minute documents, and summaries of a window.

Each event lands in `metrics_minutes/{yyyymmddhhmm}_{shard}`, the shard a hash of the turn
id, so that under load no document takes much more than a write a second (SHARDS of them
per minute). Counters and fixed-bin latency histograms are atomic increments; the event's
turn id is marked processed in the same transaction, so a redelivery (or a publisher's
retry) is never counted twice. Latency bins grow by a factor of BIN_GROWTH: a percentile
read from them is the upper edge of the bin that holds the exact value.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared import events, wiring
from shared.config import Settings, get_settings
from shared.errors import PoisonMessage, first_problem
from shared.logs import configure_logging, fields, log_context
from shared.store.base import EXPIRES_AT, Filter, Increment, Order, Store, Transaction

log = logging.getLogger("shared.metrics")
MINUTES = "metrics_minutes"
STAGES = ("embed", "route", "search", "cache", "generate", "persist", "total")
BIN_FIRST_MS = 0.25
BIN_GROWTH = 1.2
BIN_COUNT = 75  # 0.25 ms .. ~181 s; above that, the last bin
EDGES: tuple[float, ...] = tuple(BIN_FIRST_MS * BIN_GROWTH**i for i in range(BIN_COUNT))
MAX_WINDOW_MINUTES = 1440
FUTURE_SLACK = timedelta(minutes=5)  # clock skew allowed between the chat and us
SUMMARY_CACHE_S = 30.0


class MetricsEvent(BaseModel):
    """One chat turn, as the chat function publishes it (no user text, no user id)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    turn_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    ts: AwareDatetime
    intent: Literal["PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"]
    confidence: float = Field(ge=-1, le=1)
    method: Literal["embedding", "llm", "default"]
    cached: bool
    cache_kind: Literal["exact", "semantic"] | None = None
    fallback: Literal["cache", "static", "apology"] | None = None
    top_score: float | None = None
    result_count: int = Field(ge=0, le=1000)
    timings_ms: dict[Literal[STAGES], float] = Field(default_factory=dict)  # type: ignore[valid-type]
    error: str | None = Field(None, pattern=r"^[a-z_]{1,40}$")


def bin_of(ms: float) -> int:
    """The index of the bin holding `ms`: bin i holds (EDGES[i-1], EDGES[i]]; the last bin
    also holds everything slower (over ~3 minutes, far past any function timeout)."""
    return min(bisect.bisect_left(EDGES, ms), BIN_COUNT - 1)


def shard_of(turn_id: str, shards: int) -> int:
    return int.from_bytes(hashlib.sha256(turn_id.encode()).digest()[:4], "big") % shards


def minute_id(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y%m%d%H%M")


def increments(event: MetricsEvent) -> dict[str, Any]:
    """What one event adds to its minute's shard: counters and histogram bins."""
    counts: dict[str, Any] = {
        f"intent_{event.intent}": Increment(1),
        f"method_{event.method}": Increment(1),
    }
    if event.cached:
        counts["cached"] = Increment(1)
        counts[f"cache_{event.cache_kind or 'exact'}"] = Increment(1)
    if event.fallback:
        counts[f"fallback_{event.fallback}"] = Increment(1)
    if event.error:
        counts[f"error_{event.error}"] = Increment(1)
    hist = {
        stage: {f"b{bin_of(ms)}": Increment(1)}
        for stage, ms in event.timings_ms.items()
        if math.isfinite(ms) and ms >= 0
    }
    if len(hist) < len(event.timings_ms):
        counts["bad_timings"] = Increment(1)
    update: dict[str, Any] = {"turns": Increment(1), "counts": counts}
    if hist:  # an empty map in a merge would replace the stored one, histograms and all
        update["hist"] = hist
    return update


def record(
    store: Store,
    event: MetricsEvent,
    *,
    shards: int,
    ttl: timedelta,
    marker_ttl: timedelta = timedelta(days=7),
) -> bool:
    """Add the event to its minute, once: False when this turn was already counted. The
    marker lives as long as a redelivery can come (`marker_ttl`), the minute for `ttl`."""
    marker = f"metrics-{event.turn_id}"
    minute = event.ts.astimezone(UTC).replace(second=0, microsecond=0)
    doc_id = f"{minute_id(minute)}_{shard_of(event.turn_id, shards):02d}"

    def apply(txn: Transaction) -> bool:
        if txn.get(events.PROCESSED, marker) is not None:
            return False
        now = datetime.now(UTC)
        txn.set(events.PROCESSED, marker, {"handled_at": now, EXPIRES_AT: now + marker_ttl})
        txn.merge(
            MINUTES, doc_id, {"minute": minute, EXPIRES_AT: minute + ttl, **increments(event)}
        )
        return True

    counted: bool = store.transaction(apply)
    return counted


def handle_metrics_event(cloud_event: Any) -> None:
    """Acknowledge what is counted or can never be; raise what is worth retrying."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.google_cloud_project)
    dead = settings.dead_letter_topic(settings.metrics_topic)
    with log_context(str(cloud_event["id"])[:64], None):
        try:
            message = events.parse_pubsub_event(cloud_event)
        except PoisonMessage as e:
            events.dead_letter_event(wiring.get_bus(), dead, cloud_event, e.reason)
            return
        try:
            event = _parse(message, settings)
        except PoisonMessage as e:
            payload = message.data.decode(errors="replace")[:10_000]
            events.dead_letter(wiring.get_bus(), dead, message, e.reason, payload)
            return
        counted = record(
            wiring.get_store(),
            event,
            shards=settings.metrics_shards,
            ttl=timedelta(days=settings.metrics_ttl_days),
            marker_ttl=timedelta(seconds=settings.processed_marker_ttl_s),
        )
        if not counted:
            log.info("duplicate turn ignored", extra=fields(message_id=message.message_id))


def _parse(message: events.PubSubMessage, settings: Settings) -> MetricsEvent:
    if message.published_at is not None:
        age = datetime.now(UTC) - message.published_at
        if age > timedelta(seconds=settings.max_event_age_s):
            raise PoisonMessage(f"The event is {int(age.total_seconds())} s old.")
    try:
        event = MetricsEvent.model_validate(message.json())
    except ValidationError as e:
        raise PoisonMessage(f"Not a metrics event: {first_problem(e)}") from e
    now = datetime.now(UTC)
    oldest = now - timedelta(seconds=settings.max_event_age_s)
    if not oldest <= event.ts <= now + FUTURE_SLACK:
        raise PoisonMessage(f"The turn's time {event.ts.isoformat()} is out of range.")
    return event


# --- summaries


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

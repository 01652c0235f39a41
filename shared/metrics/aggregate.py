"""Turn events aggregated into per-minute documents, each turn counted once.

Each event lands in `metrics_minutes/{yyyymmddhhmm}_{shard}`, the shard a hash of the turn
id, so that under load no document takes much more than a write a second (`shards` of them
per minute). Counters and fixed-bin latency histograms are atomic increments; the event's
turn id is marked processed in the same transaction, so a redelivery (or a publisher's
retry) is never counted twice. Latency bins grow by a factor of BIN_GROWTH: a percentile
read from them is the upper edge of the bin that holds the exact value.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.bus import PROCESSED
from shared.metrics.event import TurnEvent
from shared.store import EXPIRES_AT, Increment, Store, Transaction

MINUTES = "metrics_minutes"
BIN_FIRST_MS = 0.25
BIN_GROWTH = 1.2
BIN_COUNT = 75  # 0.25 ms .. ~181 s; above that, the last bin
EDGES: tuple[float, ...] = tuple(BIN_FIRST_MS * BIN_GROWTH**i for i in range(BIN_COUNT))


def bin_of(ms: float) -> int:
    """The index of the bin holding `ms`: bin i holds (EDGES[i-1], EDGES[i]]; the last bin
    also holds everything slower (over ~3 minutes, far past any function timeout)."""
    return min(bisect.bisect_left(EDGES, ms), BIN_COUNT - 1)


def shard_of(turn_id: str, shards: int) -> int:
    return int.from_bytes(hashlib.sha256(turn_id.encode()).digest()[:4], "big") % shards


def minute_id(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y%m%d%H%M")


def increments(event: TurnEvent) -> dict[str, Any]:
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
    event: TurnEvent,
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
        if txn.get(PROCESSED, marker) is not None:
            return False
        now = datetime.now(UTC)
        txn.set(PROCESSED, marker, {"handled_at": now, EXPIRES_AT: now + marker_ttl})
        txn.merge(
            MINUTES, doc_id, {"minute": minute, EXPIRES_AT: minute + ttl, **increments(event)}
        )
        return True

    counted: bool = store.transaction(apply)
    return counted

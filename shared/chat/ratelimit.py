"""Token buckets in the store: every instance of the function shares them.

A bucket holds up to `per_minute` tokens and refills continuously at `per_minute` a minute.
A request takes its cost (one token, or what the route charges: a page of history costs
more than a health check) from each of its buckets (the user's and the client address's) in
one transaction, or nothing when any holds less: then it is refused with the time until it
would hold enough. Buckets are keyed by a hash, so no address or user id is stored in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.store import EXPIRES_AT, Store, Transaction, utc_now

RATE_LIMITS = "rate_limits"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0  # whole seconds until every bucket has a token again
    remaining: int = 0  # tokens left in the emptiest bucket


class RateLimiter:
    def __init__(
        self,
        store: Store,
        per_minute: int,
        *,
        salt: str = "",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.store = store
        self.capacity = float(per_minute)
        self.rate_per_s = per_minute / 60.0
        self._salt = salt
        self._clock = clock

    def doc_id(self, key: str) -> str:
        return hmac.new(self._salt.encode(), key.encode(), hashlib.sha256).hexdigest()[:40]

    def take(self, keys: Sequence[str], cost: float = 1.0) -> Verdict:
        """`cost` tokens from each bucket named by `keys` ("session:<id>", "ip:<address>"), or
        none. A cost above the capacity is charged as the capacity (a full bucket pays it)."""
        ids = sorted({self.doc_id(k) for k in keys if k})
        cost = min(max(cost, 0.0), self.capacity)

        def attempt(txn: Transaction) -> Verdict:
            now = self._clock()
            levels = {doc_id: self._level(txn.get(RATE_LIMITS, doc_id), now) for doc_id in ids}
            short = [level for level in levels.values() if level < cost]
            if short:
                wait = max((cost - level) / self.rate_per_s for level in short)
                return Verdict(False, max(1, math.ceil(wait)), 0)
            for doc_id, level in levels.items():
                txn.set(RATE_LIMITS, doc_id, self._bucket(level - cost, now))
            remaining = min(levels.values(), default=self.capacity) - cost
            return Verdict(True, 0, int(remaining))

        if not ids:
            return Verdict(True, 0, int(self.capacity))
        verdict: Verdict = self.store.transaction(attempt)
        return verdict

    def forget(self, keys: Sequence[str]) -> None:
        """Drop these buckets (a deleted session's): as if they had never been used."""
        for key in keys:
            self.store.delete(RATE_LIMITS, self.doc_id(key))

    def _level(self, data: dict[str, Any] | None, now: datetime) -> float:
        if data is None:
            return self.capacity
        updated = data.get("updated_at")
        elapsed = max(0.0, (now - updated).total_seconds()) if isinstance(updated, datetime) else 0
        return min(self.capacity, float(data.get("tokens", 0.0)) + elapsed * self.rate_per_s)

    def _bucket(self, tokens: float, now: datetime) -> dict[str, Any]:
        # Once full again the bucket is the same as no bucket: let the TTL sweep it.
        full_in = (self.capacity - tokens) / self.rate_per_s
        return {
            "tokens": tokens,
            "updated_at": now,
            EXPIRES_AT: now + timedelta(seconds=full_in + 60),
        }


class MemoryRateLimiter:
    """The same buckets in this instance's memory, for a function with no session key to name
    buckets in the store by (the intent function): a bound per instance, holding no address
    longer than its bucket takes to fill, and at most `max_keys` of them."""

    def __init__(
        self,
        per_minute: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate_per_s = per_minute / 60.0
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: tokens, at

    def take(self, keys: Sequence[str], cost: float = 1.0) -> Verdict:
        cost = min(max(cost, 0.0), self.capacity)
        with self._lock:
            now = self._clock()
            levels = {k: self._level(k, now) for k in set(keys) if k}
            short = [level for level in levels.values() if level < cost]
            if short:
                wait = max((cost - level) / self.rate_per_s for level in short)
                return Verdict(False, max(1, math.ceil(wait)), 0)
            for key, level in levels.items():
                self._buckets[key] = (level - cost, now)
                self._buckets.move_to_end(key)
            while self._buckets:  # the least recently used first: full again, or too many
                oldest, (tokens, at) = next(iter(self._buckets.items()))
                full = tokens + (now - at) * self.rate_per_s >= self.capacity
                if not full and len(self._buckets) <= self.max_keys:
                    break
                del self._buckets[oldest]
            remaining = min(levels.values(), default=self.capacity) - cost
            return Verdict(True, 0, int(remaining))

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + max(0.0, now - at) * self.rate_per_s)

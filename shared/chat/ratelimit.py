"""Token buckets in the store: every instance of the function shares them.

A bucket holds up to `per_minute` tokens and refills continuously at `per_minute` a minute.
A request takes one token from each of its buckets (the user's and the client address's) in
one transaction, or none when any is empty: then it is refused with the time until a token
is back. Buckets are keyed by a hash, so no address or user id is stored in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
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

    def take(self, keys: Sequence[str]) -> Verdict:
        """One token from each bucket named by `keys` ("user:<hash>", "ip:<address>"), or none."""
        ids = sorted({self.doc_id(k) for k in keys if k})

        def attempt(txn: Transaction) -> Verdict:
            now = self._clock()
            levels = {doc_id: self._level(txn.get(RATE_LIMITS, doc_id), now) for doc_id in ids}
            short = [level for level in levels.values() if level < 1.0]
            if short:
                wait = max((1.0 - level) / self.rate_per_s for level in short)
                return Verdict(False, max(1, math.ceil(wait)), 0)
            for doc_id, level in levels.items():
                txn.set(RATE_LIMITS, doc_id, self._bucket(level - 1.0, now))
            remaining = min(levels.values(), default=self.capacity) - 1.0
            return Verdict(True, 0, int(remaining))

        if not ids:
            return Verdict(True, 0, int(self.capacity))
        verdict: Verdict = self.store.transaction(attempt)
        return verdict

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


def address_key(address: str) -> str:
    """The bucket key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber's
    prefix: a host there has 2^64 addresses to rotate through)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return f"ip:{address.strip()[:64]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip6:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"ip:{ip}"

"""Token buckets in the embedded store, with a clock the tests move."""

from __future__ import annotations

import threading
from datetime import timedelta

from shared.chat.ratelimit import RATE_LIMITS, MemoryRateLimiter, RateLimiter
from shared.store.sqlite_store import SqliteStore
from tests.fakes.clock import FakeClock as Clock


def test_a_bucket_allows_its_capacity_then_refuses_with_the_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(SqliteStore(clock=clock), 6, clock=clock)  # one token per 10 s
    assert [limiter.take(["user:a"]).allowed for _ in range(7)] == [True] * 6 + [False]
    refused = limiter.take(["user:a"])
    assert not refused.allowed and refused.retry_after_s == 10
    clock.now += timedelta(seconds=4)
    assert limiter.take(["user:a"]).retry_after_s == 6
    clock.now += timedelta(seconds=6)
    assert limiter.take(["user:a"]).allowed
    assert not limiter.take(["user:a"]).allowed


def test_a_refused_request_takes_from_no_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(SqliteStore(clock=clock), 2, clock=clock)
    assert limiter.take(["user:a", "ip:1"]).allowed
    assert limiter.take(["user:a", "ip:1"]).allowed
    assert not limiter.take(["user:a", "ip:2"]).allowed  # the user is spent...
    assert limiter.take(["user:b", "ip:2"]).allowed  # ...so ip:2 still had both its tokens
    assert limiter.take(["user:c", "ip:2"]).allowed
    assert not limiter.take(["user:d", "ip:2"]).allowed


def test_buckets_refill_to_capacity_and_no_more() -> None:
    clock = Clock()
    limiter = RateLimiter(SqliteStore(clock=clock), 3, clock=clock)
    for _ in range(3):
        limiter.take(["k"])
    clock.now += timedelta(hours=5)
    assert [limiter.take(["k"]).allowed for _ in range(4)] == [True, True, True, False]


def test_buckets_are_keyed_by_hash_and_expire_once_full() -> None:
    clock = Clock()
    store = SqliteStore(clock=clock)
    limiter = RateLimiter(store, 60, clock=clock)
    limiter.take(["ip:203.0.113.9"])
    docs = store.query(RATE_LIMITS)
    assert len(docs) == 1 and "203.0.113.9" not in docs[0].id
    expires = docs[0].data["expires_at"]
    assert clock.now < expires <= clock.now + timedelta(seconds=61 + 60)


def test_concurrent_requests_never_take_more_than_the_capacity(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = SqliteStore(tmp_path / "s.sqlite3")
    limiter = RateLimiter(store, 40)
    allowed: list[bool] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(10):
            ok = limiter.take(["user:same"]).allowed
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 80 tries within well under a minute: 40 tokens, plus at most the trickle refilled.
    assert 40 <= sum(allowed) <= 42


def test_a_request_can_cost_more_than_one_token() -> None:
    clock = Clock()
    limiter = RateLimiter(SqliteStore(clock=clock), 10, clock=clock)
    assert limiter.take(["ip:1"], cost=4).remaining == 6
    assert limiter.take(["ip:1"], cost=6).allowed
    refused = limiter.take(["ip:1"], cost=0.5)
    assert not refused.allowed and refused.retry_after_s == 3  # 0.5 token at 1 per 6 s
    assert limiter.take(["ip:2"], cost=50).allowed  # above the capacity: a full bucket pays


def test_a_forgotten_bucket_is_full_again_and_gone_from_the_store() -> None:
    clock = Clock()
    store = SqliteStore(clock=clock)
    limiter = RateLimiter(store, 2, clock=clock)
    limiter.take(["session:s1"], cost=2)
    assert not limiter.take(["session:s1"]).allowed
    limiter.forget(["session:s1"])
    assert store.get(RATE_LIMITS, limiter.doc_id("session:s1")) is None
    assert limiter.take(["session:s1"]).allowed


def test_the_memory_limiter_keeps_the_same_buckets_in_memory() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(6, max_keys=2, clock=lambda: now[0])  # one token per 10 s
    assert [limiter.take(["ip:a"]).allowed for _ in range(7)] == [True] * 6 + [False]
    assert limiter.take(["ip:a"]).retry_after_s == 10
    now[0] += 10
    assert limiter.take(["ip:a"]).allowed and not limiter.take(["ip:a"]).allowed
    limiter.take(["ip:b"])
    limiter.take(["ip:c"])  # the third key: the least recently used (a) is dropped, full again
    assert [limiter.take(["ip:a"]).allowed for _ in range(6)] == [True] * 6


def test_the_memory_limiter_forgets_an_address_once_its_bucket_is_full_again() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(60, clock=lambda: now[0])  # one token a second
    limiter.take(["ip:203.0.113.9"], cost=5)
    now[0] += 3
    limiter.take(["ip:198.51.100.4"])
    assert "ip:203.0.113.9" in limiter._buckets  # 2 tokens short still
    now[0] += 24 * 3600
    limiter.take(["ip:198.51.100.4"])
    assert "ip:203.0.113.9" not in limiter._buckets

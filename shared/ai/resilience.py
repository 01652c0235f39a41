"""Bounded retries with full jitter, and a circuit breaker per dependency."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.ai.ports import CircuitOpen, ModelUnavailable
from shared.logs import fields

log = logging.getLogger("shared.ai")
T = TypeVar("T")
Clock = Callable[[], float]


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries of a transient failure, waiting uniform(0, base * 2^n) between them,
    capped at `max_delay_s`; no new try starts once `budget_s` has passed since the first
    (each try is bounded by the call's own timeout)."""

    attempts: int = 3
    base_delay_s: float = 0.2
    max_delay_s: float = 2.0
    budget_s: float = 5.0


class CircuitBreaker:
    """Closed: calls go through. `threshold` transient failures in a row open it: calls fail
    at once. After `cooldown_s` one probe goes through: success closes it, failure reopens it."""

    def __init__(
        self,
        name: str,
        *,
        threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def snapshot(self) -> dict[str, Any]:
        """For /health."""
        with self._lock:
            return {"state": self._state(), "consecutive_failures": self._failures}

    def call(self, fn: Callable[[], T]) -> T:
        probe = self._admit()
        try:
            result = fn()
        except ModelUnavailable:
            self._record(ok=False, probe=probe)
            raise
        except BaseException:
            # Not the dependency's fault: neither success nor failure (a probe just ends).
            self._record(ok=None, probe=probe)
            raise
        self._record(ok=True, probe=probe)
        return result

    def record_failure(self) -> None:
        """A failure seen outside `call` (a stream that broke after its first chunk)."""
        self._record(ok=False, probe=False)

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def _admit(self) -> bool:
        """Let the call through (True if it is the half-open probe) or refuse it."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return False
            if state == "half_open" and not self._probing:
                self._probing = True  # this caller is the probe; the rest still fail fast
                return True
        raise CircuitOpen(f"{self.name} is failing; not calling it for a while.")

    def _record(self, *, ok: bool | None, probe: bool) -> None:
        """Only the probe decides a half-open circuit; calls begun before it opened (still
        running through the cool-down) count their failures but move nothing else."""
        with self._lock:
            if probe:
                self._probing = False
            if ok is None:
                return
            if ok:
                if self._opened_at is not None:
                    log.info("circuit closed", extra=fields(dependency=self.name))
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if probe or (self._opened_at is None and self._failures >= self.threshold):
                log.warning("circuit opened", extra=fields(dependency=self.name))
                self._opened_at = self._clock()


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    breaker: CircuitBreaker,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = time.monotonic,
    rng: Callable[[float, float], float] = random.uniform,
) -> T:
    """Transient failures (ModelUnavailable) are tried again; anything else, or an open
    circuit, is raised at once."""
    deadline = clock() + policy.budget_s
    for attempt in range(1, policy.attempts + 1):
        try:
            return breaker.call(fn)
        except CircuitOpen:
            raise
        except ModelUnavailable as e:
            delay = rng(0.0, min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1)))
            if attempt == policy.attempts or clock() + delay > deadline:
                raise
            if breaker.state == "open":
                raise CircuitOpen(f"{breaker.name} is failing; not calling it again.") from e
            log.info(
                "retrying",
                extra=fields(dependency=breaker.name, attempt=attempt, error=type(e).__name__),
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def stream_with_retries(
    start: Callable[[], Iterator[str]], policy: RetryPolicy, breaker: CircuitBreaker
) -> Iterator[str]:
    """Retry until the first chunk arrives, never after: a reader has seen the first bytes."""

    def first() -> tuple[Iterator[str], str | None]:
        chunks = start()
        return chunks, next(chunks, None)

    chunks, head = call_with_retries(first, policy, breaker)
    try:
        if head is None:
            return
        yield head
        yield from chunks
    except ModelUnavailable:
        breaker.record_failure()  # a stream cut short counts against the dependency too
        raise
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # a reader that stops early ends the model's stream too

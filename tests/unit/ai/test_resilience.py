"""Retries and the circuit breaker, on an injected clock: no real waiting."""

from __future__ import annotations

import threading

import pytest

from shared.ai import CircuitOpen, ModelError, ModelUnavailable
from shared.ai.resilience import CircuitBreaker, RetryPolicy, call_with_retries, stream_with_retries


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Flaky:
    """Fails with `error` for the first `failures` calls, then returns "ok"."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures, self.calls = failures, 0
        self.error = error or ModelUnavailable("503")

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def retry(fn: Flaky, clock: Clock, breaker: CircuitBreaker | None = None, **policy: float) -> str:
    return call_with_retries(
        fn,
        RetryPolicy(**policy),  # type: ignore[arg-type]
        breaker or CircuitBreaker("dep", threshold=100, clock=clock),
        sleep=clock.sleep,
        clock=clock,
    )


def test_transient_failures_are_retried_with_full_jitter_under_a_cap(clock: Clock) -> None:
    fn = Flaky(3)
    assert retry(fn, clock, attempts=4, base_delay_s=0.5, max_delay_s=1.5, budget_s=60) == "ok"
    assert fn.calls == 4
    caps = [0.5, 1.0, 1.5]
    assert len(clock.slept) == 3
    assert all(0 <= d <= cap for d, cap in zip(clock.slept, caps, strict=True))


def test_attempts_are_bounded(clock: Clock) -> None:
    fn = Flaky(10)
    with pytest.raises(ModelUnavailable):
        retry(fn, clock, attempts=3)
    assert fn.calls == 3


def test_the_budget_bounds_the_waiting(clock: Clock) -> None:
    fn = Flaky(10)
    with pytest.raises(ModelUnavailable):
        retry(fn, clock, attempts=50, base_delay_s=1, max_delay_s=1, budget_s=2.5)
    assert sum(clock.slept) <= 2.5 and fn.calls < 50


def test_a_permanent_error_is_not_retried(clock: Clock) -> None:
    fn = Flaky(5, ModelError("400"))
    with pytest.raises(ModelError):
        retry(fn, clock, attempts=5)
    assert fn.calls == 1 and clock.slept == []


def test_the_breaker_opens_after_n_failures_in_a_row(clock: Clock) -> None:
    breaker = CircuitBreaker("gen", threshold=3, cooldown_s=30, clock=clock)
    fn = Flaky(100)
    for _ in range(3):
        with pytest.raises(ModelUnavailable):
            breaker.call(fn)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        breaker.call(fn)
    assert fn.calls == 3  # open: not called


def test_a_success_resets_the_count(clock: Clock) -> None:
    breaker = CircuitBreaker("gen", threshold=2, clock=clock)
    with pytest.raises(ModelUnavailable):
        breaker.call(Flaky(1))
    assert breaker.call(lambda: "ok") == "ok"
    with pytest.raises(ModelUnavailable):
        breaker.call(Flaky(1))
    assert breaker.state == "closed"


def test_permanent_errors_do_not_open_it(clock: Clock) -> None:
    breaker = CircuitBreaker("gen", threshold=2, clock=clock)
    for _ in range(5):
        with pytest.raises(ModelError):
            breaker.call(Flaky(1, ModelError("400")))
    assert breaker.state == "closed"


def test_after_the_cooldown_one_probe_goes_through(clock: Clock) -> None:
    breaker = CircuitBreaker("gen", threshold=1, cooldown_s=30, clock=clock)
    with pytest.raises(ModelUnavailable):
        breaker.call(Flaky(1))
    clock.now += 29.9
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: "ok")
    clock.now += 0.2
    assert breaker.state == "half_open"
    seen: list[str] = []

    def probe() -> str:  # while the probe runs, every other caller is refused
        with pytest.raises(CircuitOpen):
            breaker.call(lambda: "other")
        seen.append("probe")
        return "ok"

    assert breaker.call(probe) == "ok" and seen == ["probe"]
    assert breaker.state == "closed"


def test_a_failed_probe_reopens_it_for_another_cooldown(clock: Clock) -> None:
    breaker = CircuitBreaker("gen", threshold=1, cooldown_s=30, clock=clock)
    with pytest.raises(ModelUnavailable):
        breaker.call(Flaky(1))
    clock.now += 31
    with pytest.raises(ModelUnavailable):
        breaker.call(Flaky(1))
    assert breaker.state == "open"
    clock.now += 29
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: "ok")
    assert breaker.snapshot() == {"state": "open", "consecutive_failures": 2}


def test_retries_stop_at_an_open_circuit(clock: Clock) -> None:
    breaker = CircuitBreaker("gen", threshold=2, clock=clock)
    fn = Flaky(10)
    with pytest.raises(CircuitOpen):
        retry(fn, clock, breaker, attempts=10)
    assert fn.calls == 2


def _stream(fail_before: int, fail_after_first: bool = False):  # type: ignore[no-untyped-def]
    state = {"starts": 0}

    def start():  # type: ignore[no-untyped-def]
        state["starts"] += 1
        if state["starts"] <= fail_before:
            raise ModelUnavailable("503")

        def chunks():  # type: ignore[no-untyped-def]
            yield "one "
            if fail_after_first:
                raise ModelUnavailable("connection reset")
            yield "two"

        return chunks()

    return start, state


def test_a_stream_is_retried_until_its_first_chunk(clock: Clock) -> None:
    start, state = _stream(fail_before=2)
    breaker = CircuitBreaker("gen", threshold=10, clock=clock)
    policy = RetryPolicy(attempts=3, base_delay_s=0, max_delay_s=0)
    assert "".join(stream_with_retries(start, policy, breaker)) == "one two"
    assert state["starts"] == 3


def test_a_stream_is_never_retried_after_its_first_chunk(clock: Clock) -> None:
    start, state = _stream(fail_before=0, fail_after_first=True)
    breaker = CircuitBreaker("gen", threshold=10, clock=clock)
    chunks = stream_with_retries(start, RetryPolicy(attempts=3), breaker)
    assert next(chunks) == "one "
    with pytest.raises(ModelUnavailable):
        next(chunks)
    assert state["starts"] == 1
    assert breaker.snapshot()["consecutive_failures"] == 1


def test_a_failed_probe_reopens_it_even_below_the_threshold(clock: Clock) -> None:
    breaker = CircuitBreaker("gen", threshold=3, cooldown_s=30, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 31
    with pytest.raises(ModelUnavailable):
        breaker.call(Flaky(1))  # the probe fails once: that alone reopens it
    assert breaker.state == "open"


def test_a_probe_that_ends_in_a_permanent_error_lets_the_next_caller_probe(clock: Clock) -> None:
    breaker = CircuitBreaker("gen", threshold=1, cooldown_s=30, clock=clock)
    breaker.record_failure()
    clock.now += 31
    with pytest.raises(ModelError):
        breaker.call(Flaky(1, ModelError("400")))
    assert breaker.state == "half_open"
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.state == "closed"


def test_a_call_begun_before_the_circuit_opened_cannot_free_the_probe(clock: Clock) -> None:
    """A straggler ending during the probe must not let a second probe through."""
    breaker = CircuitBreaker("gen", threshold=2, cooldown_s=30, clock=clock)
    straggler_in, straggler_go = threading.Event(), threading.Event()
    probe_in, probe_go = threading.Event(), threading.Event()

    def straggler() -> str:
        straggler_in.set()
        straggler_go.wait(5)
        raise ModelError("400")

    def probe() -> str:
        probe_in.set()
        probe_go.wait(5)
        return "ok"

    errors: list[BaseException] = []

    def run(fn) -> None:  # type: ignore[no-untyped-def]
        try:
            breaker.call(fn)
        except BaseException as e:  # collected and checked below
            errors.append(e)

    a = threading.Thread(target=run, args=(straggler,))
    a.start()
    assert straggler_in.wait(5)
    breaker.record_failure()
    breaker.record_failure()  # open
    clock.now += 31
    b = threading.Thread(target=run, args=(probe,))
    b.start()
    assert probe_in.wait(5)
    straggler_go.set()
    a.join(5)
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: "second probe")
    probe_go.set()
    b.join(5)
    assert breaker.state == "closed"
    assert [type(e) for e in errors] == [ModelError]


def test_jitter_draws_from_zero_to_the_doubling_cap(clock: Clock) -> None:
    asked: list[tuple[float, float]] = []

    def rng(low: float, high: float) -> float:
        asked.append((low, high))
        return high / 2

    call_with_retries(
        Flaky(4),
        RetryPolicy(attempts=5, base_delay_s=0.25, max_delay_s=1.0, budget_s=60),
        CircuitBreaker("dep", threshold=100, clock=clock),
        sleep=clock.sleep,
        clock=clock,
        rng=rng,
    )
    assert asked == [(0.0, 0.25), (0.0, 0.5), (0.0, 1.0), (0.0, 1.0)]
    assert clock.slept == [0.125, 0.25, 0.5, 0.5]

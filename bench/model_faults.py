"""How long a caller waits for a well-formed answer when the model fails, and how fast an open
circuit refuses. The model is the local fake Gemini server, driven by the real google-genai SDK;
settings as a deployment would have them (3 attempts, 5 s retry budget), with a 1 s timeout.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.report import machine, row, time_calls
from shared import wiring
from shared.ai import CircuitOpen, ContextDoc, Prompt
from shared.ai.fallback import answer
from shared.ai.resilience import CircuitBreaker
from shared.config import get_settings
from tests.fakes.gemini_server import FakeGemini

PROMPT = Prompt(
    system="s",
    user="a decaf please",
    intent="PRODUCT_RAG",
    context=(ContextDoc("cof-104", "product", "Nightcap Decaf", {"price": 15.95}),),
)
FAULTS: dict[str, dict[str, Any]] = {
    "none": {},
    "timeout": {"delay_s": 30},
    "429": {"status": 429},
    "500": {"status": 500},
    "malformed": {"malformed": True},
}


@contextmanager
def gemini(fake: FakeGemini) -> Iterator[None]:
    """Settings as the environment of a deployment would give them, pointed at the fake."""
    overrides = {
        "GEMINI_API_KEY": "bench",
        "GEMINI_BASE_URL": fake.url,
        "MODEL_TIMEOUT_S": "1",
        "BREAKER_FAILURES": "100",  # this measures retries and fallbacks, not the circuit
    }
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        wiring.reset()


def time_to_answer(fake: FakeGemini, fault: dict[str, Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        fake.faults.clear()
        if fault:
            fake.fail_next(10, **fault)
        start = time.perf_counter()
        result = answer(wiring.get_generator(), PROMPT, cached=lambda: None)
        "".join(result.chunks)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    logging.getLogger("shared").setLevel(logging.ERROR)  # the fallbacks are expected here
    print(f"model_faults: time to a well-formed answer, fake Gemini on loopback  [{machine()}]")
    with FakeGemini() as fake, gemini(fake):
        for name, fault in FAULTS.items():
            runs = 3 if name == "timeout" else 10
            print(row(f"generator fault: {name} ({runs} runs)", time_to_answer(fake, fault, runs)))
    breaker = CircuitBreaker("bench", threshold=1, cooldown_s=3600)
    breaker.record_failure()  # open, for an hour

    def refused() -> None:
        try:
            breaker.call(lambda: None)
        except CircuitOpen:
            return
        raise AssertionError("the circuit should be open")

    samples = [ms * 1000 for ms in time_calls(refused, 10_000)]
    print(row("open circuit refuses a call", samples, unit="us"))
    print(f"  open circuit p50 = {statistics.median(samples) / 1000:.4f} ms")


if __name__ == "__main__":
    main()

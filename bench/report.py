"""Shared printing for benchmarks: the machine, and percentiles of timed runs."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence


def machine() -> str:
    import numpy as np

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )


def time_calls(fn: Callable[[], object], runs: int, warmup: int = 20) -> list[float]:
    """Milliseconds per call, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def pct(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def row(label: str, samples: Sequence[float], unit: str = "ms") -> str:
    return (
        f"  {label:<46} p50 {statistics.median(samples):8.3f} {unit}   "
        f"p99 {pct(samples, 99):8.3f} {unit}"
    )

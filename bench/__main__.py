"""Run every benchmark in turn: python -m bench [name ...]."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "store_nearest",
    "cold_import",
    "embedder",
    "model_faults",
    "routing",
    "search",
    "ingest",
    "chat_load",
    "web_page",
)


def main(argv: list[str]) -> int:
    for name in argv or BENCHMARKS:
        importlib.import_module(f"bench.{name}").main()
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

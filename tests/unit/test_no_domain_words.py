"""No Python module of shared/ names a domain: what the assistant knows of coffee or outdoor
gear (or anything else) comes from the catalog, its manifest and its profile."""

from __future__ import annotations

import json
import re
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
BENCHMARKS = Path(__file__).resolve().parents[3] / "shared" / "data"
# The two benchmark domains' telling words, and every category word of their catalogs.
WORDS = {
    "coffee", "espresso", "latte", "decaf", "roast", "caffeine", "barista", "cappuccino",
    "arabica", "tent", "tents", "hiking", "sleeping bag", "backpack", "headlamp", "trekking",
    "carabiner", "campsite",
}  # fmt: skip


def catalog_words() -> set[str]:
    found = set(WORDS)
    for catalog in ("catalog", "outdoor"):
        for line in (BENCHMARKS / catalog / "products.jsonl").read_text().splitlines():
            record = json.loads(line)
            path = str(record.get("category") or record.get("kind") or "")
            found |= {part.strip().lower() for part in path.split(">")}
    # everyday words that are also categories there ("filters" are also a query's)
    return found - {"equipment", "drink", "footwear", "clothing", "water", "lighting", "filters",
                    "chairs", "stoves", "harnesses"}  # fmt: skip


def test_no_module_of_shared_names_a_benchmark_domain() -> None:
    pattern = re.compile(
        r"\b("
        + "|".join(re.escape(w) for w in sorted(catalog_words(), key=len, reverse=True))
        + r")s?\b",
        re.IGNORECASE,
    )
    found = [
        f"{path.relative_to(SHARED)}:{number}: {line.strip()}"
        for path in sorted(SHARED.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert found == []

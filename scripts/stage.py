"""Build one deployable folder per function: its main.py, the shared package, requirements.txt.

Usage: python -m scripts.stage [--out build]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("chat", "intent", "ingest", "metrics")


def stage(out: Path) -> list[Path]:
    bundles = []
    for name in FUNCTIONS:
        bundle = out / name
        if bundle.exists():
            shutil.rmtree(bundle)
        bundle.mkdir(parents=True)
        shutil.copy2(ROOT / "functions" / name / "main.py", bundle / "main.py")
        shutil.copytree(
            ROOT / "shared",
            bundle / "shared",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        shutil.copy2(ROOT / "requirements.txt", bundle / "requirements.txt")
        bundles.append(bundle)
    return bundles


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    args = parser.parse_args(argv)
    for bundle in stage(args.out):
        files = sum(1 for p in bundle.rglob("*") if p.is_file())
        print(f"staged {bundle} ({files} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Cold import of each staged function, in fresh processes, against what a naive function pays.

Each figure is the wall time of a fresh `python -c 'import main'` in the function's staged
bundle (interpreter start included), median of RUNS. The peers, run the same way in the same
job: the interpreter alone, functions-framework alone (our floor), and functions-framework with
google-cloud-firestore and google-genai imported eagerly (what a function that builds its
clients at import pays on every cold start).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import machine
from scripts.stage import stage

RUNS = 7
PEERS = {
    "python -c pass (interpreter)": "pass",
    "import functions_framework (floor)": "import functions_framework",
    "eager FF + firestore + genai (naive)": (
        "import functions_framework, google.cloud.firestore, google.genai"
    ),
}


def wall(code: str, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, check=True)
    return (time.perf_counter() - start) * 1000


def median_ms(code: str, cwd: Path) -> float:
    wall(code, cwd)  # warm the OS file cache; Cloud Run's image is on local disk too
    return statistics.median(wall(code, cwd) for _ in range(RUNS))


def main() -> None:
    print(f"cold_import: fresh processes, median of {RUNS}  [{machine()}]")
    with tempfile.TemporaryDirectory() as tmp:
        bundles = stage(Path(tmp))
        peers = {label: median_ms(code, Path(tmp)) for label, code in PEERS.items()}
        for label, ms in peers.items():
            print(f"  {label:<40} {ms:8.1f} ms")
        naive = peers["eager FF + firestore + genai (naive)"]
        for bundle in bundles:
            ms = median_ms("import sys; sys.path.insert(0, '.'); import main", bundle)
            print(
                f"  functions/{bundle.name}/main.py{'':<{22 - len(bundle.name)}} {ms:8.1f} ms"
                f"   ({ms / naive:.2f}x the naive import)"
            )


if __name__ == "__main__":
    main()

"""Every staged bundle imports alone, as Cloud Functions will load it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.stage import FUNCTIONS, stage

# Run inside a fresh interpreter, in the bundle folder, with nothing of the repo on sys.path:
# functions-framework resolves the entry point exactly as the runtime does.
PROBE = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
from functions_framework import create_app
from functions_framework import _function_registry as registry
target, signature = sys.argv[1], sys.argv[2]
app = create_app(target=target, source="main.py", signature_type=signature)
shared_file = sys.modules["shared"].__file__
out = {
    "registered": registry.REGISTRY_MAP.get(target),
    "shared_from": shared_file,
    "heavy": sorted(
        m for m in ("google.cloud.firestore", "google.genai", "google.cloud.pubsub_v1", "numpy")
        if m in sys.modules
    ),
}
if signature == "http":
    out["health"] = app.test_client().get("/health").status_code
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    stage(out)
    return out


@pytest.mark.parametrize("name", FUNCTIONS)
def test_bundle_has_exactly_its_parts(bundles: Path, name: str) -> None:
    bundle = bundles / name
    assert sorted(p.name for p in bundle.iterdir()) == ["main.py", "requirements.txt", "shared"]
    assert not list(bundle.rglob("__pycache__"))
    root = Path(__file__).resolve().parents[2]
    assert (bundle / "requirements.txt").read_text() == (root / "requirements.txt").read_text()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_bundle_imports_alone_and_resolves_its_entry_point(
    bundles: Path, name: str, tmp_path: Path
) -> None:
    signature = "cloudevent" if name == "ingest" else "http"
    env = {"PATH": "/usr/bin:/bin", "LOCAL_DIR": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, name, signature],
        cwd=bundles / name,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["registered"] == signature
    assert Path(out["shared_from"]).is_relative_to(bundles / name)
    # Cold start: the cloud SDKs and numpy load when first used, not at import.
    assert out["heavy"] == []
    if signature == "http":  # an empty store: the chat has no catalog to answer from
        assert out["health"] == (503 if name == "chat" else 200)

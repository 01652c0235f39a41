import sys

import pytest

from shared import wiring
from shared.bus.local_bus import LocalBus
from shared.store.sqlite_store import SqliteStore


def test_defaults_are_the_embedded_adapters_built_once() -> None:
    store, bus = wiring.get_store(), wiring.get_bus()
    assert isinstance(store, SqliteStore) and isinstance(bus, LocalBus)
    assert wiring.get_store() is store and wiring.get_bus() is bus


def test_the_store_file_lives_under_local_dir(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("LOCAL_DIR", str(tmp_path))
    from shared.config import get_settings

    get_settings.cache_clear()
    store = wiring.get_store()
    assert isinstance(store, SqliteStore) and store.path == str(tmp_path / "store.sqlite3")


def test_firestore_is_chosen_by_settings_and_built_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-project")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")  # never contacted
    from shared.store.firestore_store import FirestoreStore

    store = wiring.get_store()
    assert isinstance(store, FirestoreStore)
    assert store.client.project == "demo-project"


def test_reset_closes_and_forgets() -> None:
    bus = wiring.get_bus()
    wiring.reset()
    with pytest.raises(RuntimeError):
        bus.publish("t", {})  # type: ignore[union-attr]
    assert wiring.get_bus() is not bus


def test_importing_shared_does_not_load_cloud_sdks() -> None:
    import subprocess

    code = (
        "import sys; import shared.wiring, shared.health, shared.catalog.ingest, shared.httpapi; "
        "print(sorted(m for m in sys.modules if m.startswith(('google.cloud.firestore', "
        "'google.cloud.pubsub', 'google.genai'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""Every test starts from a clean environment, fresh settings and no cached clients."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Variables that would point a test at a real cloud project or change adapters.
_ISOLATED = (
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "STORE_BACKEND",
    "BUS_BACKEND",
    "FUNCTION_TARGET",
    "FUNCTION_SIGNATURE_TYPE",
    "K_SERVICE",
    "PORT",
    "CORS_ALLOWED_ORIGINS",
)

# Captured before any isolation: the emulator tests opt back in to it explicitly.
FIRESTORE_EMULATOR_HOST = os.environ.get("FIRESTORE_EMULATOR_HOST")


@pytest.fixture(autouse=True)
def isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    for name in _ISOLATED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOCAL_DIR", str(tmp_path_factory.mktemp("local")))
    from shared import wiring
    from shared.config import Settings, get_settings

    monkeypatch.setitem(Settings.model_config, "env_file", None)  # a developer's .env stays out

    get_settings.cache_clear()
    wiring.reset()
    yield
    wiring.reset()
    get_settings.cache_clear()

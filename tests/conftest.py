"""Every test starts from a clean environment, fresh settings and no cached clients."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from tests.local_stack import CLOUD_VARIABLES

_ISOLATED = CLOUD_VARIABLES

# Captured before any isolation: the emulator tests opt back in to it explicitly.
FIRESTORE_EMULATOR_HOST = os.environ.get("FIRESTORE_EMULATOR_HOST")
_LOOPBACK = ("127.", "::1", "localhost")


def _is_local(address: object) -> bool:
    if isinstance(address, tuple) and address:
        return str(address[0]).startswith(_LOOPBACK)
    return True  # Unix sockets and the like stay on this machine


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to this machine only: a Python socket to anywhere else fails loudly.
    (gRPC's C core opens its own sockets; the emulator tests point it at loopback.)"""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(address: object) -> None:
        if not _is_local(address):
            raise OSError(f"test tried to reach {address!r}: tests stay on this machine")

    def connect(self: socket.socket, address: object) -> None:
        guard(address)
        real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        guard(address)
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With REQUIRE_EMULATORS=1 (CI), an emulator case that skips is a failure: there, the
    Firestore and Pub/Sub cases must run against the emulators, never quietly drop out."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (
        report.skipped
        and item.get_closest_marker("emulator") is not None
        and os.environ.get("REQUIRE_EMULATORS") == "1"
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped although REQUIRE_EMULATORS=1: {report.longrepr}"

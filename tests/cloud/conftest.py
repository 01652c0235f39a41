"""The deployed topology on this machine (scripts/cloudstack.py): gcloud's emulators, a process per
function from its staged bundle, Pub/Sub push, the front door. Each test module gets a stack of
its own; where gcloud has no emulators the tests skip, and with REQUIRE_EMULATORS=1 (CI) that
skip is a failure (tests/conftest.py). Their offline counterparts run against `make dev`'s
stack (tests/integration)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts import cloudstack
from scripts import emulator as emulators

ROOT = Path(__file__).resolve().parents[2]
COFFEE = ROOT.parent / "shared" / "data" / "catalog"

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is an emulator test: with REQUIRE_EMULATORS=1 its skip is a failure.
    (A conftest's `pytestmark` marks nothing: the marker is put on each test of this folder.)"""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.emulator)


def start_stack(tmp: Path, **env: str) -> cloudstack.CloudStack:
    missing = [e.name for e in emulators.EMULATORS if not emulators._installed(e)]
    if missing:
        pytest.skip(f"gcloud has no {' or '.join(missing)} emulator: {cloudstack.HOW_TO_GET}")
    stack = cloudstack.CloudStack(
        COFFEE, port=0, build_dir=tmp / "build", work_dir=tmp / "work", env=dict(env)
    )
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cloudstack.CloudStack]:
    stack = start_stack(tmp_path_factory.mktemp("cloud"), RATE_LIMIT_PER_MINUTE="1000")
    yield stack
    stack.stop()


def call(
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request; the status, headers and body, whatever the status."""
    sent = {"Accept": "application/json", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    if token:
        sent["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def session(base: str, headers: dict[str, str] | None = None) -> tuple[str, str]:
    status, _, body = call("POST", f"{base}/chat/sessions", {}, headers=headers)
    assert status == 201, body
    answer = json.loads(body)
    return answer["session_id"], answer["token"]


def turns_counted(base: str) -> int:
    status, _, body = call("GET", f"{base}/metrics/summary?minutes=60")
    assert status == 200, body
    return int(json.loads(body)["turns"])


def settled_turns(base: str, quiet_s: float = 2.0) -> int:
    """The turns counted once earlier turns' events have landed: the same count twice,
    `quiet_s` apart."""
    last = turns_counted(base)
    for _ in range(30):
        time.sleep(quiet_s)
        now = turns_counted(base)
        if now == last:
            return now
        last = now
    raise AssertionError("the metrics count never settled")


def wait_for(check: Any, timeout_s: float, what: str) -> Any:
    """Poll `check` until it returns something true; that value, or fail saying `what`."""
    end, pause = time.monotonic() + timeout_s, 0.2
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"after {timeout_s:.0f} s: {what}")
        time.sleep(pause)
        pause = min(pause * 1.5, 2.0)

"""`make dev`'s server as a user starts it: every function answers under one port, then stops."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "catalog"


def sample_counts() -> dict[str, int]:
    return {
        p.stem: sum(1 for line in p.read_text().splitlines() if line.strip())
        for p in SAMPLE.glob("*.jsonl")
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, bytes, str]:
    with urllib.request.urlopen(url, timeout=5) as r:  # loopback only
        return r.status, r.read(), r.headers.get_content_type()


def wait_json(url: str, ready, deadline: float) -> dict:
    last: object = None
    while time.monotonic() < deadline:
        try:
            status, body, _ = get(url)
            data = json.loads(body)
            if status == 200 and ready(data):
                return data
            last = data
        except OSError as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready: {last}")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "LOCAL_DIR": str(tmp_path)}
    env.pop("CATALOG", None)  # the bundled sample catalog, as for a new user
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.devserver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_every_function_answers_under_one_port_and_stops_cleanly(stack) -> None:
    base, proc = stack
    deadline = time.monotonic() + 60
    for name in ("chat", "intent", "metrics"):
        report = wait_json(f"{base}/{name}/health", lambda d: d["status"] == "ok", deadline)
        assert report["checks"]["store"]["kind"] == "sqlite"
    expected = sample_counts()  # loaded through the bus and the real ingest function
    report = wait_json(
        f"{base}/chat/health",
        lambda d: d["checks"]["catalog"]["counts"] == expected,
        deadline,
    )
    assert set(expected) == {"products", "shops", "inventory", "documents"}
    status, body, kind = get(f"{base}/")
    assert status == 200 and kind == "text/html" and b"<title>" in body
    assert get(f"{base}/config.js")[0] == 200
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert f"running at {base}/" in out and "Stopped." in out
    assert "Traceback" not in out

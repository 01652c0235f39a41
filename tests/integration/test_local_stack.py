"""`make dev`'s server as a user starts it: every function answers under one port, then stops."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
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


class Stack:
    """`python -m scripts.devserver` in a process of its own; its output read as it comes."""

    def __init__(self, local_dir: Path) -> None:
        port = free_port()
        env = {**os.environ, "PORT": str(port), "LOCAL_DIR": str(local_dir)}
        env.pop("CATALOG", None)  # the bundled sample catalog, as for a new user
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.devserver"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for_line(self, start: str, deadline: float) -> str:
        while time.monotonic() < deadline:
            found = [line for line in self.lines if line.startswith(start)]
            if found:
                return found[0]
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line starting {start!r}: {''.join(self.lines)[-2000:]}")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(20)
        self._reader.join(5)
        return "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    started = Stack(tmp_path)
    try:
        yield started
    finally:
        started.kill()


def test_every_function_answers_under_one_port_and_stops_cleanly(stack: Stack) -> None:
    base = stack.base
    deadline = time.monotonic() + 90
    for name in ("chat", "intent", "metrics"):
        report = wait_json(f"{base}/{name}/health", lambda d: d["status"] == "ok", deadline)
        assert report["checks"]["store"]["kind"] == "sqlite"
    expected = sample_counts()  # loaded through the bus and the real ingest function
    loaded = stack.wait_for_line("Catalog loaded:", deadline)
    assert f"{sum(expected.values())} records" in loaded
    report = wait_json(f"{base}/chat/health", lambda d: True, deadline)
    assert report["checks"]["catalog"]["counts"] == expected
    assert set(expected) == {"products", "shops", "inventory", "documents"}
    status, body, kind = get(f"{base}/")
    assert status == 200 and kind == "text/html" and b"<title>" in body
    assert get(f"{base}/config.js")[0] == 200
    out = stack.stop()
    assert stack.proc.returncode == 0
    assert f"running at {base}/" in out and "Stopped." in out
    assert "Traceback" not in out


def test_a_restart_loads_the_catalog_again_and_duplicates_nothing(tmp_path: Path) -> None:
    versions = []
    for _ in range(2):
        stack = Stack(tmp_path)  # the same .local: the same store
        try:
            deadline = time.monotonic() + 90
            stack.wait_for_line("Catalog loaded:", deadline)
            report = wait_json(f"{stack.base}/chat/health", lambda d: True, deadline)
            versions.append(report["checks"]["catalog"])
            assert stack.stop() and stack.proc.returncode == 0
        finally:
            stack.kill()
    first, second = versions
    assert first["counts"] == second["counts"] == sample_counts()
    assert second["version"] == first["version"]  # nothing was written again


def post_json(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as r:  # loopback only
        return json.loads(r.read())


def test_after_n_chat_turns_the_metrics_summary_counts_exactly_n(stack: Stack) -> None:
    base = stack.base
    deadline = time.monotonic() + 90
    stack.wait_for_line("Catalog loaded:", deadline)
    questions = [
        "recommend a dark roast coffee",
        "which shops are in Seattle?",
        "thanks, bye",
        "recommend a dark roast coffee",
        "is there a shop in Portland?",
    ]
    replies = []
    for q in questions:
        session = post_json(f"{base}/chat/sessions", {})
        url = f"{base}/chat/sessions/{session['session_id']}/messages"
        replies.append(post_json(url, {"message": q}, session["token"]))
    by_intent: dict[str, int] = {}
    for reply in replies:
        by_intent[reply["intent"]] = by_intent.get(reply["intent"], 0) + 1
    summary = wait_json(
        f"{base}/metrics/summary?minutes=10", lambda d: d["turns"] >= len(questions), deadline
    )
    assert summary["turns"] == len(questions)
    assert summary["by_intent"] == by_intent
    assert summary["cache_hits"] == sum(r["cached"] for r in replies) >= 1
    stack.stop()
    assert stack.proc.returncode == 0

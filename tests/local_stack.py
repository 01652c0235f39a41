"""`make dev`'s server as a user starts it (`python -m scripts.devserver`), in a process of its
own, for the tests that need the whole product behind a real port: its output is read as it
comes, and nothing of the test run's environment points it at a cloud."""

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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "catalog"

# Variables that would point the product at a real cloud project or change its adapters.
CLOUD_VARIABLES = (
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
    "GENAI_BACKEND",
    "GEMINI_BASE_URL",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GEMINI_BASE_URL",
)


def sample_counts() -> dict[str, int]:
    counts = {
        p.stem: sum(1 for line in p.read_text().splitlines() if line.strip())
        for p in SAMPLE.glob("*.jsonl")
    }
    if (SAMPLE / "catalog.json").is_file():
        counts["manifest"] = 1  # the retailer's manifest: one record
    return counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, bytes, str]:
    with urllib.request.urlopen(url, timeout=5) as r:  # loopback only
        return r.status, r.read(), r.headers.get_content_type()


def wait_json(url: str, ready: Callable[[Any], bool], deadline: float) -> Any:
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


def post_json(url: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as r:  # loopback only
        return json.loads(r.read())


class Stack:
    """The local stack on a free port, with `local_dir` as its .local and `env` on top."""

    def __init__(self, local_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        base_env = {k: v for k, v in os.environ.items() if k not in CLOUD_VARIABLES}
        base_env.pop("CATALOG", None)  # the bundled sample catalog, as for a new user
        full_env = {**base_env, "PORT": str(self.port), "LOCAL_DIR": str(local_dir), **(env or {})}
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.devserver"],
            cwd=ROOT,
            env=full_env,
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

    def ready(self, within_s: float = 180.0) -> Stack:
        """This stack once it says `Ready:`; one that does not in time is killed, and the
        error raised."""
        try:
            self.wait_for_line("Ready:", time.monotonic() + within_s)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(20)
        self._reader.join(5)
        return "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

"""The abuse suite's target: `make dev`'s server, as a user starts it, on a loopback port.

Streams are slowed as a model's would be, so that concurrent requests meet turns in flight.
Every test here is bounded in requests and time, and sends to 127.0.0.1 only."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.local_stack import Stack

STREAM_DELAY_MS = 150  # between an answer's chunks: a turn takes a second or two
TIMEOUT_S = 60


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Target:
    """The running stack, and the contract's calls over real HTTP."""

    def __init__(self, stack: Stack, local_dir: Path) -> None:
        self.stack, self.base, self.local_dir = stack, stack.base, local_dir

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        accept: str = "application/json",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        source: str = "127.0.0.1",
    ) -> Reply:
        """One request from the loopback address `source` (each is its own client)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {"Accept": accept, **(headers or {})}
        if data is not None:
            sent["Content-Type"] = "application/json"
        if token:
            sent["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.stack.port, timeout=TIMEOUT_S, source_address=(source, 0)
        )
        try:
            conn.request(method, path, data, sent)
            r = conn.getresponse()
            return Reply(r.status, dict(r.getheaders()), r.read())
        finally:
            conn.close()

    def session(self) -> tuple[str, str]:
        r = self.call("POST", "/chat/sessions", {})
        assert r.status == 201, r.body
        return r.json()["session_id"], r.json()["token"]

    def ask(
        self, sid: str, token: str, text: str, *, stream: bool = False, source: str = "127.0.0.1"
    ) -> Reply:
        accept = "text/event-stream" if stream else "application/json"
        path = f"/chat/sessions/{sid}/messages"
        return self.call("POST", path, {"message": text}, token=token, accept=accept, source=source)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    local = tmp_path_factory.mktemp("abuse-local")
    stack = Stack(local, {"OFFLINE_STREAM_DELAY_MS": str(STREAM_DELAY_MS)})
    try:
        stack.wait_for_line("Ready:", time.monotonic() + 120)
        yield Target(stack, local)
    finally:
        stack.kill()

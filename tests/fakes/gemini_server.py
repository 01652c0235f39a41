"""A local fake of the Gemini HTTP API, for the real google-genai SDK to talk to.

Serves generateContent, streamGenerateContent?alt=sse, batchEmbedContents and embedContent on
the Gemini API and Vertex AI paths, records every request, and can be told to fail: an HTTP
status with Google's error body, a slow answer, or a malformed body.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

_PATH = re.compile(r"/models/(?P<model>[^/:]+):(?P<method>\w+)$")
_STATUS = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass
class Fault:
    status: int = 200  # an HTTP error with Google's error body when not 200
    delay_s: float = 0.0  # wait before answering
    malformed: bool = False  # answer 200 with a body that is not what the SDK expects
    error_after_first_chunk: int = 0  # a stream that sends one chunk, then this error event
    values: list[float] | None = None  # embeddings: these values for every text


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeGemini:
    """Start with `with FakeGemini() as fake:`; point the SDK at `fake.url`."""

    reply: str = "Here is a grounded answer from the fake model."
    chunk_words: int = 3
    label: str | None = None  # classification answer; default: the first enum value
    requests: list[Recorded] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, n: int, **fault: Any) -> None:
        self.faults.extend(Fault(**fault) for _ in range(n))

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(f":{method}")]

    def __enter__(self) -> FakeGemini:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def fake_vector(text: str, dims: int) -> list[float]:
    """Deterministic per text and deliberately not unit length (the adapter re-normalises)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).standard_normal(dims) * 3.0).tolist()


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeGemini
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        fake = self.server_fake
        fake.requests.append(Recorded("POST", path, query, dict(self.headers), body))
        fault = fake.faults.popleft() if fake.faults else Fault()
        if fault.delay_s:
            time.sleep(fault.delay_s)
        match = _PATH.search(path)
        if fault.status != 200 or not match:
            status = fault.status if match else 404
            self._json(
                status,
                {
                    "error": {
                        "code": status,
                        "message": "fake failure",
                        "status": _STATUS.get(status, "UNKNOWN"),
                    }
                },
            )
            return
        if fault.malformed:
            self._raw(200, b'{"candidates": [{"content": ', "application/json")
            return
        method = match["method"]
        if fault.values is not None:
            vectors = [{"values": fault.values} for _ in body.get("requests", [body])]
            self._json(200, {"embeddings": vectors})
        elif method == "streamGenerateContent" and fault.error_after_first_chunk:
            status = fault.error_after_first_chunk
            error = {"error": {"code": status, "message": "cut", "status": _STATUS.get(status)}}
            self._sse(iter([next(self._chunks(body)), error]))
        elif method == "streamGenerateContent":
            self._sse(self._chunks(body))
        elif method == "generateContent":
            self._json(200, _response(self._text(body), last=True))
        elif method == "batchEmbedContents":
            self._json(200, {"embeddings": [self._embedding(r) for r in body["requests"]]})
        elif method == "embedContent":
            self._json(200, {"embedding": self._embedding(body)})
        else:
            self._json(404, {"error": {"code": 404, "message": method, "status": "NOT_FOUND"}})

    def _text(self, body: dict[str, Any]) -> str:
        config = body.get("generationConfig") or {}
        if config.get("responseMimeType") == "text/x.enum":
            labels = config["responseSchema"]["enum"]
            return self.server_fake.label or labels[0]
        return self.server_fake.reply

    def _chunks(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        words = self._text(body).split(" ")
        n = self.server_fake.chunk_words
        pieces = [" ".join(words[i : i + n]) + " " for i in range(0, len(words), n)]
        pieces[-1] = pieces[-1].rstrip()
        for i, piece in enumerate(pieces):
            yield _response(piece, last=i == len(pieces) - 1)

    def _embedding(self, request: dict[str, Any]) -> dict[str, Any]:
        text = "".join(p.get("text", "") for p in request["content"]["parts"])
        config = request.get("embedContentConfig") or request
        dims = int(config.get("outputDimensionality") or 3072)
        return {"values": fake_vector(text, dims)}

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._raw(status, json.dumps(payload).encode(), "application/json")

    def _raw(self, status: int, data: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: Iterator[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for event in events:
            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
            self.wfile.flush()
        self.close_connection = True


def _response(text: str, *, last: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [{"text": text}]},
        "index": 0,
    }
    if last:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8},
        "modelVersion": "fake",
    }

"""`make dev`'s server, built in-process on a free loopback port: its static pages refuse to be
framed or sniffed, and a connection that sends no request is closed after the timeout, while a
stream that is being written is not cut."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug.serving import BaseWSGIServer

from scripts import devserver
from shared.config import get_settings
from tests.integration.chat_support import parse_sse

TIMEOUT_S = 1.0  # REQUEST_TIMEOUT_S, lowered so that the test waits for it


@pytest.fixture
def timeout_s() -> float:
    return TIMEOUT_S


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, timeout_s: float) -> Iterator[BaseWSGIServer]:
    monkeypatch.setattr(devserver, "REQUEST_TIMEOUT_S", timeout_s)
    settings = get_settings().model_copy(update={"host": "127.0.0.1", "port": 0})
    started = devserver.make_local_server(settings, devserver.build_app())
    thread = threading.Thread(target=started.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield started
    finally:
        started.shutdown()
        started.server_close()
        thread.join(5)


def request(
    server: BaseWSGIServer, method: str, path: str, body: object = None, **headers: str
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    data = None if body is None else json.dumps(body)
    if data is not None:
        headers["Content-Type"] = "application/json"
    connection.request(method, path, data, headers)
    return connection.getresponse()


def test_static_pages_are_never_framed_or_sniffed() -> None:
    client = devserver.build_app().test_client()
    for path in ("/", "/index.html", "/dashboard.html", "/config.js", "/no-such-page"):
        r = client.get(path)
        assert r.status_code == (404 if path == "/no-such-page" else 200), path
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["X-Frame-Options"] == "DENY", path
        assert r.headers["Content-Security-Policy"] == "frame-ancestors 'none'", path
    page = client.get("/").get_data(as_text=True)
    assert 'http-equiv="Content-Security-Policy"' in page  # the page keeps its own policy
    api = client.get("/chat/health")  # a function's answer: its Routes say the same
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert api.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_connections_that_send_no_request_are_closed_after_the_timeout(
    server: BaseWSGIServer, caplog: pytest.LogCaptureFixture
) -> None:
    idle = []
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", server.server_port), timeout=5)
        if i % 2:
            s.sendall(b"GET /config.js HT")  # half a request line, then nothing
        idle.append(s)
    opened = time.monotonic()
    try:
        r = request(server, "GET", "/config.js")  # the server still answers meanwhile
        assert r.status == 200 and r.read()
        for s in idle:
            assert s.recv(1024) == b""  # closed by the server (a socket.timeout fails here)
        assert time.monotonic() - opened >= TIMEOUT_S * 0.9  # ... and only after the timeout
        assert not [x for x in caplog.records if x.levelno >= logging.WARNING]  # quietly
    finally:
        for s in idle:
            s.close()


@pytest.fixture
def slow_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFLINE_STREAM_DELAY_MS", "1000")  # a pause longer than the timeout


@pytest.mark.usefixtures("slow_model", "chat")  # set before the server is built
@pytest.mark.parametrize("timeout_s", [0.4])  # shorter than the stream's pauses
def test_a_slow_stream_outlasts_the_timeout_and_completes(
    server: BaseWSGIServer, timeout_s: float
) -> None:
    session = json.loads(request(server, "POST", "/chat/sessions", {}).read())
    started = time.monotonic()
    r = request(
        server,
        "POST",
        f"/chat/sessions/{session['session_id']}/messages",
        {"message": "thank you"},  # a short answer: four chunks, a second apart
        Accept="text/event-stream",
        Authorization=f"Bearer {session['token']}",
    )
    assert r.status == 200 and r.getheader("Content-Type", "").startswith("text/event-stream")
    events = parse_sse(r.read().decode())
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "meta" and kinds[-1] == "done" and kinds.count("delta") >= 3
    assert "".join(d["text"] for k, d in events if k == "delta") == events[-1][1]["reply"]
    assert time.monotonic() - started > 2 * timeout_s  # its pauses did outlast the timeout

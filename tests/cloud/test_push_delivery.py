"""The push subscriptions `make dev-cloud` declares (scripts/pubsub_admin.py), on the Pub/Sub
emulator that `make test` starts: messages refused while their endpoint is down all arrive once it
is back, and a message its endpoint keeps failing ends in the dead-letter topic.

With a retryPolicy on the subscription the emulator (0.8.20) stops pushing for good after two
messages are refused together; the first test is the one that fails if one comes back."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scripts import emulator as emulators
from scripts import pubsub_admin

pytestmark = pytest.mark.emulator

HOST = os.environ.get("PUBSUB_EMULATOR_HOST")
needs_emulator = pytest.mark.skipif(
    HOST is None, reason="PUBSUB_EMULATOR_HOST was not set when the tests started: run make test"
)


class Endpoint:
    """A push endpoint on a fixed port, down (the port closed) until `up()`; it records what it
    is pushed and answers with `status`."""

    def __init__(self, status: int = 204) -> None:
        self.port = emulators._free_ports(1)[0]
        self.status = status
        self.received: list[str] = []
        self.pushes = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/push"

    def up(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                envelope = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.pushes += 1
                if endpoint.status < 300:
                    endpoint.received.append(base64.b64decode(envelope["message"]["data"]).decode())
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def admin() -> pubsub_admin.Admin:
    assert HOST is not None
    return pubsub_admin.Admin(HOST, f"push-{uuid.uuid4().hex[:12]}")  # a project of its own


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.down()


def subscribe(admin: pubsub_admin.Admin, endpoint: Endpoint) -> None:
    admin.topic("events")
    admin.topic("events-dead-letter")
    admin.pull_subscription("events-dead-letter-review", "events-dead-letter")
    admin.push_subscription(
        "events-trigger", "events", endpoint.url, dead_letter="events-dead-letter"
    )


def wait_for(done: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if done():
            return True
        time.sleep(0.1)
    return done()


@needs_emulator
def test_messages_refused_while_the_endpoint_is_down_all_arrive_once_it_is_back(
    admin: pubsub_admin.Admin, endpoint: Endpoint
) -> None:
    subscribe(admin, endpoint)
    sent = [f"turn-{i}" for i in range(6)]
    for data in sent:
        admin.publish("events", data.encode())
    time.sleep(5)  # each is pushed to a closed port, refused, and pushed again, a few times
    endpoint.up()
    # the emulator retries a refused push after about a second: a minute is ample
    assert wait_for(lambda: len(endpoint.received) >= len(sent), 60), endpoint.received
    time.sleep(1)
    assert sorted(endpoint.received) == sent  # each once: an acknowledged push is not repeated
    assert admin.pull("events-dead-letter-review") == []


@needs_emulator
def test_a_message_its_endpoint_keeps_failing_ends_in_the_dead_letter_topic(
    admin: pubsub_admin.Admin, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pubsub_admin, "MAX_DELIVERY_ATTEMPTS", 5)  # the least Pub/Sub allows
    endpoint.status = 500
    endpoint.up()
    subscribe(admin, endpoint)
    admin.publish("events", b"poison")
    dead: list[dict[str, object]] = []
    assert wait_for(lambda: bool(dead.extend(admin.pull("events-dead-letter-review")) or dead), 60)
    assert [base64.b64decode(str(m["data"])) for m in dead] == [b"poison"]
    assert endpoint.pushes == 5

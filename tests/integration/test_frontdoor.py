"""`make dev-cloud`'s front door (scripts/frontdoor.py) in front of upstreams of the test's own:
the prefix taken off, instances in turn, the caller appended to X-Forwarded-For, a streamed
answer passed on as it comes, and the contract's errors where no instance answers."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scripts.frontdoor import Backends, front_door

RELEASE = threading.Event()  # the streaming upstream's second event waits for it


class Upstream(BaseHTTPRequestHandler):
    """Echoes what it was sent; `/stream` sends one event, then another once released."""

    def do_GET(self) -> None:
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b"event: meta\ndata: {}\n\n")
            self.wfile.flush()
            RELEASE.wait(10)
            self.wfile.write(b"event: done\ndata: {}\n\n")
            self.wfile.flush()
            self.close_connection = True
            return
        body = json.dumps(
            {
                "upstream": self.server.server_address[1],
                "path": self.path,
                "forwarded_for": self.headers.get("X-Forwarded-For"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(server: ThreadingHTTPServer) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


@pytest.fixture
def door() -> Iterator[tuple[int, list[int], Backends]]:
    upstreams = [ThreadingHTTPServer(("127.0.0.1", 0), Upstream) for _ in range(2)]
    for u in upstreams:
        serve(u)
    ports = [u.server_address[1] for u in upstreams]
    chat = Backends([f"http://127.0.0.1:{p}" for p in ports])
    server = front_door(0, {"/chat": chat, "/intent": Backends([])}, max_body=1024)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, ports, chat
    server.shutdown()
    for u in upstreams:
        u.shutdown()
        u.server_close()


def get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    answer = response.status, dict(response.getheaders()), response.read()
    connection.close()
    return answer


def test_the_prefix_comes_off_and_instances_take_turns(
    door: tuple[int, list[int], Backends],
) -> None:
    port, ports, _ = door
    seen = [json.loads(get(port, "/chat/sessions/abc?x=1")[2]) for _ in range(4)]
    assert {s["path"] for s in seen} == {"/sessions/abc?x=1"}
    assert [s["upstream"] for s in seen] == [ports[0], ports[1], ports[0], ports[1]]


def test_the_callers_address_is_appended_to_x_forwarded_for(
    door: tuple[int, list[int], Backends],
) -> None:
    port, _, _ = door
    alone = json.loads(get(port, "/chat/health")[2])
    assert alone["forwarded_for"] == "127.0.0.1"
    # A client's own header is kept in front: the functions trust only the last hop (ours).
    spoofed = json.loads(get(port, "/chat/health", {"X-Forwarded-For": "203.0.113.9"})[2])
    assert spoofed["forwarded_for"] == "203.0.113.9, 127.0.0.1"


def test_a_streamed_answer_is_passed_on_as_it_comes(door: tuple[int, list[int], Backends]) -> None:
    port, _, _ = door
    RELEASE.clear()
    # a read times out in 3 s, well before the upstream gives up holding back (10 s): a door
    # that waited for the whole answer would fail here
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    connection.request("GET", "/chat/stream")
    response = connection.getresponse()
    assert response.status == 200
    # the first event arrives while the upstream still holds the second back
    assert response.readline() == b"event: meta\n"
    RELEASE.set()
    assert b"event: done" in response.read()
    connection.close()


def test_no_instance_to_answer_is_the_contracts_503(door: tuple[int, list[int], Backends]) -> None:
    port, _, chat = door
    status, headers, body = get(port, "/intent/route")
    assert status == 503 and headers["Retry-After"] == "1"
    assert json.loads(body)["error"]["code"] == "unavailable"
    chat.replace(["http://127.0.0.1:9"])  # an instance that refuses connections
    status, headers, body = get(port, "/chat/health")
    assert status == 503 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "unavailable"


def test_a_path_is_sent_on_encoded_as_the_client_encoded_it(
    door: tuple[int, list[int], Backends],
) -> None:
    port, _, _ = door
    for sent, seen in [
        ("/chat/sessions/%C2%84?x=%25&y=%C3%A9", "/sessions/%C2%84?x=%25&y=%C3%A9"),  # non-ASCII
        ("/chat/a%2525b", "/a%2525b"),  # an encoded "%" stays encoded: decoded once, upstream
        ("/chat/a%20b/c:d@e", "/a%20b/c:d@e"),
    ]:
        status, _, body = get(port, sent)
        assert status == 200, (sent, body[:200])
        assert json.loads(body)["path"] == seen

"""The chat page's stream reader against a scripted server that writes Server-Sent Events the way
a network may deliver them: a few bytes at a time, split inside CRLFs and inside multibyte
characters, with data over several lines, and streams that break. The page is what is tested;
the server is scripted, so each case happens every time."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import WEB
from tests.local_stack import free_port

SOURCES = [
    {"id": "cof-1", "kind": "product", "name": "Café Noir ☕", "price": 12.5, "currency": "USD"},
    {"id": "doc-1", "kind": "document", "name": "Guide", "url": "https://example.com/guide"},
]
REPLY = (
    "Try the **Café Noir ☕** — dark and rich.\n"
    "- Brew guide: https://example.com/guide\n"
    "- Also see https://evil.example/deal"
)
DONE = {
    **{"reply": REPLY, "intent": "PRODUCT_RAG", "confidence": 0.9, "method": "embedding"},
    **{"sources": SOURCES, "cached": False, "fallback": None, "timings_ms": {}},
}


def event(name: str, data: Any, *, pretty: bool = False) -> bytes:
    """One event with CRLF line ends; `pretty` spreads its JSON over several data: lines."""
    text = json.dumps(data, ensure_ascii=False, indent=1 if pretty else None)
    lines = [f"event: {name}", *(f"data: {line}" for line in text.split("\n")), "", ""]
    return "\r\n".join(lines).encode()


SCRIPTS: dict[str, bytes] = {
    "split": event("meta", {"sources": SOURCES})
    + event("delta", {"text": REPLY[:25]})
    + event("delta", {"text": REPLY[25:]})
    + event("done", DONE, pretty=True),
    "cut": event("meta", {"sources": SOURCES}) + event("delta", {"text": "Partial answer"}),
    "truncated": event("meta", {"sources": SOURCES})
    + event("delta", {"text": "Hello"})
    + b'event: done\r\ndata: {"reply": "Hel',
    "reset": event("meta", {"sources": SOURCES}),
    "gone": event("meta", {"sources": []})
    + event("error", {"code": "not_found", "message": "No such session."}),
    # LF, CR and CRLF line ends mixed, and a blank line made of "\n\r\n".
    "mixed": event("meta", {"sources": SOURCES}).replace(b"\r\n", b"\n")
    + b'event: delta\rdata: {"text": "Mixed "}\n\r\n'
    + b'event: delta\r\ndata: {"text": "endings"}\r\r'
    + event("done", {**DONE, "reply": "Mixed endings"}),
    # Whatever follows `done` is not read: the answer is whole.
    "after-done": event("meta", {"sources": SOURCES})
    + event("done", {**DONE, "reply": "Whole."})
    + b"event: delta\r\ndata: {broken",
}


class ScriptedChat(http.server.SimpleHTTPRequestHandler):
    """web/ as files, and a chat function that answers each message with its script."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/chat/sessions":
            self._json(201, {"session_id": "s1", "token": "v1.s1.x", "expires_at": "2099-01-01"})
        elif self.path.endswith("/resume"):
            self._json(200, {"session_id": "s1", "expires_at": "2099-01-01"})
        elif self.path.endswith("/messages"):
            self._stream(SCRIPTS[json.loads(body)["message"]])
        else:
            self._json(404, {"error": {"code": "not_found", "message": "No route."}})

    def do_GET(self) -> None:
        if self.path.startswith("/chat/sessions/"):
            self._json(200, {"session_id": "s1", "expires_at": "2099-01-01", "messages": []})
        else:
            super().do_GET()

    def _json(self, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _stream(self, raw: bytes) -> None:
        """5 bytes at a time (through "\\r\\n" and through "☕"), then the connection closes."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for start in range(0, len(raw), 5):
            self.wfile.write(raw[start : start + 5])
            self.wfile.flush()
            time.sleep(0.001)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def scripted() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(ScriptedChat, directory=str(WEB))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def send(page: Page, base: str, script: str) -> None:
    page.goto(base + "/")
    page.locator("#message").fill(script)
    page.keyboard.press("Enter")
    expect(page.locator("#send")).to_be_visible()  # the turn is over, one way or another


def test_events_split_anywhere_are_read_whole(page: Page, scripted: str) -> None:
    send(page, scripted, "split")
    reply = page.locator("#messages > .message-assistant").last
    expect(reply.locator("strong")).to_have_text("Café Noir ☕")
    expect(reply.locator(".card-name")).to_have_text("Café Noir ☕")
    expect(reply.locator(".reply-text li")).to_have_count(2)
    expect(page.locator("body")).to_have_attribute("data-state", "idle")
    # Only the turn's own source is a link; an address the model wrote itself stays text.
    links = reply.locator(".reply-text a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.com/guide")
    expect(reply.locator(".reply-text")).to_contain_text("https://evil.example/deal")


def test_a_stream_cut_midway_keeps_its_text_and_says_so(page: Page, scripted: str) -> None:
    send(page, scripted, "cut")
    reply = page.locator("#messages > .message-assistant").last
    expect(reply.locator(".reply-text")).to_have_text("Partial answer")
    expect(reply.locator(".turn-note")).to_have_text(
        "The answer was cut short: The connection closed before the answer was complete."
    )


def test_an_unfinished_last_event_is_dropped_not_a_page_fault(page: Page, scripted: str) -> None:
    send(page, scripted, "truncated")
    reply = page.locator("#messages > .message-assistant").last
    expect(reply.locator(".reply-text")).to_have_text("Hello")
    expect(reply.locator(".turn-note")).to_contain_text("closed before the answer was complete")


def test_a_stream_that_breaks_after_the_server_took_the_question_is_not_sent_again(
    page: Page, scripted: str
) -> None:
    """After `meta` the server has the question (and records the turn): the page keeps the
    turn and says there was no answer, rather than offer to send it a second time."""
    send(page, scripted, "reset")
    reply = page.locator("#messages > .message-assistant").last
    expect(reply.locator(".turn-note")).to_have_text(
        "No answer: The connection closed before the answer was complete."
    )
    expect(page.locator("#messages .message-user.unsent")).to_have_count(0)
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#message")).to_have_value("")


def test_mixed_line_ends_are_read(page: Page, scripted: str) -> None:
    send(page, scripted, "mixed")
    reply = page.locator("#messages > .message-assistant").last
    expect(reply.locator(".reply-text")).to_have_text("Mixed endings")
    expect(reply.locator(".turn-note")).to_have_count(0)
    expect(reply.locator(".card-name")).to_have_text("Café Noir ☕")


def test_nothing_after_done_is_read(page: Page, scripted: str) -> None:
    send(page, scripted, "after-done")
    reply = page.locator("#messages > .message-assistant").last
    expect(reply.locator(".reply-text")).to_have_text("Whole.")
    expect(reply.locator(".turn-note")).to_have_count(0)
    expect(page.locator("body")).to_have_attribute("data-state", "idle")


def test_an_error_event_for_a_gone_session_leads_to_a_new_one(page: Page, scripted: str) -> None:
    send(page, scripted, "gone")
    expect(page.locator("#notice")).to_have_attribute("data-kind", "expired")
    expect(page.locator("#notice-action")).to_have_text("Start a new conversation")
    assert page.evaluate("localStorage.getItem('cymbal.chat.session')") is None

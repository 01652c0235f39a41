"""scripts/contract_eval.py's judging, on a stack played by a fake client (the HTTP side runs
against real stacks in tests/cloud/test_same_figures.py), and its client's waits on a 429."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scripts import contract_eval


class FakeStack(contract_eval.Client):
    """Routes everything as PRODUCT_RAG; answers from `cache` (question -> reply) when told."""

    def __init__(self, cached: dict[str, str], lag: int = 0) -> None:
        self.cached = cached
        self.counted = 0
        self.lag = lag  # turns the metrics have not counted yet
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:  # type: ignore[override]
        self.slept.append(seconds)
        if self.counted:  # the metrics catch up a turn a second
            self.lag = max(0, self.lag - 1)

    def route(self, query: str) -> str:
        return "PRODUCT_RAG"

    def turn(self, message: str) -> dict[str, Any]:
        self.counted += 1
        hit = self.cached.get(message)
        reply = hit or f"about {message}"
        sources = [{"id": "p1"}] if "beans" in message else []
        return {"intent": "PRODUCT_RAG", "reply": reply, "sources": sources, "cached": bool(hit)}

    def turns_counted(self) -> int:
        return self.counted - min(self.lag, self.counted)


@pytest.fixture
def sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def write(name: str, rows: list[dict[str, Any]]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path

    monkeypatch.setattr(contract_eval, "ROUTING", write("r.jsonl", [
        {"query": "beans?", "intent": "PRODUCT_RAG"},
        {"query": "hello", "intent": "GENERAL_CONVERSATION"},
    ]))  # fmt: skip
    monkeypatch.setattr(contract_eval, "RETRIEVAL", write("t.jsonl", [
        {"query": "dark beans", "relevant": ["p1"]},
        {"query": "a tent", "relevant": ["t1"]},
        {"query": "a unicorn", "relevant": []},
    ]))  # fmt: skip
    monkeypatch.setattr(contract_eval, "CACHE", write("c.jsonl", [
        {"a": "cheap beans", "b": "inexpensive beans", "label": "paraphrase"},
        {"a": "beans under $5", "b": "beans over $5", "label": "near_duplicate"},
        {"a": "shops in Ohio", "b": "shops in Texas", "label": "near_duplicate"},
        {"a": "hi", "b": "Dark  Beans", "label": "near_duplicate"},
    ]))  # fmt: skip


def test_hits_are_judged_against_the_first_questions_reply_and_what_was_asked_before(
    sets: None,
) -> None:
    stack = FakeStack(
        {
            "inexpensive beans": "about cheap beans",  # a paraphrase answered from the cache
            "beans over $5": "about beans under $5",  # the first question's reply: wrong
            "shops in Texas": "about shops in Texas, from another entry",
            "Dark  Beans": "about hi",  # asked before, but for case and spaces: not judged
        },
        lag=3,
    )
    f = contract_eval.evaluate(stack, None, clock=iter(range(10_000)).__next__)
    assert f.summary() == {
        "intent_accuracy": 0.5,
        "turn_cites_relevant": 0.5,
        "unanswerable_cite_nothing": 1.0,
        "paraphrase_hit_rate": 1.0,
        "wrong_hits": 1,
        "near_duplicates_from_other_entries": 2,
        "turns_made": 11,
        "turns_counted": 11,  # waited for: the metrics lagged three turns behind
    }
    assert len(stack.slept) >= 3  # the waits for the count to catch up, then to settle
    assert [t["cached"] for t in f.turns][3:] == [False, True] * 4


def test_two_runs_differ_where_a_figure_or_a_turn_does(sets: None) -> None:
    clock = iter(range(10_000)).__next__
    one = contract_eval.evaluate(FakeStack({}), None, clock)
    other = contract_eval.evaluate(FakeStack({"inexpensive beans": "x"}), None, clock)
    assert list(contract_eval.differences(one, one)) == []
    found = list(contract_eval.differences(one, other))
    assert found[0] == "paraphrase_hit_rate: 0.0 vs 1.0"
    assert found[1].startswith("turn 'inexpensive beans'")


class TooMany(BaseHTTPRequestHandler):
    refusals = 2

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        refused = TooMany.refusals > 0
        TooMany.refusals -= 1
        body = (
            b'{"error": {"code": "rate_limited", "message": "slow down"}}'
            if refused
            else b'{"intent": "GENERAL_CONVERSATION"}'
        )
        self.send_response(429 if refused else 200)
        if refused:
            self.send_header("Retry-After", "3")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), TooMany)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_refused_request_is_asked_again_after_its_retry_after(server: str) -> None:
    slept: list[float] = []
    client = contract_eval.Client(server, 5.0, slept.append)
    assert client.route("hello") == "GENERAL_CONVERSATION"
    assert slept == [3.0, 3.0]

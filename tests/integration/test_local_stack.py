"""`make dev`'s server as a user starts it: every function answers under one port, then stops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local_stack import Stack, get, post_json, sample_counts, wait_json


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
        report = wait_json(f"{base}/{name}/health/details", lambda d: d["status"] == "ok", deadline)
        assert report["checks"]["store"]["kind"] == "sqlite"
    expected = sample_counts()  # loaded through the bus and the real ingest function
    loaded = stack.wait_for_line("Catalog loaded:", deadline)
    assert f"{sum(expected.values())} records" in loaded
    ready = stack.wait_for_line("Ready:", deadline)  # what a new user opens
    assert f"chat at {base}/ " in ready and f"dashboard at {base}/dashboard.html" in ready
    report = wait_json(f"{base}/chat/health/details", lambda d: True, deadline)
    assert report["checks"]["catalog"]["counts"] == expected
    assert set(expected) == {"manifest", "products", "shops", "inventory", "documents"}
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
            report = wait_json(f"{stack.base}/chat/health/details", lambda d: True, deadline)
            versions.append(report["checks"]["catalog"])
            assert stack.stop() and stack.proc.returncode == 0
        finally:
            stack.kill()
    first, second = versions
    assert first["counts"] == second["counts"] == sample_counts()
    assert second["version"] == first["version"]  # nothing was written again


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

"""The HTTP contract, answered by the deployed shape: separate function processes sharing only
Firestore and Pub/Sub, events pushed by Pub/Sub, one origin in front."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from scripts import pubsub_admin
from scripts.cloudstack import PROJECT, CloudStack
from tests.cloud.conftest import COFFEE, ROOT, call, session, settled_turns, turns_counted, wait_for

QUESTION = "Do you have a light roast from Ethiopia?"  # the coffee benchmark catalog's


def sse(base: str, session_id: str, token: str, message: str) -> list[tuple[str, dict]]:
    request = urllib.request.Request(
        f"{base}/chat/sessions/{session_id}/messages",
        data=json.dumps({"message": message}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "Authorization": f"Bearer {token}",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        text = r.read().decode()
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_every_function_is_healthy_behind_the_front_door(cloud: CloudStack) -> None:
    base = cloud.url.rstrip("/")
    for name in ("chat", "intent", "metrics"):
        status, _, body = call("GET", f"{base}/{name}/health")
        assert (status, json.loads(body)) == (200, {"status": "ok"}), name
    status, headers, page = call("GET", cloud.url, headers={"Accept": "text/html"})
    assert status == 200 and b"<html" in page
    assert headers["X-Frame-Options"] == "DENY"


def test_a_streamed_turn_with_sources_then_resume_and_delete(cloud: CloudStack) -> None:
    base = cloud.url.rstrip("/")
    session_id, token = session(base)
    events = sse(base, session_id, token, QUESTION)
    kinds = [k for k, _ in events]
    assert kinds[0] == "meta" and kinds[-1] == "done" and "delta" in kinds
    meta = events[0][1]
    assert meta["intent"] == "PRODUCT_RAG" and meta["sources"]
    # the two chat instances take turns behind the front door: each sees the session
    for _ in range(2):
        status, _, body = call("GET", f"{base}/chat/sessions/{session_id}", token=token)
        assert status == 200, body
        said = [m["content"] for m in json.loads(body)["messages"]]
        assert QUESTION in said
    status, _, body = call("POST", f"{base}/chat/sessions/{session_id}/resume", {}, token=token)
    assert status == 200, body
    status, _, _ = call("DELETE", f"{base}/chat/sessions/{session_id}", token=token)
    assert status == 204
    status, _, body = call("GET", f"{base}/chat/sessions/{session_id}", token=token)
    assert status in (401, 404) and "error" in json.loads(body)


def test_metrics_count_every_turn_exactly_once(cloud: CloudStack) -> None:
    base = cloud.url.rstrip("/")
    before = settled_turns(base)
    session_id, token = session(base)
    for question in ("What is your cheapest drink?", "hello!", QUESTION):
        status, _, body = call(
            "POST", f"{base}/chat/sessions/{session_id}/messages", {"message": question},
            token=token,
        )  # fmt: skip
        assert status == 200, body
    wait_for(lambda: turns_counted(base) >= before + 3, 60, "the metrics count the turns")
    time.sleep(3)  # a redelivery, were there one, would land by now
    assert turns_counted(base) == before + 3


def test_bad_input_is_a_clear_4xx(cloud: CloudStack) -> None:
    base = cloud.url.rstrip("/")
    status, _, body = call(
        "POST", f"{base}/chat/sessions", headers={"Content-Type": "application/json"}
    )
    assert status == 201, body  # no body at all: an empty object, an anonymous session
    session_id, token = session(base)
    request = urllib.request.Request(
        f"{base}/chat/sessions/{session_id}/messages",
        data=b"{not json",
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400 and "error" in json.loads(refused.value.read())
    status, _, body = call("GET", f"{base}/chat/no-such-route")
    assert status == 404 and "error" in json.loads(body)


def test_a_poison_message_ends_in_the_dead_letter_topic(cloud: CloudStack) -> None:
    admin = pubsub_admin.Admin(cloud.hosts["PUBSUB_EMULATOR_HOST"], PROJECT)
    sent = admin.publish("ingest", b"this is not JSON")
    letters = wait_for(
        lambda: admin.pull("ingest-dead-letter-review"), 60, "the poison message is dead-lettered"
    )
    body = json.loads(base64.b64decode(letters[0]["data"]))
    assert body["message_id"] == sent and body["reason"]


def test_the_operator_smoke_test_passes_with_a_catalog_change(cloud: CloudStack) -> None:
    """`make smoke` against the deployed shape, the catalog change published through Pub/Sub
    by the operator CLI, as Cloud Build runs it after `terraform apply`."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.smoke",
            "--url",
            cloud.url.rstrip("/"),
            "--publish-change",
            str(COFFEE),
            "--project",
            PROJECT,
        ],
        cwd=ROOT,
        env={**os.environ, **cloud.hosts},
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout and "catalog" in done.stdout


def test_the_front_door_bounds_bodies_and_allows_the_pages_origin(cloud: CloudStack) -> None:
    base = cloud.url.rstrip("/")
    session_id, token = session(base)
    status, _, body = call(
        "POST",
        f"{base}/chat/sessions/{session_id}/messages",
        {"message": "x" * 40_000},
        token=token,
    )
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"
    origin = cloud.url.rstrip("/")
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    status, headers, _ = call("OPTIONS", f"{base}/chat/sessions", headers=preflight)
    assert status in (200, 204) and headers.get("Access-Control-Allow-Origin") == origin
    stranger = {**preflight, "Origin": "https://elsewhere.example"}
    status, headers, _ = call("OPTIONS", f"{base}/chat/sessions", headers=stranger)
    assert headers.get("Access-Control-Allow-Origin") is None

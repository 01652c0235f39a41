"""The public chat endpoint as an attacker meets it: the classes of attack a review found,
each kept refused. Through real HTTP against `make dev`'s server (tests/abuse/conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from tests.abuse.conftest import Reply, Target

PERSONAL = "I'm pregnant and my name is Carol Diaz, which decaf is safe for me?"


def docs(target: Target) -> list[tuple[str, str, str]]:
    """Every document in the stack's store, read from its file (the server keeps running)."""
    path = target.local_dir / "store.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return list(db.execute("SELECT collection, id, data FROM docs"))


def bucket_id(target: Target, key: str) -> str:
    """The rate-limit document of `key`, as the server names it (a keyed hash)."""
    secret = (target.local_dir / "session_secret").read_bytes().strip()
    mac = hmac.new(secret, b"user\x00rate-limit-salt", hashlib.sha256).digest()
    salt = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()[:32]
    return hmac.new(salt.encode(), key.encode(), hashlib.sha256).hexdigest()[:40]


def together(n: int, call: object) -> list[Reply]:
    """`n` calls at once (each `call(i)`), released together."""
    start = threading.Barrier(n)

    def run(i: int) -> Reply:
        start.wait(10)
        return call(i)  # type: ignore[operator, no-any-return]

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


# --- privacy


def test_a_personal_first_question_is_never_served_to_another_session(target: Target) -> None:
    for text in (PERSONAL, PERSONAL + " please"):
        first = target.ask(*target.session(), text)
        second = target.ask(*target.session(), text)
        assert first.status == second.status == 200
        assert first.json()["cached"] is False and second.json()["cached"] is False
    stored = [data for _, _, data in docs(target) if "Carol Diaz" in data]
    assert [d for d in stored if '"role"' not in d] == []  # in messages only, never the cache
    generic = "Recommend a fruity light roast"  # the cache is on: a plain question is shared
    assert target.ask(*target.session(), generic).json()["cached"] is False
    assert target.ask(*target.session(), generic).json()["cached"] is True


def test_after_delete_nothing_of_the_session_is_left_in_the_store(target: Target) -> None:
    sid, token = target.session()
    personal = PERSONAL.replace("Carol Diaz", "Ines Okafor")  # said in this session only
    asked = [personal, "which shops in Portland have wifi", "and which has the comfiest seats?"]
    for text in asked:
        assert target.ask(sid, token, text).status == 200
    before = docs(target)
    assert any(sid in c or sid in i for c, i, _ in before)
    assert any(i == bucket_id(target, f"session:{sid}") for _, i, _ in before)
    assert target.call("DELETE", f"/chat/sessions/{sid}", token=token).status == 204
    after = docs(target)
    assert [(c, i) for c, i, d in after if sid in c or sid in i or sid in d] == []
    assert [i for _, i, _ in after if i == bucket_id(target, f"session:{sid}")] == []
    # what only this conversation said is gone; a standalone question without anything
    # personal may stay, shared, in the cache for its TTL (docs/chat.md)
    assert [c for c, _, d in after if "Ines Okafor" in d or "comfiest seats" in d] == []
    assert target.call("GET", f"/chat/sessions/{sid}", token=token).status == 404


def test_a_turn_still_running_at_delete_writes_nothing(target: Target) -> None:
    sid, token = target.session()
    text = "Tell me about your cold brew gear"
    done = threading.Event()
    reply: list[Reply] = []

    def ask() -> None:
        reply.append(target.ask(sid, token, text, stream=True))
        done.set()

    threading.Thread(target=ask, daemon=True).start()
    time.sleep(0.5)  # the answer is streaming (a chunk every 150 ms)
    assert target.call("DELETE", f"/chat/sessions/{sid}", token=token).status == 204
    assert done.wait(60) and reply[0].status == 200
    after = docs(target)
    assert [(c, i) for c, i, d in after if sid in c or sid in i or "cold brew gear" in d] == []


# --- abuse


def test_a_session_answers_one_message_at_a_time(target: Target) -> None:
    sid, token = target.session()
    replies = together(
        20, lambda i: target.ask(sid, token, f"show me dark roasts {i}", stream=True)
    )
    statuses = Counter(r.status for r in replies)
    assert statuses == {200: 1, 429: 19}, statuses
    refused = [r for r in replies if r.status == 429]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    assert all(r.json()["error"]["code"] == "rate_limited" for r in refused)
    assert target.ask(sid, token, "and a medium roast?").status == 200  # the slot came back


def test_identical_questions_at_once_share_one_generation(target: Target) -> None:
    sessions = [target.session() for _ in range(20)]
    text = "Which equipment do you sell for pour-over brewing"
    replies = together(20, lambda i: target.ask(*sessions[i], text))
    assert {r.status for r in replies} == {200}
    cached = Counter(r.json()["cached"] for r in replies)
    assert cached == {False: 1, True: 19}, cached
    assert len({r.json()["reply"] for r in replies}) == 1


def test_identical_questions_about_the_moment_share_one_generation_too(target: Target) -> None:
    """Never cached (no cached answer knows when it is asked), yet asked at the same moment:
    the first answer serves them all."""
    sessions = [target.session() for _ in range(20)]
    text = "Which shops are open right now in Portland"
    replies = together(20, lambda i: target.ask(*sessions[i], text, source=f"127.0.1.{i}"))
    assert {r.status for r in replies} == {200}
    assert Counter(r.json()["cached"] for r in replies) == {False: 1, True: 19}
    assert target.ask(*target.session(), text).json()["cached"] is False  # later: asked anew


def test_reads_are_charged_to_the_address(target: Target) -> None:
    sid, token = target.session()
    attacker = "127.0.0.9"  # a client of its own: the others' buckets stay full
    path = f"/chat/sessions/{sid}"
    statuses = [target.call("GET", path, token=token, source=attacker).status for _ in range(300)]
    first_refused = statuses.index(429) if 429 in statuses else None
    assert first_refused is not None and first_refused < 299, Counter(statuses)
    assert target.call("GET", path, token=token).status == 200  # another address is served


def test_public_health_says_only_ok(target: Target) -> None:
    for name in ("chat", "intent", "metrics"):
        r = target.call("GET", f"/{name}/health")
        assert r.status == 200 and r.json() == {"status": "ok"}
        for word in (b"model", b"kind", b"circuit", b"sqlite", b"published", b"failures"):
            assert word not in r.body


def test_error_bodies_are_bounded(target: Target) -> None:
    body = {f"field_{i}_{'x' * 40}": i for i in range(2000)}
    r = target.call("POST", "/chat/sessions", raw=json.dumps(body).encode())
    assert r.status in (400, 413) and len(r.body) < 4096


def test_responses_are_never_sniffed_or_framed(target: Target) -> None:
    for path in ("/chat/health", "/", "/index.html"):
        r = target.call("GET", path, accept="*/*")
        assert r.headers.get("X-Content-Type-Options") == "nosniff", path
        assert "frame-ancestors 'none'" in r.headers.get("Content-Security-Policy", ""), path
    head = target.call("HEAD", "/chat/health")
    assert head.status == 200 and head.body == b""


def test_half_open_connections_do_not_pin_the_server(target: Target) -> None:
    idle = [
        socket.create_connection(("127.0.0.1", target.stack.port), timeout=5) for _ in range(30)
    ]
    try:
        for s in idle[:15]:
            s.sendall(b"GET /chat/health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        assert target.call("GET", "/chat/health").status == 200  # still answering
    finally:
        for s in idle:
            s.close()


def test_a_session_cannot_be_kept_alive_past_its_lifetime(target: Target) -> None:
    sid, token = target.session()
    created = datetime.now().astimezone()
    for _ in range(3):
        r = target.call("POST", f"/chat/sessions/{sid}/resume", token=token)
        expires = datetime.fromisoformat(r.json()["expires_at"].replace("Z", "+00:00"))
        assert expires <= created + timedelta(days=1, minutes=1)  # SESSION_MAX_AGE_S: 24 h

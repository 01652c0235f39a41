"""Chat turns under load on the local stack, on loopback, against a bare SSE endpoint.

Usage: python -m bench.chat_load [--clients 32] [--turns 50] [--seed 7]

The chat side is the real local stack (`python -m scripts.devserver`) in a subprocess: every
function behind one port, a fresh SQLite store in a temporary directory, the benchmark catalog
ingested through the real ingest path, the offline models. Each client (a thread with its own
http.client connection) creates its own session, then sends its turns with
`Accept: text/event-stream`, drawn (seeded) from a fixed mix: popular questions that come back,
so the response cache gets hits, a long tail built from the catalog's products, shops and
cities, small talk, and follow-ups that lean on the conversation.

The peer, in the same run and under the same concurrency, is the floor: a function answering
`meta`, three `delta`s and `done` with no work, loaded by functions-framework's `create_app`
and served as the local stack serves its functions (mounted in a Flask app, werkzeug's threaded
server), in its own subprocess. Chat's first-byte p50 over the peer's says what a turn's work
before its first event (embed, route, search, cache lookup) costs over the framework.

Timed per turn: request sent -> first byte of the SSE body, and -> the `done` event. werkzeug's
server closes every connection after its response (`Connection: close`: its http.server base
cannot drain a body before the next request), so each request connects anew, inside the
timing, on both sides. Any non-200, `error` event, missing `done` or broken connection is an
error; the goal is none.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.report import machine, pct
from shared.ai.prompts import REFUSAL

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK = ROOT.parent / "shared" / "data" / "catalog"
HOST = "127.0.0.1"
TIMEOUT_S = 60.0  # per socket operation: a stuck turn is an error, not a hung benchmark
START_TIMEOUT_S = 600.0
SHOWN = 5  # errors and server log lines printed
PEER_FUNCTION = '''\
"""A bare SSE endpoint: the chat function's event shapes, with no work behind them."""

import json

import flask
import functions_framework

META = {"intent": "GENERAL_CONVERSATION", "confidence": 1.0, "sources": [], "cached": False}
TEXTS = ("Hello! ", "I can help with coffee ", "and our shops.")


def _sse(event, data):
    return f"event: {event}\\ndata: {json.dumps(data, separators=(',', ':'))}\\n\\n"


def _events():
    yield _sse("meta", META)
    for text in TEXTS:
        yield _sse("delta", {"text": text})
    yield _sse("done", {"reply": "".join(TEXTS), **META, "fallback": None, "timings_ms": {}})


@functions_framework.http
def bare_sse(request):
    request.get_data()
    return flask.Response(
        _events(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache, no-store"}
    )
'''
# The mix. Popular questions repeat across sessions (cache hits); a follow-up is only asked
# after a first turn; small talk is short and sometimes leans on the conversation too.
MIX = {"popular": 0.30, "product": 0.30, "shop": 0.18, "small_talk": 0.14, "follow_up": 0.08}
POPULAR = (
    "What decaf coffees do you have?",
    "Do you have a light roast from Ethiopia?",
    "Which coffee would you recommend for espresso?",
    "How much is a cappuccino?",
    "What do I need to make cold brew at home?",
    "Where are your shops in Seattle?",
    "Which New York shops have wifi?",
    "Which shops offer roastery tours?",
    "What can you help me with?",
    "Tell me a fun fact about coffee",
)
PRODUCT = (
    "Tell me about the {name}.",
    "How much does the {name} cost?",
    "What does the {name} taste like?",
    "Is the {name} good in a French press?",
    "Do you sell a {roast} roast coffee from {origin}?",
    "I'd like a coffee with notes of {note}.",
)
SHOP = (
    "Which {city} shops have {amenity}?",
    "What are the opening hours of {shop}?",
    "Where is {shop}?",
    "Do you have a shop in {city} open on weekends?",
)
SMALL_TALK = (
    "hi",
    "Hello! How are you today?",
    "Good morning!",
    "Who are you?",
    "thanks, that was helpful",
    "You're great, thank you so much!",
)
FOLLOW_UP = ("Is it decaf?", "How much is it?", "Do they have parking?", "Any cheaper ones?")
WARM_UP = (
    "What coffees do you sell?",
    "Where can I find your shops?",
    "hey there",
)  # not in the mix


@dataclass
class Turn:
    question: str
    ttfb_ms: float = 0.0
    done_ms: float = 0.0
    done: dict[str, Any] = field(default_factory=dict)


@dataclass
class Results:
    turns: list[Turn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0  # this process's CPU meanwhile: the load generator's own share
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, turn: Turn | str) -> None:
        with self.lock:
            if isinstance(turn, str):
                self.errors.append(turn)
            else:
                self.turns.append(turn)


class Client:
    """One user: a keep-alive connection, a session (chat only), what it asks next."""

    def __init__(self, port: int, base: str, ask: Callable[[], str]) -> None:
        self.port, self.base, self.ask = port, base, ask
        self.conn = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT_S)
        self.headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        self.path = base

    def start_session(self) -> str | None:
        """POST /sessions; None when it worked, else what went wrong."""
        try:
            self.conn.request("POST", f"{self.base}/sessions", b"{}", self.headers)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.reconnect()
            return f"POST {self.base}/sessions: {type(e).__name__}: {e}"
        if response.status != 201:
            return f"POST {self.base}/sessions -> {response.status} {body[:300]!r}"
        created = json.loads(body)
        self.headers["Authorization"] = f"Bearer {created['token']}"
        self.path = f"{self.base}/sessions/{created['session_id']}/messages"
        return None

    def turn(self, message: str) -> Turn | str:
        """One SSE turn: the timings and the `done` event, or what went wrong."""
        what = f"POST {self.path} {message!r}"
        body = json.dumps({"message": message}).encode()
        try:
            started = time.perf_counter()
            self.conn.request("POST", self.path, body, self.headers)
            response = self.conn.getresponse()
            what += f" (X-Request-Id {response.getheader('X-Request-Id')})"
            if response.status != 200:
                return f"{what} -> {response.status} {response.read()[:300]!r}"
            return read_stream(response, started, what, message)
        except (OSError, http.client.HTTPException, ValueError) as e:
            self.reconnect()
            return f"{what}: {type(e).__name__}: {e}"

    def reconnect(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection(HOST, self.port, timeout=TIMEOUT_S)


def read_stream(
    response: http.client.HTTPResponse, started: float, what: str, question: str
) -> Turn | str:
    """Read the SSE body incrementally to its end: meta, deltas, then done (or an error)."""
    turn, buffer, names = Turn(question), b"", []
    while chunk := response.read1(65536):
        if not turn.ttfb_ms:
            turn.ttfb_ms = (time.perf_counter() - started) * 1000
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            name, data = parse_event(block.decode())
            names.append(name)
            if name == "error":
                return f"{what}: error event {data}"
            if name == "done":
                turn.done_ms = (time.perf_counter() - started) * 1000
                turn.done = json.loads(data)
    if not names or names[0] != "meta" or names[-1] != "done" or "done" in names[:-1]:
        return f"{what}: events {names[:3]}...{names[-2:]} (expected meta, deltas, done)"
    return turn


def parse_event(block: str) -> tuple[str, str]:
    """An SSE event's name and data (its `data:` lines joined)."""
    name, data = "message", []
    for line in block.splitlines():
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            name = value
        elif key == "data":
            data.append(value)
    return name, "\n".join(data)


class Questions:
    """A client's seeded draw from the mix, over the benchmark catalog's names."""

    def __init__(self, catalog: dict[str, list[dict[str, Any]]], seed: str) -> None:
        self.rng = random.Random(seed)
        self.products, self.shops = catalog["products"], catalog["shops"]
        coffees = [p["attributes"] for p in self.products if p["kind"] == "coffee"]
        self.origins = sorted({c["origin"] for c in coffees})
        self.notes = sorted({n for c in coffees for n in c["notes"]})
        self.cities = sorted({s["city"] for s in self.shops})
        self.amenities = sorted({a for s in self.shops for a in s["amenities"]})
        self.asked = 0

    def next(self) -> str:
        rng = self.rng
        kinds = [k for k in MIX if k != "follow_up" or self.asked]
        kind = rng.choices(kinds, weights=[MIX[k] for k in kinds])[0]
        self.asked += 1
        if kind == "popular":
            return rng.choice(POPULAR)
        if kind == "small_talk":
            return rng.choice(SMALL_TALK)
        if kind == "follow_up":
            return rng.choice(FOLLOW_UP)
        if kind == "shop":
            return rng.choice(SHOP).format(
                city=rng.choice(self.cities),
                amenity=rng.choice(self.amenities),
                shop=rng.choice(self.shops)["name"],
            )
        return rng.choice(PRODUCT).format(
            name=rng.choice(self.products)["name"],
            roast=rng.choice(("light", "medium", "dark")),
            origin=rng.choice(self.origins),
            note=rng.choice(self.notes),
        )


def read_catalog(directory: Path) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for kind in ("products", "shops"):
        lines = (directory / f"{kind}.jsonl").read_text(encoding="utf-8").splitlines()
        out[kind] = [json.loads(line) for line in lines if line.strip()]
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A server subprocess, its output in `log`; stopped as on Ctrl-C (SIGTERM), then killed."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the benchmark, which stops it in order
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(process: subprocess.Popen[bytes], port: int, path: str, log: Path) -> Any:
    """Poll GET `path` until 200 (and, for chat, the catalog is loaded); the health body."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{tail}")
        loaded = path != "/chat/health/details" or "Catalog loaded:" in log.read_text(
            errors="replace"
        )
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, body = get(port, path)
            if status == 200 and loaded:
                return json.loads(body) if body.startswith(b"{") else None
        time.sleep(0.5)
    raise RuntimeError(f"{path} on port {port} not ready in {START_TIMEOUT_S:.0f} s")


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT_S)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def load(clients: list[Client], turns: int, results: Results, chat: bool) -> None:
    """Every client's session (untimed), then all of them at once, `turns` turns each."""
    stop = threading.Event()  # set when the benchmark is interrupted: clients stop turning

    def run(client: Client) -> None:
        for _ in range(turns):
            if stop.is_set() or (chat and "Authorization" not in client.headers):
                break
            results.add(client.turn(client.ask()))
        client.conn.close()

    with ThreadPoolExecutor(len(clients)) as pool:
        try:
            if chat:
                for error in pool.map(Client.start_session, clients):
                    if error:
                        results.add(error)
            started, cpu = time.perf_counter(), time.process_time()
            list(pool.map(run, clients))
            results.wall_s = time.perf_counter() - started
            results.client_cpu_s = time.process_time() - cpu
        except BaseException:
            stop.set()
            raise


def serve_peer(source: str, port: int) -> int:
    """The peer's server: one function mounted as the local stack mounts each of its own."""
    import flask
    from functions_framework import create_app
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.serving import make_server

    app = flask.Flask("peer")
    peer = create_app(target="bare_sse", source=source, signature_type="http")  # type: ignore[no-untyped-call]
    mounts = {"/bare": peer}
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, mounts)  # type: ignore[method-assign]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # as scripts/devserver.py
    httpd = make_server(HOST, port, app, threaded=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()
    httpd.server_close()
    return 0


def ms_line(label: str, samples: Sequence[float]) -> str:
    return f"    {label:<30} p50 {pct(samples, 50):8.1f} ms   p95 {pct(samples, 95):8.1f} ms"


def shares(counter: collections.Counter[str], total: int) -> str:
    return ", ".join(f"{key} {n / total:.0%}" for key, n in counter.most_common())


def server_problems(log: Path) -> list[str]:
    """The chat server's ERROR and WARNING lines, and any line about a locked database."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if '"severity": "ERROR"' in line or '"severity": "WARNING"' in line or "locked" in line:
            out.append(line)
    return out


def report_load(label: str, results: Results) -> float:
    """Print what one load did and its first-byte percentiles; its first-byte p50."""
    n, wall = len(results.turns) + len(results.errors), results.wall_s
    print(
        f"  {label}: {n} turns in {wall:.1f} s, {n / wall:.1f} turns/s, errors "
        f"{len(results.errors)}, load generator CPU {results.client_cpu_s:.1f} s"
    )
    for error in results.errors[:SHOWN]:
        print(f"    ERROR {error}")
    if not results.turns:
        return float("nan")
    first = [t.ttfb_ms for t in results.turns]
    print(ms_line("time to first SSE byte", first))
    return pct(first, 50)


def report_chat(turns: list[Turn], log: Path) -> None:
    """Chat's figures beyond the first byte: `done`, stages, cache, intents, the server log."""
    if turns:
        print(ms_line("time to `done`", [t.done_ms for t in turns]))
        stages = collections.defaultdict(list)
        for t in turns:
            for stage, ms in t.done.get("timings_ms", {}).items():
                stages[stage].append(ms)
        medians = ", ".join(f"{k} {pct(v, 50):.1f}" for k, v in stages.items())
        print(f"    server stages p50 (done.timings_ms): {medians} ms")
        cached = sum(bool(t.done.get("cached")) for t in turns)
        print(f"    cache hits (done.cached): {cached / len(turns):.1%} ({cached} of {len(turns)})")
        intents = collections.Counter(str(t.done.get("intent")) for t in turns)
        print(f"    intent mix: {shares(intents, len(turns))}")
        fallbacks = collections.Counter(str(t.done.get("fallback")) for t in turns)
        fallbacks.pop("None", None)
        print(f"    fallbacks: {dict(fallbacks) or 'none'}")
    refused = collections.Counter(t.question for t in turns if REFUSAL in t.done.get("reply", ""))
    print(f"    replies replaced by the refusal (echo guard): {refused.total()}")
    for question, n in refused.most_common(SHOWN):
        print(f"      {n} x {question!r}")
    problems = server_problems(log)
    print(f"    server log: {len(problems)} ERROR/WARNING/locked lines")
    for line in problems[:SHOWN]:
        print(f"      {line[:400]}")


def stack_env(port: int, tmp: Path) -> dict[str, str]:
    """The local stack's settings: its own port, a fresh SQLite store, the offline models."""
    return {
        "PORT": str(port),
        "HOST": HOST,
        "CATALOG": str(BENCHMARK),
        "LOCAL_DIR": str(tmp / "local"),
        "SQLITE_PATH": str(tmp / "local" / "store.sqlite3"),
        "STORE_BACKEND": "sqlite",
        "BUS_BACKEND": "local",
        "GENAI_BACKEND": "offline",
        "RATE_LIMIT_PER_MINUTE": "100000",  # every client shares 127.0.0.1
        "READ_RATE_LIMIT_PER_MINUTE": "100000",
        "MAX_GENERATIONS_PER_CLIENT": "10000",  # ... and so its per-address bound
        "LOG_LEVEL": "INFO",
    }


def warm_up(chat_port: int, peer_port: int, chat_log: Path) -> None:
    """Untimed: the first turn builds the router and loads the model; the first request of
    each server imports what it imports lazily."""
    warm = Results()
    load([Client(peer_port, "/bare/", lambda: "hello")], len(WARM_UP), warm, chat=False)
    load([Client(chat_port, "/chat", iter(WARM_UP).__next__)], len(WARM_UP), warm, chat=True)
    if warm.errors:
        lines = "\n".join(server_problems(chat_log)[:SHOWN])
        raise RuntimeError(f"warm-up failed: {warm.errors[0]}\nserver log:\n{lines}")


def run(clients: int, turns: int, seed: int, tmp: Path) -> int:
    """Both servers up, warmed; the peer's load, then chat's; the report. 1 on any error."""
    catalog = read_catalog(BENCHMARK)
    chat_port, peer_port = free_port(), free_port()
    (tmp / "peer").mkdir()
    source = tmp / "peer" / "main.py"
    source.write_text(PEER_FUNCTION, encoding="utf-8")
    chat_log, peer_log = tmp / "devserver.log", tmp / "peer.log"
    peer_args = ["-m", "bench.chat_load", "--serve-peer", str(source), "--port", str(peer_port)]
    with (
        server(["-m", "scripts.devserver"], stack_env(chat_port, tmp), chat_log) as chat_server,
        server(peer_args, {}, peer_log) as peer_server,
    ):
        started = time.perf_counter()
        wait_ready(peer_server, peer_port, "/bare/", peer_log)
        health = wait_ready(chat_server, chat_port, "/chat/health/details", chat_log)
        print(
            f"  stack ready in {time.perf_counter() - started:.1f} s: health "
            f"{health['status']}, catalog {health['checks']['catalog'].get('counts')}"
        )
        warm_up(chat_port, peer_port, chat_log)
        peer = Results()
        bare = [Client(peer_port, "/bare/", lambda: "hello") for _ in range(clients)]
        load(bare, turns, peer, chat=False)
        chat = Results()
        asks = [Questions(catalog, f"{seed}:{i}").next for i in range(clients)]
        load([Client(chat_port, "/chat", ask) for ask in asks], turns, chat, chat=True)
        status, body = get(chat_port, "/chat/health/details")
        after = json.loads(body)

    peer_p50 = report_load("bare SSE peer (functions-framework, same server)", peer)
    chat_p50 = report_load("chat (devserver /chat, SQLite, offline models)", chat)
    report_chat(chat.turns, chat_log)
    events = after["checks"].get("metrics_events")
    print(f"    health after the load: {status} {after['status']}; metrics events {events}")
    print(f"  chat first-byte p50 / bare first-byte p50: {chat_p50 / peer_p50:.1f}x")
    failed = len(chat.errors) + len(peer.errors)
    print(f"  {'FAILED: ' + str(failed) + ' errors' if failed else 'no errors'}")
    return 1 if failed else 0


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_load", description=__doc__)
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--turns", type=int, default=50, help="turns per client")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serve-peer", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.turns < 1:
        parser.error("--clients and --turns must be at least 1")
    if args.serve_peer:
        return serve_peer(args.serve_peer, args.port)
    if not BENCHMARK.is_dir():
        print(f"chat_load: skipped, no benchmark catalog at {BENCHMARK}")
        return 0
    print(
        f"chat_load: {args.clients} clients x {args.turns} turns over SSE on loopback, "
        f"benchmark catalog, seed {args.seed}  [{machine()}]"
    )
    mix = ", ".join(f"{share:.0%} {kind}" for kind, share in MIX.items())
    print(f"  questions: {mix}; {len(WARM_UP)} untimed warm-up turns first")
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    try:
        with tempfile.TemporaryDirectory(prefix="bench-chat-load-") as tmp:
            return run(args.clients, args.turns, args.seed, Path(tmp))
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

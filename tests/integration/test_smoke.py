"""The operator smoke test (scripts.smoke): against the local stack as `make dev` runs it, a
catalog change included, with functions Terraform lists as internal only, and against targets
that are broken in the ways it must report."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scripts.smoke.cli import main
from tests.local_stack import ROOT, SAMPLE, Stack, free_port, wait_json

STEPS = [
    "health chat",
    "health intent",
    "health metrics",
    "health details chat",
    "health details intent",
    "health details metrics",
    "metrics baseline",
    "about",
    "intent route",
    "session create",
    "turn stream",
    "session history",
    "session resume",
    "session delete",
    "metrics count",
]
CATALOG_STEPS = ["catalog change", "catalog restore"]
INTENT_STEPS = ["health intent", "health details intent", "intent route"]
METRICS_STEPS = ["health metrics", "health details metrics", "metrics baseline", "metrics count"]
ID_TOKEN = "identity-token-that-must-never-be-printed"


def ok_line(output: str, step: str) -> str:
    found = [line for line in output.splitlines() if line.startswith(f"ok {step} (")]
    assert len(found) == 1, f"no single `ok {step}` line in:\n{output}"
    assert re.match(rf"ok {step} \(\d+ ms\)", found[0]), found[0]
    return found[0]


def fail_line(output: str, step: str) -> str:
    found = [line for line in output.splitlines() if line.startswith(f"FAIL {step}: ")]
    assert len(found) == 1, f"no single `FAIL {step}` line in:\n{output}"
    return found[0]


def skip_line(output: str, step: str, function: str) -> str:
    """The step's one `skip` line, saying that its function takes internal traffic only."""
    reason = f"{function} takes internal traffic only (ingress); not reachable from here"
    found = [line for line in output.splitlines() if line.startswith(f"skip {step}: ")]
    assert len(found) == 1, f"no single `skip {step}` line in:\n{output}"
    assert found[0].startswith(f"skip {step}: {reason}"), found[0]
    return found[0]


def outputs_file(path: Path, base_url: str | None, direct: dict[str, str | None]) -> Path:
    """`terraform output -json`: every output, each wrapped; null for an internal function."""
    outputs = {
        "base_url": {"value": base_url, "type": "string"},
        "direct_function_urls": {"value": direct, "type": ["map", "string"]},
        "function_urls": {  # every function's own URL, internal ones too: never used for them
            "value": dict.fromkeys(("chat", "intent", "metrics"), "http://127.0.0.1:1"),
            "type": "object",
        },
    }
    path.write_text(json.dumps(outputs))
    return path


def run_module(*args: str, local_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m scripts.smoke ...` as an operator runs it, from the checkout."""
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    if local_dir is not None:
        env["LOCAL_DIR"] = str(local_dir)  # where the local stack keeps its store
    return subprocess.run(
        [sys.executable, "-m", "scripts.smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )


def run_inline(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


# --- against the local stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path]]:
    local_dir = tmp_path_factory.mktemp("smoke-stack")
    started = Stack(local_dir)
    try:
        started.wait_for_line("Catalog loaded:", time.monotonic() + 180)
        yield started, local_dir
    finally:
        started.kill()


def catalog_version(base: str) -> int:
    report = wait_json(f"{base}/chat/health/details", lambda d: True, time.monotonic() + 30)
    return int(report["checks"]["catalog"]["version"])


def stored_product(local_dir: Path, product_id: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from shared import wiring
    from shared.config import get_settings

    monkeypatch.setenv("LOCAL_DIR", str(local_dir))
    get_settings.cache_clear()
    wiring.reset()
    return wiring.get_store().get("products", product_id)


def test_every_step_passes_on_the_local_stack_and_the_catalog_ends_as_it_was(
    stack: tuple[Stack, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.catalog.records import Product, content_hash

    running, local_dir = stack
    before = catalog_version(running.base)
    done = run_module(
        "--url", running.base, "--publish-change", str(SAMPLE), "--timeout", "60",
        local_dir=local_dir,
    )  # fmt: skip
    output = done.stdout
    assert done.returncode == 0, output + done.stderr
    for step in STEPS + CATALOG_STEPS:
        ok_line(output, step)
    assert "FAIL" not in output and "skip" not in output and "Traceback" not in done.stderr
    assert output.splitlines()[-1].startswith(f"PASSED: {len(STEPS) + 2} of {len(STEPS) + 2}")
    assert "sources" in ok_line(output, "turn stream")
    assert "gone (404)" in ok_line(output, "session delete")
    assert "1 more turn counted" in ok_line(output, "metrics count")

    # The version moved twice (the change, then the restore) and the record is as in the file.
    change = ok_line(output, "catalog change")
    found = re.search(r": (\S+) published with a doubled space", change)
    assert found, change
    product_id = found.group(1)
    assert f"catalog version {before} -> {before + 1}" in change
    assert f"catalog version {before + 1} -> {before + 2}" in ok_line(output, "catalog restore")
    assert catalog_version(running.base) == before + 2
    lines = (SAMPLE / "products.jsonl").read_text().splitlines()
    original = next(json.loads(x) for x in lines if json.loads(x)["id"] == product_id)
    stored = stored_product(local_dir, product_id, monkeypatch)
    assert stored is not None
    assert stored["description"] == original["description"]
    assert stored["content_hash"] == content_hash(Product.model_validate(original))


def test_per_function_urls_from_terraform_output(stack: tuple[Stack, Path], tmp_path: Path) -> None:
    running, local_dir = stack
    urls = tmp_path / "function_urls.json"  # as `terraform output -json function_urls` writes it
    urls.write_text(
        json.dumps({f: f"{running.base}/{f}/" for f in ("chat", "intent", "metrics", "ingest")})
    )
    done = run_module("--function-urls", str(urls), local_dir=local_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    for step in STEPS:
        ok_line(done.stdout, step)
    assert not re.search(r"^(ok|FAIL|skip) catalog", done.stdout, re.MULTILINE)


@pytest.mark.parametrize("chat_from", ["outputs", "option"])
def test_internal_only_functions_are_skipped_and_the_run_passes_on_the_chat(
    stack: tuple[Stack, Path], tmp_path: Path, chat_from: str
) -> None:
    """Terraform lists intent and metrics as null (ingress ALLOW_INTERNAL_ONLY): the steps that
    need them are skipped, the turn asks the first suggestion unrouted, and the run passes."""
    running, local_dir = stack
    chat = f"{running.base}/chat"
    direct: dict[str, str | None] = {"intent": None, "metrics": None}
    if chat_from == "outputs":
        direct["chat"] = chat
    path = outputs_file(tmp_path / "outputs.json", None, direct)
    given = ["--chat-url", chat] if chat_from == "option" else []
    done = run_module("--function-urls", str(path), *given, local_dir=local_dir)
    output = done.stdout
    assert done.returncode == 0, output + done.stderr
    assert output.splitlines()[0] == (
        f"smoke test: chat {chat}, intent not reachable (internal only), "
        "metrics not reachable (internal only)"
    )
    for step in INTENT_STEPS:
        skip_line(output, step, "intent")
    for step in METRICS_STEPS:
        skip_line(output, step, "metrics")
    assert ", so the turn asks '" in skip_line(output, "intent route", "intent")
    counted = skip_line(output, "metrics count", "metrics")
    assert counted.endswith("the turn cannot be seen counted from here")
    ran = [s for s in STEPS if s not in INTENT_STEPS + METRICS_STEPS]
    for step in ran:
        ok_line(output, step)
    assert "FAIL" not in output and "Traceback" not in done.stderr
    assert output.splitlines()[-1].startswith(f"PASSED: {len(ran)} of {len(ran)} steps in ")
    assert output.splitlines()[-1].endswith(
        f"; {len(INTENT_STEPS + METRICS_STEPS)} not run (internal only, not reachable from here)"
    )


def test_a_catalog_file_that_is_not_the_deployed_one_publishes_nothing(
    stack: tuple[Stack, Path], tmp_path: Path
) -> None:
    running, local_dir = stack
    other = tmp_path / "other-catalog"
    other.mkdir()
    renamed = [
        json.dumps({**json.loads(line), "name": f"Renamed {n}"})
        for n, line in enumerate((SAMPLE / "products.jsonl").read_text().splitlines())
    ]
    (other / "products.jsonl").write_text("\n".join(renamed) + "\n")
    before = catalog_version(running.base)
    done = run_module("--url", running.base, "--publish-change", str(other), local_dir=local_dir)
    assert done.returncode == 1, done.stdout + done.stderr
    failed = fail_line(done.stdout, "catalog change")
    assert "another version" in failed and "nothing was published" in failed
    assert "skip catalog restore: nothing was published" in done.stdout
    for step in STEPS:
        ok_line(done.stdout, step)
    assert catalog_version(running.base) == before


# --- against a stand-in of the contract, broken on purpose


class Fake:
    """The HTTP contract in miniature: one origin with /chat, /intent, /metrics, and faults."""

    def __init__(self, fault: str | None = None) -> None:
        self.fault = fault
        self.turns = 0
        self.sessions: dict[str, list[dict[str, Any]]] = {}
        self.authorization: dict[str, set[str]] = {}  # function -> Authorization headers seen
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_POST(self) -> None:
                fake.handle(self, "POST")

            def do_DELETE(self) -> None:
                fake.handle(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = h.path.split("?")[0]
        function = path.split("/")[1]
        with self.lock:
            self.authorization.setdefault(function, set()).add(h.headers.get("Authorization", ""))
        length = int(h.headers.get("Content-Length") or 0)
        body = json.loads(h.rfile.read(length) or b"{}") if length else {}
        if self.fault == "500":
            return self.send(h, 500, {"error": {"code": "internal", "message": "It broke."}})
        route: dict[tuple[str, str], Callable[[], None]] = {
            ("GET", "/chat/health"): lambda: self.send(h, 200, {"status": "ok"}),
            ("GET", "/intent/health"): lambda: self.send(h, 200, {"status": "ok"}),
            ("GET", "/metrics/health"): lambda: self.send(h, 200, {"status": "ok"}),
            ("GET", "/chat/about"): lambda: self.send(
                h, 200, {"name": "Example", "suggestions": ["Which item do you recommend?"]}
            ),
            ("POST", "/intent/route"): lambda: self.send(
                h, 200, {"intent": "PRODUCT_RAG", "confidence": 0.9, "method": "embedding"}
            ),
            ("POST", "/chat/sessions"): lambda: self.create(h),
            ("GET", "/metrics/summary"): lambda: self.summary(h),
        }
        if (method, path) in route:
            return route[(method, path)]()
        found = re.fullmatch(r"/chat/sessions/([^/]+)(/messages|/resume)?", path)
        if found and found.group(1) in self.sessions:
            session, action = found.group(1), found.group(2)
            if (method, action) == ("POST", "/messages"):
                return self.turn(h, session, body["message"])
            if (method, action) == ("POST", "/resume"):
                return self.send(h, 200, {"session_id": session, "expires_at": self.later()})
            if (method, action) == ("GET", None):
                messages = self.sessions[session]
                body = {"session_id": session, "expires_at": self.later(), "messages": messages}
                return self.send(h, 200, body)
            if (method, action) == ("DELETE", None):
                del self.sessions[session]
                h.send_response(204)
                h.end_headers()
                return None
        return self.send(h, 404, {"error": {"code": "not_found", "message": "No route."}})

    def send(self, h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def later(self) -> str:
        return "2099-01-01T00:00:00Z"

    def create(self, h: BaseHTTPRequestHandler) -> None:
        session = f"s{len(self.sessions) + 1}"
        self.sessions[session] = []
        body = {"session_id": session, "token": f"v1.{session}.sig", "expires_at": self.later()}
        self.send(h, 201, body)

    def turn(self, h: BaseHTTPRequestHandler, session: str, message: str) -> None:
        sources = [] if self.fault == "no_sources" else [{"id": "p-1", "kind": "product"}]
        meta = {"intent": "PRODUCT_RAG", "confidence": 0.9, "sources": sources, "cached": False}
        parts = ["Here is ", "one match."]
        done = {**meta, "reply": "".join(parts), "fallback": None, "timings_ms": {"total": 5}}
        events = [("meta", meta), *[("delta", {"text": p}) for p in parts], ("done", done)]
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        for kind, data in events:
            h.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
            h.wfile.flush()
        self.sessions[session] += [
            {"role": "user", "content": message, "created_at": self.later()},
            {"role": "assistant", "content": done["reply"], "created_at": self.later()},
        ]
        if self.fault != "uncounted":
            self.turns += 1
        h.close_connection = True

    def summary(self, h: BaseHTTPRequestHandler) -> None:
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        point = {"minute": minute.isoformat().replace("+00:00", "Z"), "turns": self.turns}
        self.send(h, 200, {"turns": self.turns, "series": [point]})


@pytest.fixture
def fake() -> Iterator[Callable[[str | None], Fake]]:
    made: list[Fake] = []

    def make(fault: str | None = None) -> Fake:
        made.append(Fake(fault))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_the_identity_token_goes_to_intent_and_metrics_only_and_is_never_printed(
    fake: Callable[[str | None], Fake], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fake(None)
    monkeypatch.setenv("SMOKE_ID_TOKEN", ID_TOKEN)
    code, output = run_inline("--url", server.base)
    assert code == 0, output
    for step in STEPS:
        ok_line(output, step)
    assert "not served (404)" in ok_line(output, "health details intent")
    assert ID_TOKEN not in output
    assert server.authorization["intent"] == {f"Bearer {ID_TOKEN}"}
    assert server.authorization["metrics"] == {f"Bearer {ID_TOKEN}"}
    assert all(ID_TOKEN not in seen for seen in server.authorization["chat"])


@pytest.mark.parametrize("front", ["load_balancer", "function_urls"])
def test_terraform_outputs_say_where_each_function_is(
    fake: Callable[[str | None], Fake], tmp_path: Path, front: str
) -> None:
    server = fake(None)
    own = {f: f"{server.base}/{f}" for f in ("chat", "intent", "metrics")}
    lb = front == "load_balancer"
    outputs = {  # `terraform output -json`: every output, each wrapped
        "base_url": {"value": server.base if lb else None, "type": "string"},
        "direct_function_urls": {"value": {} if lb else own, "type": ["map", "string"]},
        "function_urls": {"value": dict.fromkeys(own, "http://127.0.0.1:1"), "type": "object"},
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    code, output = run_inline("--function-urls", str(path))
    assert code == 0, output
    assert output.splitlines()[0].startswith(f"smoke test: chat {server.base}/chat, intent")
    for step in STEPS:
        ok_line(output, step)


@pytest.mark.parametrize("internal", [("intent",), ("intent", "metrics")])
@pytest.mark.parametrize("url_option", [False, True])
def test_a_load_balancer_and_internal_only_functions(
    fake: Callable[[str | None], Fake],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    internal: tuple[str, ...],
    url_option: bool,
) -> None:
    """base_url serves what the load balancer routes; a function direct_function_urls lists as
    null is not looked for under it (a 404 there) but skipped. With --url as Cloud Build
    passes it, or from the file alone."""
    server = fake(None)
    monkeypatch.setenv("SMOKE_ID_TOKEN", ID_TOKEN)
    path = outputs_file(tmp_path / "outputs.json", server.base, dict.fromkeys(internal))
    given = ["--url", server.base] if url_option else []
    code, output = run_inline(*given, "--function-urls", str(path))
    assert code == 0, output
    assert all(f not in server.authorization for f in internal)  # never asked
    reachable = [f for f in ("chat", "intent", "metrics") if f not in internal]
    guarded = " and ".join(f for f in reachable if f != "chat")
    head = output.splitlines()[0]
    assert head.startswith(f"smoke test: chat {server.base}/chat, intent not reachable")
    assert head.endswith(f", identity token for {guarded}" if guarded else "(internal only)")
    skipped = [*INTENT_STEPS, *(METRICS_STEPS if "metrics" in internal else [])]
    for step in skipped:
        skip_line(output, step, "metrics" if step in METRICS_STEPS else "intent")
    assert "so the turn asks 'Which item do you recommend?'" in output  # the first suggestion
    for step in STEPS:
        if step not in skipped:
            ok_line(output, step)
    assert "FAIL" not in output and ID_TOKEN not in output
    assert output.splitlines()[-1].endswith(
        f"; {len(skipped)} not run (internal only, not reachable from here)"
    )


def test_a_failure_still_fails_when_other_functions_are_internal_only(
    fake: Callable[[str | None], Fake], tmp_path: Path
) -> None:
    server = fake("no_sources")
    path = outputs_file(tmp_path / "outputs.json", server.base, {"intent": None})
    code, output = run_inline("--function-urls", str(path))
    assert code == 1
    assert "cites no sources" in fail_line(output, "turn stream")
    skip_line(output, "intent route", "intent")
    assert output.splitlines()[-1].startswith("FAILED: 1 of")


def test_a_functions_own_url_overrides_its_null(
    fake: Callable[[str | None], Fake], tmp_path: Path
) -> None:
    """From inside the network, --intent-url reaches what Terraform lists as internal only."""
    server = fake(None)
    path = outputs_file(tmp_path / "outputs.json", server.base, {"intent": None})
    code, output = run_inline("--function-urls", str(path), "--intent-url", f"{server.base}/intent")
    assert code == 0, output
    for step in STEPS:
        ok_line(output, step)


def test_a_function_in_no_source_is_still_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """null says where a function is (inside); a function missing everywhere is a mistake."""
    path = outputs_file(
        tmp_path / "outputs.json", None, {"chat": "http://127.0.0.1:1/chat", "intent": None}
    )
    code, output = run_inline("--function-urls", str(path))
    assert code == 2 and output == ""
    assert "smoke: error: no URL for metrics:" in capsys.readouterr().err


def test_a_turn_without_sources_fails(fake: Callable[[str | None], Fake]) -> None:
    server = fake("no_sources")
    code, output = run_inline("--url", server.base)
    assert code == 1
    assert "cites no sources" in fail_line(output, "turn stream")
    assert "skip session history: needs turn stream" in output
    assert "skip metrics count: needs turn stream" in output
    assert output.splitlines()[-1].startswith("FAILED: 1 of")


def test_a_turn_the_metrics_never_count_fails_after_the_bounded_wait(
    fake: Callable[[str | None], Fake],
) -> None:
    server = fake("uncounted")
    code, output = run_inline("--url", server.base, "--timeout", "1")
    assert code == 1
    assert "not counted within 1 s" in fail_line(output, "metrics count")
    ok_line(output, "turn stream")


def test_a_server_answering_500_fails_every_step_with_its_message(
    fake: Callable[[str | None], Fake],
) -> None:
    server = fake("500")
    code, output = run_inline("--url", server.base)
    assert code == 1
    for function in ("chat", "intent", "metrics"):
        failed = fail_line(output, f"health {function}")
        assert f"{function} GET /health: 500 internal: It broke." in failed
    assert "skip turn stream: needs session create" in output
    assert "Traceback" not in output


def test_a_closed_port_fails_clearly_and_runs_nothing_else() -> None:
    port = free_port()  # bound and closed again: nothing listens there
    code, output = run_inline("--url", f"http://127.0.0.1:{port}", "--request-timeout", "5")
    assert code == 1
    for function in ("chat", "intent", "metrics"):
        assert "connection refused" in fail_line(output, f"health {function}")
    assert "skip session create: chat unreachable" in output
    assert "skip metrics count: metrics unreachable" in output
    assert output.splitlines()[-1].startswith("FAILED: 3 of")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--url", "ftp://example.test"],
        ["--url", "http://127.0.0.1:1", "--timeout", "0"],
        ["--url", "http://127.0.0.1:1", "--record-id", "x"],
        ["--url", "http://127.0.0.1:1", "--publish-change", "/nonexistent/catalog"],
        ["--url", "http://127.0.0.1:1", "--id-token", "t", "--id-token-from-metadata"],
    ],
)
def test_usage_errors_exit_2_before_any_request(args: list[str]) -> None:
    code, output = run_inline(*args)
    assert code == 2
    assert output == ""

"""Operator smoke test: a short end-to-end check of a running deployment, over HTTP only.

Usage: python -m scripts.smoke --url BASE [options]
       python -m scripts.smoke --chat-url URL --intent-url URL --metrics-url URL [options]
       python -m scripts.smoke --function-urls urls.json [options]

BASE is one origin that serves every function under /chat, /intent and /metrics (`make dev`,
`make dev-cloud`, a load balancer); a default cloud deployment has one URL per function instead
(`terraform output -json function_urls` writes the file --function-urls reads). The intent and
metrics functions, when deployed internal-only, take an identity token (--id-token, or
$SMOKE_ID_TOKEN, or --id-token-from-metadata on Google Cloud); it is sent to those two only and
never printed.

Steps, each printed as `ok <step> (<ms> ms)` (with a note after a colon), `FAIL <step>: <reason>`
or, for a step that could not run because one it needs failed, `skip <step>: <reason>`:
health of every function, their health details, a metrics baseline, the retailer's suggestions
(GET /chat/about), the intent route of those questions, a session, one streamed turn that must
cite sources, the session's history, resume, delete (then 404), the metrics summary counting that
turn within --timeout; with --publish-change CATALOG, a one-record catalog change published
through the operator CLI (scripts.publish_catalog) and seen to move the catalog version, then
the record published back as it was and seen to move it again.

Exit codes: 0 every step passed; 1 a step failed; 2 usage; 130 interrupted. See docs/smoke.md.

Long because it is one command that an operator or a build step runs from a checkout with the
standard library alone, against any deployment: its HTTP client (a timeout on every request,
each failure one line), its Server-Sent Events reader, the steps and the catalog change are read
and changed together, in that order, one section each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from functools import partial
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import Any, Literal, TextIO

ROOT = Path(__file__).resolve().parent.parent  # the checkout: the publishing CLI runs from it
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FUNCTIONS = ("chat", "intent", "metrics")
INTENTS = frozenset({"PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"})
PRODUCT_INTENT = "PRODUCT_RAG"
# Asked when the deployment offers no suggestion of its own: it names no kind of product.
NEUTRAL_QUESTION = "What do you recommend?"
SUGGESTIONS_TRIED = 3  # the page shows three
ID_TOKEN_ENV = "SMOKE_ID_TOKEN"  # noqa: S105 - the variable's name, not a token
METADATA_HOST_ENV = "GCE_METADATA_HOST"  # as google-auth reads it
METADATA_HOST = "metadata.google.internal"
DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 1800.0  # the metrics window (SUMMARY_MINUTES) must outlast the wait
DEFAULT_REQUEST_TIMEOUT_S = 30.0
MAX_REQUEST_TIMEOUT_S = 600.0
SUMMARY_MINUTES = 60
HISTORY_LIMIT = 10
STORED_REPLY_CHARS = 8000  # a stored reply is cut there (docs/chat.md)
PUBLISH_STARTUP_S = 120.0  # the CLI's own start (its imports; on the local bus, the embedder)
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_REASON_CHARS = 400
USER_AGENT = "smoke-test (scripts/smoke.py)"
POLL_FIRST_S, POLL_MAX_S = 0.5, 5.0
# The CLI's report on the local bus: "catalog version: 8 (was 7); products 54, ..."
LOCAL_VERSION = re.compile(r"^catalog version: (?P<now>\d+) \(was (?P<was>\d+|none)\)")


# --- failures


class Failure(Exception):
    """A step's expected failure: its reason is printed as it is, with no stack trace."""


class Unreachable(Failure):
    """Nothing answered at the address: refused, unknown host, timed out, TLS failed."""


class UsageError(Exception):
    """Options the command cannot work with (exit code 2)."""


def _snippet(data: bytes | str, limit: int = 120) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- HTTP


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole."""

    what: str  # "chat GET /health": for messages (never a token, never a session id)
    status: int
    content_type: str
    headers: Message
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            kind = self.content_type or "no content type"
            raise Failure(
                f"{self.what}: {self.status}, but not JSON ({kind}): {_snippet(self.body)!r}"
            ) from None

    def object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise Failure(
                f"{self.what}: {self.status}, but not a JSON object: {_snippet(self.body)}"
            )
        return data


class Identity:
    """The identity token for the functions IAM guards (intent, metrics): one given, or one
    per function's URL from the metadata server. Never printed; never sent to chat."""

    def __init__(self, token: str | None, from_metadata: bool, timeout_s: float) -> None:
        self.token = token
        self.from_metadata = from_metadata
        self.timeout_s = timeout_s
        self._minted: dict[str, str] = {}

    @property
    def configured(self) -> bool:
        return bool(self.token) or self.from_metadata

    def headers(self, function: str, base: str) -> dict[str, str]:
        if function == "chat" or not self.configured:
            return {}
        token = self.token or self._metadata_token(_origin(base))
        return {"Authorization": f"Bearer {token}"}

    def _metadata_token(self, audience: str) -> str:
        if audience not in self._minted:
            host = os.environ.get(METADATA_HOST_ENV) or METADATA_HOST
            query = urllib.parse.urlencode({"audience": audience})
            url = f"http://{host}/computeMetadata/v1/instance/service-accounts/default/identity"
            request = urllib.request.Request(  # noqa: S310 - a literal http:// URL
                f"{url}?{query}", headers={"Metadata-Flavor": "Google"}
            )
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            try:
                with direct.open(request, timeout=self.timeout_s) as response:
                    token = response.read(64 * 1024).decode("ascii", "replace").strip()
            except urllib.error.HTTPError as e:
                raise Failure(
                    f"identity token for {audience}: the metadata server answered {e.code} "
                    "(does the account have roles/iam.serviceAccountOpenIdTokenCreator?)"
                ) from None
            except (urllib.error.URLError, OSError, HTTPException) as e:
                reason = getattr(e, "reason", e)
                raise Failure(
                    f"identity token for {audience}: no metadata server at {host} ({reason}); "
                    "--id-token-from-metadata works on Google Cloud only (Cloud Build, a VM)"
                ) from None
            if not token:
                raise Failure(f"identity token for {audience}: the metadata server sent none")
            self._minted[audience] = token
        return self._minted[audience]


class Http:
    """urllib with a timeout on every request, and each failure turned into one clear line."""

    def __init__(self, timeout_s: float, identity: Identity) -> None:
        self.timeout_s = timeout_s
        self.identity = identity
        self._opener = urllib.request.build_opener()  # the environment's proxies, if any

    def call(
        self,
        function: str,
        base: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        token: str | None = None,
        expect: Collection[int] = (200,),
        label: str | None = None,
    ) -> Answer:
        """One request; an Answer when its status is one of `expect`, else a Failure whose
        reason is the contract's error message (or what came instead)."""
        what = f"{function} {method} {label or path}"
        response = self._open(function, base, method, path, body, token, "application/json", what)
        if isinstance(response, Answer):
            answer = response
        else:
            with response:
                data = self._read(response, what)
            answer = Answer(
                what, response.status, _content_type(response.headers), response.headers, data
            )
        if answer.status not in expect:
            raise Failure(f"{what}: {self.describe(function, answer)}")
        return answer

    def stream(
        self, function: str, base: str, path: str, body: Any, token: str, label: str
    ) -> HTTPResponse:
        """A POST answered as Server-Sent Events: the open response, to read line by line."""
        what = f"{function} POST {label}"
        response = self._open(function, base, "POST", path, body, token, "text/event-stream", what)
        if isinstance(response, Answer):
            raise Failure(f"{what}: {self.describe(function, response)}")
        kind = _content_type(response.headers)
        if response.status != 200 or kind != "text/event-stream":
            with response:
                data = self._read(response, what)
            answer = Answer(what, response.status, kind, response.headers, data)
            raise Failure(
                f"{what}: expected 200 text/event-stream, got {self.describe(function, answer)}"
            )
        return response

    def _open(
        self,
        function: str,
        base: str,
        method: str,
        path: str,
        body: Any,
        token: str | None,
        accept: str,
        what: str,
    ) -> HTTPResponse | Answer:
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        headers.update(self.identity.headers(function, base))
        if token is not None:  # a chat session's token (chat never gets the identity token)
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif method == "POST":
            data = b""
        url = base.rstrip("/") + path
        # http(s) only: _base refused any other scheme
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        try:
            response: HTTPResponse = self._opener.open(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as e:  # a status of 400 or more: an answer all the same
            error_body = b""
            if e.fp is not None:
                with e:
                    error_body = self._read(e, what)
            return Answer(what, e.code, _content_type(e.headers), e.headers, error_body)
        except urllib.error.URLError as e:
            raise Unreachable(f"{what}: {self._network(e.reason, url)}") from None
        except TimeoutError:
            raise Unreachable(f"{what}: no answer within {self.timeout_s:g} s") from None
        except HTTPException as e:
            raise Unreachable(f"{what}: the connection broke ({type(e).__name__})") from None
        except OSError as e:
            raise Unreachable(f"{what}: {self._network(e, url)}") from None
        return response

    def _read(self, response: Any, what: str) -> bytes:
        try:
            data: bytes = response.read(MAX_BODY_BYTES)
        except TimeoutError:
            raise Failure(
                f"{what}: the answer stalled (nothing for {self.timeout_s:g} s)"
            ) from None
        except (HTTPException, OSError) as e:
            raise Failure(f"{what}: the answer was cut off ({type(e).__name__})") from None
        return data

    def _network(self, reason: object, url: str) -> str:
        origin = _origin(url)
        if isinstance(reason, ConnectionRefusedError):
            return f"connection refused at {origin} (is it running there?)"
        if isinstance(reason, socket.gaierror):
            return f"host not found: {urllib.parse.urlsplit(url).hostname}"
        if isinstance(reason, TimeoutError):
            return f"no answer from {origin} within {self.timeout_s:g} s"
        if isinstance(reason, ssl.SSLError):
            return f"TLS with {origin} failed: {reason.reason or reason}"
        if isinstance(reason, ConnectionError):
            return f"connection to {origin} failed ({type(reason).__name__})"
        return f"cannot reach {origin}: {reason}"

    def describe(self, function: str, answer: Answer) -> str:
        """`404 not_found: No route for GET /x.`, with a hint where one helps."""
        detail = ""
        try:
            data = json.loads(answer.body)
        except ValueError:
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            detail = f" {error.get('code')}: {error.get('message')}"
        elif answer.body:
            kind = answer.content_type or "no content type"
            detail = f", not JSON ({kind}): {_snippet(answer.body)!r}"
        if answer.status == 429 and answer.headers.get("Retry-After"):
            detail += f" (Retry-After {answer.headers.get('Retry-After')} s)"
        if answer.status in (401, 403) and function != "chat":
            if self.identity.configured:
                detail += (
                    f" (the identity token was refused: is its account in {function}_invokers, "
                    "and its audience the function's URL?)"
                )
            else:
                detail += (
                    f" ({function} takes callers IAM allows: give an identity token, --id-token "
                    "or --id-token-from-metadata)"
                )
        elif answer.status == 404 and error is None:
            detail += (
                " (nothing of this product answers there: check the URL; a function deployed "
                "internal-only cannot be reached from outside its network)"
            )
        return f"{answer.status}{detail}"


def _content_type(headers: Message | None) -> str:
    if headers is None:
        return ""
    return str(headers.get_content_type()) if headers.get("Content-Type") else ""


def sse_events(lines: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent Events stream, as the HTML spec reads them."""
    event, data = "message", list[str]()
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


# --- the report


Status = Literal["ok", "FAIL", "skip"]


@dataclass
class Outcome:
    step: str
    status: Status
    ms: float
    note: str

    def line(self) -> str:
        if self.status == "ok":
            return f"ok {self.step} ({self.ms:.0f} ms)" + (f": {self.note}" if self.note else "")
        return f"{self.status} {self.step}: {self.note}"


class Report:
    """Runs the steps and prints a line for each as it ends."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.outcomes: list[Outcome] = []
        self.started = time.monotonic()

    def run(self, step: str, action: Callable[[], str | None]) -> bool:
        mark = time.perf_counter()
        try:
            note = action()
        except Failure as e:
            self._add(Outcome(step, "FAIL", _ms(mark), _cut(str(e))))
            return False
        except Exception as e:  # a bug or a surprise: still one line, and the run goes on
            reason = f"unexpected {type(e).__name__}: {e}"
            self._add(Outcome(step, "FAIL", _ms(mark), _cut(reason)))
            return False
        self._add(Outcome(step, "ok", _ms(mark), _cut(note or "")))
        return True

    def skip(self, step: str, reason: str) -> None:
        self._add(Outcome(step, "skip", 0.0, reason))

    def _add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        print(outcome.line(), file=self.out, flush=True)

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.status == "ok" for o in self.outcomes)

    def summary(self, interrupted: bool = False) -> str:
        took = f"{time.monotonic() - self.started:.1f} s"
        failed = [o.step for o in self.outcomes if o.status == "FAIL"]
        skipped = sum(1 for o in self.outcomes if o.status == "skip")
        total = len(self.outcomes)
        if interrupted:
            head = f"INTERRUPTED after {total} steps"
        elif self.passed:
            return f"PASSED: {total} of {total} steps in {took}"
        else:
            head = f"FAILED: {len(failed)} of {total} steps failed"
        parts = [head + (f" ({', '.join(failed)})" if failed else "")]
        if skipped:
            parts.append(f"{skipped} not run")
        return ", ".join(parts) + f"; {took}"


def _ms(mark: float) -> float:
    return (time.perf_counter() - mark) * 1000


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


# --- what the steps share


@dataclass(frozen=True)
class Targets:
    chat: str
    intent: str
    metrics: str

    def of(self, function: str) -> str:
        return str(getattr(self, function))


@dataclass(frozen=True)
class Options:
    targets: Targets
    timeout_s: float
    request_timeout_s: float
    token: str | None
    token_from_metadata: bool
    products: Path | None  # --publish-change: the catalog's products file
    record_id: str | None
    project: str | None
    topic: str | None


@dataclass
class Session:
    id: str
    token: str
    expires_at: datetime


@dataclass
class Baseline:
    since: datetime  # the server's current minute when it was read
    turns: int  # turns counted from that minute on


@dataclass
class CatalogChange:
    record_id: str
    original: str  # the record's line, as in the catalog file
    changed: str  # the same record with a harmless change
    source: str  # the function whose health details show the catalog version
    before: int
    attempted: bool = False  # the changed record was handed to the CLI
    seen: int | None = None  # the version after the change, once seen


@dataclass
class Smoke:
    options: Options
    http: Http
    report: Report
    unreachable: set[str] = field(default_factory=set)
    versions: dict[str, int] = field(default_factory=dict)  # catalog version, per function
    candidates: list[str] = field(default_factory=lambda: [NEUTRAL_QUESTION])
    question: str = NEUTRAL_QUESTION
    session: Session | None = None
    reply: dict[str, Any] | None = None
    baseline: Baseline | None = None
    change: CatalogChange | None = None

    # -- running

    def run(self) -> None:
        for function in FUNCTIONS:
            self._step(f"health {function}", partial(self.health, function), needs=())
        for function in FUNCTIONS:
            self._step(
                f"health details {function}", partial(self.details, function), needs=(function,)
            )
        self._step("metrics baseline", self.metrics_baseline, needs=("metrics",))
        self._step("about", self.about, needs=("chat",))
        self._step("intent route", self.intent_route, needs=("intent",))
        self._step("session create", self.create_session, needs=("chat",))
        has_session = ("session create", lambda: self.session is not None)
        self._step("turn stream", self.turn, needs=("chat",), after=[has_session])
        has_reply = ("turn stream", lambda: self.reply is not None)
        self._step("session history", self.history, needs=("chat",), after=[has_reply])
        self._step("session resume", self.resume, needs=("chat",), after=[has_session])
        self._step("session delete", self.delete, needs=("chat",), after=[has_session])
        has_baseline = ("metrics baseline", lambda: self.baseline is not None)
        self._step(
            "metrics count", self.metrics_count, needs=("metrics",), after=[has_baseline, has_reply]
        )
        if self.options.products is not None:
            try:
                self._step("catalog change", self.catalog_change, needs=())
            finally:  # even on Ctrl-C: whatever was published is published back
                if self.change is not None and self.change.attempted:
                    self._step("catalog restore", self.catalog_restore, needs=())
                else:
                    self.report.skip("catalog restore", "nothing was published")

    def _step(
        self,
        name: str,
        action: Callable[[], str | None],
        *,
        needs: Sequence[str],
        after: Sequence[tuple[str, Callable[[], bool]]] = (),
    ) -> None:
        down = [f for f in needs if f in self.unreachable]
        if down:
            self.report.skip(name, f"{' and '.join(down)} unreachable")
            return
        missing = [step for step, done in after if not done()]
        if missing:
            self.report.skip(name, f"needs {' and '.join(missing)}")
            return
        self.report.run(name, action)

    def call(self, function: str, method: str, path: str, **kwargs: Any) -> Answer:
        try:
            return self.http.call(
                function, self.options.targets.of(function), method, path, **kwargs
            )
        except Unreachable:
            self.unreachable.add(function)
            raise

    # -- health

    def health(self, function: str) -> str | None:
        answer = self.call(function, "GET", "/health", expect=(200, 503))
        status = answer.object().get("status")
        if answer.status != 200 or status != "ok":
            raise Failure(
                f"{answer.what}: {answer.status} {status!r}: degraded "
                "(its health details, where served, say which check failed)"
            )
        return None

    def details(self, function: str) -> str | None:
        """Served where only operators reach it (docs/chat.md, "Health"); elsewhere a 404 of
        the contract's own (JSON), which is as documented: not a failure."""
        answer = self.call(function, "GET", "/health/details", expect=(200, 404, 503))
        if answer.status == 404:
            if _error_code(answer) != "not_found":  # not this product's own 404
                raise Failure(f"{answer.what}: {self.http.describe(function, answer)}")
            return "not served (404), as documented for a public function"
        data = answer.object()
        checks = data.get("checks")
        if not isinstance(checks, dict):
            raise Failure(f"{answer.what}: no `checks` in {_snippet(answer.body)}")
        failing = []
        for name, check in checks.items():
            if isinstance(check, dict) and not check.get("ok", False):
                error = check.get("error")
                failing.append(f"{name} ({error})" if error else str(name))
        if answer.status != 200 or data.get("status") != "ok":
            raise Failure(f"{answer.what}: {data.get('status')!r}: {', '.join(failing) or '?'}")
        found = []
        for name in ("store", "bus"):
            kind = checks.get(name, {}).get("kind") if isinstance(checks.get(name), dict) else None
            if kind:
                found.append(f"{name} {kind}")
        version = _catalog_version(checks)
        if version is not None:
            self.versions[function] = version
            found.append(f"catalog version {version}")
        return ", ".join(found)

    # -- metrics

    def _summary(self) -> dict[str, Any]:
        path = f"/summary?minutes={SUMMARY_MINUTES}"
        data = self.call("metrics", "GET", path).object()
        if not isinstance(data.get("turns"), int):
            raise Failure(f"metrics GET {path}: no `turns` count in {_snippet(json.dumps(data))}")
        return data

    def metrics_baseline(self) -> str | None:
        summary = self._summary()
        since = _current_minute(summary)
        self.baseline = Baseline(since, _turns_since(summary, since))
        return f"{_count(summary['turns'], 'turn')} in the last {SUMMARY_MINUTES} minutes"

    def metrics_count(self) -> str | None:
        assert self.baseline is not None
        wanted = self.baseline.turns + 1
        started = time.monotonic()
        deadline = started + self.options.timeout_s
        delay = POLL_FIRST_S
        counted = self.baseline.turns
        last_error: Failure | None = None
        while True:
            try:
                counted = _turns_since(self._summary(), self.baseline.since)
                last_error = None
            except Failure as e:  # a summary that fails now may answer at the next try
                last_error = e
            if counted >= wanted:
                took = time.monotonic() - started
                more = _count(counted - self.baseline.turns, "more turn")
                return f"{more} counted after {took:.1f} s"
            if time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, POLL_MAX_S)
        if last_error is not None:
            raise Failure(f"not counted within {self.options.timeout_s:g} s; last: {last_error}")
        raise Failure(
            f"the turn was not counted within {self.options.timeout_s:g} s: {counted} turns since "
            f"{_iso(self.baseline.since)}, {self.baseline.turns} before the turn (chat -> metrics "
            "topic -> metrics-events: see their logs and the metrics-dead-letter subscription)"
        )

    # -- the question

    def about(self) -> str | None:
        data = self.call("chat", "GET", "/about").object()
        suggestions = data.get("suggestions")
        if not isinstance(suggestions, list):
            raise Failure(f"chat GET /about: no `suggestions` list in {_snippet(json.dumps(data))}")
        offered = [s.strip() for s in suggestions if isinstance(s, str) and s.strip()]
        self.candidates = [*offered[:SUGGESTIONS_TRIED], NEUTRAL_QUESTION]
        self.question = self.candidates[0]
        name = data.get("name") or "(no name)"
        return f"{name}: {_count(len(offered), 'suggestion')}"

    def intent_route(self) -> str | None:
        """The first of the deployment's own suggestions that reads as a product question; the
        first suggestion if none does (the turn must still cite sources)."""
        seen = []
        for question in self.candidates:
            answer = self.call("intent", "POST", "/route", body={"query": question})
            data = answer.object()
            intent, confidence = data.get("intent"), data.get("confidence")
            if intent not in INTENTS or not isinstance(confidence, int | float):
                raise Failure(f"{answer.what}: not a routing decision: {_snippet(answer.body)}")
            seen.append(f"{intent} {confidence:.2f}")
            if intent == PRODUCT_INTENT:
                self.question = question
                return f"{question!r}: {intent} ({confidence:.2f}, {data.get('method')})"
        self.question = self.candidates[0]
        return f"no question read as {PRODUCT_INTENT} ({'; '.join(seen)}): asking {self.question!r}"

    # -- the session

    def _session_path(self, suffix: str = "") -> str:
        assert self.session is not None
        return f"/sessions/{urllib.parse.quote(self.session.id, safe='')}{suffix}"

    def create_session(self) -> str | None:
        answer = self.call("chat", "POST", "/sessions", body={}, expect=(201,))
        data = answer.object()
        session_id, token = data.get("session_id"), data.get("token")
        if not isinstance(session_id, str) or not session_id or not isinstance(token, str):
            raise Failure(f"{answer.what}: no session_id and token in the answer")
        expires = _parse_time(data.get("expires_at"), answer.what)
        self.session = Session(session_id, token, expires)
        return f"expires {_iso(expires)}"

    def turn(self) -> str | None:
        assert self.session is not None
        label = "/sessions/{id}/messages"
        target = self.options.targets.chat
        try:
            response = self.http.stream(
                "chat", target, self._session_path("/messages"), {"message": self.question},
                self.session.token, label,
            )  # fmt: skip
        except Unreachable:
            self.unreachable.add("chat")
            raise
        what = f"chat POST {label} (stream)"
        with response:
            events = self._read_stream(response, what)
        kinds = [kind for kind, _ in events]
        errors = [data for kind, data in events if kind == "error"]
        if errors:
            raise Failure(
                f"{what}: `error` event: {errors[0].get('code')}: {errors[0].get('message')}"
            )
        if not kinds or kinds[0] != "meta":
            raise Failure(f"{what}: the first event is {kinds[:1] or 'missing'}, not `meta`")
        meta = events[0][1]
        if kinds[-1] != "done":
            raise Failure(f"{what}: the stream ended before `done` (events: {_tally(kinds)})")
        deltas = [data.get("text") for kind, data in events if kind == "delta"]
        if not deltas or not all(isinstance(text, str) for text in deltas):
            raise Failure(f"{what}: no `delta` text before `done` (events: {_tally(kinds)})")
        done = events[-1][1]
        reply = done.get("reply")
        if not isinstance(reply, str) or not reply.strip():
            raise Failure(f"{what}: `done` has no reply")
        if "".join(str(text) for text in deltas) != reply:
            raise Failure(f"{what}: the `delta` texts do not add up to the `done` reply")
        sources = done.get("sources")
        if not isinstance(meta.get("sources"), list) or not meta["sources"]:
            raise Failure(f"{what}: `meta` cites no sources for {self.question!r}")
        if not isinstance(sources, list) or not sources:
            raise Failure(f"{what}: the reply cites no sources for {self.question!r}")
        if not all(isinstance(s, dict) and s.get("id") and s.get("kind") for s in sources):
            raise Failure(f"{what}: a source without id or kind: {_snippet(json.dumps(sources))}")
        if done.get("fallback") is not None:
            raise Failure(
                f"{what}: answered by the fallback ladder ({done.get('fallback')!r}): the model "
                "failed (the chat function's logs say why)"
            )
        self.reply = done
        cached = ", cached" if done.get("cached") else ""
        total = (done.get("timings_ms") or {}).get("total")
        server = f", {total:.0f} ms in the function" if isinstance(total, int | float) else ""
        counts = f"{_count(len(sources), 'source')}, {_count(len(deltas), 'delta')}"
        return f"{done.get('intent')}, {counts}{cached}{server}"

    def _read_stream(self, response: HTTPResponse, what: str) -> list[tuple[str, dict[str, Any]]]:
        events: list[tuple[str, dict[str, Any]]] = []
        try:
            for kind, raw in sse_events(response):
                try:
                    data = json.loads(raw)
                except ValueError:
                    raise Failure(
                        f"{what}: `{kind}` event data is not JSON: {_snippet(raw)!r}"
                    ) from None
                if not isinstance(data, dict):
                    raise Failure(f"{what}: `{kind}` event data is not a JSON object")
                events.append((kind, data))
                if kind in ("done", "error"):
                    break
        except TimeoutError:
            raise Failure(
                f"{what}: the stream stalled: no event for {self.http.timeout_s:g} s "
                f"(events so far: {_tally([k for k, _ in events]) or 'none'})"
            ) from None
        except (HTTPException, OSError) as e:
            raise Failure(f"{what}: the stream broke ({type(e).__name__})") from None
        return events

    def history(self) -> str | None:
        assert self.session is not None and self.reply is not None
        path = self._session_path(f"?limit={HISTORY_LIMIT}")
        answer = self.call("chat", "GET", path, token=self.session.token, label="/sessions/{id}")
        data = answer.object()
        messages = data.get("messages")
        if data.get("session_id") != self.session.id or not isinstance(messages, list):
            raise Failure(f"{answer.what}: not this session's history")
        if len(messages) < 2 or not all(isinstance(m, dict) for m in messages[-2:]):
            raise Failure(f"{answer.what}: {len(messages)} message(s), expected the turn's two")
        asked, answered = messages[-2], messages[-1]
        if asked.get("role") != "user" or asked.get("content") != self.question:
            raise Failure(f"{answer.what}: the question is not the last user message")
        reply = str(self.reply["reply"])
        content = answered.get("content")
        stored = content == reply or (
            isinstance(content, str)
            and len(reply) > STORED_REPLY_CHARS
            and reply.startswith(content[:1000])
        )
        if answered.get("role") != "assistant" or not stored:
            raise Failure(f"{answer.what}: the reply is not the last assistant message")
        self.session.expires_at = _parse_time(data.get("expires_at"), answer.what)
        return f"{len(messages)} messages"

    def resume(self) -> str | None:
        assert self.session is not None
        answer = self.call(
            "chat", "POST", self._session_path("/resume"), token=self.session.token,
            label="/sessions/{id}/resume",
        )  # fmt: skip
        data = answer.object()
        if data.get("session_id") != self.session.id:
            raise Failure(f"{answer.what}: another session_id in the answer")
        expires = _parse_time(data.get("expires_at"), answer.what)
        if expires < self.session.expires_at:
            raise Failure(
                f"{answer.what}: expires_at went back ({_iso(self.session.expires_at)} -> "
                f"{_iso(expires)})"
            )
        self.session.expires_at = expires
        return f"expires {_iso(expires)}"

    def delete(self) -> str | None:
        assert self.session is not None
        path, token = self._session_path(), self.session.token
        self.call("chat", "DELETE", path, token=token, expect=(204,), label="/sessions/{id}")
        after = self.call(
            "chat", "GET", path, token=token, expect=(200, 404), label="/sessions/{id}"
        )
        if after.status != 404:
            raise Failure(f"{after.what}: still {after.status} after DELETE (expected 404)")
        return "gone (404)"

    # -- the catalog

    def catalog_change(self) -> str | None:
        """Publish one product with a harmless change (one space of its description doubled)
        and wait until the catalog version moves."""
        assert self.options.products is not None
        source = next((f for f in FUNCTIONS if f in self.versions), None)
        if source is None:
            raise Failure(
                "no function shows the catalog version (GET /health/details: checks.catalog."
                "version), so a change could not be seen: nothing was published (docs/smoke.md)"
            )
        record_id, original, changed = pick_record(
            self.options.products, self.options.record_id, self._served_products()
        )
        before = self._catalog_version(source)
        self.change = CatalogChange(record_id, original, changed, source, before)
        self.change.attempted = True
        published = self._publish(changed, before)
        self.change.seen = self._wait_version(source, above=before)
        return (
            f"{record_id} published with a doubled space in its description ({published}); "
            f"catalog version {before} -> {self.change.seen}"
        )

    def catalog_restore(self) -> str | None:
        change = self.change
        assert change is not None
        published = self._publish(
            change.original, change.before if change.seen is None else change.seen
        )
        if change.seen is None:
            raise Failure(
                f"{change.record_id} published again as in {self.options.products} "
                f"({published}), but the change was never seen to land, so the restore cannot be "
                "checked: once the ingest function is healthy, run again with --publish-change"
            )
        after = self._wait_version(change.source, above=change.seen)
        return (
            f"{change.record_id} published as in {self.options.products} ({published}); "
            f"catalog version {change.seen} -> {after}"
        )

    def _served_products(self) -> list[dict[str, Any]]:
        sources = (self.reply or {}).get("sources") or []
        return [s for s in sources if isinstance(s, dict) and s.get("kind") == "product"]

    def _catalog_version(self, function: str) -> int:
        answer = self.call(function, "GET", "/health/details", expect=(200, 503))
        checks = answer.object().get("checks")
        version = _catalog_version(checks) if isinstance(checks, dict) else None
        if version is None:
            raise Failure(f"{answer.what}: no checks.catalog.version any more")
        return version

    def _wait_version(self, function: str, *, above: int) -> int:
        deadline = time.monotonic() + self.options.timeout_s
        delay = POLL_FIRST_S
        version = above
        while True:
            try:
                version = self._catalog_version(function)
            except Unreachable:
                raise
            except Failure:
                pass  # a degraded moment: the next try may answer
            if version > above:
                return version
            if time.monotonic() + delay > deadline:
                raise Failure(
                    f"the catalog version stayed at {version} for {self.options.timeout_s:g} s "
                    "after publishing (the ingest function's logs and the ingest-dead-letter "
                    "subscription say why)"
                )
            time.sleep(delay)
            delay = min(delay * 2, POLL_MAX_S)

    def _publish(self, line: str, shown: int) -> str:
        """One product record through the operator CLI (scripts.publish_catalog): to Pub/Sub
        when the settings say so (--project, GOOGLE_CLOUD_PROJECT, PUBSUB_EMULATOR_HOST), else
        the local stack's bus, which waits until the record is ingested."""
        timeout = self.options.timeout_s
        with tempfile.TemporaryDirectory(prefix="smoke-") as work:
            path = Path(work) / "products.jsonl"
            path.write_text(line + "\n", encoding="utf-8")
            command = [
                sys.executable, "-m", "scripts.publish_catalog", "--kind", "products",
                "--strict", "--quiet", "--timeout", f"{timeout:g}",
                *(["--topic", self.options.topic] if self.options.topic else []),
                str(path),
            ]  # fmt: skip
            env = {k: v for k, v in os.environ.items() if k != ID_TOKEN_ENV}
            if self.options.project:
                env["GOOGLE_CLOUD_PROJECT"] = self.options.project
            try:
                done = subprocess.run(
                    command,
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=timeout + PUBLISH_STARTUP_S,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise Failure(
                    f"scripts.publish_catalog did not finish in {timeout + PUBLISH_STARTUP_S:g} s"
                ) from None
        said = [line for line in done.stdout.splitlines() if line.strip()]
        if done.returncode != 0:
            complaints = [line for line in done.stderr.splitlines() if line.strip()]
            tail = " / ".join((complaints or said)[-3:]) or "no output"
            raise Failure(f"scripts.publish_catalog exited {done.returncode}: {tail}")
        moved = next((m for m in map(LOCAL_VERSION.match, said) if m), None)
        if moved and moved["was"] != str(shown):
            raise Failure(
                f"scripts.publish_catalog wrote into a local store at version {moved['was']}, "
                f"while the deployment shows version {shown}: it is not the "
                "deployment's store (run from the directory, and with the LOCAL_DIR, that the "
                "local stack uses; for Pub/Sub, give --project or set PUBSUB_EMULATOR_HOST)"
            )
        topic = next((line for line in said if line.startswith("topic: ")), "")
        return topic.removeprefix("topic: ") or "published"


def _error_code(answer: Answer) -> str | None:
    """The contract's error code of an answer (`{"error": {"code": ...}}`), if it has one."""
    try:
        data = json.loads(answer.body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _catalog_version(checks: Mapping[str, Any]) -> int | None:
    catalog = checks.get("catalog")
    version = catalog.get("version") if isinstance(catalog, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def _current_minute(summary: Mapping[str, Any]) -> datetime:
    """The server's current minute: the last point of the summary's series."""
    series = summary.get("series")
    if not isinstance(series, list) or not series or not isinstance(series[-1], dict):
        raise Failure("metrics GET /summary: no `series` of minutes")
    return _parse_time(series[-1].get("minute"), "metrics GET /summary")


def _turns_since(summary: Mapping[str, Any], since: datetime) -> int:
    """Turns counted in the minutes from `since` on: unlike the window's total, this never
    drops as the window moves on."""
    total = 0
    for point in summary.get("series") or []:
        if not isinstance(point, dict):
            continue
        minute = _parse_time(point.get("minute"), "metrics GET /summary")
        turns = point.get("turns")
        if minute >= since and isinstance(turns, int):
            total += turns
    return total


def _parse_time(value: Any, what: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    raise Failure(f"{what}: not a time with a zone: {value!r}")


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _tally(kinds: Sequence[str]) -> str:
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())


# --- the record a change is made to


def products_file(path: Path) -> Path:
    """--publish-change's argument: a catalog directory (its products.jsonl) or the file."""
    found = path / "products.jsonl" if path.is_dir() else path
    if not found.is_file():
        raise UsageError(f"--publish-change: {found} is not a file")
    return found


def pick_record(
    products: Path, wanted: str | None, served: Sequence[Mapping[str, Any]]
) -> tuple[str, str, str]:
    """(id, its line as in the file, the line with one space of its description doubled).

    The record is --record-id, else the first product the turn cited that the file holds,
    else the file's first. A product the deployment served must have the same name and price
    in the file: otherwise the file is not the catalog deployed, and publishing its record
    back would change the catalog rather than restore it."""
    try:
        text = products.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise Failure(f"{products}: cannot be read ({e})") from None
    lines: dict[str, tuple[str, dict[str, Any]]] = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a bad line: the CLI would report it; it is never the one changed
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            description = record.get("description")
            if isinstance(description, str) and " " in description.strip():
                lines.setdefault(record["id"], (line.strip(), record))
    if not lines:
        raise Failure(f"{products}: no product record with a description of several words")
    served_ids = [str(s.get("id")) for s in served]
    if wanted is not None:
        if wanted not in lines:
            raise Failure(
                f"--record-id {wanted}: no such product (with a description) in {products}"
            )
        record_id = wanted
    elif served_ids:
        record_id = next((i for i in served_ids if i in lines), "")
        if not record_id:
            raise Failure(
                f"none of the products the chat cited ({', '.join(served_ids)}) is in {products}: "
                "give the catalog the deployment was loaded from (nothing was published)"
            )
    else:
        record_id = next(iter(lines))
    original, record = lines[record_id]
    for cited in served:
        if str(cited.get("id")) == record_id:
            _same_as_served(record, cited, products)
    description = str(record["description"])
    at = description.rstrip().rindex(" ")
    changed = {**record, "description": description[:at] + " " + description[at:]}
    return record_id, original, json.dumps(changed, ensure_ascii=False)


def _same_as_served(record: Mapping[str, Any], cited: Mapping[str, Any], products: Path) -> None:
    differs = []
    name = record.get("name")
    if isinstance(name, str) and cited.get("name") not in (None, name.strip()):
        differs.append("name")
    price = record.get("price")
    served_price = cited.get("price")
    if (
        isinstance(price, int | float)
        and isinstance(served_price, int | float)
        and round(float(price), 2) != round(float(served_price), 2)
    ):
        differs.append("price")
    if differs:
        raise Failure(
            f"{products} holds another version of {record.get('id')} than the deployment serves "
            f"({' and '.join(differs)} differ): publishing it back would change the catalog, so "
            "nothing was published"
        )


# --- the command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scripts.smoke",
        description="A short end-to-end check of a running deployment: health, a session, a "
        "streamed turn with sources, history, resume, delete, the metrics counting it.",
        epilog="Exit codes: 0 every step passed; 1 a step failed; 2 usage; 130 interrupted. "
        "See docs/smoke.md.",
    )
    where = p.add_argument_group("where")
    where.add_argument("--url", help="one origin serving /chat, /intent and /metrics")
    where.add_argument(
        "--function-urls",
        type=Path,
        metavar="FILE",
        help="each function's URL: `terraform output -json function_urls` (or every output, "
        "`terraform output -json`: its base_url and direct_function_urls)",
    )
    for function in FUNCTIONS:
        where.add_argument(f"--{function}-url", help=f"the {function} function's own base URL")
    auth = p.add_argument_group("identity (intent and metrics only; never printed)")
    auth.add_argument(
        "--id-token",
        help=f"identity token for internal functions (default: ${ID_TOKEN_ENV}), e.g. from "
        "`gcloud auth print-identity-token`",
    )
    auth.add_argument(
        "--id-token-from-metadata",
        action="store_true",
        help="mint one per function URL from the metadata server (Cloud Build, a VM)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="bounded wait, in s, for the metrics and the catalog version (default %(default)g)",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT_S,
        help="each request, and each wait for a stream's next event, in s (default %(default)g)",
    )
    change = p.add_argument_group("catalog change (changes the catalog, then restores it)")
    change.add_argument(
        "--publish-change",
        type=Path,
        metavar="CATALOG",
        help="the catalog directory (or products file) the deployment was loaded from: one "
        "product is published with a harmless change, then as it was",
    )
    change.add_argument("--record-id", help="the product to change (default: one the turn cited)")
    change.add_argument(
        "--project", help="publish to Pub/Sub in this project (sets GOOGLE_CLOUD_PROJECT)"
    )
    change.add_argument("--topic", help="the ingest topic (default: INGEST_TOPIC, 'ingest')")
    return p


def _base(url: str, option: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{option}: {url!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise UsageError(f"{option}: {url!r} has a query or fragment")
    return url.rstrip("/")


def _listed(path: Path) -> tuple[dict[str, str], str | None]:
    """--function-urls: the functions' URLs, and the one origin if the file names one. Either a
    JSON object of URLs (`terraform output -json function_urls` or `direct_function_urls`), or
    every output (`terraform output -json`): its `base_url` (the load balancer's origin, or
    null) and the URLs of `direct_function_urls` (else `function_urls`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"--function-urls: {path}: {e}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--function-urls: {path}: not a JSON object")
    base = None
    if any(isinstance(v, dict) and "value" in v for v in data.values()):  # every output
        outputs = {k: v.get("value") for k, v in data.items() if isinstance(v, dict)}
        base = outputs.get("base_url") if isinstance(outputs.get("base_url"), str) else None
        urls = outputs.get("direct_function_urls")
        data = urls if isinstance(urls, dict) else outputs.get("function_urls")
        if not isinstance(data, dict):
            raise UsageError(f"--function-urls: {path}: no function_urls output")
    listed = {k: v for k, v in data.items() if k in FUNCTIONS and isinstance(v, str) and v}
    return listed, base


def _targets(args: argparse.Namespace) -> Targets:
    listed, base = _listed(args.function_urls) if args.function_urls else ({}, None)
    if args.url:
        base = args.url
    origin = _base(base, "--url" if args.url else "--function-urls (base_url)") if base else None
    found: dict[str, str] = {}
    for function in FUNCTIONS:
        own = getattr(args, f"{function}_url")
        if own:
            found[function] = _base(own, f"--{function}-url")
        elif function in listed:
            found[function] = _base(listed[function], f"--function-urls ({function})")
        elif origin:
            found[function] = f"{origin}/{function}"
    missing = [f for f in FUNCTIONS if f not in found]
    if missing:
        raise UsageError(
            f"no URL for {', '.join(missing)}: give --url BASE (one origin serving /chat, "
            "/intent, /metrics), or each function's --<name>-url, or --function-urls FILE"
        )
    return Targets(**found)


def options(args: argparse.Namespace) -> Options:
    if not 0 < args.timeout <= MAX_TIMEOUT_S:
        raise UsageError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} s")
    if not 0 < args.request_timeout <= MAX_REQUEST_TIMEOUT_S:
        raise UsageError(
            f"--request-timeout must be more than 0 and at most {MAX_REQUEST_TIMEOUT_S:g} s"
        )
    token = args.id_token or os.environ.get(ID_TOKEN_ENV) or None
    if token and args.id_token_from_metadata:
        raise UsageError(
            "--id-token (or $SMOKE_ID_TOKEN) and --id-token-from-metadata: one or the other"
        )
    if args.publish_change is None and (args.record_id or args.project or args.topic):
        raise UsageError("--record-id, --project and --topic go with --publish-change")
    products = products_file(args.publish_change) if args.publish_change is not None else None
    return Options(
        targets=_targets(args),
        timeout_s=args.timeout,
        request_timeout_s=args.request_timeout,
        token=token.strip() if token else None,
        token_from_metadata=args.id_token_from_metadata,
        products=products,
        record_id=args.record_id,
        project=args.project,
        topic=args.topic,
    )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        opts = options(args)
    except UsageError as e:
        print(f"smoke: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    identity = Identity(opts.token, opts.token_from_metadata, opts.request_timeout_s)
    report = Report(stream)
    smoke = Smoke(opts, Http(opts.request_timeout_s, identity), report)
    t = opts.targets
    auth = ", identity token for intent and metrics" if identity.configured else ""
    print(f"smoke test: chat {t.chat}, intent {t.intent}, metrics {t.metrics}{auth}", file=stream)
    try:
        smoke.run()
    except KeyboardInterrupt:
        print(report.summary(interrupted=True), file=stream, flush=True)
        return EXIT_INTERRUPTED
    print(report.summary(), file=stream, flush=True)
    return EXIT_OK if report.passed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

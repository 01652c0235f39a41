"""The smoke test's checks of the deployment itself: where each function is (or that it takes
internal traffic only), the calls that remember which function proved unreachable, each
function's health and health details, and the metrics summary before and after the turn."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPResponse
from typing import Any, TypeVar

from scripts.smoke.http import Answer, Failure, Http, Unreachable, snippet

FUNCTIONS = ("chat", "intent", "metrics")
SUMMARY_MINUTES = 60
POLL_FIRST_S, POLL_MAX_S = 0.5, 5.0

T = TypeVar("T")


def internal_only(function: str) -> str:
    """Why the steps that need `function` are skipped when Terraform lists it without a URL."""
    return f"{function} takes internal traffic only (ingress); not reachable from here"


@dataclass(frozen=True)
class Targets:
    """Each function's base URL; None for one that takes internal traffic only."""

    chat: str | None
    intent: str | None
    metrics: str | None

    @property
    def internal(self) -> tuple[str, ...]:
        return tuple(f for f in FUNCTIONS if getattr(self, f) is None)

    def of(self, function: str) -> str:
        url = getattr(self, function)
        if url is None:
            raise Failure(internal_only(function))
        return str(url)

    def shown(self, function: str) -> str:
        url = getattr(self, function)
        return f"{function} {url}" if url else f"{function} not reachable (internal only)"


@dataclass
class Deployment:
    """The functions as the steps call them: a function found unreachable is remembered, and
    the steps that need it are then skipped."""

    http: Http
    targets: Targets
    unreachable: set[str] = field(default_factory=set)

    def call(self, function: str, method: str, path: str, **kwargs: Any) -> Answer:
        try:
            return self.http.call(function, self.targets.of(function), method, path, **kwargs)
        except Unreachable:
            self.unreachable.add(function)
            raise

    def stream(self, path: str, body: Any, token: str, label: str) -> HTTPResponse:
        """A chat POST answered as Server-Sent Events."""
        try:
            return self.http.stream("chat", self.targets.of("chat"), path, body, token, label)
        except Unreachable:
            self.unreachable.add("chat")
            raise


def poll(attempt: Callable[[], T | None], timeout_s: float) -> T | None:
    """`attempt()` until it returns something, waiting 0.5, 1, 2, 4, then 5 s between tries;
    None once the next try would come after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    delay = POLL_FIRST_S
    while True:
        found = attempt()
        if found is not None:
            return found
        if time.monotonic() + delay > deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, POLL_MAX_S)


def parse_time(value: Any, what: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    raise Failure(f"{what}: not a time with a zone: {value!r}")


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


# --- health


def catalog_version(checks: Mapping[str, Any]) -> int | None:
    catalog = checks.get("catalog")
    version = catalog.get("version") if isinstance(catalog, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


@dataclass
class Health:
    deployment: Deployment
    versions: dict[str, int] = field(default_factory=dict)  # catalog version, per function

    def health(self, function: str) -> str | None:
        answer = self.deployment.call(function, "GET", "/health", expect=(200, 503))
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
        answer = self.deployment.call(function, "GET", "/health/details", expect=(200, 404, 503))
        if answer.status == 404:
            if answer.error_code() != "not_found":  # not this product's own 404
                raise Failure(f"{answer.what}: {self.deployment.http.describe(function, answer)}")
            return "not served (404), as documented for a public function"
        data = answer.object()
        checks = data.get("checks")
        if not isinstance(checks, dict):
            raise Failure(f"{answer.what}: no `checks` in {snippet(answer.body)}")
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
        version = catalog_version(checks)
        if version is not None:
            self.versions[function] = version
            found.append(f"catalog version {version}")
        return ", ".join(found)

    def read_version(self, function: str) -> int:
        """The catalog version `function`'s health details show now."""
        answer = self.deployment.call(function, "GET", "/health/details", expect=(200, 503))
        checks = answer.object().get("checks")
        version = catalog_version(checks) if isinstance(checks, dict) else None
        if version is None:
            raise Failure(f"{answer.what}: no checks.catalog.version any more")
        return version


# --- metrics


@dataclass
class Baseline:
    since: datetime  # the server's current minute when it was read
    turns: int  # turns counted from that minute on


def current_minute(summary: Mapping[str, Any]) -> datetime:
    """The server's current minute: the last point of the summary's series."""
    series = summary.get("series")
    if not isinstance(series, list) or not series or not isinstance(series[-1], dict):
        raise Failure("metrics GET /summary: no `series` of minutes")
    return parse_time(series[-1].get("minute"), "metrics GET /summary")


def turns_since(summary: Mapping[str, Any], since: datetime) -> int:
    """Turns counted in the minutes from `since` on: unlike the window's total, this never
    drops as the window moves on."""
    total = 0
    for point in summary.get("series") or []:
        if not isinstance(point, dict):
            continue
        minute = parse_time(point.get("minute"), "metrics GET /summary")
        turns = point.get("turns")
        if minute >= since and isinstance(turns, int):
            total += turns
    return total


@dataclass
class Metrics:
    deployment: Deployment
    timeout_s: float  # the bounded wait for the turn to be counted
    baseline: Baseline | None = None

    def _summary(self) -> dict[str, Any]:
        path = f"/summary?minutes={SUMMARY_MINUTES}"
        data = self.deployment.call("metrics", "GET", path).object()
        if not isinstance(data.get("turns"), int):
            raise Failure(f"metrics GET {path}: no `turns` count in {snippet(json.dumps(data))}")
        return data

    def take_baseline(self) -> str | None:
        summary = self._summary()
        since = current_minute(summary)
        self.baseline = Baseline(since, turns_since(summary, since))
        return f"{count(summary['turns'], 'turn')} in the last {SUMMARY_MINUTES} minutes"

    def count(self) -> str | None:
        baseline = self.baseline
        assert baseline is not None
        wanted = baseline.turns + 1
        started = time.monotonic()
        counted = baseline.turns
        last_error: Failure | None = None

        def attempt() -> int | None:
            nonlocal counted, last_error
            try:
                counted = turns_since(self._summary(), baseline.since)
                last_error = None
            except Failure as e:  # a summary that fails now may answer at the next try
                last_error = e
            return counted if counted >= wanted else None

        if poll(attempt, self.timeout_s) is not None:
            took = time.monotonic() - started
            return f"{count(counted - baseline.turns, 'more turn')} counted after {took:.1f} s"
        if last_error is not None:
            raise Failure(f"not counted within {self.timeout_s:g} s; last: {last_error}")
        raise Failure(
            f"the turn was not counted within {self.timeout_s:g} s: {counted} turns since "
            f"{iso(baseline.since)}, {baseline.turns} before the turn (chat -> metrics "
            "topic -> metrics-events: see their logs and the metrics-dead-letter subscription)"
        )

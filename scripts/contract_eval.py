"""Quality figures through the public HTTP contract, against any running stack: `make dev`,
`make dev-cloud`, a deployment. The labelled sets the in-process evals use, asked as a user's
page asks them, so that two stacks can be compared figure by figure (docs/devcloud.md).

- intent: each query of a routing set to `POST /intent/route`; the share routed as labelled.
- turns: each query of a retrieval set as a chat turn, in a session of its own; the share whose
  reply cites a labelled record, and the share of unanswerable ones that cite none.
- cache: each pair's first question in a session of its own, then its second in another; the
  paraphrases answered from the cache, and the near-duplicates, never asked before, answered
  from the cache with the first question's very reply (wrong hits). A near-duplicate answered
  from the entry of another question asked earlier ("shops in Colorado" after "locations in
  Colorado") is counted apart: the pairs are asked in one stream, not each against an empty
  cache as in tests/eval/test_cache_eval.py. So the figures are those of a stack started for
  the run: a second run meets a cache the first one filled.
- metrics: the turns `GET /metrics/summary` counts once they have settled, against those made.

Usage: python -m scripts.contract_eval --url http://127.0.0.1:8080 [--limit N] [--json]
A refused turn (429) is asked again after its Retry-After, so any rate limit only slows it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scripts.smoke.http import Answer, Failure, Http, Identity

ROOT = Path(__file__).resolve().parent.parent
ROUTING = ROOT / "tests" / "eval" / "routing_eval.jsonl"
RETRIEVAL = ROOT / "tests" / "eval" / "retrieval_eval.jsonl"
CACHE = ROOT / "tests" / "eval" / "cache_pairs.jsonl"
SETTLE_S = 120  # for the metrics to count the turns made (their events travel through Pub/Sub)
MAX_WAITS = 20  # Retry-After waits for one request before giving up


@dataclass
class Figures:
    routed: int = 0
    routed_right: int = 0
    turns: list[dict[str, Any]] = field(default_factory=list)  # one row per turn, for a diff
    answerable: int = 0
    cited_relevant: int = 0
    unanswerable: int = 0
    cited_nothing: int = 0
    paraphrases: int = 0
    paraphrase_hits: int = 0
    near_duplicates: int = 0
    wrong_hits: int = 0
    other_entry_hits: int = 0
    turns_made: int = 0
    turns_counted: int = 0

    def summary(self) -> dict[str, Any]:
        def share(part: int, whole: int) -> float:
            return round(part / whole, 3) if whole else 0.0

        return {
            "intent_accuracy": share(self.routed_right, self.routed),
            "turn_cites_relevant": share(self.cited_relevant, self.answerable),
            "unanswerable_cite_nothing": share(self.cited_nothing, self.unanswerable),
            "paraphrase_hit_rate": share(self.paraphrase_hits, self.paraphrases),
            "wrong_hits": self.wrong_hits,
            "near_duplicates_from_other_entries": self.other_entry_hits,
            "turns_made": self.turns_made,
            "turns_counted": self.turns_counted,
        }


def read(path: Path, limit: int | None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows[:limit] if limit else rows


class Client:
    """The page's calls, one origin with `/chat`, `/intent` and `/metrics` under it."""

    def __init__(self, url: str, timeout_s: float, sleep: Callable[[float], None]) -> None:
        self.url = url.rstrip("/")
        self.http = Http(timeout_s, Identity(None, False, timeout_s))
        self.sleep = sleep

    def call(self, function: str, method: str, path: str, body: Any = None, **kw: Any) -> Answer:
        for _ in range(MAX_WAITS):
            answer = self.http.call(
                function, f"{self.url}/{function}", method, path, body=body,
                expect=(200, 201, 429), **kw,
            )  # fmt: skip
            if answer.status != 429:
                return answer
            self.sleep(float(answer.headers.get("Retry-After") or 1))
        raise Failure(f"{answer.what}: still refused after {MAX_WAITS} waits")

    def route(self, query: str) -> str:
        return str(self.call("intent", "POST", "/route", {"query": query}).object()["intent"])

    def turn(self, message: str) -> dict[str, Any]:
        """One turn in a session of its own: the JSON reply."""
        session = self.call("chat", "POST", "/sessions", {}).object()
        path = f"/sessions/{session['session_id']}/messages"
        reply = self.call(
            "chat", "POST", path, {"message": message}, token=session["token"], label="/messages"
        ).object()
        return reply

    def turns_counted(self) -> int:
        return int(self.call("metrics", "GET", "/summary?minutes=60").object()["turns"])


def evaluate(client: Client, limit: int | None, clock: Callable[[], float]) -> Figures:
    f = Figures()
    before = settled(client, clock)
    for row in read(ROUTING, limit):
        f.routed += 1
        f.routed_right += client.route(row["query"]) == row["intent"]
    for row in read(RETRIEVAL, limit):
        reply = take_turn(client, f, row["query"])
        cited = [s["id"] for s in reply.get("sources") or []]
        if row["relevant"]:
            f.answerable += 1
            f.cited_relevant += any(i in cited for i in row["relevant"])
        else:
            f.unanswerable += 1
            f.cited_nothing += not cited
    for row in read(CACHE, limit):
        first = take_turn(client, f, row["a"])
        second = take_turn(client, f, row["b"])
        cached = bool(second.get("cached"))
        if row["label"] == "paraphrase":
            f.paraphrases += 1
            f.paraphrase_hits += cached
        else:
            f.near_duplicates += 1
            same = second.get("reply") == first.get("reply") and not asked_before(f, row["b"])
            f.wrong_hits += cached and same
            f.other_entry_hits += cached and not same
    deadline = clock() + SETTLE_S
    while client.turns_counted() < before + f.turns_made and clock() < deadline:
        client.sleep(1)
    f.turns_counted = settled(client, clock) - before
    return f


def take_turn(client: Client, f: Figures, message: str) -> dict[str, Any]:
    reply = client.turn(message)
    f.turns_made += 1
    f.turns.append(
        {
            "message": message,
            "intent": reply.get("intent"),
            "sources": [s.get("id") for s in reply.get("sources") or []],
            "cached": bool(reply.get("cached")),
            "fallback": reply.get("fallback"),
            "reply": reply.get("reply"),
        }
    )
    return reply


def asked_before(f: Figures, message: str) -> bool:
    """Whether the run asked this (but for case and spaces) before its last turn."""
    key = " ".join(message.lower().split())
    return any(" ".join(t["message"].lower().split()) == key for t in f.turns[:-1])


def settled(client: Client, clock: Callable[[], float], quiet_s: float = 2.0) -> int:
    """The turns counted once the count stays the same for `quiet_s`."""
    last, deadline = client.turns_counted(), clock() + SETTLE_S
    while clock() < deadline:
        client.sleep(quiet_s)
        now = client.turns_counted()
        if now == last:
            return now
        last = now
    raise Failure(f"the metrics count never settled (last {last})")


def differences(one: Figures, other: Figures) -> Iterator[str]:
    """Where two stacks' runs differ: a line per figure and per turn."""
    a, b = one.summary(), other.summary()
    for name in a:
        if a[name] != b[name]:
            yield f"{name}: {a[name]} vs {b[name]}"
    for x, y in zip(one.turns, other.turns, strict=False):
        if x != y:
            yield f"turn {x['message']!r}: {x} vs {y}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.contract_eval", description=__doc__)
    parser.add_argument("--url", required=True, help="the front door: /chat, /intent, /metrics")
    parser.add_argument("--limit", type=int, help="the first N lines of each set")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--json", action="store_true", help="the figures and every turn as JSON")
    args = parser.parse_args(argv)
    client = Client(args.url, args.timeout, time.sleep)
    started = time.monotonic()
    try:
        figures = evaluate(client, args.limit, time.monotonic)
    except Failure as e:
        print(f"contract eval failed: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(asdict(figures) | {"summary": figures.summary()}, indent=1))
    else:
        for name, value in figures.summary().items():
            print(f"{name:28} {value}")
        print(f"{'seconds':28} {time.monotonic() - started:.0f}")
    return 0 if figures.turns_counted == figures.turns_made else 2


if __name__ == "__main__":
    sys.exit(main())

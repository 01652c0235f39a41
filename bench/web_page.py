"""The web pages in headless Chromium against the local stack: what they weigh, how soon they
are usable, how soon a reply's first words show, and what the page adds over the bare stream.

Usage: python -m bench.web_page [--turns 20] [--loads 5]

The stack is `make dev`'s server in a subprocess (sample catalog, offline models, a fresh
store), with the response cache off so that every turn costs the server the same work. The
peer, in the same run, in the same page, is the floor: a bare `fetch` of the same endpoint that
reads the stream and renders nothing.

- weight: every request a cold load of each page makes, and its bytes;
- load: navigation -> DOMContentLoaded, and -> usable (the chat page: its stored 10-turn
  conversation resumed and shown; the dashboard: its first 24 h summary drawn), cold each time;
- turn: Enter -> the reply's first words in the DOM, and -> the reply complete with its cards;
  peer: request -> first `delta` bytes, and -> the end of the stream. Each question is asked
  by both, first by one side and then by the other in turn;
- dashboard: "Refresh now" on a 24 h window (1,440 points) -> drawn; peer: the same fetch and
  JSON.parse in the same page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

from bench.report import pct
from tests.chromium import CHROMIUM_ARGS, chromium_path
from tests.local_stack import Stack

QUESTIONS = (
    "Recommend a dark roast for espresso",
    "Which shops in Seattle have wifi?",
    "Something decaf under $15",
    "Is there a shop in Portland open on Sunday?",
    "What do you have for a French press?",
    "hello!",
    "Do you sell oat milk drinks?",
    "Which coffee has chocolate notes?",
    "Where can I find a shop with outdoor seating?",
    "What brewing equipment do you sell?",
)

# Ours: the page's own form, timed inside the page from the submit to the DOM changes.
PAGE_TURN = """async (text) => {
  const input = document.getElementById("message");
  input.value = text;
  input.dispatchEvent(new Event("input"));
  return await new Promise((resolve) => {
    let first = null;
    const t0 = performance.now();
    const observer = new MutationObserver(() => {
      const reply = document.querySelector("#messages > .message-assistant:last-child .reply-text");
      if (first === null && reply && reply.textContent) first = performance.now() - t0;
      if (first !== null && document.body.dataset.state === "idle") {
        observer.disconnect();
        resolve([first, performance.now() - t0]);
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true,
                                      attributes: true, attributeFilter: ["data-state"] });
    document.getElementById("composer").requestSubmit();
  });
}"""

# The peer: the same request, read to its end, nothing rendered.
BARE_TURN = """async ([url, token, text]) => {
  const t0 = performance.now();
  let first = null;
  const response = await fetch(url, { method: "POST", body: JSON.stringify({ message: text }),
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json",
               Accept: "text/event-stream" } });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += decoder.decode(value, { stream: true });
    if (first === null && seen.includes("event: delta")) first = performance.now() - t0;
  }
  return [first, performance.now() - t0];
}"""

NEW_SESSION = """async (base) => {
  const r = await fetch(base + "/chat/sessions", { method: "POST" });
  return await r.json();
}"""

DASHBOARD_REFRESH = """async () => {
  const before = Number(document.body.dataset.updates);
  const t0 = performance.now();
  document.getElementById("refresh").click();
  while (Number(document.body.dataset.updates) === before)
    await new Promise((r) => requestAnimationFrame(r));
  return performance.now() - t0;
}"""

BARE_SUMMARY = """async (url) => {
  const t0 = performance.now();
  JSON.parse(await (await fetch(url, { headers: { Accept: "application/json" } })).text());
  return performance.now() - t0;
}"""


def weigh(browser: Browser, url: str) -> tuple[int, int]:
    """Requests and bytes (bodies and headers) of one cold load, until the page is quiet."""
    context = browser.new_context()
    page = context.new_page()
    sizes: list[int] = []
    page.on(
        "requestfinished",
        lambda r: sizes.append(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]),
    )
    page.goto(url, wait_until="networkidle")
    context.close()
    return len(sizes), sum(sizes)


def cold_loads(browser: Browser, url: str, ready: str, loads: int, stored: Any) -> list[tuple]:
    """(DOMContentLoaded, usable) in ms for `loads` cold loads of `url`."""
    out = []
    for _ in range(loads):
        context = browser.new_context()
        if stored is not None:  # the stored conversation the chat page resumes
            context.add_init_script(
                f"localStorage.setItem('cymbal.chat.session', JSON.stringify({stored}))"
            )
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(ready)
        out.append(
            page.evaluate(
                """() => [performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd,
                          performance.now()]"""
            )
        )
        context.close()
    return out


def turns(page: Page, stack: Stack, count: int) -> tuple[list[tuple], list[tuple]]:
    session = page.evaluate(NEW_SESSION, stack.base)
    url = f"{stack.base}/chat/sessions/{session['session_id']}/messages"
    ours, peer = [], []
    for i in range(count):
        question = QUESTIONS[i % len(QUESTIONS)]
        for side in ("ours", "peer") if i % 2 == 0 else ("peer", "ours"):  # neither always first
            if side == "ours":
                ours.append(tuple(page.evaluate(PAGE_TURN, question)))
            else:
                peer.append(tuple(page.evaluate(BARE_TURN, [url, session["token"], question])))
    return ours, peer


def line(label: str, samples: Sequence[float]) -> str:
    median, p95 = statistics.median(samples), pct(samples, 95)
    return f"  {label:<44} p50 {median:7.1f} ms   p95 {p95:7.1f} ms"


def run(browser: Browser, stack: Stack, turn_count: int, loads: int) -> None:
    base = stack.base
    for name in ("index.html", "dashboard.html"):
        requests, size = weigh(browser, f"{base}/{name}")
        print(f"  weight of {name:<34} {requests} requests, {size / 1024:.1f} KiB")

    page = browser.new_page()
    page.goto(base + "/")
    page.evaluate(PAGE_TURN, "hello")  # warm-up, untimed: the session is made here
    ours, peer = turns(page, stack, turn_count)
    first = [o[0] for o in ours], [p[0] for p in peer]
    done = [o[1] for o in ours], [p[1] for p in peer]
    print(line("turn, page: Enter -> first words shown", first[0]))
    print(line("turn, bare fetch: -> first delta bytes", first[1]))
    print(line("turn, page: Enter -> reply and cards done", done[0]))
    print(line("turn, bare fetch: -> end of stream", done[1]))
    ratio_first = statistics.median(first[0]) / statistics.median(first[1])
    ratio_done = statistics.median(done[0]) / statistics.median(done[1])
    print(f"  page / bare: first words {ratio_first:.2f}x, done {ratio_done:.2f}x")

    stored = page.evaluate("localStorage.getItem('cymbal.chat.session')")
    loads_chat = cold_loads(
        browser, base + "/", "() => document.querySelectorAll('#messages .message').length > 10",
        loads, stored,
    )  # fmt: skip
    print(line("chat page cold load: DOMContentLoaded", [x[0] for x in loads_chat]))
    print(line(f"  usable: {turn_count + 1}-turn history shown", [x[1] for x in loads_chat]))
    dash_url = f"{base}/dashboard.html?minutes=1440&refresh=3600"
    loads_dash = cold_loads(
        browser, dash_url, "() => document.body.dataset.updates === '1'", loads, None
    )
    print(line("dashboard cold load: DOMContentLoaded", [x[0] for x in loads_dash]))
    print(line("  usable: 24 h summary drawn", [x[1] for x in loads_dash]))

    page.goto(dash_url)
    page.wait_for_function("() => document.body.dataset.updates === '1'")
    summary_url = f"{base}/metrics/summary?minutes=1440"
    drawn = [page.evaluate(DASHBOARD_REFRESH) for _ in range(loads * 2)]
    bare = [page.evaluate(BARE_SUMMARY, summary_url) for _ in range(loads * 2)]
    print(line("dashboard refresh, 24 h: click -> drawn", drawn))
    print(line("bare fetch + JSON.parse of the same summary", bare))
    print(f"  page / bare: {statistics.median(drawn) / statistics.median(bare):.2f}x")


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_page", description=__doc__)
    parser.add_argument("--turns", type=int, default=20, help="timed turns, each side")
    parser.add_argument("--loads", type=int, default=5, help="cold loads of each page")
    args = parser.parse_args(argv)
    print(
        f"web_page: headless Chromium, local stack (sample catalog, cache off), {args.turns} turns"
        f" each side, {args.loads} cold loads"
    )
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        stack = Stack(Path(tmp), {"CACHE_ENABLED": "false", "LOG_LEVEL": "WARNING"})
        try:
            stack.wait_for_line("Ready:", time.monotonic() + 300)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                run(browser, stack, args.turns, args.loads)
                browser.close()
        finally:
            stack.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

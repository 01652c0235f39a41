"""The operator dashboard in headless Chromium against the local stack: it counts the turns the
metrics function has aggregated, draws them, refreshes by itself, and says when it cannot; and
the status page."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.local_stack import Stack, get, post_json

QUESTIONS = ("Recommend a light roast coffee", "Is there a shop in Portland?", "good morning")


def turn(stack: Stack, question: str) -> dict[str, Any]:
    session = post_json(f"{stack.base}/chat/sessions", {})
    url = f"{stack.base}/chat/sessions/{session['session_id']}/messages"
    return dict(post_json(url, {"message": question}, session["token"]))


def settled_summary(stack: Stack, at_least: int) -> dict[str, Any]:
    """The summary once every queued metrics event has been aggregated: the same twice."""
    deadline = time.monotonic() + 30
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        summary = json.loads(get(f"{stack.base}/metrics/summary?minutes=15")[1])
        if summary["turns"] >= at_least and last is not None and summary["turns"] == last["turns"]:
            return dict(summary)
        last = summary
        time.sleep(0.5)
    raise AssertionError(f"the metrics never settled at {at_least}+ turns: {last}")


def value(page: Page, selector: str) -> str:
    return str(page.locator(selector).get_attribute("data-value"))


def test_the_dashboard_shows_the_turns_and_refreshes_by_itself(page: Page, stack: Stack) -> None:
    before = json.loads(get(f"{stack.base}/metrics/summary?minutes=15")[1])["turns"]
    intents = {turn(stack, q)["intent"] for q in QUESTIONS}
    assert intents == {"PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"}
    summary = settled_summary(stack, before + len(QUESTIONS))

    page.goto(f"{stack.base}/dashboard.html?minutes=15&refresh=1")
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    expect(page.locator("#turns-total")).to_have_attribute("data-value", str(summary["turns"]))
    assert float(value(page, "#cache-hit-rate")) == summary["cache_hit_rate"]
    assert float(value(page, "#latency-p95")) == summary["latency_ms"]["p95"]
    # The figures' data tables (in closed <details>: read as text, as a screen reader would).
    rows = page.locator("figure[data-chart='intents'] tbody tr")
    shown = {
        str(cells.nth(0).text_content()): int(cells.nth(1).text_content() or "")
        for cells in (row.locator("td") for row in rows.all())
    }
    assert shown == summary["by_intent"]
    per_minute = page.locator("figure[data-chart='turns'] tbody tr td:nth-child(2)")
    assert sum(int(t) for t in per_minute.all_text_contents()) == summary["turns"]
    for chart in ("turns", "cache", "latency", "stages", "intents", "fallbacks"):
        expect(page.locator(f"figure[data-chart='{chart}'] figcaption")).not_to_be_empty()
    for chart in ("turns", "cache", "latency", "stages", "intents"):  # fallbacks: maybe none
        svg = page.locator(f"figure[data-chart='{chart}'] svg[role='img']").first
        expect(svg).to_have_attribute("aria-label", re.compile(r"\w+.*\d"))
    assert page.locator("figure[data-chart='turns'] svg rect").count() > 0
    stages = page.locator("figure[data-chart='stages'] tbody tr td:first-child").all_text_contents()
    assert {"embed", "search", "generate"} <= set(stages)
    expect(page.locator("#dashboard-error")).to_be_hidden()
    screenshot(page, "dashboard", full_page=True)

    # One more turn: the page refreshes itself (every second here) and counts it.
    updates = int(page.locator("body").get_attribute("data-updates") or 0)
    turn(stack, "thanks!")
    expect(page.locator("#turns-total")).to_have_attribute(
        "data-value", str(summary["turns"] + 1), timeout=30_000
    )
    assert int(page.locator("body").get_attribute("data-updates") or 0) > updates


def test_the_dashboard_fits_a_phone(phone: Page, stack: Stack) -> None:
    phone.goto(f"{stack.base}/dashboard.html")
    expect(phone.locator("body")).to_have_attribute("data-state", "ready")
    width = phone.evaluate("window.innerWidth")
    assert phone.evaluate("document.documentElement.scrollWidth") <= width
    box = phone.locator("figure[data-chart='turns'] svg").first.bounding_box()
    assert box and box["width"] <= width


def test_a_failing_metrics_function_is_reported_and_the_last_charts_stay(
    page: Page, stack: Stack
) -> None:
    page.goto(f"{stack.base}/dashboard.html?refresh=3600")
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    turns = value(page, "#turns-total")
    message = "<b>Metrics are resting</b>"  # the server's words: shown as text
    page.route(
        "**/metrics/summary*",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"error": {"code": "unavailable", "message": message}}),
        ),
    )
    page.locator("#refresh").click()
    expect(page.locator("#dashboard-error")).to_have_text(message)
    expect(page.locator("body")).to_have_attribute("data-state", "error")
    assert value(page, "#turns-total") == turns  # the last good figures stay
    assert page.locator("#dashboard-error b").count() == 0

    page.unroute("**/metrics/summary*")
    page.locator("#refresh").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#dashboard-error")).to_be_hidden()
    expect(page.locator("body")).to_have_attribute("data-state", "ready")


def test_the_status_page_shows_each_function_healthy(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.base}/status.html")
    rows = page.locator("#functions tr")
    expect(rows).to_have_count(3)
    expect(rows.locator("td:first-child")).to_have_text(["chat", "intent", "metrics"])
    expect(rows.locator("td:nth-child(2)")).to_have_text(["ok", "ok", "ok"])


def test_a_window_change_drops_the_request_for_the_old_window(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.base}/dashboard.html?minutes=60&refresh=3600")
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    held: list[Any] = []
    page.route("**/metrics/summary?minutes=60", lambda route: held.append(route))  # never answers
    aborted: list[str] = []
    page.on("requestfailed", lambda r: aborted.append(r.url) if "minutes=60" in r.url else None)
    page.locator("#refresh").click()
    for _ in range(100):  # until the old window's request is out (and held)
        if held:
            break
        page.wait_for_timeout(50)
    assert held
    page.locator("#window").select_option("15")
    # The held request is dropped at once: the new window shows long before the page's own
    # 10 s request timeout would have freed it (the bound tells the two apart, it times nothing).
    expect(page.locator("body")).to_have_attribute("data-updates", "2", timeout=5_000)
    assert any(url.endswith("minutes=60") for url in aborted)
    page.unroute("**/metrics/summary?minutes=60")

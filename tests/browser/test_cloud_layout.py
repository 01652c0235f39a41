"""The page as it is deployed: served from one origin, calling the functions on another through
the absolute URLs of its config.js (CORS preflights included), with a rate limit low enough to
reach: the page says when, keeps what was typed, and takes messages again once the wait is
over; the operator's dashboard, on the page's origin, counts the turns."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    CLOUD_RATE_LIMIT,
    CloudLayout,
    PageErrors,
    new_context,
    watched_page,
)

QUESTIONS = ["Recommend a dark roast", "Which shops are in Seattle?", "thank you", "hello"]


def send(page: Page, text: str) -> int:
    page.locator("#message").fill(text)
    with page.expect_response(lambda r: r.url.endswith("/messages")) as answer:
        page.keyboard.press("Enter")
    return answer.value.status


def test_the_deployed_layout_chats_shows_the_rate_limit_and_the_dashboard_counts(
    page: Page, browser: Browser, cloud: CloudLayout, page_errors: PageErrors
) -> None:
    page.clock.install()  # the page's timers: its countdown can be run forward
    page.goto(cloud.origin + "/index.html")
    chat_url = page.evaluate("window.CYMBAL_CONFIG.functions.chat")
    assert chat_url == cloud.stack.base + "/chat" and not chat_url.startswith(cloud.origin)

    # The address's bucket holds CLOUD_RATE_LIMIT turns and refills one every 60/limit s: send
    # until refused (a slow machine may see a refill first), all through the page.
    answered = 0
    for question in QUESTIONS * 2:
        status = send(page, question)
        if status == 429:
            break
        assert status == 200
        expect(page.locator("body")).to_have_attribute("data-state", "idle")
        answered += 1
    assert CLOUD_RATE_LIMIT <= answered < len(QUESTIONS) * 2
    expect(page.locator("#messages .card-product").first).to_be_visible()
    expect(page.locator("#messages .card-shop").first).to_be_visible()

    refused = page.locator("#message").input_value()
    notice = page.locator("#notice")
    expect(notice).to_have_attribute("data-kind", "rate-limited")
    expect(page.locator("body")).to_have_attribute("data-state", "rate-limited")
    text = page.locator("#notice-text").inner_text()
    wait = int(re.search(r"again in (\d+) s", text).group(1))  # type: ignore[union-attr]
    assert 1 <= wait <= 60  # Retry-After, readable across origins (exposed by CORS)
    assert refused  # the refused question is back in the box
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#send")).to_have_text(re.compile(r"Wait \d+ s"))
    expect(page.locator("#messages .message-user.unsent")).to_have_count(1)
    page.locator("#message").press("Enter")  # while refused: nothing sent, nothing cleared
    expect(page.locator("#message")).to_have_value(refused)
    expect(page.locator("#messages .message-user")).to_have_count(answered + 1)

    page.clock.run_for((wait + 1) * 1000)
    expect(notice).to_be_hidden()
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#send")).to_have_text("Send")
    expect(page.locator("body")).to_have_attribute("data-state", "idle")

    page.reload()  # the history, read across origins too
    expect(page.locator("#messages .message")).to_have_count(2 * answered)

    # The operator's dashboard, also on the page's origin, counts the turns (not the refused).
    context = new_context(browser)
    dashboard = watched_page(context, page_errors)
    dashboard.goto(cloud.origin + "/dashboard.html?refresh=1")
    expect(dashboard.locator("body")).to_have_attribute("data-state", "ready")
    expect(dashboard.locator("#turns-total")).to_have_attribute(
        "data-value", str(answered), timeout=30_000
    )
    rows = dashboard.locator("figure[data-chart='intents'] tbody tr td:first-child")
    assert set(rows.all_text_contents()) == {"PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"}
    context.close()

"""The page as it is deployed: served from one origin, calling the functions on another through
the absolute URLs of its config.js (CORS preflights included), with a rate limit low enough to
reach: the page says when, and takes messages again once the wait is over."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import CLOUD_RATE_LIMIT, CloudLayout


def send(page: Page, text: str) -> int:
    page.locator("#message").fill(text)
    with page.expect_response(lambda r: r.url.endswith("/messages")) as answer:
        page.keyboard.press("Enter")
    return answer.value.status


def test_the_deployed_layout_chats_shows_the_rate_limit_and_the_dashboard_counts(
    page: Page, browser: Browser, cloud: CloudLayout
) -> None:
    page.clock.install()  # the page's timers: its countdown can be run forward
    page.goto(cloud.origin + "/index.html")
    chat_url = page.evaluate("window.CYMBAL_CONFIG.functions.chat")
    assert chat_url == cloud.stack.base + "/chat" and not chat_url.startswith(cloud.origin)

    questions = ["Recommend a dark roast", "Which shops are in Seattle?", "thank you"]
    assert len(questions) == CLOUD_RATE_LIMIT  # every turn the address may take this minute
    for question in questions:
        assert send(page, question) == 200
        expect(page.locator("body")).to_have_attribute("data-state", "idle")
    expect(page.locator("#messages .card-product").first).to_be_visible()
    expect(page.locator("#messages .card-shop").first).to_be_visible()

    page.reload()  # the history, read across origins too
    expect(page.locator("#messages .message")).to_have_count(2 * CLOUD_RATE_LIMIT)

    assert send(page, "One more, please") == 429
    notice = page.locator("#notice")
    expect(notice).to_have_attribute("data-kind", "rate-limited")
    expect(page.locator("body")).to_have_attribute("data-state", "rate-limited")
    text = page.locator("#notice-text").inner_text()
    wait = int(re.search(r"again in (\d+) s", text).group(1))  # type: ignore[union-attr]
    assert 1 <= wait <= 60  # Retry-After, readable across origins (exposed by CORS)
    expect(page.locator("#message")).to_have_value("One more, please")  # nothing lost
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#messages .message-user.unsent")).to_have_count(1)

    page.clock.run_for((wait + 1) * 1000)
    expect(notice).to_be_hidden()
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("body")).to_have_attribute("data-state", "idle")

    # The operator's dashboard, also on the page's origin, counts the turns (not the refused one).
    dashboard = browser.new_page()
    dashboard.goto(cloud.origin + "/dashboard.html?refresh=1")
    expect(dashboard.locator("body")).to_have_attribute("data-state", "ready")
    expect(dashboard.locator("#turns-total")).to_have_attribute(
        "data-value", str(CLOUD_RATE_LIMIT), timeout=30_000
    )
    rows = dashboard.locator("figure[data-chart='intents'] tbody tr td:first-child")
    assert set(rows.all_text_contents()) == {"PRODUCT_RAG", "LOCATION_RAG", "GENERAL_CONVERSATION"}
    dashboard.context.close()

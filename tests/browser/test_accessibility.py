"""axe-core, the accessibility engine, run inside each page in its states: no violation of any
impact (WCAG 2.x A and AA rules and axe's best practices). The pages' CSP forbids injected
script, so these pages are opened with it bypassed: only axe is added."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PageErrors, new_context, watched_page
from tests.local_stack import ROOT, Stack

RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    rule: v.id, impact: v.impact, help: v.help,
    where: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  }));
}"""


FORGET_SESSION = """async () => {
  const s = JSON.parse(localStorage.getItem("cymbal.chat.session"));
  await fetch(`/chat/sessions/${s.session_id}`,
              { method: "DELETE", headers: { Authorization: "Bearer " + s.token } });
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    path = Path(os.environ.get("AXE_CORE") or ROOT / ".venv-web/node_modules/axe-core/axe.min.js")
    if not path.is_file():
        pytest.fail(f"No axe-core at {path}: `make test` installs it (npm); or set AXE_CORE.")
    return path.read_text()


SETUPS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "dark": {"viewport": {"width": 1280, "height": 900}, "color_scheme": "dark"},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@pytest.fixture(params=sorted(SETUPS))
def audited(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A page at a desktop size, the same in dark mode, and a phone."""
    errors = PageErrors()
    context = new_context(browser, bypass_csp=True, **SETUPS[request.param])
    yield watched_page(context, errors)
    context.close()
    assert not errors, errors


def violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    page.evaluate(axe_source)
    return list(page.evaluate(RUN_AXE))


def test_the_chat_page_in_its_states(audited: Page, stack: Stack, axe_source: str) -> None:
    page = audited
    page.goto(stack.base + "/")
    expect(page.locator("#welcome")).to_be_visible()
    assert violations(page, axe_source) == []  # empty, with its suggestions

    page.locator("#message").fill("Which shops in Seattle have wifi?")
    page.locator("#message").press("Enter")
    expect(page.locator("body")).to_have_attribute("data-state", "idle")
    page.locator("#message").fill("Recommend a dark roast coffee for espresso")
    page.locator("#message").press("Enter")
    expect(page.locator("body")).to_have_attribute("data-state", "idle")
    expect(page.locator(".card-shop").first).to_be_visible()
    assert violations(page, axe_source) == []  # a conversation with its cards

    page.evaluate(FORGET_SESSION)  # the server forgets it: the next message finds it gone
    page.locator("#message").fill("hello")
    page.locator("#message").press("Enter")
    expect(page.locator("#notice")).to_have_attribute("data-kind", "expired")
    assert violations(page, axe_source) == []  # a notice, an unsent message


def test_the_dashboard_and_the_status_page(audited: Page, stack: Stack, axe_source: str) -> None:
    page = audited
    page.goto(stack.base + "/dashboard.html")
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    page.locator("figure[data-chart='intents'] summary").click()  # a data table open
    assert violations(page, axe_source) == []
    page.goto(stack.base + "/status.html")
    expect(page.locator("#functions tr")).to_have_count(3)
    assert violations(page, axe_source) == []

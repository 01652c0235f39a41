"""Headless Chromium (Debian's, driven by Playwright) against the local stack in a process of
its own, as a user runs it; and a second layout as in the cloud, where the page comes from one
origin and calls the functions on another, through the URLs in config.js."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.chromium import CHROMIUM_ARGS, chromium_path
from tests.local_stack import ROOT, Stack, free_port

WEB = ROOT / "web"
SCREENSHOTS = ROOT / "build" / "screenshots"
STACK_START_S = 180.0
CLOUD_RATE_LIMIT = 3  # turns a minute on the cloud-layout stack: the test reaches it quickly


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    try:
        path = chromium_path()
    except FileNotFoundError as e:
        pytest.fail(str(e))
    launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`make dev`, with the sample catalog loaded, on a port of its own. The offline writer
    paces its chunks as a model does, so that streaming shows (on loopback, an unpaced reply
    arrives in one read)."""
    running = Stack(
        tmp_path_factory.mktemp("browser-stack"), {"OFFLINE_STREAM_DELAY_MS": "15"}
    ).ready(STACK_START_S)
    yield running
    running.kill()


class _StaticWeb(http.server.SimpleHTTPRequestHandler):
    """web/ as a static host serves it, with the config.js that Terraform would write."""

    config_js = b""

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/config.js":
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(self.config_js)))
            self.end_headers()
            self.wfile.write(self.config_js)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class CloudLayout:
    """The page on its own origin; the functions behind absolute URLs on another, with CORS."""

    def __init__(self, tmp: Path) -> None:
        port = free_port()
        self.origin = f"http://127.0.0.1:{port}"
        self.stack = Stack(
            tmp,
            {
                "CORS_ALLOWED_ORIGINS": self.origin,
                "RATE_LIMIT_PER_MINUTE": str(CLOUD_RATE_LIMIT),
            },
        )
        base = self.stack.base
        config = (
            "window.CYMBAL_CONFIG = { functions: { "
            f'chat: "{base}/chat", intent: "{base}/intent", metrics: "{base}/metrics" '
            "} };\n"
        )
        handler = type("Handler", (_StaticWeb,), {"config_js": config.encode()})
        self.web = http.server.ThreadingHTTPServer(
            ("127.0.0.1", port), functools.partial(handler, directory=str(WEB))
        )
        threading.Thread(target=self.web.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.web.shutdown()
        self.web.server_close()
        self.stack.kill()


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudLayout]:
    layout = CloudLayout(tmp_path_factory.mktemp("cloud-stack"))
    try:
        layout.stack.ready(STACK_START_S)
        yield layout
    finally:
        layout.close()


class PageErrors(list[str]):
    """Uncaught exceptions and CSP violations in the page: any one fails the test."""


def new_context(browser: Browser, **options: Any) -> BrowserContext:
    context = browser.new_context(locale="en-US", timezone_id="UTC", **options)
    context.set_default_timeout(20_000)
    return context


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


def watched_page(context: BrowserContext, errors: PageErrors) -> Page:
    """A page whose uncaught exceptions and CSP violations land in `errors`."""
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(  # anything the page's Content-Security-Policy had to refuse is a fault too
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return page


@pytest.fixture
def page(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh browser profile (no stored session) at desktop size."""
    context = new_context(browser, viewport={"width": 1280, "height": 900})
    yield watched_page(context, page_errors)
    context.close()
    assert not page_errors, page_errors


@pytest.fixture
def phone(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh profile the size of a phone, with touch."""
    context = new_context(
        browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    yield watched_page(context, page_errors)
    context.close()
    assert not page_errors, page_errors


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Saved for the README (`make screenshots` copies them to docs/screenshots/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path

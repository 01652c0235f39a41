"""The chat page in headless Chromium against the local stack: a streamed turn with its cards,
history after a reload, the keyboard and a phone screen, an expired session, and escaping."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import WEB, PageErrors, screenshot
from tests.local_stack import Stack, post_json

PRODUCT_QUESTION = "Recommend a dark roast coffee for espresso"
SHOP_QUESTION = "Which shops in Seattle have wifi?"

# Counts each distinct state of the newest reply while it is written: proof that the page
# shows the reply as it streams rather than all at the end.
WATCH_RENDERS = """() => {
  window.__renders = [];
  window.__sawPending = false;
  new MutationObserver(() => {
    if (document.querySelector("#messages > .pending")) window.__sawPending = true;
    const text = document.querySelector("#messages > .message-assistant:last-child .reply-text");
    if (text && text.textContent && window.__renders.at(-1) !== text.textContent.length)
      window.__renders.push(text.textContent.length);
  }).observe(document.getElementById("messages"),
              { subtree: true, childList: true, characterData: true });
}"""


def open_chat(page: Page, stack: Stack) -> None:
    page.goto(stack.base + "/")
    expect(page.locator("#message")).to_be_focused()  # keyboard users start typing at once


def ask(page: Page, text: str) -> dict[str, Any]:
    """Type a question, send it with Enter, wait for the answer to end, and return the reply
    as the server stored it (content, intent, sources)."""
    page.locator("#message").fill(text)
    with page.expect_response(lambda r: r.url.endswith("/messages")) as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 200
    assert answer.value.headers["content-type"].startswith("text/event-stream")
    expect(page.locator("body")).to_have_attribute("data-state", "idle")
    return last_reply(page)


# The server's record of the conversation, asked for with the page's own session and config.
LAST_REPLY = """async () => {
  const s = JSON.parse(localStorage.getItem("cymbal.chat.session"));
  const r = await fetch(`${window.CYMBAL_CONFIG.functions.chat}/sessions/${s.session_id}`,
                        {headers: {Authorization: "Bearer " + s.token}});
  return (await r.json()).messages.at(-1);
}"""


def last_reply(page: Page) -> dict[str, Any]:
    reply = dict(page.evaluate(LAST_REPLY))
    assert reply["role"] == "assistant"
    return reply


def card_names(page: Page, kind: str) -> list[str]:
    return page.locator(f"#messages .card-{kind} .card-name").all_text_contents()


def stored_session(page: Page) -> dict[str, Any]:
    return dict(json.loads(page.evaluate("localStorage.getItem('cymbal.chat.session')")))


def test_the_page_speaks_for_the_catalogs_retailer(page: Page, stack: Stack) -> None:
    open_chat(page, stack)
    # The sample catalog's manifest names the retailer; the suggestions come from its catalog.
    expect(page.locator("#brand")).to_have_text("Cymbal Coffee")
    expect(page).to_have_title("Cymbal Coffee assistant")
    expect(page.locator("#greeting")).to_contain_text("coffees, drinks and brewing equipment")
    first = page.locator(".suggestion").first
    expect(first).not_to_have_text("What do you recommend?")
    asked = first.inner_text()
    assert asked.startswith("What ") and asked.endswith(" do you recommend?")


def test_a_question_streams_its_reply_and_shows_product_cards(page: Page, stack: Stack) -> None:
    open_chat(page, stack)
    page.evaluate(WATCH_RENDERS)
    done = ask(page, "Which coffees would you suggest for a French press?")  # asked once only:
    # a cached answer would come whole.
    assert done["intent"] == "PRODUCT_RAG"
    reply = page.locator("#messages > .message-assistant").last
    expected_text = re.sub(r"\*\*|^- ", "", done["content"], flags=re.M)
    assert " ".join(reply.locator(".reply-text").inner_text().split()) == " ".join(
        expected_text.split()
    )
    assert page.evaluate("window.__sawPending")  # "Thinking…" until the first words
    renders = page.evaluate("window.__renders")
    assert len(renders) >= 3 and renders == sorted(renders)  # grew piece by piece

    products = [s for s in done["sources"] if s["kind"] == "product"]
    assert products and card_names(page, "product") == [s["name"] for s in products]
    first = reply.locator(".card-product").first
    expect(first.locator(".card-price")).to_have_text(f"${products[0]['price']:.2f}")
    assert stored_session(page)["token"].startswith("v1.")
    expect(page.locator("#messages .message-user .user-text")).to_have_text(
        "Which coffees would you suggest for a French press?"
    )


def week_lines(week: dict[str, list[str]]) -> list[str]:
    """Runs of days with the same hours, as the card shows them ("Mon-Fri 08:00-17:00",
    typeset with en dashes)."""
    dash = "\N{EN DASH}"  # the card typesets ranges with it
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    said = [", ".join(r.replace("-", dash) for r in week[d.lower()]) or "closed" for d in days]
    lines, start = [], 0
    for i in range(1, 8):
        if i == 7 or said[i] != said[start]:
            label = days[start] if i - 1 == start else f"{days[start]}{dash}{days[i - 1]}"
            lines.append(f"{label} {said[start]}")
            start = i
    return lines


def test_shop_cards_show_address_and_hours_and_a_reload_shows_the_history(
    page: Page, stack: Stack
) -> None:
    open_chat(page, stack)
    ask(page, PRODUCT_QUESTION)
    done = ask(page, SHOP_QUESTION)
    # The conversation overflows by now: the newest reply's cards were scrolled into view.
    expect(page.locator("#messages .card-shop").last).to_be_in_viewport()
    shops = [s for s in done["sources"] if s["kind"] == "shop"]
    assert done["intent"] == "LOCATION_RAG" and shops
    first = page.locator("#messages .card-shop").first
    expect(first.locator(".card-address")).to_have_text(shops[0]["address"])
    expect(first.locator(".card-hours li")).to_have_text(week_lines(shops[0]["hours"]))
    # What was said and shown, cards included (a "Cached" mark belongs to the moment only).
    shown = page.locator("#messages :is(.user-text, .reply-text, .sources)")
    before = shown.all_inner_texts()
    session_id = stored_session(page)["session_id"]
    screenshot(page, "chat")

    page.reload()
    expect(page.locator("#messages .message")).to_have_count(4)
    assert shown.all_inner_texts() == before
    assert stored_session(page)["session_id"] == session_id
    expect(page.locator("#welcome")).to_be_hidden()


def test_the_keyboard_alone_on_a_phone_sized_screen(phone: Page, stack: Stack) -> None:
    phone.goto(stack.base + "/")
    phone.locator("body").focus()
    for _ in range(12):  # Tab until the message box: it must be reachable without a pointer
        phone.keyboard.press("Tab")
        if phone.evaluate("document.activeElement.id") == "message":
            break
    expect(phone.locator("#message")).to_be_focused()
    phone.keyboard.type("Is there a shop in Portland")
    phone.keyboard.press("Shift+Enter")  # a new line, not a send
    expect(phone.locator("#message")).to_have_value("Is there a shop in Portland\n")
    expect(phone.locator("#messages .message")).to_have_count(0)
    phone.keyboard.type("with outdoor seating?")
    with phone.expect_response(lambda r: r.url.endswith("/messages")) as answer:
        phone.keyboard.press("Enter")
    assert answer.value.status == 200
    expect(phone.locator("body")).to_have_attribute("data-state", "idle")
    expect(phone.locator("#messages .card-shop").first).to_be_visible()
    expect(phone.locator("#message")).to_be_focused()  # ready for the next question
    screenshot(phone, "chat-phone")

    width = phone.evaluate("window.innerWidth")
    assert phone.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    for selector in ("#message", "#send", "#new-conversation", ".site-nav"):
        box = phone.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, selector
        assert box["y"] + box["height"] <= 844, selector  # on screen, not below the fold


def test_an_expired_session_is_explained_and_a_new_one_starts(page: Page, stack: Stack) -> None:
    open_chat(page, stack)
    ask(page, "hello there")
    old = stored_session(page)
    # The server forgets the session (as when its TTL runs out), behind the page's back.
    status = page.evaluate(
        """async ([url, token]) => (await fetch(url, {method: "DELETE",
             headers: {Authorization: "Bearer " + token}})).status""",
        [f"{stack.base}/chat/sessions/{old['session_id']}", old["token"]],
    )
    assert status == 204

    page.locator("#message").fill(PRODUCT_QUESTION)
    page.keyboard.press("Enter")
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    expect(notice).to_have_attribute("data-kind", "expired")
    expect(notice).to_contain_text("expired")
    expect(page.locator("#message")).to_have_value(PRODUCT_QUESTION)  # nothing typed is lost
    expect(page.locator("#messages .message-user.unsent")).to_have_count(1)

    page.locator("#notice-action").focus()
    page.keyboard.press("Enter")  # "Start a new conversation"
    expect(notice).to_be_hidden()
    expect(page.locator("#messages .message")).to_have_count(0)
    done = ask(page, PRODUCT_QUESTION)
    assert done["intent"] == "PRODUCT_RAG"
    assert stored_session(page)["session_id"] != old["session_id"]


def test_while_the_stored_conversation_loads_nothing_can_be_sent(page: Page, stack: Stack) -> None:
    open_chat(page, stack)
    ask(page, "hello")
    held: list[Route] = []
    page.route("**/chat/sessions/*", lambda route: held.append(route))  # the history, held
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-state", "loading")
    page.wait_for_timeout(100)  # the request is out
    assert len(held) == 1
    page.locator("#message").fill("sent too early")
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#new-conversation")).to_be_disabled()
    page.locator("#message").press("Enter")
    expect(page.locator("#message")).to_have_value("sent too early")  # kept, not sent
    held[0].continue_()
    expect(page.locator("body")).to_have_attribute("data-state", "idle")
    expect(page.locator("#messages .message")).to_have_count(2)
    expect(page.locator("#send")).to_be_enabled()
    page.unroute("**/chat/sessions/*")


def test_a_stored_session_that_expired_meanwhile_starts_afresh_on_load(
    page: Page, stack: Stack
) -> None:
    open_chat(page, stack)
    page.evaluate(
        """localStorage.setItem("cymbal.chat.session", JSON.stringify({
             session_id: "gone", token: "v1.gone.bad", expires_at: "2026-01-01T00:00:00Z"}))"""
    )
    page.reload()
    expect(page.locator("#notice")).to_contain_text("expired")
    assert page.evaluate("localStorage.getItem('cymbal.chat.session')") is None
    ask(page, "hi")
    expect(page.locator("#messages .message")).to_have_count(2)


def test_what_people_type_is_shown_as_text_never_as_markup(page: Page, stack: Stack) -> None:
    open_chat(page, stack)
    hostile = '<img src=x onerror="window.__pwned=1"> <b>bold</b> &amp; <script>x=2</script>'
    ask(page, hostile)
    expect(page.locator("#messages .message-user .user-text")).to_have_text(hostile)
    assert page.locator("#messages img, #messages script, #messages b").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_a_hostile_reply_and_sources_are_rendered_as_text(page: Page, stack: Stack) -> None:
    """The server is what is faked here (the page under test is real): a reply, a source and an
    error message full of markup, and a javascript: link, must all stay text."""
    evil = '<img src=x onerror="window.__pwned=1">'
    sources = [
        {"id": "p1", "kind": "product", "name": evil, "score": 0.9, "price": 1, "currency": "USD"},
        {
            "id": "d1",
            "kind": "document",
            "name": "doc",
            "title": evil,
            "url": "javascript:alert(1)",
        },
    ]
    done = {
        **{"reply": f"**{evil}** see javascript:alert(1)", "intent": "PRODUCT_RAG"},
        **{"confidence": 1, "method": "embedding", "sources": sources, "cached": True},
        **{"fallback": "static", "timings_ms": {}},
    }
    events = [("meta", {"sources": sources}), ("delta", {"text": done["reply"]}), ("done", done)]
    body = "".join(f"event: {event}\ndata: {json.dumps(data)}\n\n" for event, data in events)
    page.route(
        "**/messages",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body),
    )
    open_chat(page, stack)
    page.locator("#message").fill("anything")
    page.keyboard.press("Enter")
    expect(page.locator("#messages .mark")).to_have_text(["Cached", "Simple answer"])
    expect(page.locator("#messages .card-name")).to_have_text(evil)
    expect(page.locator("#messages .reply-text strong")).to_have_text(evil)
    assert page.locator("#messages img").count() == 0
    assert page.locator("#messages a[href^='javascript']").count() == 0
    expect(page.locator("#messages .documents")).to_contain_text(evil)

    page.route(
        "**/messages",
        lambda route: route.fulfill(
            status=500,
            content_type="application/json",
            body=json.dumps({"error": {"code": "internal", "message": evil}}),
        ),
    )
    page.locator("#message").fill("again")
    page.keyboard.press("Enter")
    expect(page.locator("#notice-text")).to_have_text(evil)
    expect(page.locator("#notice-action")).to_have_text("Try again")
    assert page.locator("img").count() == 0 and page.evaluate("window.__pwned") is None


def test_a_network_failure_keeps_the_message_and_offers_to_try_again(
    page: Page, stack: Stack
) -> None:
    open_chat(page, stack)
    page.route("**/messages", lambda route: route.abort("connectionrefused"))
    page.locator("#message").fill(PRODUCT_QUESTION)
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_have_attribute("data-kind", "error")
    expect(page.locator("#notice-text")).to_contain_text("could not be reached")
    expect(page.locator("#message")).to_have_value(PRODUCT_QUESTION)

    page.unroute("**/messages")
    with page.expect_response(lambda r: r.url.endswith("/messages")) as answer:
        page.locator("#notice-action").click()
    assert answer.value.status == 200
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#message")).to_have_value("")
    expect(page.locator("#messages .card-product").first).to_be_visible()


def test_no_script_of_the_page_writes_html_or_loads_anything_from_elsewhere() -> None:
    scripts = {p.name: p.read_text() for p in WEB.glob("*.js")}
    assert {"chat.js", "render.js", "config.js"} <= set(scripts)
    for name, text in scripts.items():
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{name} uses {sink}"
    for page_file in WEB.glob("*.html"):
        html = page_file.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), page_file.name
    for style in WEB.glob("*.css"):
        assert "@import" not in style.read_text() and "url(http" not in style.read_text()


def test_an_answer_served_from_the_cache_is_marked(page: Page, stack: Stack) -> None:
    open_chat(page, stack)
    question = "Do you sell a decaf coffee?"
    ask(page, question)
    ask(page, question)  # the same question again: the cache answers it
    replies = page.locator("#messages > .message-assistant")
    expect(replies.nth(1).locator(".mark")).to_have_text(["Cached"])
    expect(replies.nth(1).locator(".mark")).to_have_attribute("title", re.compile("cache"))
    expect(replies.nth(1).locator(".reply-text")).to_have_text(
        str(replies.nth(0).locator(".reply-text").text_content())
    )


def test_stop_ends_a_reply_midway_and_what_was_said_is_kept(page: Page, stack: Stack) -> None:
    question = "Show me your brewing equipment for pour over"
    open_chat(page, stack)
    page.locator("#message").fill(question)
    page.keyboard.press("Enter")
    expect(page.locator("body")).to_have_attribute("data-state", "streaming")
    reply = page.locator("#messages > .message-assistant").last
    expect(reply.locator(".reply-text")).not_to_be_empty()
    page.keyboard.press("Escape")  # or the Stop button: the same abort
    expect(reply.locator(".turn-note")).to_have_text("Stopped.")
    expect(page.locator("body")).to_have_attribute("data-state", "idle")
    expect(page.locator("#message")).to_be_focused()

    # The whole answer, asked afresh (a cut answer is never cached), against what was kept.
    fresh = post_json(f"{stack.base}/chat/sessions", {})
    whole = post_json(
        f"{stack.base}/chat/sessions/{fresh['session_id']}/messages",
        {"message": question},
        fresh["token"],
    )
    assert whole["cached"] is False
    kept = last_reply(page)["content"]  # the server kept what was sent before the reader left
    assert kept and len(kept) < len(whole["reply"])
    assert whole["reply"].startswith(kept[: len(kept) // 2])


def test_the_content_security_policy_stops_injected_script(
    page: Page, stack: Stack, page_errors: PageErrors
) -> None:
    """Defence in depth: were markup ever injected, its inline script would not run."""
    open_chat(page, stack)
    page.evaluate(
        """() => {
          const holder = document.createElement("div");
          holder.innerHTML = '<img src="x" onerror="window.__pwned = 1">';  // as a bug would
          document.body.append(holder);
          const script = document.createElement("script");
          script.textContent = "window.__pwned = 2";
          document.body.append(script);
        }"""
    )
    expect(page.locator("img[src='x']")).to_have_count(1)
    page.wait_for_function("""document.querySelector("img[src='x']").complete""")
    assert page.evaluate("window.__pwned") is None
    refused = [e for e in page_errors if "Content Security Policy" in e]
    assert len(refused) >= 2  # the handler and the script, both refused
    page_errors.clear()  # expected here


def test_on_a_touch_screen_focus_is_kept_but_the_keyboard_not_forced(
    phone: Page, stack: Stack
) -> None:
    phone.goto(stack.base + "/")
    assert phone.evaluate("document.activeElement === document.body")  # no keyboard on load
    suggestion = phone.locator(".suggestion").first
    with phone.expect_response(lambda r: r.url.endswith("/messages")) as answer:
        suggestion.tap()
    assert answer.value.status == 200
    expect(phone.locator("body")).to_have_attribute("data-state", "idle")
    # The tapped button was disabled meanwhile: focus went on, to the conversation, not to the
    # box (which would pop the keyboard up over the answer) and not to nothing.
    expect(phone.locator("#messages")).to_be_focused()

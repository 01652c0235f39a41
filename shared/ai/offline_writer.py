"""The offline grounded writer: answers composed from the retrieved documents, with no model.

It reads only `prompt.context`, `prompt.intent` and `prompt.user`, and never repeats the user's
words: every name, price and hour it writes comes from a context document."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from shared.ai import offline_format as fmt
from shared.ai.ports import (
    OFFLINE_WRITER_ID,
    ContextDoc,
    Intent,
    ModelError,
    Prompt,
    Retailer,
)

_CHUNK_WORDS = 4
_SHORT_MESSAGE = 6  # words: a greeting this short is small talk even with documents retrieved
_WORD_START = re.compile(r"(?<=\s)(?=\S)")

# fmt: off
_WHO = ("who are you", "what are you", "what can you do", "what do you do", "how can you help",
        "what can you help", "are you a bot", "are you human", "your name")
_HOW = ("how are you", "how s it going", "how is it going", "how are things", "how do you do")
_THANKS = ("thanks", "thank you", "thank", "thx", "cheers", "appreciate it")
_BYE = ("bye", "goodbye", "good bye", "see you", "see ya", "good night", "farewell")
_HELLO = ("hi", "hello", "hey", "hiya", "howdy", "greetings", "good morning", "good afternoon",
          "good evening")
_CHEAP = ("cheapest", "cheaper", "cheap", "least expensive", "lowest price", "lowest cost",
          "budget", "affordable", "inexpensive")
_PRICEY = ("most expensive", "priciest", "pricier", "expensive", "premium", "splurge")
# fmt: on


def _offer(r: Retailer) -> str:
    """What the assistant helps with, in the retailer's words."""
    shops = ", and with finding a shop and its opening hours" if r.has_shops else ""
    return f"{r.owner} {r.offers}{shops}"


def help_text(r: Retailer) -> str:
    return f"I can help with {_offer(r)}. What would you like to know?"


def small_talk(norm: str, r: Retailer) -> str | None:
    """The reply to a greeting, thanks, goodbye or a question about the assistant, if any."""
    shops = ", or a shop's address and hours" if r.has_shops else ""
    replies = (
        (_WHO, f"I'm {r.owner} assistant. I can help with {r.offers}{shops}."),
        (_HOW, "I'm doing well, thanks for asking! What can I help you find?"),
        (_THANKS, "You're welcome! Let me know if there's anything else I can help you find."),
        (_BYE, f"Goodbye, and thanks for visiting {r.name}!"),
        (_HELLO, f"Hello! I'm the {r.name} assistant: ask me about {r.offers}{shops}."),
    )
    for phrases, reply in replies:
        if fmt.mentions(norm, phrases):
            return reply
    return None


def nothing(intent: Intent, r: Retailer) -> str:
    if intent == "PRODUCT_RAG":
        return (
            f"I couldn't find anything in our catalog that matches that, so I'd rather not guess."
            f" Could you rephrase it? I can help with {_offer(r)}."
        )
    if intent == "LOCATION_RAG":
        return (
            "I couldn't find a shop in our catalog that matches that, so I'd rather not guess."
            f" Could you try a city name or rephrase it? I can also help with {r.offers}."
        )
    return help_text(r)


class OfflineWriter:
    """A TextGenerator with no model: it writes from `prompt.context` alone and ignores `system`."""

    model_id = OFFLINE_WRITER_ID
    can_classify = False

    def __init__(self, chunk_delay_s: float = 0.0) -> None:
        self.chunk_delay_s = chunk_delay_s  # a model's pace, to see streaming on a fast machine

    def generate(self, prompt: Prompt) -> str:
        """Small talk, an answer from the context, or a plain "nothing matches"."""
        norm = fmt.normalized(prompt.user)
        retailer = prompt.retailer
        if prompt.intent == "GENERAL_CONVERSATION":
            talk = small_talk(norm, retailer)
            if not prompt.context or (talk and len(norm.split()) <= _SHORT_MESSAGE):
                return talk or help_text(retailer)
        answer = from_context(prompt.context, norm, prompt.intent)
        return answer or nothing(prompt.intent, retailer)

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """The text of `generate`, a few words at a time, as a model would send it."""
        words = _WORD_START.split(self.generate(prompt))
        for start in range(0, len(words), _CHUNK_WORDS):
            if start and self.chunk_delay_s:
                time.sleep(self.chunk_delay_s)
            yield "".join(words[start : start + _CHUNK_WORDS])

    def classify(self, text: str, labels: Sequence[str]) -> str:
        raise ModelError("classification needs a model")


def from_context(context: Sequence[ContextDoc], norm: str, intent: Intent) -> str:
    """Products, shops and the best document passage, the intent's own kind first; "" if none."""
    products = [d for d in context if d.kind == "product"]
    shops = [d for d in context if d.kind == "shop"]
    documents = [d for d in context if d.kind == "document"]
    items = [product_answer(products, norm), shop_answer(shops, norm)]
    if intent == "LOCATION_RAG":
        items.reverse()
    # A passage with no word in common with the question is only worth it when nothing else is.
    needs_overlap = intent == "GENERAL_CONVERSATION" or any(items)
    items.append(document_answer(documents, norm, needs_overlap))
    return "\n\n".join(item for item in items if item)


def product_answer(products: Sequence[ContextDoc], norm: str) -> str:
    """A direct answer when the question allows one, then one line per product."""
    if not products:
        return ""
    listed = products[: fmt.MAX_ITEMS]
    query = fmt.content_words(norm)
    count = f"the top {len(listed)}" if len(products) > len(listed) else str(len(listed))
    lead = f"Here are {count} matches from our catalog:"
    if len(products) == 1:
        lead = "Here's what I found in our catalog:"
    lines = [_product_line(doc, query) for doc in listed]
    direct = direct_answer(listed, norm)
    return "\n".join([*direct, *([""] if direct else []), lead, *lines])


def _product_line(doc: ContextDoc, query: set[str]) -> str:
    """`- **Name** ($16.50): facts. One sentence of the description."""
    price = fmt.money(doc.fields)
    facts = fmt.product_facts(doc.fields, query)
    head = f"- **{doc.name}**" + (f" ({price})" if price else "")
    line = head + (f": {'; '.join(facts)}." if facts else ".")
    known = " ".join([doc.name, *facts])
    description = fmt.telling_sentence(str(doc.fields.get("description") or ""), known, query)
    return f"{line} {description}" if description else line


def direct_answer(listed: Sequence[ContextDoc], norm: str) -> list[str]:
    """One-line answers to "waterproof?" or "cheapest?" about the listed products: a yes/no
    attribute the question names (by the catalog's label), then the price extremes."""
    lines: list[str] = []
    pool = list(listed)
    labels = {label for doc in pool for label in fmt.flags(doc.fields)}
    for label in sorted(labels, key=len, reverse=True):
        if not fmt.mentions(norm, (fmt.normalized(label),)):
            continue
        matching = [doc for doc in pool if fmt.flags(doc.fields).get(label) is True]
        names = fmt.join_words([f"**{doc.name}**" for doc in matching])
        if matching:
            lines.append(f"The {label} {'one is' if len(matching) == 1 else 'ones are'} {names}.")
        elif all(label in fmt.flags(doc.fields) for doc in pool):  # unknown is not "no"
            lines.append(f"None of these is {label}.")
        pool = matching or pool
    priced = [
        (float(doc.fields["price"]), i, doc) for i, doc in enumerate(pool) if fmt.money(doc.fields)
    ]
    cheap = fmt.mentions(norm, _CHEAP)
    if priced and (cheap or fmt.mentions(norm, _PRICEY)):
        _, _, doc = min(priced) if cheap else max(priced, key=lambda p: (p[0], -p[1]))
        word = "least expensive" if cheap else "most expensive"
        lines.append(f"Of these, the {word} is **{doc.name}** at {fmt.money(doc.fields)}.")
    return lines


def shop_answer(shops: Sequence[ContextDoc], norm: str) -> str:
    """One line per shop: address, whether it opens on the days asked, hours and amenities."""
    if not shops:
        return ""
    listed = shops[: fmt.MAX_ITEMS]
    days = fmt.days_asked(norm)
    lead = (
        f"Here are {len(listed)} of our shops:" if len(listed) > 1 else "Here's the shop I found:"
    )
    return "\n".join([lead, *(_shop_line(doc, days) for doc in listed)])


def _shop_line(doc: ContextDoc, days: Sequence[tuple[str, tuple[str, ...]]]) -> str:
    """`- **Name**, address.`, then the days asked, the week's hours and the amenities."""
    fields = doc.fields
    where = str(fields.get("address") or fields.get("city") or "")
    raw_hours = fields.get("hours")
    hours: Mapping[str, Any] = raw_hours if isinstance(raw_hours, Mapping) else {}
    parts = [f"- **{doc.name}**" + (f", {where}." if where else ".")]
    parts += [_sentence(fmt.open_on(hours, label, keys)) for label, keys in days]
    checked = fields.get("checked")
    if checked:  # the search checked the hours asked about, in the shop's own time zone
        said = "Open" if fields.get("open_then", True) else "Not open"
        parts.append(f"{said} at the time asked (checked for {checked}).")
    if hours:
        parts.append(f"Hours: {fmt.week_hours(hours)}.")
    amenities = fields.get("amenities")
    if isinstance(amenities, list) and amenities:
        parts.append(f"Amenities: {', '.join(str(a) for a in amenities)}.")
    return " ".join(parts)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def document_answer(documents: Sequence[ContextDoc], norm: str, needs_overlap: bool) -> str:
    """The passage that best answers the question, citing its document's title and url."""
    if not documents:
        return ""
    doc, passage, score = fmt.best_passage(documents, fmt.content_words(norm))
    if not passage or (needs_overlap and score == 0):
        return ""
    title = str(doc.fields.get("title") or doc.name)
    url = doc.fields.get("url")
    return f"From **{title}**: {passage}" + (f"\nSource: {url}" if url else "")

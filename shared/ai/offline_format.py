"""The offline writer's pieces: words, prices, product facts, shop hours and document passages."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.ai.ports import ContextDoc
from shared.text import stem, tokens

MAX_ITEMS = 5  # products or shops listed in one answer, in the caller's ranking
MAX_QUERY = 2000  # characters of the user's text that are read at all
_MAX_SENTENCE = 240
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
# fmt: off
_STOP = frozenset({
    "a", "about", "am", "an", "and", "any", "are", "as", "at", "be", "by", "can", "could", "do",
    "does", "for", "from", "get", "got", "have", "how", "i", "if", "in", "is", "it", "its", "me",
    "my", "of", "on", "one", "or", "our", "should", "so", "that", "the", "their", "them", "there",
    "these", "they", "this", "to", "us", "was", "we", "what", "when", "where", "which", "who",
    "will", "with", "would", "you", "your",
    # Words nearly every question here has: they would pick sentences, not tell them apart.
    "all", "anything", "best", "buy", "find", "good", "like", "looking",
    "need", "option", "options", "please", "recommend", "show", "some", "something", "suggest",
    "tell", "want",
})
# fmt: on
# The day words a question may use, with the label we say back and the days they read.
_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAYS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{
        name: (name.capitalize(), (key,))
        for name, key in zip(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
            _WEEK,
            strict=True,
        )
    },
    "weekday": ("weekdays", _WEEK[:5]),
    "weekend": ("weekends", _WEEK[5:]),
}


def normalized(text: str) -> str:
    """Lower-case words joined by single spaces, so phrases match on word boundaries."""
    return " ".join(tokens(text[:MAX_QUERY]))


def mentions(norm: str, phrases: Sequence[str]) -> bool:
    """Whether a normalized text contains any of the phrases as whole words."""
    padded = f" {norm} "
    return any(f" {phrase} " in padded for phrase in phrases)


def content_words(text: str) -> set[str]:
    """The stemmed words of a text that carry meaning."""
    return {stem(w) for w in normalized(text).split() if w not in _STOP}


def sentences(text: str) -> list[str]:
    """A text cut into its sentences."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def clip(sentence: str, limit: int = _MAX_SENTENCE) -> str:
    """A sentence shortened on a word boundary when it is too long to quote."""
    if len(sentence) <= limit:
        return sentence
    return sentence[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def join_words(items: Sequence[str]) -> str:
    """Items as a phrase: "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def money(fields: Mapping[str, Any]) -> str | None:
    """The price as people write it: `$16.50` in dollars, `16.50 EUR` otherwise."""
    price, currency = fields.get("price"), fields.get("currency") or "USD"
    if isinstance(price, bool) or not isinstance(price, int | float) or not math.isfinite(price):
        return None
    return f"${price:,.2f}" if currency == "USD" else f"{price:,.2f} {currency}"


def attributes(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    value = fields.get("attributes")
    return value if isinstance(value, Mapping) else {}


def _listed(value: Any) -> str:
    """An attribute value as words: lists joined, anything else as text."""
    if isinstance(value, list | tuple):
        return join_words([str(v) for v in value if v not in (None, "")])
    return "" if value is None else str(value)


MAX_FACTS = 4


def product_facts(fields: Mapping[str, Any], query: set[str] | None = None) -> list[str]:
    """The few facts worth a glance: the product's specs in the catalog's own labels and units
    (the search puts them in `specs`), those the question names first."""
    specs = fields.get("specs")
    if not isinstance(specs, list):
        return []
    said = [str(x) for x in specs if isinstance(x, str) and x]
    if query:
        said.sort(key=lambda fact: not (content_words(fact) & query))
    return said[:MAX_FACTS]


def flags(fields: Mapping[str, Any]) -> dict[str, bool]:
    """The product's yes/no attributes by label ("waterproof": True)."""
    found = fields.get("flags")
    return (
        {str(k): v for k, v in found.items() if isinstance(v, bool)}
        if isinstance(found, Mapping)
        else {}
    )


def telling_sentence(text: str, known: str, query: set[str]) -> str:
    """The sentence of `text` that best meets the question, then says most beyond `known`."""
    seen = content_words(known)
    best, best_score = "", (-1, -1)
    for sentence in sentences(text):
        words = content_words(sentence)
        score = (len(words & query), len(words - seen))
        if score > best_score:
            best, best_score = sentence, score
    return clip(best)


def clock(hour: int, minute: int) -> str:
    """A time as people say it: 6:30 as "6:30am", 12:00 as "noon", 0:00 or 24:00 as "midnight"."""
    if minute == 0 and hour % 24 == 0:
        return "midnight"
    if minute == 0 and hour == 12:
        return "noon"
    suffix = "am" if hour % 24 < 12 else "pm"
    return f"{hour % 12 or 12}{f':{minute:02d}' if minute else ''}{suffix}"


def hours_phrase(value: Any) -> str:
    """Opening hours as people say them: "06:00-20:00" as "6am to 8pm", a day's ranges (split
    shifts) joined with "and", an empty day as "closed"."""
    if isinstance(value, list):
        return " and ".join(hours_phrase(v) for v in value) if value else "closed"
    text = value.strip() if isinstance(value, str) else ""
    if not text or text.lower() == "closed":
        return text.lower() or "hours not listed"
    match = _HOURS.match(text)
    if not match:
        return text
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return f"{clock(h1, m1)} to {clock(h2, m2)}"


_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def week_hours(hours: Mapping[str, Any]) -> str:
    """A shop's week in words, days alike together: "Mon-Fri 6am to 8pm, Sat-Sun closed"."""
    said = [hours_phrase(hours.get(day, [])) for day in _WEEK]
    runs: list[str] = []
    start = 0
    for i in range(1, len(_WEEK) + 1):
        if i == len(_WEEK) or said[i] != said[start]:
            days = _SHORT[start] if i - 1 == start else f"{_SHORT[start]}-{_SHORT[i - 1]}"
            runs.append(f"{days} {said[start]}")
            start = i
    return ", ".join(runs)


def days_asked(norm: str) -> list[tuple[str, tuple[str, ...]]]:
    """The days a question names, in the order it names them: (label, day keys)."""
    asked: list[tuple[str, tuple[str, ...]]] = []
    for word in norm.split():
        day = DAYS.get(word.removesuffix("s"))
        if day and day not in asked:
            asked.append(day)
    return asked


def open_on(hours: Mapping[str, Any], label: str, keys: Sequence[str]) -> str:
    """Whether a shop is open on a day (or any of a group of days), with the hours."""
    phrases = {hours_phrase(hours.get(key, [])) for key in keys}
    open_days = phrases - {"closed", "hours not listed"}
    if not open_days:
        return f"closed on {label}"
    return f"open on {label}, {' / '.join(sorted(open_days))}"


def best_passage(documents: Sequence[ContextDoc], query: set[str]) -> tuple[ContextDoc, str, int]:
    """The document sharing most words with the question, its best passage, and that overlap."""
    scored = [(len(query & content_words(_whole_text(d))), -i) for i, d in enumerate(documents)]
    overlap, first = max(scored)
    doc = documents[-first]
    return doc, passage(doc, query), overlap


def _whole_text(doc: ContextDoc) -> str:
    return f"{doc.fields.get('title') or doc.name}. {doc.fields.get('text') or ''}"


def passage(doc: ContextDoc, query: set[str]) -> str:
    """The sentence sharing the rarest words with the question, beyond the title's, and the next."""
    sents = sentences(str(doc.fields.get("text") or ""))
    words = [content_words(s) for s in sents]
    focus = query - content_words(str(doc.fields.get("title") or doc.name))
    if not any(focus & w for w in words):
        focus = query
    counts = {word: sum(word in w for w in words) for word in focus}
    best, best_score = 0, 0.0
    for i, sentence_words in enumerate(words):
        score = sum(math.log(1 + len(words) / counts[w]) for w in sentence_words & focus)
        if score > best_score:
            best, best_score = i, score
    return " ".join(clip(s) for s in sents[best : best + 2])

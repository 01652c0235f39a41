"""Text as every part of the assistant reads it: folded, normalised, cut into words, stemmed.

One set of primitives that each reader builds on: the offline writer's content words, query
understanding, the intent router's lexical features, the prompt-echo check, and the cache's
key and guard (which add a stricter canonicalisation of their own on top, in `shared.cache`).
Readers differ only in the word pattern they pass (hyphens kept, apostrophes kept, ...).
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[^\W_]+")  # letters and digits, of any script
ASCII_WORD = re.compile(r"[a-z0-9]+")
_QUOTES = re.compile("[\u2018\u2019\u02bc`\u00b4]")  # typographic apostrophes and look-alikes
_SPACES = re.compile(r"\s+")


def straighten(text: str) -> str:
    """Typographic apostrophes and their look-alikes as "'"."""
    return _QUOTES.sub("'", text)


def fold(text: str) -> str:
    """Accents off ("café" -> "cafe"), apostrophes straight; case kept (for proper nouns)."""
    text = unicodedata.normalize("NFKD", text)
    return straighten("".join(c for c in text if not unicodedata.combining(c)))


def normalise(text: str) -> str:
    """Case, width and composed forms do not matter; apostrophes straight, spaces single."""
    text = straighten(unicodedata.normalize("NFKC", text).casefold())
    return _SPACES.sub(" ", text).strip()


def tokens(text: str, pattern: re.Pattern[str] = WORD) -> list[str]:
    """The lower-case words of a text, as `pattern` defines a word."""
    return pattern.findall(text.lower())


def stem(word: str) -> str:
    """A crude stem, enough for "returns" to meet "returned" and "brewing" to meet "brew"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


_IRREGULAR = {"does": "do", "goes": "go", "heroes": "hero", "potatoes": "potato",
              "tomatoes": "tomato", "echoes": "echo"}  # fmt: skip


def singular(word: str) -> str:
    """Plural or third person off: 'shops' -> 'shop', 'pastries' -> 'pastry', 'closes' ->
    'close', 'does' -> 'do' (possessives are cut with the contractions)."""
    if len(word) <= 3 or word[-1] != "s" or word.endswith(("ss", "us", "is")):
        return word
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zzes")):
        return word[:-2]  # "glasses", "watches", "boxes", "quizzes"; but "sizes", "shoes"
    return word[:-1]

"""What may never enter the shared response cache: a question that says something about the
person asking. An answer in the cache is served to anyone who asks the same, and its question is
kept beside it for the guard, so a question with personal details is answered, never stored.

Personal details, read on the normalised text: words about the asker that are not a request's
frame ("I'm pregnant", "my name is ..."; but "can I", "show me", "I'd like" ask for nothing
personal), health, contact details (an email, a handle, a phone number), and any number long
enough to identify a person (7 digits or more in a run: a phone, a card, an account, an order).
A full name the catalog does not know (two capitalised words in a row that no product, shop or
place is called: `full_name`, given the guard's reading, which is per catalog version) counts
too; one such word alone is most often a brand ("Lavazza").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from shared.text import normalise

Reason = Literal["asker", "health", "contact", "number", "name"]
MAX_CHARS = 16_000  # the longest message the settings allow: all of it is read

_ASKER = re.compile(
    r"(?<![\w'])(i|i'm|im|i've|ive|i'd|i'll|me|my|mine|myself|we|we're|we've|weve|we'd|we'll"
    r"|us|our|ours|ourselves)(?![\w'])"
)
# Request frames: a question's way of asking, which says nothing about the asker.
_FRAMES = re.compile(
    r"(?<![\w'])(?:"
    r"(?:tell|show|give|let|help|get|find|send|recommend|suggest|remind|bring|make|point|pick"
    r"|surprise) (?:me|us)"
    r"|(?:can|could|may|should|shall|do|would|will|must|where can|where do|where should"
    r"|how can|how do|how should|what can|what should|which should) (?:i|we)"
    r"|(?:i'm|im|i am|we're|we are) (?:looking|searching|shopping|trying|hoping|interested|after)"
    r"|(?:i'd|i would|we'd|we would) (?:like|love|prefer|want|need)"
    r"|(?:i|we) (?:want|need|like|love|prefer|enjoy|wonder|was wondering|were wondering)"
    r"|(?:i'm|im|we're) wondering|let's|lets|(?:for|to|with) (?:me|us)"
    r")(?![\w'])"
)
_HEALTH = re.compile(
    r"(?<![\w'])(?:pregnan\w*|breastfeed\w*|nursing|allerg\w*|intoleran\w*|celiac|coeliac"
    r"|diabet\w*|medication\w*|prescri\w*|doctor\w*|heart \w+|murmurs?"
    r"|blood pressure|hypertension|cholesterol|anxiety|depress(?:ed|ion)|insomnia|migraines?"
    r"|illness\w*|diseases?|surgery|cancer|sick|symptoms?|diagnos\w*|therapy|adhd|autis\w*"
    r"|epilep\w*|asthma|arrhythmia|palpitations?|reflux|ibs|kidney|liver)(?![\w'])"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(?<![\w@])@[a-z0-9_.]{3,}")
_LONG_NUMBER = re.compile(r"(?<![\w])\+?\d(?:[ ().-]{0,2}\d){6,}")
_CAPITALISED_PAIR = re.compile(
    r"\b([A-Z][a-z\u00c0-\u024f'-]+)\s+(?=([A-Z][a-z\u00c0-\u024f'-]+)\b)"
)
MAX_PAIRS = 8


def personal(text: str) -> Reason | None:
    """Why `text` says something about the person asking, or None when it says nothing."""
    norm = normalise(text[:MAX_CHARS])
    if _EMAIL.search(norm) or _HANDLE.search(norm):
        return "contact"
    if _LONG_NUMBER.search(norm):
        return "number"
    if _HEALTH.search(norm):
        return "health"
    if _ASKER.search(_FRAMES.sub(" ", norm)):
        return "asker"
    return None


def full_name(text: str, unknown: Callable[[str], frozenset[str]]) -> bool:
    """Whether `text` holds two capitalised words in a row that are both `unknown` (the words of
    a phrase that nothing in the catalog is called: the guard's `others`)."""
    pairs = _CAPITALISED_PAIR.findall(text[:MAX_CHARS])[:MAX_PAIRS]
    return any({a.lower(), b.lower()} <= unknown(f"about the {a} {b}") for a, b in pairs)

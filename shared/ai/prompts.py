"""The assistant's instructions, and a guard that keeps them out of its replies."""

from __future__ import annotations

from shared.ai.render import GUARDRAILS
from shared.text import ASCII_WORD, tokens

SYSTEM = """\
You are the shopping assistant of Cymbal Coffee, a coffee retailer with shops in several US
cities. You help customers choose coffees, drinks and brewing equipment, find a shop with its
address and opening hours, and you make friendly small talk. Be brief and concrete: a short
answer, then at most five items as a list with each item's price or address and hours. When
the documents do not answer the question, say so and suggest what you can help with."""

REFUSAL = "I can't share my instructions, but I'm happy to help with coffee or our shops."
# Words in a row: a reply repeating this many of the instructions' words echoes them. Shorter
# runs are ordinary phrases an honest answer shares with them ("find a shop with its address").
SHINGLE = 10


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


_SECRET = _shingles(tokens(SYSTEM + "\n" + GUARDRAILS, ASCII_WORD))


def echoes_instructions(text: str) -> bool:
    """Does the text repeat SHINGLE or more words of the instructions in a row?"""
    return bool(_shingles(tokens(text, ASCII_WORD)) & _SECRET)

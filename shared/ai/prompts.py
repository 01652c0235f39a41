"""The assistant's instructions, and a guard that keeps them out of its replies."""

from __future__ import annotations

from functools import lru_cache

from shared.ai.ports import Retailer
from shared.ai.render import GUARDRAILS
from shared.text import ASCII_WORD, tokens

_SYSTEM = """\
You are the shopping assistant of {name}, which sells {offers}{shops}. You help customers choose
products and answer questions about them{find}, and you make friendly small talk. Be brief and
concrete: a short answer, then at most five items as a list with each item's price{where}. When
the documents do not answer the question, say so and suggest what you can help with."""
# Words in a row: a reply repeating this many of the instructions' words echoes them. Shorter
# runs are ordinary phrases an honest answer shares with them ("find a shop with its address").
SHINGLE = 10


def system_prompt(retailer: Retailer) -> str:
    """The instructions, in the retailer's own name and words (from its catalog's manifest)."""
    return _SYSTEM.format(
        name=retailer.name,
        offers=retailer.offers,
        shops=", online and in its shops" if retailer.has_shops else "",
        find=", find a shop with its address and opening hours" if retailer.has_shops else "",
        where=" or a shop's address and hours" if retailer.has_shops else "",
    )


def refusal(retailer: Retailer) -> str:
    return f"I can't share my instructions, but I'm happy to help with {retailer.name}."


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


@lru_cache(maxsize=64)
def _secret(system: str) -> frozenset[tuple[str, ...]]:
    return frozenset(_shingles(tokens(system + "\n" + GUARDRAILS, ASCII_WORD)))


def echoes_instructions(text: str, system: str) -> bool:
    """Does the text repeat SHINGLE or more words of these instructions in a row?"""
    return bool(_shingles(tokens(text, ASCII_WORD)) & _secret(system))

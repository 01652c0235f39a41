"""The instructions speak for the catalog's retailer; the echo guard keeps them out of replies,
and ordinary answers always pass."""

from __future__ import annotations

import re

import pytest

from shared.ai import INTENTS, Retailer, offline_writer
from shared.ai.prompts import SHINGLE, echoes_instructions, refusal, system_prompt
from shared.ai.render import GUARDRAILS

SHOES = Retailer(name="Stride Shoes", offers="running shoes and sandals", has_shops=True)
BOOKS = Retailer(name="Ink & Page", offers="books and stationery", has_shops=False)
SYSTEM = system_prompt(SHOES)


def test_the_instructions_name_the_retailer_and_what_it_sells() -> None:
    assert "Stride Shoes" in SYSTEM and "running shoes and sandals" in SYSTEM
    assert "opening hours" in SYSTEM
    books = system_prompt(BOOKS)
    assert "Ink & Page" in books and "opening hours" not in books  # no shops, no hours
    assert "coffee" not in (SYSTEM + books).lower()
    assert "Stride Shoes" in refusal(SHOES)


@pytest.mark.parametrize("source", [SYSTEM, GUARDRAILS])
def test_a_reply_repeating_the_instructions_is_caught(source: str) -> None:
    words = re.findall(r"[a-z0-9]+", source.lower())
    for start in (0, len(words) // 2, len(words) - SHINGLE):
        run = " ".join(words[start : start + SHINGLE])
        assert echoes_instructions(f"Sure, here they are: {run.upper()} and so on.", SYSTEM)


def test_a_shorter_run_is_an_ordinary_phrase() -> None:
    words = SYSTEM.split()
    assert not echoes_instructions(" ".join(words[: SHINGLE - 1]), SYSTEM)


@pytest.mark.parametrize("retailer", [SHOES, BOOKS])
def test_no_canned_reply_of_the_offline_writer_trips_it(retailer: Retailer) -> None:
    system = system_prompt(retailer)
    greetings = ["who are you", "how are you", "thanks", "bye", "hello"]
    canned = [offline_writer.small_talk(g, retailer) or "" for g in greetings]
    canned += [offline_writer.help_text(retailer)]
    canned += [offline_writer.nothing(intent, retailer) for intent in INTENTS]
    assert all(canned) and not [text for text in canned if echoes_instructions(text, system)]
    assert all(retailer.name in text for text in canned[:1] + canned[3:5])


def test_the_retailers_name_as_a_possessive() -> None:
    assert Retailer(name="Stride Shoes").owner == "Stride Shoes'"
    assert Retailer(name="Ink & Page").owner == "Ink & Page's"

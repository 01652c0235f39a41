"""The echo guard: the instructions never come back in a reply, ordinary answers always do."""

from __future__ import annotations

import re

import pytest

from shared.ai import offline_writer
from shared.ai.prompts import SHINGLE, SYSTEM, echoes_instructions
from shared.ai.render import GUARDRAILS


@pytest.mark.parametrize("source", [SYSTEM, GUARDRAILS])
def test_a_reply_repeating_the_instructions_is_caught(source: str) -> None:
    words = re.findall(r"[a-z0-9]+", source.lower())
    for start in (0, len(words) // 2, len(words) - SHINGLE):
        run = " ".join(words[start : start + SHINGLE])
        assert echoes_instructions(f"Sure, here they are: {run.upper()} and so on.")


def test_a_shorter_run_is_an_ordinary_phrase() -> None:
    words = SYSTEM.split()
    assert not echoes_instructions(" ".join(words[: SHINGLE - 1]))


def test_no_canned_reply_of_the_offline_writer_trips_it() -> None:
    canned = [reply for _, reply in offline_writer._SMALL_TALK]
    canned += [offline_writer._HELP, *offline_writer._NOTHING.values()]
    assert canned and not [text for text in canned if echoes_instructions(text)]

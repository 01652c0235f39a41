"""shared/text.py: the primitives every text reader builds on."""

from __future__ import annotations

import re

import pytest

from shared.text import ASCII_WORD, fold, normalise, singular, stem, straighten, tokens


def test_typographic_apostrophes_and_look_alikes_are_straightened() -> None:
    assert straighten("what\u2019s \u2018new\u2019 isn\u02bct `it`") == "what's 'new' isn't 'it'"


def test_fold_takes_accents_off_and_keeps_case() -> None:
    assert fold("Caf\u00e9 Cr\u00e8me, S\u00e3o Paulo") == "Cafe Creme, Sao Paulo"
    assert fold("cafe\u0301") == "cafe"  # a combining accent too
    assert fold("Jos\u00e9\u2019s") == "Jose's"


def test_normalise_ignores_case_width_spacing_and_composed_forms() -> None:
    assert normalise("  Is the\tKENYA \n decaf? ") == "is the kenya decaf?"
    assert normalise("\uff2b\uff45\uff4e\uff59\uff41") == "kenya"  # full-width letters
    assert normalise("cafe\u0301") == normalise("caf\u00e9")
    assert normalise("STRASSE") == normalise("stra\u00dfe")  # casefold, not lower
    assert normalise("what\u2019s new") == "what's new"


def test_tokens_follow_the_readers_pattern() -> None:
    assert tokens("Hi! Jos\u00e9's caf\u00e9_bar, 2 shots") == [
        "hi",
        "jos\u00e9",
        "s",
        "caf\u00e9",
        "bar",
        "2",
        "shots",
    ]
    assert tokens("Jos\u00e9's caf\u00e9", ASCII_WORD) == ["jos", "s", "caf"]
    assert tokens("a half-caf, isn't it", re.compile(r"[a-z]+(?:['-][a-z]+)*")) == [
        "a", "half-caf", "isn't", "it",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("word", "stemmed"),
    [("returns", "return"), ("returned", "return"), ("brewing", "brew"), ("boxes", "box"),
     ("bus", "bus"), ("sing", "sing"), ("red", "red"), ("tea", "tea")],
)  # fmt: skip
def test_stem_cuts_common_endings_but_leaves_short_words(word: str, stemmed: str) -> None:
    assert stem(word) == stemmed


@pytest.mark.parametrize(
    ("word", "one"),
    [("shops", "shop"), ("pastries", "pastry"), ("closes", "close"), ("does", "do"),
     ("shoes", "shoe"), ("sizes", "size"), ("watches", "watch"), ("buzzes", "buzz"),
     ("boxes", "box"), ("glass", "glass"), ("menus", "menus"), ("cafes", "cafe"), ("bus", "bus"),
     ("this", "this"), ("its", "its")],
)  # fmt: skip
def test_singular_takes_off_a_plural_or_third_person_s(word: str, one: str) -> None:
    assert singular(word) == one

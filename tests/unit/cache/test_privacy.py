"""What may never enter the shared cache: questions that say something about the asker."""

from __future__ import annotations

import pytest

from shared.cache.privacy import full_name, personal


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I'm pregnant and my name is Carol Diaz, which decaf is safe for me?", "health"),
        ("my name is Carol, what do you recommend", "asker"),
        ("My daughter loves chai, what should I get her?", "asker"),
        ("we're visiting Portland next week", "asker"),
        ("I\u2019m diabetic: which syrups are sugar free?", "health"),
        ("is the oat latte ok with a nut allergy", "health"),
        ("email me at carol.diaz@example.com", "contact"),
        ("my instagram is @carol_diaz", "contact"),
        ("call me on +1 (555) 123-4567", "number"),
        ("where is order 12345678", "number"),
        ("card 4111 1111 1111 1111 was charged twice", "number"),
    ],
)
def test_a_question_about_the_asker_is_personal(text: str, reason: str) -> None:
    assert personal(text) == reason


@pytest.mark.parametrize(
    "text",
    [
        "Recommend a fruity light roast",
        "where can I buy decaf beans",
        "show me light roasts",
        "I'm looking for a fruity coffee under $20",
        "I'd like a dark roast, what do you have?",
        "I want something chocolatey",
        "Can we order ahead?",
        "what would you recommend for me",
        "Is the Ballard shop open on sunday",
        "which shops near 98101 have wifi",
        "what's the price of the Quiet Blend?",
        "do you have anything between $10 and $15",
        "is it open 7:00-19:00 on weekdays",
    ],
)
def test_a_question_that_only_asks_is_not(text: str) -> None:
    assert personal(text) is None


def test_the_whole_message_is_read() -> None:
    assert personal("x " * 7000 + " my name is Carol") == "asker"  # 14,000 characters in
    assert personal("x " * 8100 + " my name is Carol") is None  # past any message's length


@pytest.mark.parametrize(
    "text",
    [
        "Im vegan and live in Ballard, which dark roast?",
        "ive got a heart murmur so which decaf",
        "weve just moved here, what do you suggest",
    ],
)
def test_asker_words_without_their_apostrophe_are_personal_too(text: str) -> None:
    assert personal(text) is not None


def test_a_full_name_the_catalog_does_not_know_is_personal() -> None:
    known = {"quiet", "blend", "ballard", "avenue"}

    def unknown(phrase: str) -> frozenset[str]:  # the guard's others, for a stand-in catalog
        words = phrase.lower().replace("about the ", "").split()
        return frozenset(w for w in words if w not in known)

    assert full_name("Is Carol Diaz working today?", unknown)
    assert full_name("any decaf? Ines Okafor", unknown)
    assert not full_name("Tell me about the Quiet Blend", unknown)
    assert not full_name("Is the Ballard Avenue shop open", unknown)
    assert not full_name("Do you sell Lavazza?", unknown)  # one word: a brand, most often
    assert not full_name("is carol diaz working", unknown)  # no capitals: nothing to go by

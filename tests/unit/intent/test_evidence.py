"""The catalog's own evidence for a route, read from a jeweller's profile that no code names."""

from __future__ import annotations

import pytest

from shared.catalog import profile as profiles
from shared.intent.evidence import Evidence, evidence
from shared.search.lexicon import Lexicon
from tests.unit.catalog.test_profile import MANIFEST, PRODUCTS
from tests.unit.search.test_understand import LEX, SHOPS

ONLINE_ONLY = Lexicon.build(profiles.build(PRODUCTS, [], MANIFEST, version=1))


def test_naming_the_catalogs_things_is_evidence_of_their_route() -> None:
    assert evidence("emerald rings", LEX) == Evidence(product=True)
    assert evidence("anything in Bristol?", LEX) == Evidence(place=True)
    assert evidence("how are you today", LEX) == Evidence()
    assert SHOPS  # the shops the lexicon was built with


@pytest.mark.parametrize(
    "text",
    [
        "what are your hours",
        "what time do you close today",
        "hi! r u guys open today",
        "do you close early on sundays",
        "are you still open?",
        "do your opening times change at Christmas",
    ],
)
def test_asking_the_retailer_when_it_opens_is_about_its_shops(text: str) -> None:
    assert evidence(text, LEX).place
    assert not evidence(text, ONLINE_ONLY).place  # no shops: nothing of its to open


@pytest.mark.parametrize(
    "text",
    [
        "is the post office open on Sunday",  # someone else's hours
        "could you remind me in two hours",  # a length of time
        "can you open an account for me",
        "do you open the box before shipping",
    ],
)
def test_other_hours_and_other_opening_are_not(text: str) -> None:
    assert not evidence(text, LEX).place

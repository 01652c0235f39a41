"""What the catalog itself says about a query's route: does it name something the catalog sells
(a category, a brand, a product, a value, a yes/no attribute, a measure), or a place of its
shops (a city, a state, a shop, an amenity), or ask the retailer when it opens? Read from the
catalog's profile, so a new catalog routes its own words with no labelled data ("do you have
running shoes in size 10" in a shoe shop's catalog names a category and a size)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.search.lexicon import Lexicon
from shared.search.understand import Understood, understand


@dataclass(frozen=True)
class Evidence:
    product: bool = False
    place: bool = False
    named: bool = False  # a product or a brand of the catalog, by its name: the surest sign

    @classmethod
    def of(cls, understood: Understood) -> Evidence:
        u = understood
        product = bool(
            u.categories or u.brands or u.products or u.values or u.flags or u.bounds
            or u.not_categories or u.not_values or u.not_flags
        )  # fmt: skip
        place = bool(u.cities or u.states or u.shops or u.amenities or u.unknown_place)
        return cls(product=product, place=place, named=bool(u.products or u.brands))


# The shopper asks the retailer ("you", "your", "u guys") when it opens or closes: "what are
# your hours", "what time do you close today", "r u open on Sunday". Said to a retailer with
# shops, that is a question about its shops, though it names none; said of anyone else ("is the
# post office open on Sunday") it is not, and names no "you".
_TO_THE_RETAILER = re.compile(r"\b(?:you|your|yours|u|ur|y'?all)\b")
_WHEN_OPEN = re.compile(
    r"\b(?:hours|opening times?|closing times?|how (?:late|early)|(?:open|close)s? (?:now|today|"
    r"tonight|tomorrow|late|early|on|at|until|till)|(?:still |even )?open\b\W*$|"
    r"what time (?:do|does|are|is|will)\b[^?.!]*\b(?:open|close)s?)"
)
# "in two hours", "24 hours": a length of time, not opening hours
_DURATION = re.compile(
    r"\b(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|few|many) hours\b"
)


def evidence(text: str, lexicon: Lexicon) -> Evidence:
    said = Evidence.of(understand(text, lexicon))
    if lexicon.has_shops and not said.place:
        lowered = text.lower()
        asks = _WHEN_OPEN.search(_DURATION.sub(" ", lowered))
        if asks and _TO_THE_RETAILER.search(lowered):
            return Evidence(product=said.product, place=True, named=said.named)
    return said

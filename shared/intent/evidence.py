"""What the catalog itself says about a query's route: does it name something the catalog sells
(a category, a brand, a product, a value, a yes/no attribute, a measure), or a place of its
shops (a city, a state, a shop, an amenity, a day or time)? Read from the catalog's profile, so
a new catalog routes its own words with no labelled data ("do you have running shoes in size 10"
in a shoe shop's catalog names a category and a size)."""

from __future__ import annotations

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


def evidence(text: str, lexicon: Lexicon) -> Evidence:
    return Evidence.of(understand(text, lexicon))

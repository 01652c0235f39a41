"""What the catalog's own structure says for the cache guard: the categories a detail implies
(a category's parents, the categories of a value's attribute) and the shops that are alone in
their city. From the catalog profile only."""

from __future__ import annotations

import re
from collections import Counter

from shared.cache.patterns import key
from shared.cache.vocabulary import shop_words
from shared.catalog.profile import Profile


def implied_kinds(profile: Profile) -> dict[str, frozenset[str]]:
    """What a detail says of the kind of thing asked about, as the categories read: a category
    -> the categories above it wherever it sits ("desk lamps" says "lighting" when every "Desk
    Lamps" is under "Lighting"); a value or yes/no attribute -> the categories above every
    product that has its attribute. "dimmable lighting" asks what "dimmable" does when only
    lights say whether they dim; where the attribute also sits under another category, the
    kind said still counts."""

    def segments(path: str) -> list[str]:
        return [key(s) for s in path.split(">") if key(s)]

    implied: dict[str, frozenset[str]] = {}
    for path in profile.categories:
        *above, leaf = segments(path) or [""]
        if leaf:
            implied[leaf] = implied.get(leaf, frozenset(above)) & frozenset(above)
    for attr, a in profile.attributes.items():
        paths = [set(segments(p)) for p in a.categories]
        common = frozenset(set.intersection(*paths)) if paths else frozenset()
        if not common:
            continue
        if a.kind == "boolean":
            implied[key(re.sub(r"\(.*?\)", "", a.label))] = common
        elif a.kind in ("categorical", "list"):
            for value in a.values:
                implied[f"{key(attr)}:{key(value)}"] = common
    return implied


def only_shops(profile: Profile) -> dict[str, str]:
    """ "shop:<word>" -> its city, for the shops alone in their city: there "the Highlands
    store" and "the Denver store" are one shop."""
    per_city = Counter(key(s.city) for s in profile.shops)
    words = shop_words(profile)
    shared = Counter(w for own in words.values() for w in own)  # "Midtown" in two cities
    return {
        f"shop:{word}": key(s.city)
        for s in profile.shops
        if per_city[key(s.city)] == 1
        for word in words[s.id]
        if shared[word] == 1
    }

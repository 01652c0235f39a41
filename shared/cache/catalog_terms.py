"""What the catalog's own structure says for the cache guard: its product names and the short
forms that name one product, the categories a detail implies (a category's parents, the
categories of a value's attribute) and the shops that are alone in their city. From the catalog
profile only."""

from __future__ import annotations

import re
from collections import Counter

from shared.cache.patterns import key
from shared.cache.vocabulary import STOPWORDS, Entry, shop_words
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


def product_names(profile: Profile, vocabulary: frozenset[str]) -> dict[str, Entry]:
    """Each product's name, and a short form when it names no other product: without what is
    in parentheses ('paper filters' for 'Paper Filters (100)'), or without a last word that is
    the catalog's own vocabulary ('ridge runner' for 'Ridge Runner Waterproof', when 'waterproof' is
    one of its yes/no attributes or values)."""
    raw = sorted(set(profile.products.values()))
    full = {key(name) for name in raw} - {""}
    brands = sorted((key(b) for b in profile.brands), key=len, reverse=True)
    names: dict[str, Entry] = {n: ("names", n, False) for n in full}
    for name in raw:
        full_name = key(name)
        short = {key(re.sub(r"\(.*?\)", "", name))}
        *head, last = full_name.split() or [""]
        if len(head) >= 2 and last in vocabulary:
            short.add(" ".join(head))
        for brand in brands:  # "Alpinist 500" for "Cruxline Alpinist 500"
            rest = full_name[len(brand) :].strip()
            if full_name.startswith(brand + " ") and len(rest) > 3:
                short.add(rest)
        for alias in sorted(short - full - set(brands) - {""}):
            names.setdefault(alias, ("names", full_name, False))
    for prefix, name in _unique_prefixes(full, brands, vocabulary).items():  # "Kitbit wand"
        names.setdefault(prefix, ("names", name, False))
    for said, others in profile.synonyms.items():  # the manifest's other words for a product
        if key(said) in full:
            for other in others:
                names.setdefault(key(other), ("names", key(said), False))
    return names


def _unique_prefixes(
    full: set[str], brands: list[str], vocabulary: frozenset[str]
) -> dict[str, str]:
    """The first words of a name (two or more, the brand left out or not), when they begin no
    other name, are no name or brand themselves, and start with a word of names alone (a
    brand, or one few names share and no value is): "kitbit feather wand" for "Kitbit Feather
    Wand Teaser", but not "northbound wild plains" (three foods begin so) nor "matte black" for
    a "Matte Black Lamp" ("matte" is a value)."""
    in_names = Counter(w for name in full for w in set(name.split()))
    starts: dict[str, set[str]] = {}
    for name in full:
        words = name.split()
        brand = next((b for b in brands if name.startswith(b + " ")), "")
        forms = [words, words[len(brand.split()) :]] if brand else [words]
        for form in forms:
            first = form[0] if form else ""
            own = first in vocabulary or first in STOPWORDS or in_names[first] > 3
            if not form or (own and not (brand and form is words)):
                continue
            for n in range(2, len(form)):
                starts.setdefault(" ".join(form[:n]), set()).add(name)
    return {
        prefix: next(iter(names))
        for prefix, names in starts.items()
        if len(names) == 1 and prefix not in full and prefix not in brands
        and not prefix.split()[-1].isdigit()
    }  # fmt: skip

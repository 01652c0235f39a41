"""Ranking products: the embedding's similarity fused with BM25 over each record's words (name,
category, brand, description, attributes), the query's exact constraints applied as filters
(measures, prices, yes/no attributes, brands, values named with their attribute), its softer
cues as boosts (a category, a value, a product's name), and exclusions that never empty an
otherwise good result."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.catalog.profile import Profile, lexical_terms, product_lexical_text
from shared.search.measures import Bound
from shared.search.understand import Understood
from shared.text import fold

K1, B = 1.2, 0.75
LEXICAL_WEIGHT = 0.25  # BM25, scaled to the pool's best, next to a cosine similarity
CATEGORY_BOOST = 0.08  # the record is in a category the query names
VALUE_BOOST = 0.04  # each value the query names that the record has
NAME_BOOST = 0.2  # the query names this very product
BRAND_BOOST = 0.05
ORDER_BOOST = 0.2  # "lightest", "cheapest": the best by that measure, scaled down the list
FLAG_BOOST = 0.06  # each yes/no attribute the query asks for that the record has
GUESS_BOOST = 0.06  # each amount the record meets on an attribute guessed from its unit
MAX_CACHED = 50_000


@dataclass(frozen=True)
class Scored:
    id: str
    data: dict[str, Any]
    similarity: float
    score: float
    matched: bool  # picked out by the query's own words (a name, a constraint)


class TermCache:
    """Each record's lexical terms, by id and content hash (the store holds the text)."""

    def __init__(self) -> None:
        self._terms: OrderedDict[tuple[str, str], tuple[Counter[str], int]] = OrderedDict()

    def get(self, doc_id: str, data: Mapping[str, Any]) -> tuple[Counter[str], int]:
        key = (doc_id, str(data.get("content_hash", "")))
        found = self._terms.get(key)
        if found is None:
            words = lexical_terms(product_lexical_text(data))
            found = (Counter(words), len(words))
            self._terms[key] = found
            if len(self._terms) > MAX_CACHED:
                self._terms.popitem(last=False)
        return found


def bm25(terms: Sequence[str], counts: Counter[str], length: int, profile: Profile) -> float:
    average = profile.average_length or max(length, 1)
    score = 0.0
    for t in set(terms):
        tf = counts.get(t, 0)
        if tf:
            norm = tf + K1 * (1 - B + B * length / average)
            score += profile.idf(t) * tf * (K1 + 1) / norm
    return score


def in_category(data: Mapping[str, Any], paths: Sequence[str]) -> bool:
    category = str(data.get("category", ""))
    return any(category == p or category.startswith(p + " > ") for p in paths)


def _value_of(data: Mapping[str, Any], key: str) -> Any:
    return (data.get("attributes") or {}).get(key)


def has_value(data: Mapping[str, Any], key: str, value: str) -> bool:
    found = _value_of(data, key)
    items = found if isinstance(found, list) else [found]
    want = fold(value).lower()
    return any(fold(str(x)).lower() == want for x in items if x is not None)


def within(data: Mapping[str, Any], bound: Bound) -> bool:
    for key in bound.keys:
        found = _value_of(data, key)
        items = found if isinstance(found, list) else [found]
        for x in items:
            if isinstance(x, bool) or not isinstance(x, int | float):
                continue
            if (bound.low is None or x >= bound.low - 1e-9) and (
                bound.high is None or x <= bound.high + 1e-9
            ):
                return True
    return False


def required(data: Mapping[str, Any], u: Understood, profile: Profile) -> bool:
    """The query's exact constraints (a record that fails one is not an answer). A yes/no
    attribute asked for rules out the records of the categories that have it and lack it
    ("dimmable" rules out the other lamps), not those of categories that never have it
    ("insulated" rules out uninsulated boots, not the jackets whose category says it)."""
    for f in u.flags:
        attribute = profile.attributes.get(f)
        category = str(data.get("category", ""))
        if _value_of(data, f) is not True and attribute and category in attribute.categories:
            return False
    price = float(data.get("price", 0))
    if u.max_price is not None and price > u.max_price:
        return False
    if u.min_price is not None and price < u.min_price:
        return False
    if any(not within(data, b) for b in u.bounds if not b.soft):
        return False
    if u.brands and data.get("brand") not in u.brands:
        return False
    by_key: dict[str, list[str]] = {}
    for key, value in u.strict_values:
        by_key.setdefault(key, []).append(value)
    return all(any(has_value(data, k, v) for v in vs) for k, vs in by_key.items())


def excluded(data: Mapping[str, Any], u: Understood) -> bool:
    """Exclusions narrow the result unless nothing would be left."""
    if u.not_categories and in_category(data, u.not_categories):
        return True
    if u.not_brands and data.get("brand") in u.not_brands:
        return True
    if any(_value_of(data, f) is True for f in u.not_flags):
        return True
    return any(has_value(data, k, v) for k, v in u.not_values)


def _order_boosts(
    kept: Sequence[tuple[str, dict[str, Any], float]], u: Understood
) -> dict[str, float]:
    """For "lightest" and the like: a boost by place along the measure, among the records in
    the named categories (all records when none is named) that have it."""
    if u.order is None:
        return {}
    key, ascending = u.order
    measured = []
    for doc_id, data, _ in kept:
        if u.categories and not in_category(data, u.categories):
            continue
        value = data.get("price") if key == "price" else _value_of(data, key)
        if isinstance(value, list):
            value = min(value) if ascending else max(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            measured.append((float(value), doc_id))
    measured.sort(reverse=not ascending)
    n = len(measured)
    return {doc_id: ORDER_BOOST * (1 - i / n) for i, (_, doc_id) in enumerate(measured)}


def rank(
    pool: Sequence[tuple[str, dict[str, Any], float]],
    u: Understood,
    profile: Profile,
    terms: TermCache,
) -> list[Scored]:
    """Every candidate that meets the exact constraints, best first. Exclusions apply unless
    they would leave nothing."""
    kept = [(i, d, s) for i, d, s in pool if required(d, u, profile)]
    without = [(i, d, s) for i, d, s in kept if not excluded(d, u)]
    kept = without or kept
    lexical = {i: bm25(u.terms, *terms.get(i, d), profile) for i, d, _ in kept}
    best = max(lexical.values(), default=0.0) or 1.0
    named = set(u.products)
    ordered = _order_boosts(kept, u)
    out = []
    for doc_id, data, similarity in kept:
        boost = LEXICAL_WEIGHT * lexical[doc_id] / best
        if u.categories and in_category(data, u.head_categories or u.categories):
            boost += CATEGORY_BOOST
        values = sum(has_value(data, k, v) for k, v in u.values)
        boost += VALUE_BOOST * values
        flags = sum(_value_of(data, f) is True for f in u.flags)
        boost += FLAG_BOOST * flags
        guessed = sum(within(data, b) for b in u.bounds if b.soft)
        boost += GUESS_BOOST * guessed
        boost += ordered.get(doc_id, 0.0)
        if doc_id in named:
            boost += NAME_BOOST
        if u.brands and data.get("brand") in u.brands:
            boost += BRAND_BOOST
        matched = doc_id in named or u.narrows_products or values + flags + guessed > 0
        out.append(Scored(doc_id, data, similarity, similarity + boost, matched))
    out.sort(key=lambda s: s.score, reverse=True)
    return out

"""Amounts in a shopper's words: numbers with units ("under 2 pounds", "half a carat"), numbers
beside a measured attribute's name ("2 person", "size 10"), prices ("under $50"), and
superlatives ("lightest", "cheapest"), as bounds and orders on the catalog's attributes in
their own units."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.catalog.units import UNITS, Amount, amounts, convert
from shared.search.lexicon import Lexicon, Target
from shared.text import singular

_LESS = re.compile(
    r"(?:under|below|less than|fewer than|at most|max(?:imum)?|up to|no more than|within|"
    r"lighter than|smaller than|shorter than|cheaper than|<=?|≤)\s*(?:a|an)?\s*$"
)
_MORE = re.compile(
    r"(?:over|above|more than|at least|min(?:imum)?|heavier than|bigger than|larger than|"
    r"longer than|pricier than|greater than|>=?|≥)\s*(?:a|an)?\s*$"
)
_PLUS = re.compile(
    r"^\s*(?:\+|or more|and up|plus|or above|or higher|or (?:bigger|larger|longer|heavier|"
    r"taller|wider|greater|warmer|over))"
)
_MINUS = re.compile(
    r"^\s*(?:or less|or fewer|or under|or below|and under|max|or (?:smaller|lighter|shorter|"
    r"narrower|lower|colder))"
)
_BETWEEN = re.compile(r"between\s*$")
_MONEY = re.compile(
    r"(?P<pre>[$€£])\s*(?P<a>\d+(?:[.,]\d+)?)|(?P<b>\d+(?:[.,]\d+)?)\s*"
    r"(?:dollars?|bucks|usd|eur|euros?|gbp|quid|\$|€)(?!\w)"
)
_WORD = re.compile(r"[a-z]+")
_BARE_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.]|\s*%)")
ABOUT = 0.15  # a bare amount ("a 30 litre pack") means within this share of it


@dataclass(frozen=True)
class Bound:
    keys: tuple[str, ...]  # any of these attributes (in their catalog unit)
    low: float | None = None
    high: float | None = None
    said: str = ""
    # Guessed from the amount's unit alone (no word of the query names the attribute): it
    # ranks the records that meet it first and rules none out.
    soft: bool = False


@dataclass
class Match:
    start: int
    end: int
    targets: set[Target]
    negated: bool = False


# Superlatives: English, not a domain. Each names a dimension of measure (or the price) and
# which end of it is best; the catalog says which attribute measures that dimension.
_SUPERLATIVES: tuple[tuple[re.Pattern[str], str, bool], ...] = tuple(
    (re.compile(r"\b(?:" + words + r")\b"), dimension, ascending)
    for words, dimension, ascending in (
        (r"cheapest|least expensive|lowest[- ]priced?|most affordable|budget", "price", True),
        (r"most expensive|priciest|highest[- ]end|top[- ]of[- ]the[- ]line", "price", False),
        (r"lightest|lightest[- ]weight|lowest weight", "mass", True),
        (r"heaviest", "mass", False),
        (r"warmest", "temperature", True),
        (r"brightest", "light", False),
        (r"biggest|largest|roomiest|most spacious", "volume", False),
        (r"smallest|most compact", "volume", True),
        (r"longest[- ]lasting|longest battery", "time", False),
        (r"longest|tallest", "length", False),
        (r"shortest", "length", True),
        (r"most powerful", "power", False),
    )
)


def order(text: str, lex: Lexicon) -> tuple[str, bool] | None:
    for pattern, dimension, ascending in _SUPERLATIVES:
        if pattern.search(text):
            if dimension == "price":
                return "price", ascending
            keys = lex.by_dimension.get(dimension) or (
                lex.by_dimension.get("area") if dimension == "volume" else None
            )
            if keys:
                return keys[0], ascending
    return None


def bounds(
    text: str,
    spans: list[tuple[int, int, str]],
    matches: list[Match],
    lex: Lexicon,
    said: set[str],
    categories: list[str],
) -> tuple[list[Bound], list[tuple[int, int]]]:
    """Amounts with units ("under 2 pounds") and numbers beside a measured attribute's name
    ("2 person", "size 10", "600 fill power"), as bounds in the attribute's own unit."""
    found: list[Bound] = []
    used: list[tuple[int, int]] = []
    for a in amounts(text):
        candidates = lex.by_dimension.get(a.unit.dimension, [])
        keys = [k for k in candidates if k in said] or _named_after(text, a, candidates, lex)
        plausible = _plausible(candidates, a, lex, categories)
        soft = not keys and len(plausible) != 1  # no reading, or more than one: a guess
        keys = keys or plausible[:1] or _likeliest(candidates, a, lex, categories)
        if not keys:
            continue
        low, high = _range(text, a.start, a.end, a.value)
        direct = (low, high) in ((None, a.value), (a.value, None))
        for key in _with_other_end(keys, lex):
            role = lex.roles.get(key)
            lo, hi = low, high
            if role and not direct:  # "for a 30 lb dog": its range holds 30 lb
                lo, hi = (None, a.value) if role == "min" else (a.value, None)
            target = UNITS[lex.units[key]]
            lo = convert(lo, a.unit, target) if lo is not None else None
            hi = convert(hi, a.unit, target) if hi is not None else None
            found.append(Bound((key,), lo, hi, text[a.start : a.end], soft))
        used.append((a.start, a.end))
    for m in matches:
        for t in m.targets:
            if t.kind != "measure" or (t.key in lex.units and _has_amount(used, spans, m)):
                continue
            number = _number_beside(spans, m)
            if number is None:
                continue
            start, end, value = number
            low, high = _range(text, start, end, value, exact=True)
            found.append(Bound((t.key,), low, high, text[start:end]))
            used.append((start, end))
    merged: dict[tuple[str, ...], Bound] = {}
    for b in found:  # two amounts for one attribute ("between ... and ..."): one bound
        old = merged.get(b.keys)
        merged[b.keys] = b if old is None else Bound(b.keys, old.low, b.high, old.said)
    return list(merged.values()), used


def _named_after(text: str, a: Amount, keys: list[str], lex: Lexicon) -> list[str]:
    """The attributes the words right after the amount name ("a 24 inch chest", "a 55 gallon
    tank"), or the word before its "of" ("a chest of 24 inches"); a word before it otherwise
    is what is asked for ("a tank under 20 gallons")."""
    after = _WORD.findall(text[a.end : a.end + 30])[:2]
    before = _WORD.findall(text[max(0, a.start - 25) : a.start])[-2:]
    of = before[:1] if before[1:] == ["of"] else []
    near = {singular(w) for w in (*after, *of)}
    return [k for k in keys if lex.measures.get(k, frozenset()) & near]


def _with_other_end(keys: list[str], lex: Lexicon) -> list[str]:
    """Each key, and the other end of its range when the catalog has one (the same words
    measured, the other role): "chest_min_cm" brings "chest_max_cm"."""
    out = list(keys)
    for key in keys:
        role, named = lex.roles.get(key), lex.measures.get(key)
        for other, other_role in lex.roles.items():
            if (
                role and other_role != role and other not in out
                and lex.measures.get(other) == named
                and UNITS[lex.units[other]].dimension == UNITS[lex.units[key]].dimension
            ):  # fmt: skip
                out.append(other)
    return out


def _plausible(keys: list[str], a: Amount, lex: Lexicon, categories: list[str]) -> list[str]:
    """The attributes the amount could be a value of, likeliest first: among those that the
    products of every category named have (the deepest ones: "dog shampoo" names the dogs'
    things and the shampoos, which share no measure), or all of them when none is named."""
    deepest = [c for c in categories if not any(o.startswith(c + " > ") for o in categories)]
    scope = [k for k in keys if all(_in(lex.where.get(k, frozenset()), [c]) for c in deepest)]
    return [k for k in _likeliest(scope, a, lex, categories, every=True) if _fits(k, a, lex)]


def _in(where: frozenset[str], categories: list[str]) -> bool:
    return any(w == c or w.startswith(c + " > ") for w in where for c in categories)


def _fits(key: str, a: Amount, lex: Lexicon) -> bool:
    low, high = lex.ranges.get(key, (0.0, 0.0))
    value = convert(a.value, a.unit, UNITS[lex.units[key]])
    span = max(high - low, abs(high), 1e-9)
    return value is not None and low - span <= value <= high + span


def _likeliest(
    keys: list[str], a: Amount, lex: Lexicon, categories: list[str], *, every: bool = False
) -> list[str]:
    """Of the attributes measured in the amount's dimension, the one whose values it could be
    (25,000 mm is a waterproof rating, not a length in cm), then one that the named category's
    products have, then the most used (`every`: all of them in that order)."""

    def fit(key: str) -> tuple[bool, bool, int]:
        named = _in(lex.where.get(key, frozenset()), categories)
        return (_fits(key, a, lex), named, -keys.index(key))

    ranked = sorted(keys, key=fit, reverse=True)
    return ranked if every else ranked[:1]


def _has_amount(used: list[tuple[int, int]], spans: list[tuple[int, int, str]], m: Match) -> bool:
    start, end = spans[m.start][0], spans[m.end - 1][1]
    return any(abs(s - end) <= 3 or abs(start - e) <= 3 for s, e in used)


def _number_beside(spans: list[tuple[int, int, str]], m: Match) -> tuple[int, int, float] | None:
    """A number just before the attribute's name ("2 person") or just after it ("size 10",
    "r value of 4")."""
    before = m.start - 1
    if before >= 0 and _is_number(spans[before][2]):
        return spans[before][0], spans[before][1], _value(spans[before][2])
    after = m.end
    if after < len(spans) and spans[after][2] in ("of", "is", "at"):
        after += 1
    if after < len(spans) and _is_number(spans[after][2]):
        return spans[after][0], spans[after][1], _value(spans[after][2])
    return None


_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "single": 1, "solo": 1, "double": 2,
}  # fmt: skip


def _is_number(word: str) -> bool:
    return word in _WORD_NUMBERS or bool(re.fullmatch(r"\d+(?:\.\d+)?", word))


def _value(word: str) -> float:
    return float(_WORD_NUMBERS.get(word, word))


def _range(
    text: str, start: int, end: int, value: float, *, exact: bool = False
) -> tuple[float | None, float | None]:
    before, after = text[max(0, start - 20) : start], text[end : end + 12]
    if _LESS.search(before) or _MINUS.match(after):
        return None, value
    if _MORE.search(before) or _PLUS.match(after):
        return value, None
    if exact:
        return value, value
    margin = abs(value) * ABOUT or 1.0
    return value - margin, value + margin


def prices(text: str, used: list[tuple[int, int]]) -> tuple[float | None, float | None]:
    """Price bounds: an amount of money, or a plain number after "under", "over",
    "between"... that no measure claimed."""
    low = high = None
    candidates: list[tuple[int, int, float, bool]] = []
    for m in _MONEY.finditer(text):
        raw = (m["a"] or m["b"]).replace(",", ".")
        candidates.append((m.start(), m.end(), float(raw), True))
    for m in _BARE_NUMBER.finditer(text):
        if not any(s <= m.start() < e for s, e, _, _ in candidates):
            candidates.append((m.start(), m.end(), float(m[0]), False))
    candidates.sort()
    for i, (start, end, value, money) in enumerate(candidates):
        if any(s <= start < e or s < end <= e for s, e in used):
            continue
        before = text[max(0, start - 20) : start]
        if _BETWEEN.search(before) and i + 1 < len(candidates):
            return value, candidates[i + 1][2]
        if _LESS.search(before):
            high = value
        elif _MORE.search(before):
            low = value
        elif money and _MINUS.match(text[end : end + 12]):
            high = value
        elif money and _PLUS.match(text[end : end + 12]):
            low = value
    return low, high

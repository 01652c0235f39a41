"""Numbers, times and quantities in the cache guard's queries (shared/cache/guard.py):
regular expressions compiled once, the readers that normalise what they match ("7 p.m." ->
"19:00", "1 kg" -> "1000g"), and the folding every text goes through first."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from shared.catalog.units import UNITS
from shared.catalog.units import WORDS as UNIT_WORDS
from shared.search.lexicon import US_STATES
from shared.text import fold as text_fold
from shared.text import tokens

MAX_CHARS = 2000  # user text is data: only this much of it is ever inspected
Reader = Callable[[re.Match[str]], list[tuple[str, str]]]


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SMALL = {w: i for i, w in enumerate(words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"))}  # fmt: skip
_TENS = {w: 10 * i for i, w in enumerate(words(
    "- - twenty thirty forty fifty sixty seventy eighty ninety")) if i > 1}  # fmt: skip
_ONES = "|".join(list(_SMALL)[1:10])
# "one" alone is mostly a pronoun ("the one with milk"): a number only before a unit.
_WORD_NUMBER = re.compile(
    rf"\b(?:(?P<hundreds>a|{_ONES})\s+hundred"
    rf"|(?P<tens>{'|'.join(_TENS)})(?:[\s-](?P<ones>{_ONES}))?"
    rf"|(?P<small>zero|{'|'.join(list(_SMALL)[2:])})|(?P<dozen>(?:a\s+)?dozen)"
    r"|(?P<one>one)(?=\s+(?:dollars?|bucks|pounds?|kgs?|kilos?|grams?|oz|ounces?|bags?|cups?"
    r"|shots?|am|pm|a\.m\.|p\.m\.|o'clock)\b))\b",
    re.IGNORECASE,
)
_REWRITES = (
    (re.compile(r"\bw/o\b", re.IGNORECASE), "without"),
    (re.compile(r"\bw/(?=\s)", re.IGNORECASE), "with"),
    (re.compile("&"), " and "),
)
TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
# Units of measure (shared/catalog/units.py: any the catalog module reads, but one-letter ones
# other than g and l, and "in", which are words too), money and percent.
_MEASURE_WORDS = sorted(
    (w for w in UNIT_WORDS if (len(w) > 1 or w in "gl") and w not in ("in", "'", '"')),
    key=len,
    reverse=True,
)
_UNIT = (
    r"\$|usd|dollars?|bucks|%|percent|(?:degrees?\s*|deg\s*|°\s*)?(?:"
    + "|".join(re.escape(w) for w in _MEASURE_WORDS)
    + ")"
)
_TIME_RELATION = r"before|by|earlier than|after|past|later than|until|till|til|at"
_RELATIONS = {"before": "<", "earlier than": "<", "by": "<=", "after": ">", "past": ">",
              "later than": ">", "until": "until", "till": "until", "til": "until"}  # fmt: skip
_OPTIONAL_RELATION = rf"(?:(?<![a-z])(?P<rel>{_TIME_RELATION}|from|around|about)\s+)?"
_HALF = (
    r"(?P<half>a\.?\s?m\.?|p\.?\s?m\.?|o'?clock|in the morning|in the afternoon|in the evening"
    r"|at night)(?![a-z])"
)
_ALL_DAY = re.compile(
    r"\b(?:24\s*/\s*7|24\s*-\s*7|24\s*hours?|24\s*hrs?|24h|a?round the clock|all night"
    r"|overnight|all day and night)(?![a-z0-9])"
)
_DAY_RANGE = re.compile(r"\bmon(?:day)?s?\s*(?:-|to|through|thru|till|until)\s*fri(?:day)?s?\b")
_AM_PM = re.compile(_OPTIONAL_RELATION + r"(?<![\d.:])(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*" + _HALF)
_CLOCK = re.compile(_OPTIONAL_RELATION + r"(?<![\d.:])(?P<h>\d{1,2}):(?P<m>\d{2})(?!\d)")
_NOON = re.compile(_OPTIONAL_RELATION + r"\b(?P<word>noon|midday|midnight)\b")
_BARE_HOUR = re.compile(  # "before 7": an hour only after a time word, and with no unit
    rf"(?<![a-z])(?P<rel>{_TIME_RELATION})\s+(?P<h>\d{{1,2}})(?![\d.,:])"
    rf"(?!\s*(?:{_UNIT}|bags?|cups?|st|nd|rd|th)(?![a-z]))"
)
_RANGE = re.compile(
    rf"(?<![a-z])(?:between|from)\s+\$?\s*(?P<a>{_NUM})\s*(?:(?P<u1>{_UNIT})(?![a-z]))?\s*"
    rf"(?:and|to|-)\s*\$?\s*(?P<b>{_NUM})\s*(?:(?P<u2>{_UNIT})(?![a-z]))?"
    rf"|\$\s*(?P<c>{_NUM})\s*(?:-|to)\s*\$?\s*(?P<d>{_NUM})"
)
_ORDINAL = re.compile(r"\b(?P<n>\d+)(?:st|nd|rd|th)\b")
_BOUNDS = {
    **dict.fromkeys(words("under below within max maximum < <="), "<"),
    **dict.fromkeys(("less than", "cheaper than", "lower than", "at most", "up to", "no more than",
                     "not more than", "or less", "or under", "or below", "and under",
                     "for less than", "for under", "for below", "for no more than"), "<"),
    **dict.fromkeys(words("over above min minimum plus > >= +"), ">"),
    **dict.fromkeys(("more than", "greater than", "higher than", "at least", "pricier than",
                     "more expensive than", "or more", "and up", "and above"), ">"),
    **dict.fromkeys(words("around about approximately approx roughly ~ ish"), "~"),
    "or so": "~",
}  # fmt: skip
_BEFORE_NUMBER = "|".join(sorted((re.escape(b) for b in _BOUNDS if not b.startswith(("or ", "and "))), key=len, reverse=True))  # fmt: skip  # noqa: E501
_QUANTITY = re.compile(
    # No "\s*" may start a match: on a long run of spaces (a masked detail) that is quadratic.
    rf"(?:(?<![a-z])(?P<rel>{_BEFORE_NUMBER})\s*)?(?:\$\s*)?"
    r"(?P<sign>(?<![\w.,-])-(?=\d)|\u2212|\bminus\s+(?=\d)|\bnegative\s+(?=\d))?"
    rf"(?<![\d.,])(?P<n>{_NUM})(?!\d)(?:-(?={_UNIT})|\s*)"
    rf"(?:(?P<unit>{_UNIT})(?![a-z]))?"
    r"(?:\s*(?P<post>or less|or under|or below|and under|or more|and up|and above|or so|plus"
    r"|\+|ish)(?![a-z])(?!\s*\$?\s*\d))?"  # "10 and under", not "10 and under 20"
)
_PERCENT = {"%", "percent"}
MORE_LESS = re.compile(r"\b(?P<dir>more|most|less|least|fewer|fewest)\s+(?P<word>[a-z]{3,})\b")
STATE_CODES = re.compile(  # "Portland, OR", "in TX": capitals tell a code from the word "or"
    r"(?:,\s*|\bin\s+)(?P<code>{})\b".format("|".join(sorted(set(US_STATES.values()))))
)
CLAUSE_BREAK = re.compile(r"[,.;:!?()]|\bbut\b")
OTHER_THAN = re.compile(r"\b(?:other|rather) than$")
SENTENCE_START = frozenset('.!?:;"(')


# -- parsing ----------------------------------------------------------------------------------


# Each dimension's base unit, in which amounts are compared.
BASE = {u.dimension: u.symbol for u in UNITS.values() if u.factor == 1.0 and u.offset == 0.0}


def fold(text: str) -> str:
    """Accents off, quotes straight (`shared.text.fold`), "w/o" and "&" spelled out, number
    words as digits; case kept (for proper nouns)."""
    text = text_fold(text[:MAX_CHARS])
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return _WORD_NUMBER.sub(_word_number, text)


def _word_number(m: re.Match[str]) -> str:
    g = {k: (v or "").lower() for k, v in m.groupdict().items()}
    if g["hundreds"]:
        return str(100 * _SMALL.get(g["hundreds"], 1))  # "a hundred"
    if g["tens"]:
        return str(_TENS[g["tens"]] + _SMALL.get(g["ones"], 0))
    return "12" if g["dozen"] else str(_SMALL[g["small"] or g["one"]])


def key(text: str) -> str:
    """A phrase as the lexicon stores it: folded, lower case, single-spaced words."""
    return " ".join(tokens(fold(text), TOKEN))


def _amount(number: str, unit: str | None, sign: str = "") -> str:
    """'10.50' -> '10.5'; '1 kg' -> '1000g', '2.2 lb' -> '997.9024g' (the dimension's base unit:
    `same_amounts` allows for rounding); money and bare numbers carry no unit."""
    value = Decimal(number.replace(",", "")) * (-1 if sign else 1)
    said = re.sub(r"^(?:degrees?|deg|°)\s*", "°", (unit or "").lower()).replace("°°", "°")
    if said in _PERCENT:
        return format(value.normalize(), "f") + "%"
    symbol = UNIT_WORDS.get(said) or UNIT_WORDS.get(said.lstrip("°"))
    if not symbol:
        return format(value.normalize(), "f")
    measure = UNITS[symbol]
    base = float(value) * measure.factor + measure.offset
    return f"{format(Decimal(repr(round(base, 4))).normalize(), 'f')}{BASE[measure.dimension]}"


def same_amounts(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two sets of amounts alike, allowing 2% for a measure said in another unit ("a 20 gallon
    tank" and "a 76 litre tank"; "15 kg" and "33 lb"), never for money or bare numbers."""
    if a == b:
        return True
    if len(a) != len(b):
        return False
    left = sorted(a - b)
    right = sorted(b - a)
    for x in left:
        match = next((y for y in right if _close(x, y)), None)
        if match is None:
            return False
        right.remove(match)
    return not right


_MEASURED = re.compile(r"(?P<rel>[<>~#]?)(?P<n>-?\d+(?:\.\d+)?)(?P<unit>[^\d.]+)$")


def coarse(amount: str) -> str:
    """A measure to two significant digits (what a role word's object is compared by; the
    amounts themselves are compared by `same_amounts`)."""
    m = _MEASURED.match(amount)
    if not m or m["unit"] == "%":
        return amount
    value = float(format(float(m["n"]), ".2g"))
    return f"{m['rel']}{value:g}{m['unit']}"


def _close(x: str, y: str) -> bool:
    mx, my = _MEASURED.match(x), _MEASURED.match(y)
    if not (mx and my) or (mx["rel"], mx["unit"]) != (my["rel"], my["unit"]):
        return False
    if mx["unit"] == "%":
        return False
    a, b = float(mx["n"]), float(my["n"])
    return abs(a - b) <= 0.02 * max(abs(a), abs(b))


def _clock(hour: str, minute: str | None, half: str | None) -> str | None:
    """'7', None, 'pm' -> '19:00'; a time whose half of the day is not said ends with '?'."""
    h, m = int(hour), int(minute or 0)
    if h > 24 or m > 59:
        return None
    period = re.sub(r"[.\s']", "", half or "")
    pm = period in ("pm", "intheafternoon", "intheevening", "atnight")
    am = period in ("am", "inthemorning")
    if pm and h < 12:
        h += 12
    elif am and h == 12:
        h = 0
    certain = am or pm or h > 12 or h == 0 or hour.startswith("0")
    return f"{h % 24:02d}:{m:02d}" + ("" if certain else "?")


def _times(m: re.Match[str]) -> list[tuple[str, str]]:
    groups = m.groupdict()
    value: str | None
    if groups.get("word"):
        value = "00:00" if groups["word"] == "midnight" else "12:00"
    else:
        value = _clock(groups["h"], groups.get("m"), groups.get("half"))
    if value is None:
        return []
    return [("times", _RELATIONS.get(groups.get("rel") or "", "@") + value)]


def _range(m: re.Match[str]) -> list[tuple[str, str]]:
    """'between $10 and $20' says what 'over $10 and under $20' says."""
    if m["c"]:
        return [("numbers", ">" + _amount(m["c"], None)), ("numbers", "<" + _amount(m["d"], None))]
    unit = m["u2"] or m["u1"]
    return [("numbers", ">" + _amount(m["a"], unit)), ("numbers", "<" + _amount(m["b"], unit))]


def _quantity(m: re.Match[str]) -> list[tuple[str, str]]:
    bound = _BOUNDS.get(m["post"] or m["rel"] or "", "")
    return [("numbers", bound + _amount(m["n"], m["unit"], m["sign"] or ""))]


PASSES: tuple[tuple[re.Pattern[str], Reader], ...] = (
    (_ALL_DAY, lambda m: [("times", "24h")]),
    (_DAY_RANGE, lambda m: [("times", "weekday")]),
    (_AM_PM, _times),
    (_CLOCK, _times),
    (_NOON, _times),
    (_BARE_HOUR, _times),
    (_RANGE, _range),
    (_ORDINAL, lambda m: [("numbers", "#" + str(int(m["n"])))]),
    (_QUANTITY, _quantity),
)

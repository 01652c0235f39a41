"""Numbers, times and quantities in the cache guard's queries (shared/cache/guard.py):
regular expressions compiled once, the readers that normalise what they match ("7 p.m." ->
"19:00", "1 kg" -> "1000g"), and the folding every text goes through first."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

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
_UNIT = (
    r"\$|usd|dollars?|bucks|kgs?|kilos?|kilograms?|grams?|g|gr|oz|ounces?|lbs?|pounds?|ml|l"
    r"|liters?|litres?|%|percent"
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
                     "not more than", "or less", "or under", "or below", "and under"), "<"),
    **dict.fromkeys(words("over above min minimum plus > >= +"), ">"),
    **dict.fromkeys(("more than", "greater than", "higher than", "at least", "pricier than",
                     "more expensive than", "or more", "and up", "and above"), ">"),
    **dict.fromkeys(words("around about approximately approx roughly ~ ish"), "~"),
    "or so": "~",
}  # fmt: skip
_BEFORE_NUMBER = "|".join(sorted((re.escape(b) for b in _BOUNDS if not b.startswith(("or ", "and "))), key=len, reverse=True))  # fmt: skip  # noqa: E501
_QUANTITY = re.compile(
    # No "\s*" may start a match: on a long run of spaces (a masked detail) that is quadratic.
    rf"(?:(?<![a-z])(?P<rel>{_BEFORE_NUMBER})\s*)?(?:\$\s*)?(?<![\d.,])(?P<n>{_NUM})(?!\d)\s*"
    rf"(?:(?P<unit>{_UNIT})(?![a-z]))?"
    r"(?:\s*(?P<post>or less|or under|or below|and under|or more|and up|and above|or so|plus"
    r"|\+|ish)(?![a-z])(?!\s*\$?\s*\d))?"  # "10 and under", not "10 and under 20"
)
_UNITS = {**dict.fromkeys(words("kg kgs kilo kilos kilogram kilograms"), ("g", 1000)),
          **dict.fromkeys(words("g gr gram grams"), ("g", 1)),
          **dict.fromkeys(words("oz ounce ounces"), ("oz", 1)),
          **dict.fromkeys(words("lb lbs pound pounds"), ("lb", 1)),
          **dict.fromkeys(words("l liter liters litre litres"), ("ml", 1000)),
          "ml": ("ml", 1), "%": ("%", 1), "percent": ("%", 1)}  # fmt: skip
MORE_LESS = re.compile(r"\b(?P<dir>more|most|less|least|fewer|fewest)\s+(?P<word>[a-z]{3,})\b")
STATE_CODES = re.compile(  # "Portland, OR", "in TX": capitals tell a code from the word "or"
    r"(?:,\s*|\bin\s+)(?P<code>{})\b".format("|".join(sorted(set(US_STATES.values()))))
)
CLAUSE_BREAK = re.compile(r"[,.;:!?()]|\bbut\b")
OTHER_THAN = re.compile(r"\b(?:other|rather) than$")
SENTENCE_START = frozenset('.!?:;"(')


# -- parsing ----------------------------------------------------------------------------------


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


def _amount(number: str, unit: str | None) -> str:
    """'10.50' -> '10.5'; '1 kg' -> '1000g'; money and bare numbers carry no unit."""
    suffix, factor = _UNITS.get((unit or "").lower(), ("", 1))
    value = Decimal(number.replace(",", "")) * factor
    return format(value.normalize(), "f") + suffix


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
    return [("numbers", bound + _amount(m["n"], m["unit"]))]


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

"""The guard of the semantic response cache: a cached answer is reused for a new query only when
the two are close in embedding space *and* say the same critical details (numbers, times, places,
names, negations, comparatives, roast, kind, amenity...). Embeddings rate "under $10" and
"under $15" as near twins; the details keep their answers apart. Pure and fast: no model calls,
no store access, regular expressions compiled once, and at most MAX_CHARS of text inspected."""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, NamedTuple

from shared import hints as hintlib
from shared.ai.local_embedder import LocalEmbedder

# Calibrated for the offline model on data/cache/dev_pairs.jsonl (method and figures:
# docs/cache.md): the highest similarity of a dev near-duplicate that the details let through,
# plus 0.05, rounded up to a multiple of 0.05; once for queries with details, once without.
SEMANTIC_MIN_SIMILARITY = 0.75  # the query has critical details, and the guard checks them
DETAIL_LESS_MIN_SIMILARITY = 0.90  # "do you like coffee?": nothing to check, the embedding decides
# Another model's cosine scale is unknown here: only near-identical wording may share answers.
DEFAULT_MIN_SIMILARITY = 0.95
_FLOORS = {LocalEmbedder.model_id: (SEMANTIC_MIN_SIMILARITY, DETAIL_LESS_MIN_SIMILARITY)}
MAX_CHARS = 2000  # user text is data: only this much of it is ever inspected


def min_similarity(model_id: str, *, has_details: bool = True) -> float:
    """The cosine floor for a semantic candidate made by this embedding model; higher for a
    query without critical details, where no detail check backs the embedding up."""
    floors = _FLOORS.get(model_id)
    if floors is None:
        return DEFAULT_MIN_SIMILARITY
    return floors[0] if has_details else floors[1]


@dataclass(frozen=True)
class Details:
    """The critical details of one query, normalised; two queries with different details have
    different answers however close their embeddings are. Field order is `reason`'s order."""

    numbers: frozenset[str] = frozenset()  # "10", "<15", ">30", "250g", "#2"
    times: frozenset[str] = frozenset()  # "sunday", "weekend", "<07:00", "@19:00", "late", "24h"
    places: frozenset[str] = frozenset()  # cities, "state:tx", origins, regions, streets
    names: frozenset[str] = frozenset()  # products, "shop:uptown", "~copper" (a coffee line)
    negated: frozenset[str] = frozenset()  # details said under a negation ("without milk")
    comparatives: frozenset[str] = frozenset()  # "price_low", "size_high", "more:acidic"...
    roasts: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()  # beans, ground, pods, tea, grinder, gift card...
    amenities: frozenset[str] = frozenset()
    flavours: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()  # milk, sugar, decaf/caffeinated, iced, process...
    asks: frozenset[str] = frozenset()  # what is asked: price, open, close, contact, refunds...
    others: frozenset[str] = frozenset()  # capitalised words nothing above knows ("Lavazza")


class _Mark(NamedTuple):
    field: str
    value: str
    start: int
    end: int
    negated: bool = False


_Entry = tuple[str, str, bool]  # field, value, said negatively ("unsweetened")
_Reader = Callable[[re.Match[str]], list[tuple[str, str]]]
_Lexicon = tuple[dict[str, _Entry], dict[str, int]]  # phrases; longest phrase by first word


# -- the fixed vocabulary: what shoppers say, beyond the catalog's own names ----------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _same(field: str, value: str, *phrases: str) -> dict[str, _Entry]:
    """Phrases that all mean one value ("cheapest", "least expensive" -> price_low)."""
    return dict.fromkeys(phrases, (field, value, False))


def _each(field: str, *words: str) -> dict[str, _Entry]:
    """Words that are their own value."""
    return {w: (field, w, False) for w in words}


def _gradable(*adjectives: str) -> dict[str, _Entry]:
    """'sweeter', 'most sweet' -> more:sweet; 'less sweet' -> less:sweet; 'sweet' -> a feature."""
    out: dict[str, _Entry] = {}
    for adj in adjectives:
        stem = adj[:-1] + "i" if adj.endswith("y") else adj
        out |= _same("comparatives", f"more:{adj}", f"{stem}er", f"{stem}est", f"more {adj}",
                     f"most {adj}")  # fmt: skip
        out |= _same("comparatives", f"less:{adj}", f"less {adj}", f"least {adj}")
        out[adj] = ("features", adj, False)
    return out


_DAYS = _words("monday tuesday wednesday thursday friday saturday sunday")
_DAY_ABBREVIATIONS = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3,
                      "thurs": 3, "fri": 4, "sat": 5, "sun": 6}  # fmt: skip
_ORDINAL_WORDS = _words("first second third fourth fifth sixth seventh eighth")
_TIMES: dict[str, _Entry] = {
    **_each("times", *_DAYS, "today", "tonight", "tomorrow", "yesterday", "morning", "afternoon",
            "evening", "night", "weekend", "weekday", "holiday", "christmas", "thanksgiving",
            "easter"),
    **{a: ("times", _DAYS[i], False) for a, i in _DAY_ABBREVIATIONS.items()},
    **_same("times", "now", "now", "right now", "currently", "at the moment"),
    **_same("times", "early", "early", "earlier", "earliest", "first thing"),
    **_same("times", "late", "late", "later", "latest"),
    **_same("times", "new year", "new year", "new years", "new year's", "new year's eve"),
    **_same("times", "weekend", "the weekend", "weekends"),
}  # fmt: skip
# Degree is dropped on purpose ("cheap" = "cheaper" = "cheapest"); direction never is.
_COMPARATIVES: dict[str, _Entry] = {
    **_same("comparatives", "price_low", "cheap", "cheaper", "cheapest", "inexpensive",
            "affordable", "most affordable", "least expensive", "less expensive", "lowest price",
            "lowest priced", "low price", "budget", "cost the least", "costs the least",
            "bargain", "least pricey", "less pricey"),
    **_same("comparatives", "price_high", "expensive", "pricey", "pricier", "priciest",
            "most expensive", "more expensive", "costliest", "highest price", "highest priced",
            "premium", "luxury", "fanciest", "cost the most", "costs the most"),
    **_same("comparatives", "strength_high", "strong", "stronger", "strongest", "bold", "bolder",
            "boldest", "intense", "most caffeine", "more caffeine", "highest caffeine", "punchy"),
    **_same("comparatives", "strength_low", "mild", "milder", "mildest", "weak", "weaker",
            "weakest", "gentle", "least caffeine", "less caffeine", "lowest caffeine",
            "least strong", "less strong"),
    **_same("comparatives", "size_high", "big", "bigger", "biggest", "large", "larger", "largest",
            "huge"),
    **_same("comparatives", "size_low", "small", "smaller", "smallest", "tiny", "compact"),
    # "best" and "favourite" ask for a recommendation, which every answer is; popularity is not.
    **_same("comparatives", "popular", "top rated", "highest rated", "best selling",
            "bestseller", "best seller", "most popular", "popular"),
    **_same("comparatives", "worst", "worst", "least popular", "worst selling", "lowest rated"),
    **_same("comparatives", "near", "nearest", "closest", "near", "nearby", "close to",
            "close by", "closer", "near me", "around here"),
    **_same("comparatives", "far", "farthest", "furthest", "far", "far away", "further"),
    **_same("comparatives", "new", "new", "newest", "newer", "recent", "most recent",
            "just arrived"),
    **_same("comparatives", "old", "old", "oldest", "older"),
    **_gradable("sweet", "bitter", "acidic", "smooth", "rich", "bright", "fresh", "creamy",
                "healthy", "quiet", "busy", "fruity", "nutty"),
}  # fmt: skip
_PRODUCTS: dict[str, _Entry] = {
    **_same("roasts", "light", "light", "lighter", "lightest", "lightly roasted", "blonde"),
    **_same("roasts", "dark", "dark", "darker", "darkest", "french roast"),
    **_same("roasts", "medium", "medium"),
    **_same("roasts", "medium-dark", "medium dark"),
    **_same("kinds", "beans", "bean", "whole bean"),
    **_same("kinds", "ground", "ground", "grounds", "pre ground", "preground"),
    **_same("kinds", "pods", "pod", "capsule", "k cup", "kcup", "nespresso", "keurig"),
    **_same("kinds", "equipment", "equipment", "gear", "accessory", "tool", "brewing equipment"),
    **_same("kinds", "drink", "drink", "beverage"),
    **_same("kinds", "gift card", "gift card", "giftcard", "gift certificate", "voucher"),
    **_same("kinds", "brewer", "brewer", "dripper"),
    **_same("kinds", "food", "food", "snack", "meal"),
    **_same("kinds", "merch", "merch", "merchandise", "t shirt", "tshirt", "shirt"),
    **_each("kinds", "instant", "tea", "mug", "cup", "grinder", "kettle", "filter", "scale",
            "machine", "syrup", "subscription", "gift", "sample", "pastry", "sandwich",
            "croissant", "muffin", "bagel", "cookie", "cake"),
    # Caffeine is one axis (see _resolve): "caffeine-free" and "not caffeinated" are decaf.
    **_same("features", "decaf", "decaf", "decaffeinated", "uncaffeinated", "noncaffeinated"),
    **_same("features", "caffeinated", "caffeinated", "caffeine", "regular", "full caf",
            "caffeine content"),
    **_same("features", "half-caf", "half caf", "half caff"),
    **_same("features", "temp:cold", "iced", "ice", "cold", "chilled", "on ice"),
    **_same("features", "temp:hot", "hot", "warm", "steaming"),
    **_same("features", "milk:oat", "oat", "oat milk", "oatmilk"),
    **_same("features", "milk:almond", "almond milk"),
    **_same("features", "milk:soy", "soy", "soy milk", "soymilk"),
    **_same("features", "milk:skim", "skim", "skimmed", "skim milk", "nonfat milk"),
    **_same("features", "milk:whole", "whole milk"),
    **_same("features", "vegan", "vegan", "plant based"),
    **_same("features", "sweet", "sweetened"),
    "unsweetened": ("features", "sweet", True),
    **_same("features", "dislike", "dislike", "hate", "hated", "detest", "loathe", "don't like",
            "do not like", "not a fan"),
    **_each("features", "milk", "cream", "sugar", "sweetener", "dairy", "lactose", "gluten",
            "nuts", "foam", "shot", "whipped cream", "organic", "fair trade", "single origin",
            "seasonal", "limited edition", "direct trade", "shade grown", "electric", "stovetop",
            "manual", "automatic", "induction", "glass", "ceramic", "stainless steel", "plastic",
            "reusable"),
    **_same("features", "process:natural", "natural process", "naturally processed",
            "natural processed", "natural processing"),
    **_same("features", "process:honey", "honey process", "honey processed"),
    **_same("features", "process:washed", "washed process", "wet processed", "washed"),
    **_same("features", "process:anaerobic", "anaerobic", "anaerobic natural"),
    **_same("flavours", "fruit", "fruity", "fruit", "fruitiness"),
    **_same("flavours", "chocolate", "chocolate", "chocolatey", "chocolaty"),
    **_same("flavours", "nut", "nutty", "nut"),
    **_each("flavours", "floral", "citrus", "berry", "vanilla", "smoky", "spicy", "caramel"),
    **_same("amenities", "parking", "park"),
    **_same("amenities", "restroom", "restroom", "bathroom", "toilet", "washroom"),
}  # fmt: skip
# What is asked about. "where" and "when" are left out: a shop's answer gives both anyway.
_ASKS: dict[str, _Entry] = {
    **_same("asks", "price", "price", "pricing", "cost", "how much", "how expensive"),
    **_same("asks", "hours", "hours", "opening hours", "open hours", "opening times", "schedule",
            "business hours"),
    **_same("asks", "open", "open", "opens", "opening", "opening time"),
    **_same("asks", "close", "close", "closes", "closing", "closed", "closing time", "shut"),
    **_same("asks", "contact", "phone number", "telephone", "call", "contact", "email"),
    **_same("asks", "caffeine amount", "how much caffeine", "caffeine level"),
    **_same("asks", "ingredients", "ingredient", "made of", "made with", "made from",
            "goes into", "what's in", "what is in", "recipe"),
    **_same("asks", "size", "how heavy", "weight", "weigh", "how big", "size", "how many grams",
            "how large"),
    **_same("asks", "count", "how many"),
    **_same("asks", "how-to", "how do i", "how to", "how should i", "how can i"),
    **_same("asks", "shipping", "ship", "shipping", "deliver", "delivery"),
    **_same("asks", "returns", "return", "refund", "exchange", "return policy"),
    **_same("asks", "payment", "pay", "payment"),
    **_same("asks", "rewards", "loyalty", "rewards", "points", "loyalty program"),
    **_same("asks", "discount", "discount", "coupon", "promo", "promo code", "deal"),
    **_same("asks", "owner", "owns", "owner", "owned"),
    **_same("asks", "founder", "founded", "founder"),
    **_same("asks", "accuracy", "accuracy", "accurate", "precise"),
    **_same("asks", "age", "age", "how old"),
    **_each("asks", "who", "why", "privacy", "warranty", "reservation", "job", "catering",
            "wholesale", "franchise", "calories", "allergens", "joke", "poem", "story", "riddle",
            "song", "cash", "card", "credit card", "paypal", "apple pay", "google pay", "venmo",
            "bitcoin", "wrapping", "gift wrapping"),
}  # fmt: skip
_STATIC: dict[str, _Entry] = {
    **_TIMES,
    **{w: ("numbers", f"#{i + 1}", False) for i, w in enumerate(_ORDINAL_WORDS)},
    **_COMPARATIVES,
    **_PRODUCTS,
    **_ASKS,
}
_NEGATORS = frozenset(_words(
    "no not without non never except excluding exclude minus sans nothing none neither nor "
    "don't doesn't didn't isn't aren't wasn't won't can't cannot dont doesnt isnt arent cant "
    "avoid avoiding instead allergic intolerant zero hold skip"))  # fmt: skip
_POST_NEGATORS = frozenset({"free"})  # "dairy-free", "caffeine free"
_STOPWORDS = frozenset(_words(
    "a an the i i'm i'd me my we our you your yours it its it's is are was were be been am do "
    "does did have has had can could would should will shall may might must to of in on at by "
    "for from with about as into than then this that these those there here what what's which "
    "who how how's where when why and or but if so not no yes any some all each every more most "
    "less very too also just only please thanks thank hi hello hey ok okay cymbal coffee coffees "
    "shop shops store stores cafe cafes location locations branch place get got tell give show "
    "find want need like looking recommend suggest sell carry offer available stock buy order "
    "one ones something anything"))  # fmt: skip
_SHOP_WORDS = frozenset(_words("cymbal coffee cafe shop store the co"))
# Words of coffee names too common to name a coffee line on their own ("a lot", "the story").
_NAME_GENERIC = _STOPWORDS | frozenset(_words(
    "roast blend lot select reserve classic story harvest bloom crema decaf old town wild quiet "
    "golden river"))  # fmt: skip
_STREET_SUFFIXES = {"ave": ("ave", "avenue"), "avenue": ("ave", "avenue"), "st": ("st", "street"),
                    "street": ("st", "street"), "dr": ("dr", "drive"), "drive": ("dr", "drive"),
                    "rd": ("rd", "road"), "road": ("rd", "road"), "blvd": ("blvd", "boulevard"),
                    "way": ("way",), "ln": ("ln", "lane"), "pl": ("pl", "place")}  # fmt: skip
_ALIASES = {"caffe latte": ("latte", "cafe latte"), "aeropress": ("aero press",),
            "conical burr grinder": ("burr grinder",), "nitro cold brew": ("nitro",),
            "pour over dripper": ("dripper",), "milk frother": ("frother",),
            "moka pot": ("moka",)}  # fmt: skip
_AMBIGUOUS_PLACES = frozenset({"java"})  # "a cup of java" names no origin


# -- numbers, times and quantities: regular expressions, compiled once ----------------------

_SMALL = {w: i for i, w in enumerate(_words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"))}  # fmt: skip
_TENS = {w: 10 * i for i, w in enumerate(_words(
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
    (re.compile("[\u2018\u2019\u02bc`\u00b4]"), "'"),
    (re.compile(r"\bw/o\b", re.IGNORECASE), "without"),
    (re.compile(r"\bw/(?=\s)", re.IGNORECASE), "with"),
    (re.compile("&"), " and "),
)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
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
    **dict.fromkeys(_words("under below within max maximum < <="), "<"),
    **dict.fromkeys(("less than", "cheaper than", "lower than", "at most", "up to", "no more than",
                     "not more than", "or less", "or under", "or below", "and under"), "<"),
    **dict.fromkeys(_words("over above min minimum plus > >= +"), ">"),
    **dict.fromkeys(("more than", "greater than", "higher than", "at least", "pricier than",
                     "more expensive than", "or more", "and up", "and above"), ">"),
    **dict.fromkeys(_words("around about approximately approx roughly ~ ish"), "~"),
    "or so": "~",
}  # fmt: skip
_BEFORE_NUMBER = "|".join(sorted((re.escape(b) for b in _BOUNDS if not b.startswith(("or ", "and "))), key=len, reverse=True))  # fmt: skip  # noqa: E501
_QUANTITY = re.compile(
    rf"(?:(?<![a-z])(?P<rel>{_BEFORE_NUMBER})\s*)?\$?\s*(?<![\d.,])(?P<n>{_NUM})(?!\d)\s*"
    rf"(?:(?P<unit>{_UNIT})(?![a-z]))?"
    r"(?:\s*(?P<post>or less|or under|or below|and under|or more|and up|and above|or so|plus"
    r"|\+|ish)(?![a-z])(?!\s*\$?\s*\d))?"  # "10 and under", not "10 and under 20"
)
_UNITS = {**dict.fromkeys(_words("kg kgs kilo kilos kilogram kilograms"), ("g", 1000)),
          **dict.fromkeys(_words("g gr gram grams"), ("g", 1)),
          **dict.fromkeys(_words("oz ounce ounces"), ("oz", 1)),
          **dict.fromkeys(_words("lb lbs pound pounds"), ("lb", 1)),
          **dict.fromkeys(_words("l liter liters litre litres"), ("ml", 1000)),
          "ml": ("ml", 1), "%": ("%", 1), "percent": ("%", 1)}  # fmt: skip
_MORE_LESS = re.compile(r"\b(?P<dir>more|most|less|least|fewer|fewest)\s+(?P<word>[a-z]{3,})\b")
_STATE_CODES = re.compile(  # "Portland, OR", "in TX": capitals tell a code from the word "or"
    r"(?:,\s*|\bin\s+)(?P<code>{})\b".format("|".join(sorted(set(hintlib.US_STATES.values()))))
)
_CLAUSE_BREAK = re.compile(r"[,.;:!?()]|\bbut\b")
_OTHER_THAN = re.compile(r"\b(?:other|rather) than$")
_SENTENCE_START = frozenset('.!?:;"(')


# -- parsing ----------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Accents off, quotes straight, number words as digits; case kept (for proper nouns)."""
    text = unicodedata.normalize("NFKD", text[:MAX_CHARS])
    text = "".join(c for c in text if not unicodedata.combining(c))
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


def _key(text: str) -> str:
    """A phrase as the lexicon stores it: folded, lower case, single-spaced words."""
    return " ".join(_TOKEN.findall(_fold(text).lower()))


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


def _more_or_less(m: re.Match[str]) -> list[tuple[str, str]]:
    """'more acidic' / 'less acidic' for adjectives the vocabulary does not list."""
    if m["word"] in _STOPWORDS:
        return []
    return [("comparatives", ("more:" if m["dir"] in ("more", "most") else "less:") + m["word"])]


_PASSES: tuple[tuple[re.Pattern[str], _Reader], ...] = (
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


class _Scan:
    """One reading of one text: each detail found is masked out of the text left to read."""

    def __init__(self, lower: str) -> None:
        self.masked = lower
        self.marks: list[_Mark] = []

    def take(self, field: str, value: str, start: int, end: int, negated: bool = False) -> None:
        self.marks.append(_Mark(field, value, start, end, negated))
        self.masked = self.masked[:start] + " " * (end - start) + self.masked[end:]

    def sub(self, pattern: re.Pattern[str], read: _Reader) -> None:
        for m in list(pattern.finditer(self.masked)):
            for field, value in read(m):
                self.take(field, value, m.start(), m.end())

    def tag(self, lexicon: _Lexicon) -> list[re.Match[str]]:
        """Longest-first phrase lookup over the words left; returns the words no phrase took."""
        phrases, longest = lexicon
        tokens = list(_TOKEN.finditer(self.masked))
        left: list[re.Match[str]] = []
        i = 0
        while i < len(tokens):
            most = max(longest.get(v, 0) for v in _variants(tokens[i][0]))
            for n in range(min(most, len(tokens) - i), 0, -1):
                phrase = " ".join(t[0] for t in tokens[i : i + n])
                entry = next((phrases[v] for v in _variants(phrase) if v in phrases), None)
                if entry is not None:
                    self.take(*entry[:2], tokens[i].start(), tokens[i + n - 1].end(), entry[2])
                    i += n
                    break
            else:
                left.append(tokens[i])
                i += 1
        return left


def _variants(phrase: str) -> tuple[str, ...]:
    """The phrase, then its last word singular: 'sundays' -> 'sunday', 'pastries' -> 'pastry'."""
    if phrase.endswith("'s"):  # "Chicago Station's hours"
        return (phrase, phrase[:-2])
    if len(phrase) < 4 or phrase[-1] != "s" or phrase.endswith("ss"):
        return (phrase,)
    if phrase.endswith("ies"):
        return (phrase, phrase[:-3] + "y", phrase[:-1])
    return (phrase, phrase[:-1], phrase[:-2]) if phrase.endswith("es") else (phrase, phrase[:-1])


def _negate(lower: str, marks: list[_Mark]) -> list[_Mark]:
    """A detail within three words after 'no', 'not', 'without'... in the same clause, or right
    before '-free', is said negatively ('not unsweetened' is sweet again)."""
    tokens = list(_TOKEN.finditer(lower))
    starts, ends = [t.start() for t in tokens], [t.end() for t in tokens]
    out = []
    for mark in marks:
        negated = mark.negated
        last = bisect.bisect_right(ends, mark.start)
        for t in reversed(tokens[max(0, last - 3) : last]):
            if _CLAUSE_BREAK.search(lower, t.end(), mark.start):
                break
            if t[0] in _NEGATORS or (t[0] == "than" and _OTHER_THAN.search(lower, 0, t.end())):
                negated = not mark.negated
                break
        after = bisect.bisect_left(starts, mark.end)
        if after < len(tokens) and tokens[after][0] in _POST_NEGATORS:
            negated = negated or not lower[mark.end : starts[after]].strip(" -")
        out.append(mark._replace(negated=negated))
    return out


def _resolve(mark: _Mark) -> tuple[str, str, bool]:
    """Caffeine is one axis: 'not decaf' is caffeinated and 'caffeine-free' is decaf."""
    if mark.field == "features" and mark.value in ("decaf", "caffeinated"):
        flipped = "caffeinated" if mark.value == "decaf" else "decaf"
        return mark.field, flipped if mark.negated else mark.value, False
    return mark.field, mark.value, mark.negated


def _tidy(values: dict[str, set[str]], city_states: Mapping[str, str]) -> None:
    """Saturday and Sunday are the weekend; 'Seattle, WA' is Seattle."""
    days = values["times"]
    if {"saturday", "sunday"} <= days:
        days -= {"saturday", "sunday"}
        days.add("weekend")
    values["places"] -= {city_states[p] for p in values["places"] if p in city_states}


# -- the guard --------------------------------------------------------------------------------

_FIELDS = tuple(f.name for f in fields(Details))
_NO_DETAILS = Details()


class Guard:
    """Tells a paraphrase of a cached query from a near-duplicate with another answer, with the
    catalog's own names, places and vocabulary. Build it once per catalog version."""

    def __init__(
        self,
        names: Mapping[str, _Entry],
        lexicon: Mapping[str, _Entry],
        city_states: Mapping[str, str],
    ) -> None:
        self._names, self._lexicon = _indexed(names), _indexed(lexicon)
        self._city_states = dict(city_states)
        phrases = (*names, *lexicon)
        self._known = frozenset(word for phrase in phrases for word in phrase.split())
        # Each turn checks one query against several candidates: parse each text once.
        self._details = functools.lru_cache(maxsize=4096)(self._parse)

    @classmethod
    def build(
        cls, products: Iterable[Mapping[str, Any]], shops: Iterable[Mapping[str, Any]]
    ) -> Guard:
        """From catalog records (the products.jsonl / shops.jsonl format)."""
        products, shops = list(products), list(shops)
        gazetteer = hintlib.Gazetteer.build(products, shops)
        city_states = {
            _key(str(s.get("city", ""))): f"state:{s['state']}".lower()
            for s in shops
            if s.get("state")
        }
        names = _product_names(products) | _streets(shops)
        return cls(names, _lexicon(products, gazetteer), city_states)

    def details(self, text: str) -> Details:
        """The critical details of `text` (of its first MAX_CHARS characters)."""
        return self._details(text[:MAX_CHARS])

    def same_question(
        self, query: str, cached_query: str, similarity: float, *, model_id: str
    ) -> bool:
        """May `query` reuse the answer cached for `cached_query`? Close enough for this model's
        embeddings (NaN never is), and not one critical detail apart."""
        has_details = self.details(query) != _NO_DETAILS
        if not similarity >= min_similarity(model_id, has_details=has_details):
            return False
        return self.reason(query, cached_query) is None

    def reason(self, query: str, cached_query: str) -> str | None:
        """The first kind of detail that differs ("numbers", "places"...), None if none: a field
        name only, so that logs never carry the user's words."""
        mine, theirs = self.details(query), self.details(cached_query)
        return next((f for f in _FIELDS if getattr(mine, f) != getattr(theirs, f)), None)

    def _parse(self, text: str) -> Details:
        """Catalog names first (a 'Midnight Blend' is no time), then times and quantities, then
        every other phrase; what is left may hold a proper noun."""
        cased = _fold(text)
        lower = cased.lower()
        if len(lower) != len(cased):  # a rare letter changed length in lower case
            cased = lower
        scan = _Scan(lower)
        scan.tag(self._names)
        for m in _STATE_CODES.finditer(cased):
            scan.take("places", f"state:{m['code'].lower()}", m.start("code"), m.end("code"))
        for pattern, read in _PASSES:
            scan.sub(pattern, read)
        left = scan.tag(self._lexicon)
        scan.sub(_MORE_LESS, _more_or_less)
        values: dict[str, set[str]] = {f: set() for f in _FIELDS}
        for mark in _negate(lower, scan.marks):
            field, value, negated = _resolve(mark)
            values[field].add(value)
            if negated:
                values["negated"].add(value)
        values["others"] = self._proper_nouns(cased, left)
        _tidy(values, self._city_states)
        return Details(**{f: frozenset(v) for f, v in values.items()})

    def _proper_nouns(self, cased: str, left: list[re.Match[str]]) -> set[str]:
        """Capitalised words mid-sentence that nothing else knows: a brand, a town, a person.
        None in Title Cased or SHOUTED text, where capitals say nothing."""
        words = [t for t in _TOKEN.finditer(cased.lower()) if t[0][0].isalpha()]
        if len(words) >= 3 and 2 * sum(cased[t.start()].isupper() for t in words) > len(words):
            return set()
        return {
            t[0]
            for t in left
            if cased[t.start()].isupper()
            and t[0] not in _STOPWORDS
            and t[0] not in self._known
            and cased[: t.start()].rstrip()[-1:] not in _SENTENCE_START | {""}
        }


def _indexed(phrases: Mapping[str, _Entry]) -> _Lexicon:
    """The phrases, and the longest phrase each first word begins: most words begin none."""
    phrases = {k: v for k, v in phrases.items() if k}
    longest: dict[str, int] = {}
    for phrase in phrases:
        first, *rest = phrase.split()
        longest[first] = max(longest.get(first, 0), 1 + len(rest))
    return phrases, longest


def _product_names(products: list[Mapping[str, Any]]) -> dict[str, _Entry]:
    """Each product's name, and a short form when it names no other product ('Orchard Bloom'
    for 'Orchard Bloom Decaf', 'paper filters' for 'Paper Filters (100)', 'latte')."""
    raw = sorted({str(p.get("name", "")) for p in products})
    full = {_key(name) for name in raw} - {""}
    names: dict[str, _Entry] = {n: ("names", n, False) for n in full}
    for name in raw:
        key = _key(name)
        short = {re.sub(r" decaf$", "", key), _key(re.sub(r"\(.*?\)", "", name))}
        for alias in sorted(short | set(_ALIASES.get(key, ())) - full - {""}):
            names.setdefault(alias, ("names", key, False))
    return names


def _streets(shops: list[Mapping[str, Any]]) -> dict[str, _Entry]:
    """Street names of shop addresses, with 'Ave' or 'Avenue' ('Lake Shore' and 'Broadway' also
    alone)."""
    streets: dict[str, _Entry] = {}
    for shop in shops:
        m = re.match(r"\s*\d+[a-z]?\s+([^,]+)", _fold(str(shop.get("address", ""))).lower())
        words = _TOKEN.findall(m[1]) if m else []
        suffixes = _STREET_SUFFIXES.get(words[-1], ()) if words else ()
        base = " ".join(words[:-1] if suffixes else words)
        if not base:
            continue
        value = "street:" + " ".join([base, *suffixes[:1]])
        streets.update({f"{base} {s}": ("places", value, False) for s in suffixes})
        if not suffixes or " " in base:
            streets[base] = ("places", value, False)
    return streets


def _lexicon(products: list[Mapping[str, Any]], gaz: hintlib.Gazetteer) -> dict[str, _Entry]:
    """Every phrase but product names, lowest priority first: a later entry wins a clash."""
    lexicon: dict[str, _Entry] = {}
    for p in products:  # coffees come in lines ("the Copper ones"); drink names are plain words
        if p.get("kind") == "coffee":
            for word in set(_key(str(p.get("name", ""))).split()) - _NAME_GENERIC:
                lexicon[word] = ("names", "~" + word, False)
    for shop in gaz.shops:
        for word in shop.name_words - set(_key(shop.city).split()) - _SHOP_WORDS:
            lexicon[word] = ("names", "shop:" + word, False)
    lexicon.update(_STATIC)
    for phrase, value in _places(gaz).items():
        if phrase not in _AMBIGUOUS_PLACES:
            lexicon[_key(phrase)] = ("places", value, False)
    lexicon.update({_key(k): ("flavours", _key(v), False) for k, v in gaz.notes.items()})
    lexicon.update({_key(k): ("amenities", v.lower(), False) for k, v in gaz.amenities.items()})
    for roast in gaz.roasts:
        for form in ("roast", "roasted"):
            lexicon[_key(f"{roast} {form}")] = ("roasts", _key(roast).replace(" ", "-"), False)
    return lexicon


def _places(gaz: hintlib.Gazetteer) -> dict[str, str]:
    """Cities, states, origins and regions (the catalog's and others): 'kenyan' -> 'kenya'."""
    places: dict[str, str] = {}
    for origin in hintlib.OTHER_ORIGINS:
        places[origin] = places[hintlib.DEMONYMS.get(origin, origin)] = origin
    places.update({p: p for p in hintlib.OTHER_PLACES})
    places.update({n: f"state:{c}".lower() for n, c in hintlib.US_STATES.items()})
    places.update({k: f"state:{v}".lower() for k, v in gaz.states.items() if len(k) > 2})
    places.update({k: _key(v) for k, v in (*gaz.cities.items(), *gaz.origins.items())})
    return places

"""Structured hints in a shopper's words: a price bound, decaf, a roast, an origin, a city or
state, amenities, opening days and times, a named shop. Words are matched against what the
catalog itself holds (its cities, origins, roasts, amenities and shop names), not a fixed list."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.text import tokens

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_NUMBER = r"\$?\s*(\d+(?:\.\d+)?)\s*(?:\$|usd|dollars?|bucks)?"
_MAX_PRICE = re.compile(
    r"(?:under|below|less than|cheaper than|at most|max(?:imum)?|up to|no more than|within|<=?)"
    r"\s*" + _NUMBER
)
_MIN_PRICE = re.compile(
    r"(?:over|above|more than|at least|min(?:imum)?|pricier than|>=?)\s*" + _NUMBER
)
_BETWEEN = re.compile(r"between\s*" + _NUMBER + r"\s*(?:and|-|to)\s*" + _NUMBER)
_DECAF = re.compile(
    r"\b(?:decaf\w*|caffeine[- ]free|no caffeine|without caffeine|zero caffeine|non[- ]caffeinated)"
)
_TIME = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?"
_OPENS_BEFORE = re.compile(r"(?:before|by|earlier than)\s*" + _TIME)
_CLOSES_AFTER = re.compile(r"(?:after|until|till|til|past|later than)\s*" + _TIME)
_EARLY = re.compile(r"\b(?:early|earliest|sunrise|first thing)\b")
_LATE = re.compile(r"\b(?:late|latest|evening|night)\b")
_WEEKEND = re.compile(r"\b(?:weekends?|saturdays?|sundays?|sat|sun)\b")
_WEEKDAY = re.compile(r"\b(?:weekdays?|mondays?|tuesdays?|wednesdays?|thursdays?|fridays?)\b")
_ALL_DAY = re.compile(r"\b(?:24 ?hours?|24/7|24-7|round the clock|all night|overnight)\b")
_CLOSED = re.compile(r"\bclosed\b")
_SHOP_STOPWORDS = frozenset({"cymbal", "coffee", "cafe", "shop", "store", "the"})
_KIND_WORDS = {
    "coffee": ("beans", "bean", "whole bean", "ground coffee", "bag of"),
    "equipment": (
        "grinder", "kettle", "dripper", "brewer", "machine", "scale", "filter", "filters",
        "mug", "press", "aeropress", "gear", "equipment", "carafe", "tamper", "pitcher",
    ),
    "drink": ("latte", "drink", "cappuccino", "mocha", "tea", "chai", "iced", "espresso drink"),
}  # fmt: skip


def _BARE_ROAST(roast: str) -> re.Pattern[str]:
    """ "dark" alone is a roast, "dark chocolate" is a note."""
    return re.compile(
        r"(?<![a-z0-9-])" + re.escape(roast) + r"(?![a-z0-9-])(?! chocolate| cherr| fruit| sugar)"
    )


EARLY_HOUR, LATE_HOUR = 7 * 60, 20 * 60
US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA",
    "kansas": "KS", "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD",
    "massachusetts": "MA", "michigan": "MI", "minnesota": "MN", "mississippi": "MS",
    "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV", "new hampshire": "NH",
    "new jersey": "NJ", "new mexico": "NM", "new york state": "NY", "north carolina": "NC",
    "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington state": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
}  # fmt: skip
# Places and origins people ask for that a catalog may not have: naming one that the catalog
# lacks means "nothing", not "whatever is nearest".
OTHER_PLACES = (
    "new york city", "los angeles", "chicago", "houston", "phoenix", "philadelphia",
    "san antonio", "san diego", "dallas", "san jose", "austin", "jacksonville", "fort worth",
    "columbus", "charlotte", "indianapolis", "san francisco", "seattle", "denver", "washington dc",
    "nashville", "oklahoma city", "el paso", "boston", "portland", "las vegas", "detroit",
    "memphis", "louisville", "baltimore", "milwaukee", "albuquerque", "tucson", "fresno",
    "sacramento", "kansas city", "atlanta", "miami", "raleigh", "omaha", "minneapolis",
    "tulsa", "cleveland", "new orleans", "honolulu", "pittsburgh", "cincinnati", "st louis",
    "salt lake city", "orlando", "tampa", "brooklyn", "queens", "oakland", "berkeley",
    "london", "paris", "toronto", "vancouver", "tokyo", "berlin", "mexico city", "sydney",
)  # fmt: skip
OTHER_ORIGINS = (
    "hawaii", "kona", "jamaica", "blue mountain", "yemen", "mocha java", "java", "vietnam",
    "india", "indonesia", "sumatra", "sulawesi", "papua new guinea", "peru", "bolivia",
    "ecuador", "honduras", "nicaragua", "el salvador", "uganda", "tanzania", "burundi",
    "rwanda", "kenya", "ethiopia", "colombia", "brazil", "guatemala", "costa rica", "panama",
    "mexico", "china", "yunnan", "thailand", "laos", "myanmar", "malawi", "zambia", "congo",
)  # fmt: skip
DEMONYMS = {
    "kenya": "kenyan", "ethiopia": "ethiopian", "colombia": "colombian", "brazil": "brazilian",
    "mexico": "mexican", "guatemala": "guatemalan", "rwanda": "rwandan",
    "costa rica": "costa rican",
    "panama": "panamanian", "sumatra": "sumatran", "peru": "peruvian", "india": "indian",
    "honduras": "honduran", "nicaragua": "nicaraguan", "burundi": "burundian",
    "tanzania": "tanzanian", "indonesia": "indonesian", "jamaica": "jamaican", "yemen": "yemeni",
    "vietnam": "vietnamese", "uganda": "ugandan", "el salvador": "salvadoran", "hawaii": "hawaiian",
    "bolivia": "bolivian", "ecuador": "ecuadorian", "java": "javanese", "china": "chinese",
    "thailand": "thai", "malawi": "malawian", "zambia": "zambian", "congo": "congolese",
}  # fmt: skip
AMENITY_SYNONYMS = {
    "wifi": ("wifi", "wi-fi", "wi fi", "internet", "wireless"),
    "parking": ("parking", "park my car", "car park", "parking lot"),
    "drive-thru": ("drive-thru", "drive thru", "drive-through", "drive through", "drivethru"),
    "power outlets": ("outlet", "outlets", "plug", "plugs", "charge my", "charging", "power"),
    "outdoor seating": ("outdoor", "outside", "patio", "terrace", "sit outside"),
    "wheelchair accessible": ("wheelchair", "accessible", "accessibility", "step-free", "ramp"),
    "pet friendly": ("pet", "pets", "dog", "dogs", "dog-friendly", "pet-friendly"),
    "roastery tours": ("roastery", "tour", "tours", "see the roasting"),
}


@dataclass(frozen=True)
class ShopName:
    id: str
    city: str
    name_words: frozenset[str]  # the distinctive words of its name ("seattle", "riverside")
    address_words: frozenset[str]


@dataclass(frozen=True)
class Gazetteer:
    """What the catalog holds, in lower case, to recognise in a query."""

    cities: Mapping[str, str] = field(default_factory=dict)  # "new york" -> "New York"
    states: Mapping[str, str] = field(default_factory=dict)  # "wa" / "washington state" -> "WA"
    origins: Mapping[str, str] = field(default_factory=dict)  # "kenya" -> "Kenya"
    roasts: tuple[str, ...] = ()
    notes: Mapping[str, str] = field(default_factory=dict)  # "blueberries" -> "blueberry"
    amenities: Mapping[str, str] = field(default_factory=dict)  # phrase -> amenity
    shops: tuple[ShopName, ...] = ()

    @classmethod
    def build(
        cls, products: Iterable[Mapping[str, Any]], shops: Iterable[Mapping[str, Any]]
    ) -> Gazetteer:
        origins: dict[str, str] = {}
        roasts: set[str] = set()
        notes: dict[str, str] = {}
        for p in products:
            attributes = p.get("attributes") or {}
            for key in ("origin", "region"):
                value = attributes.get(key)
                if isinstance(value, str) and value.strip():
                    origins[value.lower()] = value
                    if value.lower() in DEMONYMS:
                        origins[DEMONYMS[value.lower()]] = value
            if isinstance(attributes.get("roast"), str):
                roasts.add(attributes["roast"].lower())
            for note in attributes.get("notes") or []:
                if isinstance(note, str) and note.strip():
                    lower = note.lower()
                    for form in (lower, lower + "s", lower + "es", lower[:-1] + "ies"):
                        notes.setdefault(form, note)
        cities: dict[str, str] = {}
        states: dict[str, str] = {}
        amenities: dict[str, str] = {}
        names: list[ShopName] = []
        for s in shops:
            city, state = str(s.get("city", "")), str(s.get("state", ""))
            cities[city.lower()] = city
            if state:
                states[state.lower()] = state
                states.update({n: a for n, a in US_STATES.items() if a == state})
                if state in ("WA", "NY"):  # "washington" and "new york" alone mean the cities too
                    states[{"WA": "washington", "NY": "new york state"}[state]] = state
            for amenity in s.get("amenities") or []:
                amenities[amenity.lower()] = amenity
                for phrase in AMENITY_SYNONYMS.get(amenity.lower(), ()):
                    amenities[phrase] = amenity
            name_words = frozenset(words(str(s.get("name", "")))) - _SHOP_STOPWORDS
            names.append(
                ShopName(
                    str(s["id"]),
                    city,
                    name_words,
                    frozenset(words(str(s.get("address", "")))) - frozenset(words(city)),
                )
            )
        return cls(cities, states, origins, tuple(sorted(roasts)), notes, amenities, tuple(names))


@dataclass(frozen=True)
class Hints:
    max_price: float | None = None
    min_price: float | None = None
    decaf: bool = False
    roast: str | None = None
    origins: tuple[str, ...] = ()
    unknown_origin: bool = False  # names a coffee origin the catalog does not have
    notes: tuple[str, ...] = ()
    product_kind: str | None = None
    cities: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    amenities: tuple[str, ...] = ()
    open_weekend: bool | None = None  # True: open on Saturday/Sunday; False: closed then
    open_weekdays: bool | None = None
    opens_by: int | None = None  # minutes after midnight
    closes_after: int | None = None
    shop_ids: tuple[str, ...] = ()  # shops the query names (for stock)
    unknown_place: bool = False  # names a city the catalog has no shop in

    @property
    def empty(self) -> bool:
        return self == Hints()


def words(text: str) -> list[str]:
    """Words as hints read them: hyphens and apostrophes inside a word keep it whole."""
    return tokens(text, _WORD)


def _has(phrase: str, text: str) -> bool:
    """The phrase as whole words; the plain substring test first rules out almost every
    phrase of the gazetteer at a fraction of a regex's cost."""
    if phrase not in text:
        return False
    return re.search(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])", text) is not None


def parse(query: str, gaz: Gazetteer) -> Hints:
    """The hints a query carries; anything not clearly said is left out."""
    text = " ".join(query.lower().split())
    values: dict[str, Any] = {}
    if m := _BETWEEN.search(text):
        values["min_price"], values["max_price"] = float(m[1]), float(m[2])
    else:
        if m := _MAX_PRICE.search(text):
            values["max_price"] = float(m[1])
        if m := _MIN_PRICE.search(text):
            values["min_price"] = float(m[1])
    values["decaf"] = bool(_DECAF.search(text))
    text = re.sub(r"(?<=medium)[ -](?=dark|light)", "-", text)  # "medium dark" -> "medium-dark"
    roasts = [r for r in sorted(gaz.roasts, key=len, reverse=True) if _has(f"{r} roast", text)]
    roasts += [
        r
        for r in sorted(gaz.roasts, key=len, reverse=True)
        if r != "medium" and _BARE_ROAST(r).search(text)
    ]
    if roasts:
        values["roast"] = roasts[0]
    values["origins"] = tuple(sorted({v for k, v in gaz.origins.items() if _has(k, text)}))
    if not values["origins"]:
        values["unknown_origin"] = any(
            _has(o, text) or _has(DEMONYMS.get(o, o), text) for o in OTHER_ORIGINS
        )
    values["notes"] = tuple(sorted({v for k, v in gaz.notes.items() if _has(k, text)}))
    for kind, cues in _KIND_WORDS.items():
        if any(_has(c, text) for c in cues):
            values["product_kind"] = kind
            break
    # A state's name can hide a city's ("new york"): a city wins.
    cities = {v for k, v in gaz.cities.items() if _has(k, text)}
    values["cities"] = tuple(sorted(cities))
    states = {
        v
        for k, v in gaz.states.items()
        if _has(k, text) and not any(_has(c.lower(), k) for c in cities)
    }
    if len(states) and not cities:
        values["states"] = tuple(sorted(states))
    if not cities and not states:
        values["unknown_place"] = any(
            _has(place, text) for place in OTHER_PLACES if place not in gaz.cities
        )
    values["amenities"] = tuple(sorted({v for k, v in gaz.amenities.items() if _has(k, text)}))
    _hours(text, values)
    values["shop_ids"] = _named_shops(text, gaz)
    return Hints(**values)


def _hours(text: str, values: dict[str, Any]) -> None:
    weekend, weekday, closed = _WEEKEND.search(text), _WEEKDAY.search(text), _CLOSED.search(text)
    if weekend:
        values["open_weekend"] = not closed
    elif weekday:
        values["open_weekdays"] = not closed
    if _ALL_DAY.search(text):
        values["opens_by"], values["closes_after"] = 0, 24 * 60
        return
    if m := _OPENS_BEFORE.search(text):
        strict = not m[0].startswith("by")  # "before 6am": not at 6:00; "by 6am": at 6:00 too
        values["opens_by"] = _minutes(m, default_pm=False) - strict
    elif _EARLY.search(text) and "open" in text:
        values["opens_by"] = EARLY_HOUR
    if m := _CLOSES_AFTER.search(text):
        values["closes_after"] = _minutes(m, default_pm=True)
    elif _LATE.search(text) and ("open" in text or "close" in text):
        values["closes_after"] = LATE_HOUR


def _minutes(m: re.Match[str], *, default_pm: bool) -> int:
    hour, minute, half = int(m[1]) % 24, int(m[2] or 0), (m[3] or "").replace(".", "")
    if (half == "pm" and hour < 12) or (not half and default_pm and hour < 12):
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    return hour * 60 + minute


def _named_shops(text: str, gaz: Gazetteer) -> tuple[str, ...]:
    """Shops whose distinctive name words are all in the query (beyond the city alone); among
    shops of the same name, those whose address the query mentions."""
    said = set(words(text))
    named = [
        s
        for s in gaz.shops
        if s.name_words and s.name_words <= said and s.name_words - set(words(s.city))
    ]
    if not named:
        return ()
    by_address = [s for s in named if len(s.address_words & said) >= 2]
    return tuple(s.id for s in (by_address or named))


def open_between(span: str, opens_by: int | None, closes_after: int | None) -> bool:
    if span == "closed":
        return False
    start, end = (int(x[:2]) * 60 + int(x[3:]) for x in span.split("-"))
    return (opens_by is None or start <= opens_by) and (closes_after is None or end >= closes_after)

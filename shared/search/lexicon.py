"""The catalog's words, from its profile: every category (and each segment of its path), brand,
attribute value, yes/no attribute, measured attribute, product and shop name, city, state and
amenity, with the manifest's synonyms pointing where their word points. Built once per profile
version; queries are matched against it as normalised word sequences (folded, lower case,
singular), longest first."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from shared.catalog.profile import Profile
from shared.catalog.units import UNITS, unit_of
from shared.catalog.units import WORDS as UNIT_WORDS
from shared.text import WORD, fold, singular, stem, tokens

TargetKind = Literal[
    "category",
    "brand",
    "value",
    "flag",
    "measure",
    "attribute",
    "product",
    "shop",
    "city",
    "state",
    "amenity",
]
MAX_PHRASE = 16  # words (a product name with its brand, line, variant and size)
_PARENTHESIS = re.compile(r"\([^)]*\)")
# Geography is not a retail domain: a state's name finds its shops in any catalog.
US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA",
    "kansas": "KS", "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD",
    "massachusetts": "MA", "michigan": "MI", "minnesota": "MN", "mississippi": "MS",
    "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV", "new hampshire": "NH",
    "new jersey": "NJ", "new mexico": "NM", "new york": "NY", "north carolina": "NC",
    "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "district of columbia": "DC",
}  # fmt: skip
# Cities people ask for that a catalog may not have a shop in: naming one the catalog lacks
# means "no shop there", not "whatever shop is nearest".
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
# Countries and their people's adjective (geography, like the states): a catalog value that is a
# country is also found by its adjective ("Kenyan" for "Kenya").
DEMONYMS = {
    "argentina": "argentinian", "australia": "australian", "austria": "austrian",
    "belgium": "belgian", "bolivia": "bolivian", "brazil": "brazilian", "burundi": "burundian",
    "canada": "canadian", "chile": "chilean", "china": "chinese", "colombia": "colombian",
    "congo": "congolese", "costa rica": "costa rican", "cuba": "cuban", "denmark": "danish",
    "ecuador": "ecuadorian", "egypt": "egyptian", "el salvador": "salvadoran",
    "england": "english", "ethiopia": "ethiopian", "finland": "finnish", "france": "french",
    "germany": "german", "greece": "greek", "guatemala": "guatemalan", "haiti": "haitian",
    "honduras": "honduran", "hungary": "hungarian", "india": "indian",
    "indonesia": "indonesian", "ireland": "irish", "israel": "israeli", "italy": "italian",
    "jamaica": "jamaican", "japan": "japanese", "kenya": "kenyan", "korea": "korean",
    "malawi": "malawian", "mexico": "mexican", "morocco": "moroccan", "nepal": "nepalese",
    "netherlands": "dutch", "new zealand": "new zealand", "nicaragua": "nicaraguan",
    "norway": "norwegian", "panama": "panamanian", "peru": "peruvian",
    "philippines": "filipino", "poland": "polish", "portugal": "portuguese",
    "russia": "russian", "rwanda": "rwandan", "scotland": "scottish", "spain": "spanish",
    "sumatra": "sumatran", "sweden": "swedish", "switzerland": "swiss", "taiwan": "taiwanese",
    "tanzania": "tanzanian", "thailand": "thai", "turkey": "turkish", "uganda": "ugandan",
    "ukraine": "ukrainian", "vietnam": "vietnamese", "wales": "welsh", "yemen": "yemeni",
    "zambia": "zambian",
}  # fmt: skip
# How shoppers name the amenities any store may have (English, not one retailer's): a catalog
# amenity that is one of these heads is also found by the other words.
AMENITY_WORDS = {
    "wifi": ("wi-fi", "wi fi", "internet", "wireless"),
    "parking": ("car park", "parking lot", "park my car", "free parking"),
    "drive-thru": ("drive thru", "drive-through", "drive through"),
    "wheelchair accessible": ("wheelchair", "accessible", "step-free", "step free",
                              "wheelchair access", "accessibility", "step-free access",
                              "disabled access", "wheelchair friendly"),
    "pet friendly": ("pets", "dogs", "dog friendly", "dog-friendly", "pet-friendly",
                     "allow dogs", "allows dogs", "dogs allowed", "allow pets", "allows pets",
                     "pets allowed", "bring my dog"),
    "outdoor seating": ("patio", "terrace", "sit outside", "outside seating"),
    "power outlets": ("outlets", "charging", "plugs", "charge my phone", "charge my laptop"),
    "restrooms": ("restroom", "bathroom", "toilets", "toilet"),
}  # fmt: skip
# Modal verbs: a catalog value spelled as one ("can", "will") is read as the value only where it
# is no verb (search: not beside a subject; the cache guard: never).
MODALS = frozenset({"can", "may", "will", "must", "might", "shall", "could", "would"})
# Two-letter state codes that are everyday words: read as a state only in capitals ("OR").
_WORD_CODES = frozenset({"in", "or", "me", "oh", "ok", "hi", "la", "pa", "ma", "de", "id", "al"})


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    key: str  # category path, brand, attribute key, product or shop id, city, state, amenity
    value: str = ""  # a value's text


def norm(text: str) -> tuple[str, ...]:
    """Words as the lexicon compares them: folded, lower case, singular; "wi-fi" is "wi fi"."""
    return tuple(singular(w) for w in tokens(fold(text), WORD))


# English for the end of a range an attribute holds, in its key or its label.
_MIN_WORDS = frozenset({"min", "minimum", "smallest", "lowest", "least", "shortest"})
_MAX_WORDS = frozenset({"max", "maximum", "largest", "highest", "most", "longest", "biggest"})
_NOT_MEASURED = frozenset({"of", "per", "for", "the", "a", "size", "setting", "level", "rating"})


def measure_words(key: str, label: str) -> tuple[str | None, frozenset[str]]:
    """A measured attribute's role ("min", "max" or None: one end of a range, from its key or
    label) and the words naming what it measures, less role, unit and filler words:
    "pet_weight_max_kg" / "maximum pet weight" -> ("max", {"pet", "weight"})."""
    said = set(key.lower().split("_")) | set(label_words(label))
    role = "min" if said & _MIN_WORDS else "max" if said & _MAX_WORDS else None
    if said & _MIN_WORDS and said & _MAX_WORDS:
        role = None
    named = said - _MIN_WORDS - _MAX_WORDS - _NOT_MEASURED - set(UNIT_WORDS)
    return role, frozenset(w for w in named if len(w) > 2 and not w.isdigit())


def label_words(label: str) -> tuple[str, ...]:
    return norm(_PARENTHESIS.sub(" ", label))


@dataclass
class Lexicon:
    version: int
    phrases: dict[tuple[str, ...], set[Target]] = field(default_factory=lambda: defaultdict(set))
    expansions: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    longest: dict[str, int] = field(default_factory=dict)  # a first word -> its longest phrase
    # Measured attributes by the dimension of their unit ("mass": ["weight_g", ...]), most used
    # first, and each one's unit.
    by_dimension: dict[str, list[str]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # measured attributes
    where: dict[str, frozenset[str]] = field(default_factory=dict)  # attribute -> categories
    # A measured attribute that is one end of a range ("chest_min_cm", "maximum tank size"):
    # "min" or "max"; and the words that name what it measures ({"chest", "girth"}).
    roles: dict[str, str] = field(default_factory=dict)
    measures: dict[str, frozenset[str]] = field(default_factory=dict)
    common_name_words: frozenset[str] = frozenset()  # in most shop names ("Trailhead")
    common_product_words: frozenset[str] = frozenset()
    states: set[str] = field(default_factory=set)  # state codes of the catalog's shops
    has_shops: bool = False
    other_places: tuple[tuple[str, ...], ...] = ()
    vocabulary: frozenset[str] = frozenset()  # every word the products use

    def knows(self, word: str) -> bool:
        """A word of the catalog, its stem, or one letter off one (a typo) when long enough."""
        if word in self.vocabulary or stem(word) in self.vocabulary:
            return True
        if len(word) < 4:
            return False
        return any(_one_edit(word, v) for v in self._near.get(word[0], ()))

    @property
    def _near(self) -> dict[str, list[str]]:
        cached = self.__dict__.get("_near_cache")
        if cached is None:
            cached = defaultdict(list)
            for v in self.vocabulary:
                if len(v) >= 4:
                    cached[v[0]].append(v)
            self.__dict__["_near_cache"] = cached
        return cached

    def add(self, words: Iterable[str], target: Target) -> None:
        key = tuple(words)
        if key and len(key) <= MAX_PHRASE:
            self.phrases[key].add(target)
            self.longest[key[0]] = max(self.longest.get(key[0], 0), len(key))

    @classmethod
    def build(cls, profile: Profile) -> Lexicon:
        lex = cls(profile.version)
        lex.vocabulary = frozenset(profile.terms)
        for path in profile.categories:
            segments = [s.strip() for s in path.split(">")]
            lex.add(norm(segments[-1]), Target("category", path))
        for brand in profile.brands:
            lex.add(norm(brand), Target("brand", brand))
        measured: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for key, a in profile.attributes.items():
            lex.where[key] = frozenset(a.categories)
            labels = {label_words(a.label), norm(key.replace("_", " "))}
            if a.kind == "boolean":
                for words in labels:
                    lex.add(words, Target("flag", key))
            elif a.kind in ("numeric", "list") and a.low is not None and a.high is not None:
                for words in labels:
                    lex.add(words, Target("measure", key))
                lex.ranges[key] = (a.low, a.high)
                role, named = measure_words(key, a.label)
                lex.measures[key] = named
                if role:
                    lex.roles[key] = role
                unit = unit_of(a.unit)
                if unit is not None:
                    measured[unit.dimension].append((a.count, key))
                    lex.units[key] = unit.symbol
            if a.kind in ("categorical", "list") and a.values:
                for words in labels:  # "finish" in "a matte finish": the value is meant
                    lex.add(words, Target("attribute", key))
            for value in a.values:
                if a.kind not in ("categorical", "list"):
                    continue
                if not _number(value) and len(" ".join(norm(value))) >= 3:
                    lex.add(norm(value), Target("value", key, value))
                    if value.lower() in DEMONYMS:
                        lex.add(norm(DEMONYMS[value.lower()]), Target("value", key, value))
                for words in labels:  # "size 10", "10 size": a number is a value only so
                    lex.add(words + norm(value), Target("value", key, value))
        lex.by_dimension = {d: [k for _, k in sorted(v, reverse=True)] for d, v in measured.items()}
        lex._flag_heads(profile)
        lex._places(profile)
        lex._names(profile)
        lex._synonyms(profile)
        return lex

    def _flag_heads(self, profile: Profile) -> None:
        """A yes/no attribute is also found by the first word of its name when no other phrase
        of the catalog uses that word ("hydration" for hydration_compatible)."""
        used = Counter(w for phrase in self.phrases for w in phrase)
        for key, a in profile.attributes.items():
            if a.kind != "boolean":
                continue
            for words in {label_words(a.label), norm(key.replace("_", " "))}:
                if len(words) > 1 and used[words[0]] == 1 and len(words[0]) > 3:
                    self.add(words[:1], Target("flag", key))
                elif len(words) == 1 and stem(words[0]) != words[0] and not used[stem(words[0])]:
                    self.add((stem(words[0]),), Target("flag", key))  # "hood" for "hooded"

    def _places(self, profile: Profile) -> None:
        self.has_shops = bool(profile.shops)
        states = profile.states
        self.states = set(states)
        cities = {norm(s.city) for s in profile.shops}
        self.other_places = tuple(p for p in map(norm, OTHER_PLACES) if p not in cities)
        for entry in profile.shops:
            self.add(norm(entry.city), Target("city", entry.city))
        for state in states:
            if state.lower() not in _WORD_CODES:
                self.add(norm(state), Target("state", state))
        for name, code in US_STATES.items():
            if code in states:
                self.add(norm(name), Target("state", code))
        for amenity in profile.amenities:
            self.add(norm(amenity), Target("amenity", amenity))
            for other in AMENITY_WORDS.get(amenity.lower(), ()):
                self.add(norm(other), Target("amenity", amenity))
            joined = "".join(norm(amenity))
            if len(norm(amenity)) > 1:
                self.add((joined,), Target("amenity", amenity))

    def _names(self, profile: Profile) -> None:
        shop_words = Counter(w for s in profile.shops for w in set(norm(s.name)))
        half = max(2, len(profile.shops) // 2)
        self.common_name_words = frozenset(w for w, n in shop_words.items() if n >= half)
        for s in profile.shops:
            own = tuple(w for w in norm(s.name) if w not in self.common_name_words)
            if own and own != norm(s.city):
                self.add(own, Target("shop", s.id))
        product_words = Counter(w for n in profile.products.values() for w in set(norm(n)))
        many = max(3, len(profile.products) // 10)
        self.common_product_words = frozenset(w for w, n in product_words.items() if n >= many)
        for pid, name in profile.products.items():
            self.add(norm(name), Target("product", pid))

    def _synonyms(self, profile: Profile) -> None:
        """A synonym finds what its head word finds (a category, a value...); a head word the
        catalog does not use still widens the lexical query."""
        for head, others in profile.synonyms.items():
            head_words = norm(head)
            targets = set(self.phrases.get(head_words, ())) or self._singular_match(head_words)
            for other in others:
                words = norm(other)
                if not words:
                    continue
                for target in targets:
                    self.add(words, target)
                self.expansions[words] = head_words

    def _singular_match(self, words: tuple[str, ...]) -> set[Target]:
        """A synonym's head may name a category a little differently ("desk lamp" for "Desk
        Lamps", "lamp" for "Lamps"): match on the last word when the rest agrees."""
        for phrase, targets in self.phrases.items():
            if phrase[-len(words) :] == words and len(phrase) - len(words) <= 1:
                return set(targets)
        return set()


def _one_edit(a: str, b: str) -> bool:
    """One substitution, insertion, deletion or swap of neighbours apart."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )  # fmt: skip
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def known_unit(symbol: str) -> bool:
    return symbol in UNITS

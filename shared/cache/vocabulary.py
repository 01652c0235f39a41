"""The vocabulary of critical details for the cache guard (shared/cache/guard.py): a fixed
English list of what shoppers say about any shop (times, comparatives, what is asked), the
phrases the catalog itself adds from its profile (product names and lines, brands, categories,
attribute values and yes/no attributes, the manifest's synonyms, shop names, streets, places,
amenities), and how a phrase is looked up. Each table says what its phrases have in common."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping

from shared.cache.patterns import TOKEN, fold, key, words
from shared.catalog.profile import Profile
from shared.search.lexicon import AMENITY_WORDS, DEMONYMS, MODALS, OTHER_PLACES, US_STATES
from shared.text import singular

Entry = tuple[str, str, bool]  # field, value, said negatively ("unsweetened")
Lexicon = tuple[dict[str, Entry], dict[str, int]]  # phrases; longest phrase by first word


# -- critical details: what shoppers say, beyond the catalog's own names ---------------------


def _same(field: str, value: str, *phrases: str) -> dict[str, Entry]:
    """Phrases that all mean one value ("cheapest", "least expensive" -> price_low)."""
    return dict.fromkeys(phrases, (field, value, False))


def _each(field: str, *words: str) -> dict[str, Entry]:
    """Words that are their own value."""
    return {w: (field, w, False) for w in words}


def _gradable(*adjectives: str) -> dict[str, Entry]:
    """'sweeter', 'most sweet' -> more:sweet; 'less sweet' -> less:sweet; 'sweet' -> a feature."""
    out: dict[str, Entry] = {}
    for adj in adjectives:
        stem = adj[:-1] + "i" if adj.endswith("y") else adj
        out |= _same("comparatives", f"more:{adj}", f"{stem}er", f"{stem}est", f"more {adj}",
                     f"most {adj}")  # fmt: skip
        out |= _same("comparatives", f"less:{adj}", f"less {adj}", f"least {adj}")
        out[adj] = ("features", adj, False)
    return out


_DAYS = words("monday tuesday wednesday thursday friday saturday sunday")
_DAY_ABBREVIATIONS = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3,
                      "thurs": 3, "fri": 4, "sat": 5, "sun": 6}  # fmt: skip
_ORDINAL_WORDS = words("first second third fourth fifth sixth seventh eighth")
_TIMES: dict[str, Entry] = {
    **_each("times", *_DAYS, "today", "tonight", "tomorrow", "yesterday", "morning", "afternoon",
            "evening", "night", "weekend", "weekday", "holiday", "christmas", "thanksgiving",
            "easter"),
    **{a: ("times", _DAYS[i], False) for a, i in _DAY_ABBREVIATIONS.items()},
    **_same("times", "now", "now", "right now", "currently", "at the moment"),
    **_same("times", "early", "early", "earlier", "earliest", "first thing"),
    **_same("times", "late", "late", "later", "latest"),
    **_same("times", "new year", "new year", "new years", "new year's", "new year's eve"),
    **_same("times", "weekend", "the weekend", "weekends"),
    **_same("times", "tonight", "tonight", "this evening", "this evening's"),
}  # fmt: skip
# Degree is dropped on purpose ("cheap" = "cheaper" = "cheapest"); direction never is.
_COMPARATIVES: dict[str, Entry] = {
    **_same("comparatives", "price_low", "cheap", "cheaper", "cheapest", "inexpensive",
            "affordable", "most affordable", "least expensive", "less expensive", "lowest price",
            "lowest priced", "low price", "budget", "cost the least", "costs the least",
            "bargain", "least pricey", "less pricey"),
    **_same("comparatives", "price_high", "expensive", "pricey", "pricier", "priciest",
            "most expensive", "more expensive", "costliest", "highest price", "highest priced",
            "premium", "luxury", "fanciest", "cost the most", "costs the most"),
    **_same("comparatives", "strength_high", "strong", "stronger", "strongest", "bold", "bolder",
            "boldest", "intense", "punchy"),
    **_same("comparatives", "strength_low", "mild", "milder", "mildest", "weak", "weaker",
            "weakest", "gentle", "least strong", "less strong"),
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
_AMENITIES: dict[str, Entry] = {
    **_same("amenities", "parking", "park"),
    **_same("amenities", "restroom", "restroom", "bathroom", "toilet", "washroom"),
}
# What is asked about. "where" and "when" are content words (see below).
_ASKS: dict[str, Entry] = {
    **_same("asks", "price", "price", "pricing", "priced", "cost", "how much", "how expensive"),
    # A time named by a noun ("opening hours", "closing time") is what "when" asks of the verb:
    # the guard reads "when does it open" as "hours", and "is it open?" stays a yes or no.
    **_same("asks", "hours", "hours", "opening hours", "open hours", "opening times", "schedule",
            "business hours", "opening time", "hours of operation"),
    **_same("asks", "open", "open", "opens", "opening", "stay open", "stays open"),
    **_same("asks", "closing time", "closing time", "closing times", "closing hours",
            "how late", "until what time", "till what time", "until when"),
    **_same("asks", "close", "close", "closes", "closing", "closed", "shut"),
    **_same("asks", "contact", "phone number", "telephone", "call", "contact", "email"),
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
# "The warranty terms", "the returns policy": what is asked, said with a word for a document.
_ASKS |= {f"{phrase} {noun}": _ASKS[phrase] for phrase in (
    "return", "refund", "exchange", "shipping", "delivery", "warranty", "payment", "privacy",
    "rewards", "loyalty") for noun in ("policy", "policies", "terms", "info", "information",
    "details", "options", "rules", "conditions")}  # fmt: skip
_ASKS |= {"returns": _ASKS["return"], "returns policy": _ASKS["return"],
          "refunds": _ASKS["refund"]}  # fmt: skip
# "The price for X" is the price of X: after a noun that names what is asked, "for" only
# attaches the thing asked about, as "of" does (a dropped word).
_ASKS |= {f"{phrase} for": _ASKS[phrase] for phrase in (
    "price", "pricing", "cost", "how much", "hours", "opening hours", "opening times",
    "opening time", "schedule", "business hours", "closing time", "closing times", "recipe",
    "ingredient", "size", "weight", "return policy")}  # fmt: skip
STATIC: dict[str, Entry] = {
    **_TIMES,
    **{w: ("numbers", f"#{i + 1}", False) for i, w in enumerate(_ORDINAL_WORDS)},
    **_COMPARATIVES,
    **_AMENITIES,
    **_ASKS,
}
NEGATORS = frozenset(words(
    "no not without non never except excluding exclude minus sans nothing none neither nor "
    "don't doesn't didn't isn't aren't wasn't won't can't cannot dont doesnt isnt arent cant "
    "avoid avoiding instead allergic intolerant zero hold skip"))  # fmt: skip
POST_NEGATORS = frozenset({"free"})  # "dairy-free", "pfas free"
# Words never taken for a proper noun ("Hey") or for an adjective after "more" ("more than").
STOPWORDS = frozenset(words(
    "a an the i i'm i'd me my we our you your yours it its it's is are was were be been am do "
    "does did have has had can could would should will shall may might must to of in on at by "
    "for from with about as into than then this that these those there here what what's which "
    "who how how's where when why and or but if so not no yes any some all each every more most "
    "less very too also just only please thanks thank hi hello hey ok okay "
    "shop shops store stores location locations branch place get got tell give show "
    "find want need like looking recommend suggest sell carry offer available stock buy order "
    "one ones something anything"))  # fmt: skip
STREET_SUFFIXES = {"ave": ("ave", "avenue"), "avenue": ("ave", "avenue"), "st": ("st", "street"),
                   "street": ("st", "street"), "dr": ("dr", "drive"), "drive": ("dr", "drive"),
                   "rd": ("rd", "road"), "road": ("rd", "road"), "blvd": ("blvd", "boulevard"),
                   "way": ("way",), "ln": ("ln", "lane"), "pl": ("pl", "place")}  # fmt: skip


def variants(phrase: str) -> tuple[str, ...]:
    """The phrase, then its last word singular: 'sundays' -> 'sunday', 'pastries' -> 'pastry'."""
    if phrase.endswith("'s"):  # "Chicago Station's hours"
        return (phrase, phrase[:-2])
    if len(phrase) < 4 or phrase[-1] != "s" or phrase.endswith("ss"):
        return (phrase,)
    if phrase.endswith("ies"):
        return (phrase, phrase[:-3] + "y", phrase[:-1])
    return (phrase, phrase[:-1], phrase[:-2]) if phrase.endswith("es") else (phrase, phrase[:-1])


def more_or_less(m: re.Match[str]) -> list[tuple[str, str]]:
    """'more acidic' / 'less acidic' for adjectives the vocabulary does not list."""
    if m["word"] in STOPWORDS:
        return []
    return [("comparatives", ("more:" if m["dir"] in ("more", "most") else "less:") + m["word"])]


# -- the catalog's own phrases ----------------------------------------------------------------


def indexed(phrases: Mapping[str, Entry]) -> Lexicon:
    """The phrases, and the longest phrase each first word begins: most words begin none."""
    phrases = {k: v for k, v in phrases.items() if k}
    longest: dict[str, int] = {}
    for phrase in phrases:
        first, *rest = phrase.split()
        longest[first] = max(longest.get(first, 0), 1 + len(rest))
    return phrases, longest


def streets(profile: Profile) -> dict[str, Entry]:
    """Street names of shop addresses, with 'Ave' or 'Avenue' ('Lake Shore' and 'Broadway' also
    alone)."""
    streets: dict[str, Entry] = {}
    for shop in profile.shops:
        m = re.match(r"\s*\d+[a-z]?\s+([^,]+)", fold(shop.address).lower())
        words = TOKEN.findall(m[1]) if m else []
        suffixes = STREET_SUFFIXES.get(words[-1], ()) if words else ()
        base = " ".join(words[:-1] if suffixes else words)
        if not base:
            continue
        value = "street:" + " ".join([base, *suffixes[:1]])
        streets.update({f"{base} {s}": ("places", value, False) for s in suffixes})
        if not suffixes or " " in base:
            streets[base] = ("places", value, False)
    return streets


def common_name_words(names: list[str], share: float) -> frozenset[str]:
    """Words in at least `share` of the names (the retailer's own name in its shops')."""
    counts = Counter(w for n in names for w in set(key(n).split()))
    least = max(2, math.ceil(share * len(names)))
    return frozenset(w for w, c in counts.items() if c >= least)


def category_words(profile: Profile) -> dict[str, frozenset[str]]:
    """A product's id -> the words its category path says ('lighting', 'lamps', 'lamp')."""
    out: dict[str, frozenset[str]] = {}
    for pid, path in profile.product_categories.items():
        said = key(path.replace(">", " ")).split()
        out[pid] = frozenset({*said, *(singular(w) for w in said)})
    return out


def shop_words(profile: Profile) -> dict[str, frozenset[str]]:
    """A shop's id -> the words of its name that are its own (not its city's, not in most
    shops' names: "Highlands" in "Tails & Scales Denver Highlands")."""
    common = common_name_words([s.name for s in profile.shops], 0.5)
    return {
        s.id: frozenset(set(key(s.name).split()) - set(key(s.city).split()) - common - STOPWORDS)
        for s in profile.shops
    }


def catalog_lexicon(profile: Profile) -> dict[str, Entry]:
    """Every phrase but product names, lowest priority first: a later entry wins a clash."""
    lexicon: dict[str, Entry] = {}
    names = list(profile.products.values())
    common = common_name_words(names, 0.1) | STOPWORDS
    in_names = Counter(w for n in names for w in set(key(n).split()))
    for name in names:  # product lines ("the Copper ones"): a name word few names share and
        for word in set(key(name).split()) - common:  # no other product's text uses
            used = profile.terms.get(singular(word), 0)
            if len(word) > 2 and not word.isdigit() and used <= in_names[word]:
                lexicon[word] = ("names", "~" + word, False)
    for own in shop_words(profile).values():
        for word in own:
            lexicon[word] = ("names", "shop:" + word, False)
    for brand in profile.brands:
        lexicon[key(brand)] = ("names", "brand:" + key(brand), False)
    lexicon.update(STATIC)
    for phrase, value in _places(profile).items():
        lexicon[key(phrase)] = ("places", value, False)
    for path in profile.categories:
        leaf = key(path.split(">")[-1])
        for form in {leaf, " ".join([*leaf.split()[:-1], singular(leaf.split()[-1])])}:
            lexicon[form] = ("kinds", leaf, False)
    for attr, a in profile.attributes.items():
        if a.kind == "boolean":
            label = key(re.sub(r"\(.*?\)", "", a.label))
            lexicon[label] = ("features", label, False)
        elif a.kind in ("categorical", "list"):
            for value in a.values:
                phrase = key(value)
                number = phrase.replace(" ", "").isdigit()
                if len(phrase) >= 3 and not number and phrase not in MODALS:
                    entry: Entry = ("features", f"{key(attr)}:{phrase}", False)
                    lexicon[phrase] = entry
                    if phrase in DEMONYMS:  # "Kenyan" for "Kenya"
                        lexicon[key(DEMONYMS[phrase])] = entry
    for amenity in profile.amenities:
        lexicon[key(amenity)] = ("amenities", key(amenity), False)
        for other in AMENITY_WORDS.get(amenity.lower(), ()):
            lexicon.setdefault(key(other), ("amenities", key(amenity), False))
    for head, others in profile.synonyms.items():  # the manifest's: same as their head word
        said = key(head.split(">")[-1])  # a category's path: its own name
        target = lexicon.get(said) or ("features", said, False)
        for other in others:
            lexicon.setdefault(key(other), target)
    return lexicon


def _places(profile: Profile) -> dict[str, str]:
    """Cities and states (the catalog's, US state names) and cities the catalog lacks."""
    places: dict[str, str] = {p: p for p in OTHER_PLACES}
    places.update({n: f"state:{c}".lower() for n, c in US_STATES.items()})
    places.update({s: f"state:{s}".lower() for s in profile.states if len(s) > 2})
    places.update({key(s.city): key(s.city) for s in profile.shops})
    return places

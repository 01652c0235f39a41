"""The vocabulary of critical details for the cache guard (shared/cache/guard.py): a fixed
English list of what shoppers say, the phrases the catalog itself adds (product names, streets,
places, notes, amenities, roasts, shop names), and how a phrase is looked up. Each table says
what its phrases have in common."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shared.cache.patterns import TOKEN, fold, key, words
from shared.search import hints as hintlib

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
_PRODUCTS: dict[str, Entry] = {
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
# What is asked about. "where" and "when" are content words (see below).
_ASKS: dict[str, Entry] = {
    **_same("asks", "price", "price", "pricing", "priced", "cost", "how much", "how expensive"),
    # A time named by a noun ("opening hours", "closing time") is what "when" asks of the verb:
    # the guard reads "when does it open" as "hours", and "is it open?" stays a yes or no.
    **_same("asks", "hours", "hours", "opening hours", "open hours", "opening times", "schedule",
            "business hours", "opening time", "hours of operation"),
    **_same("asks", "open", "open", "opens", "opening", "stay open", "stays open"),
    **_same("asks", "closing time", "closing time", "closing times", "closing hours"),
    **_same("asks", "close", "close", "closes", "closing", "closed", "shut"),
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
    **_PRODUCTS,
    **_ASKS,
}
NEGATORS = frozenset(words(
    "no not without non never except excluding exclude minus sans nothing none neither nor "
    "don't doesn't didn't isn't aren't wasn't won't can't cannot dont doesnt isnt arent cant "
    "avoid avoiding instead allergic intolerant zero hold skip"))  # fmt: skip
POST_NEGATORS = frozenset({"free"})  # "dairy-free", "caffeine free"
# Words never taken for a proper noun ("Hey") or for an adjective after "more" ("more than").
STOPWORDS = frozenset(words(
    "a an the i i'm i'd me my we our you your yours it its it's is are was were be been am do "
    "does did have has had can could would should will shall may might must to of in on at by "
    "for from with about as into than then this that these those there here what what's which "
    "who how how's where when why and or but if so not no yes any some all each every more most "
    "less very too also just only please thanks thank hi hello hey ok okay cymbal coffee coffees "
    "shop shops store stores cafe cafes location locations branch place get got tell give show "
    "find want need like looking recommend suggest sell carry offer available stock buy order "
    "one ones something anything"))  # fmt: skip
SHOP_WORDS = frozenset(words("cymbal coffee cafe shop store the co"))
# Words of coffee names too common to name a coffee line on their own ("a lot", "the story").
NAME_GENERIC = STOPWORDS | frozenset(words(
    "roast blend lot select reserve classic story harvest bloom crema decaf old town wild quiet "
    "golden river"))  # fmt: skip
STREET_SUFFIXES = {"ave": ("ave", "avenue"), "avenue": ("ave", "avenue"), "st": ("st", "street"),
                   "street": ("st", "street"), "dr": ("dr", "drive"), "drive": ("dr", "drive"),
                   "rd": ("rd", "road"), "road": ("rd", "road"), "blvd": ("blvd", "boulevard"),
                   "way": ("way",), "ln": ("ln", "lane"), "pl": ("pl", "place")}  # fmt: skip
ALIASES = {"caffe latte": ("latte", "cafe latte"), "aeropress": ("aero press",),
           "conical burr grinder": ("burr grinder",), "nitro cold brew": ("nitro",),
           "pour over dripper": ("dripper",), "milk frother": ("frother",),
           "moka pot": ("moka",)}  # fmt: skip
AMBIGUOUS_PLACES = frozenset({"java"})  # "a cup of java" names no origin


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


def product_names(products: list[Mapping[str, Any]]) -> dict[str, Entry]:
    """Each product's name, and a short form when it names no other product ('Orchard Bloom'
    for 'Orchard Bloom Decaf', 'paper filters' for 'Paper Filters (100)', 'latte')."""
    raw = sorted({str(p.get("name", "")) for p in products})
    full = {key(name) for name in raw} - {""}
    names: dict[str, Entry] = {n: ("names", n, False) for n in full}
    for name in raw:
        full_name = key(name)
        short = {re.sub(r" decaf$", "", full_name), key(re.sub(r"\(.*?\)", "", name))}
        for alias in sorted(short | set(ALIASES.get(full_name, ())) - full - {""}):
            names.setdefault(alias, ("names", full_name, False))
    return names


def streets(shops: list[Mapping[str, Any]]) -> dict[str, Entry]:
    """Street names of shop addresses, with 'Ave' or 'Avenue' ('Lake Shore' and 'Broadway' also
    alone)."""
    streets: dict[str, Entry] = {}
    for shop in shops:
        m = re.match(r"\s*\d+[a-z]?\s+([^,]+)", fold(str(shop.get("address", ""))).lower())
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


def catalog_lexicon(products: list[Mapping[str, Any]], gaz: hintlib.Gazetteer) -> dict[str, Entry]:
    """Every phrase but product names, lowest priority first: a later entry wins a clash."""
    lexicon: dict[str, Entry] = {}
    for p in products:  # coffees come in lines ("the Copper ones"); drink names are plain words
        if p.get("kind") == "coffee":
            for word in set(key(str(p.get("name", ""))).split()) - NAME_GENERIC:
                lexicon[word] = ("names", "~" + word, False)
    for shop in gaz.shops:
        for word in shop.name_words - set(key(shop.city).split()) - SHOP_WORDS:
            lexicon[word] = ("names", "shop:" + word, False)
    lexicon.update(STATIC)
    for phrase, value in _places(gaz).items():
        if phrase not in AMBIGUOUS_PLACES:
            lexicon[key(phrase)] = ("places", value, False)
    lexicon.update({key(k): ("flavours", key(v), False) for k, v in gaz.notes.items()})
    lexicon.update({key(k): ("amenities", v.lower(), False) for k, v in gaz.amenities.items()})
    for roast in gaz.roasts:
        for form in ("roast", "roasted"):
            lexicon[key(f"{roast} {form}")] = ("roasts", key(roast).replace(" ", "-"), False)
    return lexicon


def _places(gaz: hintlib.Gazetteer) -> dict[str, str]:
    """Cities, states, origins and regions (the catalog's and others): 'kenyan' -> 'kenya'."""
    places: dict[str, str] = {}
    for origin in hintlib.OTHER_ORIGINS:
        places[origin] = places[hintlib.DEMONYMS.get(origin, origin)] = origin
    places.update({p: p for p in hintlib.OTHER_PLACES})
    places.update({n: f"state:{c}".lower() for n, c in hintlib.US_STATES.items()})
    places.update({k: f"state:{v}".lower() for k, v in gaz.states.items() if len(k) > 2})
    places.update({k: key(v) for k, v in (*gaz.cities.items(), *gaz.origins.items())})
    return places


def origins(gaz: hintlib.Gazetteer) -> frozenset[str]:
    """The place values that grow coffee (the catalog's origins and regions, and others)."""
    places = _places(gaz)
    grown = {*hintlib.OTHER_ORIGINS, *(key(v) for v in gaz.origins.values())}
    return frozenset(v for v in places.values() if v in grown)

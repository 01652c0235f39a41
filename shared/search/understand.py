"""What a shopper's words ask of the catalog, read against the catalog's own lexicon: categories,
brands, attribute values and yes/no attributes (and the ones excluded: "not X", "without X",
"no X"), measured amounts in any unit converted to the catalog's ("under 2 pounds"), prices,
named products and shops, places, amenities, and a day and time. Anything not clearly said is
left out: the ranking still has the words."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from shared.search.lexicon import MODALS, Lexicon, Target, norm
from shared.search.measures import Bound, Match, order, prices
from shared.search.measures import bounds as find_bounds
from shared.search.when import When, parse_when
from shared.text import fold, singular

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W_]+")
_NEGATORS = frozenset(
    {"not", "no", "without", "except", "excluding", "exclude", "non", "never", "nothing",
     "avoid", "isnt", "arent", "dont", "doesnt", "besides", "minus", "nor"}
)  # fmt: skip
_NEGATING_PAIRS = (("other", "than"), ("rather", "than"), ("instead", "of"), ("apart", "from"))
_CLAUSE = re.compile(r"[,.;:!?()]|\bbut\b")
_JOINERS = frozenset({"or", "and", "nor"})


@dataclass(frozen=True)
class Understood:
    categories: tuple[str, ...] = ()
    # Of those, the ones named before the request's first preposition: what is asked for
    # ("a filter for a 75 gallon aquarium": the filters; the aquarium is what it is for).
    head_categories: tuple[str, ...] = ()
    not_categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    not_brands: tuple[str, ...] = ()
    values: tuple[tuple[str, str], ...] = ()  # (attribute, value)
    strict_values: tuple[tuple[str, str], ...] = ()  # the attribute's own name said with it
    not_values: tuple[tuple[str, str], ...] = ()
    flags: tuple[str, ...] = ()
    not_flags: tuple[str, ...] = ()
    bounds: tuple[Bound, ...] = ()
    min_price: float | None = None
    max_price: float | None = None
    products: tuple[str, ...] = ()
    shops: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    amenities: tuple[str, ...] = ()
    unknown_place: bool = False
    when: When = field(default_factory=When)
    terms: tuple[str, ...] = ()  # lexical query terms, synonyms' head words added
    order: tuple[str, bool] | None = None  # "lightest": (the weight attribute, ascending)
    unknown_head: str | None = None  # the thing asked for is a word no product uses

    @property
    def narrows_products(self) -> bool:
        return bool(
            any(not b.soft for b in self.bounds) or self.strict_values or self.brands
            or self.min_price is not None or self.max_price is not None
        )  # fmt: skip

    @property
    def narrows_shops(self) -> bool:
        return bool(
            self.cities or self.states or self.amenities or self.shops or not self.when.empty
        )


def understand(query: str, lex: Lexicon) -> Understood:
    text = " ".join(fold(query).lower().split())
    spans = [(m.start(), m.end(), singular(m[0])) for m in _TOKEN.finditer(text)]
    words = [w for _, _, w in spans]
    breaks = {
        i
        for i, (start, _, _) in enumerate(spans)
        if _CLAUSE.search(text, spans[i - 1][1] if i else 0, start)
    }
    matches = [m for m in _match(words, lex) if not _modal(words, m)]
    _negate(words, matches, breaks)
    out: dict[str, list[object]] = {k: [] for k in _FIELDS}
    said_measures: set[str] = set()
    for m in matches:
        for t in m.targets:
            _collect(t, m, words, matches, out)
            if t.kind == "measure":
                said_measures.add(t.key)
    categories = [str(c) for c in out["categories"]]
    bounds, used = find_bounds(text, spans, matches, lex, said_measures, categories)
    low, high = prices(text, used)
    terms = [w for w in words if w not in _NEGATORS]
    for m in matches:
        key = tuple(words[m.start : m.end])
        excludes = any(t.kind in ("category", "brand", "value", "flag") for t in m.targets)
        if m.negated and excludes:  # the exclusion does the work; its words must not rank
            terms = [w for w in terms if w not in key]
        elif key in lex.expansions:
            terms.extend(lex.expansions[key])
    states = set(map(str, out["states"])) | _capital_states(query, lex)
    cities = tuple(sorted(set(map(str, out["cities"]))))
    return Understood(
        categories=_uniq(out["categories"]),
        head_categories=_head_categories(words, matches, breaks),
        not_categories=_uniq(out["not_categories"]),
        brands=_uniq(out["brands"]),
        not_brands=_uniq(out["not_brands"]),
        values=_uniq(out["values"]),
        strict_values=_uniq(out["strict_values"]),
        not_values=_uniq(out["not_values"]),
        flags=_uniq(out["flags"]),
        not_flags=_uniq(out["not_flags"]),
        bounds=tuple(bounds),
        min_price=low,
        max_price=high,
        products=_uniq(out["products"]),
        shops=_uniq(out["shops"]),
        cities=cities,
        # a state that only repeats the city's ("Denver, CO") adds nothing
        states=tuple(sorted(states)) if not cities else (),
        amenities=_uniq(out["amenities"]),
        unknown_place=not cities and _other_place(text, lex),
        when=parse_when(text),
        terms=tuple(terms),
        order=order(text, lex),
        unknown_head=_unknown_head(words, matches, breaks, _hyphenated(text, spans), lex),
    )


_NAMES = ("measure", "attribute")  # an attribute's own name said beside one of its values
_FIELDS = (
    "categories", "not_categories", "brands", "not_brands", "values", "strict_values",
    "not_values", "flags", "not_flags", "products", "shops", "cities", "states", "amenities",
)  # fmt: skip


def _uniq(items: list[object]) -> tuple:  # type: ignore[type-arg]
    return tuple(dict.fromkeys(items))


_SUBJECTS = frozenset({"i", "you", "we", "they", "he", "she", "it", "u", "one", "anyone"})


def _modal(words: list[str], m: Match) -> bool:
    """A catalog value that is also a modal verb, used as one: "can I...", "I can..."."""
    if m.end - m.start != 1 or words[m.start] not in MODALS:
        return False
    after = words[m.end] if m.end < len(words) else ""
    before = words[m.start - 1] if m.start else ""
    return after in _SUBJECTS or before in _SUBJECTS or m.start == 0


def _match(words: list[str], lex: Lexicon) -> list[Match]:
    """Longest phrases first, left to right; a word belongs to one phrase."""
    found: list[Match] = []
    i = 0
    while i < len(words):
        for n in range(min(lex.longest.get(words[i], 0), len(words) - i), 0, -1):
            targets = lex.phrases.get(tuple(words[i : i + n]))
            if targets:
                found.append(Match(i, i + n, set(targets)))
                i += n
                break
        else:
            i += 1
    return found


def _negate(words: list[str], matches: list[Match], breaks: set[int]) -> None:
    """ "not X", "without X", "no X", "other than X", "X-free"; and the rest of a list that a
    negation starts ("not lamps or shades")."""
    previous_end, previous_negated = -1, False
    for m in matches:
        start = max(previous_end, m.start - 3, 0, *(b for b in breaks if b <= m.start))
        window = words[start : m.start]
        pairs = list(itertools.pairwise(window))
        negated = bool(_NEGATORS & set(window)) or any(p in _NEGATING_PAIRS for p in pairs)
        between = words[previous_end : m.start] if previous_end >= 0 else []
        if previous_negated and between and all(w in _JOINERS for w in between):
            negated = True
        if m.end < len(words) and words[m.end] == "free" and m.end - m.start <= 2:
            negated = True
        m.negated = negated
        previous_end, previous_negated = m.end, negated


def _collect(
    t: Target, m: Match, words: list[str], matches: list[Match], out: dict[str, list[object]]
) -> None:
    if t.kind == "category":
        out["not_categories" if m.negated else "categories"].append(t.key)
    elif t.kind == "brand":
        out["not_brands" if m.negated else "brands"].append(t.key)
    elif t.kind == "flag":
        out["not_flags" if m.negated else "flags"].append(t.key)
    elif t.kind == "value":
        pair = (t.key, t.value)
        if m.negated:
            out["not_values"].append(pair)
            return
        out["values"].append(pair)
        near = [x for x in matches if abs(x.start - m.end) <= 1 or abs(m.start - x.end) <= 1]
        if any(o.kind in _NAMES and o.key == t.key for x in near for o in x.targets):
            out["strict_values"].append(pair)
    elif t.kind == "product" and not m.negated:
        out["products"].append(t.key)
    elif t.kind in ("shop", "city", "state", "amenity") and not m.negated:
        out[
            {"shop": "shops", "city": "cities", "state": "states", "amenity": "amenities"}[t.kind]
        ].append(t.key)


# Plain English that says nothing about what is wanted: never the head of a request.
_FILLER = frozenset({
    "a", "an", "the", "and", "or", "of", "for", "to", "in", "on", "at", "by", "with", "from",
    "about", "into", "my", "me", "i", "im", "you", "your", "we", "our", "us", "it", "its", "is",
    "are", "was", "be", "do", "does", "did", "have", "has", "got", "get", "any", "some",
    "something", "anything", "one", "ones", "that", "this", "these", "those", "what", "which",
    "who", "where", "when", "how", "can", "could", "would", "should", "will", "want", "wanna",
    "need", "needs", "looking", "look", "find", "show", "recommend", "suggest", "sell", "sells",
    "carry", "stock", "buy", "please", "like", "good", "best", "great", "nice", "new", "there",
    "here", "also", "just", "really", "very", "much", "more", "most", "less", "than", "too", "so",
    "if", "but", "not", "no", "without", "other", "else", "kind", "type", "sort", "thing",
    "stuff", "item", "product", "option", "available", "price", "cost", "cheap", "s", "t", "d",
    "ll", "re", "ve", "m", "help", "tell", "give", "whats", "range", "line", "collection",
    "selection", "choice", "lineup", "menu", "offer", "offering", "gift", "idea",
})  # fmt: skip
_HEAD_ENDS = frozenset({"for", "with", "from", "in", "at", "under", "that", "which", "without",
                        "to", "on", "near", "below", "over", "above", "than"})  # fmt: skip


def _hyphenated(text: str, spans: list[tuple[int, int, str]]) -> set[int]:
    """Words joined to the one before by a hyphen ("sit-on-top")."""
    return {i for i, (start, _, _) in enumerate(spans) if i and text[start - 1 : start] == "-"}


def _unknown_head(
    words: list[str], matches: list[Match], breaks: set[int], joined: set[int], lex: Lexicon
) -> str | None:
    """The last word of what the query asks for (before its first preposition or clause
    break), when the catalog never uses it and nothing else in the query is the catalog's
    ("do you sell croissants"): then there is nothing to show."""
    if matches or not lex.vocabulary:
        return None
    head: list[str] = []
    for i, w in enumerate(words):
        if (i in breaks or (w in _HEAD_ENDS and i not in joined)) and head:
            break
        if w not in _FILLER and not w.replace(".", "").isdigit():
            head.append(w)
    if head and not lex.knows(head[-1]):
        return head[-1]
    return None


def _head_categories(words: list[str], matches: list[Match], breaks: set[int]) -> tuple[str, ...]:
    """The categories named before a preposition or clause break follows the first of them."""
    found: list[str] = []
    end = 0
    for m in matches:
        if found and any(words[i] in _HEAD_ENDS or i in breaks for i in range(end, m.start + 1)):
            break
        named = [t.key for t in m.targets if t.kind == "category"]
        if named and not m.negated:
            found += [c for c in named if c not in found]
            end = m.end
    return tuple(found)


def _capital_states(query: str, lex: Lexicon) -> set[str]:
    """Two-letter codes that are also words ("OR", "IN") count as states only in capitals."""
    codes = {t.key for ts in lex.phrases.values() for t in ts if t.kind == "state"}
    found = set(re.findall(r"\b([A-Z]{2})\b", query))
    return {c for c in found if c in codes or c in lex.states}


def _other_place(text: str, lex: Lexicon) -> bool:
    words = norm(text)
    return any(
        tuple(place) == words[i : i + len(place)]
        for place in lex.other_places
        for i in range(len(words) - len(place) + 1)
    )

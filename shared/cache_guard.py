"""The guard of the semantic response cache. It rejects by default: a cached answer is reused
for a new query only when the two say the same critical details (numbers, times, places, names,
negations, comparatives, roast, kind, amenity...), the same canonical content words in the same
order (every other word, less a closed list of fillers, through a table of synonyms:
shared/cache_words.py), are not too long to judge, and are close in embedding space.
Embeddings rate "in stock" and "out of stock" as near twins; the words keep their answers apart.
Pure and fast: no model calls, no store access, linear in the text, and at most MAX_CHARS of it
inspected."""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, NamedTuple

from shared import cache_patterns as pat
from shared import cache_vocabulary as vocab
from shared import hints as hintlib
from shared.ai.local_embedder import LocalEmbedder
from shared.cache_patterns import MAX_CHARS, TOKEN, fold, key
from shared.cache_words import MASK, canonical, content_words

# The cosine floor for the offline model (method and figures: docs/cache.md). Equal details and
# content words decide; the floor only asks the embedding to agree that the two are alike: 0.05
# above the similarity of all but 1 in 100 pairs of different same-intent questions in
# data/routing/dev.jsonl (0.539), rounded up to a multiple of 0.05.
SEMANTIC_MIN_SIMILARITY = 0.60
# Another model's cosine scale is unknown here: only near-identical wording may share answers.
DEFAULT_MIN_SIMILARITY = 0.95
_FLOORS = {LocalEmbedder.model_id: SEMANTIC_MIN_SIMILARITY}
# A longer query is never a semantic hit: the longer the text, the more a short list of words
# can miss in it (an instruction, a condition). Exact repeats are still served.
MAX_WORDS = 25


def min_similarity(model_id: str) -> float:
    """The cosine floor for a semantic candidate made by this embedding model."""
    return _FLOORS.get(model_id, DEFAULT_MIN_SIMILARITY)


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
    asks: frozenset[str] = frozenset()  # what is asked: price, hours, close, contact, refunds...
    others: frozenset[str] = frozenset()  # capitalised words nothing above knows ("Lavazza")


class _Reading(NamedTuple):
    details: Details
    words: tuple[str, ...]  # canonical content words, in the order said
    order: tuple[tuple[str, ...], ...]  # two or more details of one kind, in the order said
    size: int  # content words and details, repeats counted


class _Mark(NamedTuple):
    field: str
    value: str
    start: int
    end: int
    negated: bool = False


class _Scan:
    """One reading of one text: each detail found is masked out of the text left to read. A
    pass masks what it found in one copy of the text, so reading is linear in its length."""

    def __init__(self, lower: str) -> None:
        self.text = self.masked = lower
        self.marks: list[_Mark] = []
        self.copied = 0  # characters copied by masking, for the test of linear work
        self._found: list[tuple[int, int]] = []

    def take(self, field: str, value: str, start: int, end: int, negated: bool = False) -> None:
        self.marks.append(_Mark(field, value, start, end, negated))
        self._found.append((start, end))

    def commit(self) -> None:
        """Mask what this pass found (spans never overlap, but one may be taken twice)."""
        if self._found:
            self.masked = self._masked(self.masked, self._found, " ")
            self._found = []

    def sub(self, pattern: re.Pattern[str], read: pat.Reader) -> None:
        for m in pattern.finditer(self.masked):
            for field, value in read(m):
                self.take(field, value, m.start(), m.end())
        self.commit()

    def tag(self, lexicon: vocab.Lexicon) -> list[re.Match[str]]:
        """Longest-first phrase lookup over the words left; returns the words no phrase took."""
        phrases, longest = lexicon
        tokens = list(TOKEN.finditer(self.masked))
        left: list[re.Match[str]] = []
        i = 0
        while i < len(tokens):
            most = max(longest.get(v, 0) for v in vocab.variants(tokens[i][0]))
            for n in range(min(most, len(tokens) - i), 0, -1):
                phrase = " ".join(t[0] for t in tokens[i : i + n])
                entry = next((phrases[v] for v in vocab.variants(phrase) if v in phrases), None)
                if entry is not None:
                    self.take(*entry[:2], tokens[i].start(), tokens[i + n - 1].end(), entry[2])
                    i += n
                    break
            else:
                left.append(tokens[i])
                i += 1
        self.commit()
        return left

    def rest(self, runs: list[list[_Mark]]) -> str:
        """The text no detail took, with one MASK for each run of details (a phrase never spans
        one). An invisible character inside a run stays: the words must see it."""
        pieces, done = [], 0
        for run in runs:
            start, end = run[0].start, max(m.end for m in run)
            hidden = "".join(c for c in self.text[start:end] if _hidden(c))
            pieces += [self.text[done:start].replace(MASK, ","), f" {MASK} {hidden} "]
            done = end
        pieces.append(self.text[done:].replace(MASK, ","))  # a '|' typed is punctuation
        self.copied += len(self.text)
        return "".join(pieces)

    def _masked(self, text: str, spans: list[tuple[int, int]], fill: str) -> str:
        """`text` with each span filled: one copy, whatever the number of spans."""
        pieces, done = [], 0
        for start, end in sorted(spans):
            start = max(start, done)
            if end > start:
                pieces += [text[done:start], fill * (end - start)]
                done = end
        pieces.append(text[done:])
        self.copied += len(text)
        return "".join(pieces)


def _runs(marks: list[_Mark]) -> list[list[_Mark]]:
    """The marks grouped by the stretch of text they cover together, in the order said."""
    runs: list[list[_Mark]] = []
    end = -1
    for mark in sorted(marks, key=lambda m: (m.start, m.end)):
        if runs and mark.start <= end:
            runs[-1].append(mark)
        else:
            runs.append([mark])
        end = max(end, mark.end) if len(runs[-1]) > 1 else mark.end
    return runs


def _hidden(char: str) -> bool:
    """A format, private-use or unassigned character (or a control that is no space)."""
    return unicodedata.category(char)[0] == "C" and not char.isspace()


def _negate(lower: str, marks: list[_Mark]) -> list[_Mark]:
    """A detail within three words after 'no', 'not', 'without'... in the same clause, or right
    before '-free', is said negatively ('not unsweetened' is sweet again)."""
    tokens = list(TOKEN.finditer(lower))
    starts, ends = [t.start() for t in tokens], [t.end() for t in tokens]
    out = []
    for mark in marks:
        negated = mark.negated
        last = bisect.bisect_right(ends, mark.start)
        for t in reversed(tokens[max(0, last - 3) : last]):
            if pat.CLAUSE_BREAK.search(lower, t.end(), mark.start):
                break
            if t[0] in vocab.NEGATORS or (
                t[0] == "than" and pat.OTHER_THAN.search(lower, max(0, t.start() - 7), t.end())
            ):
                negated = not mark.negated
                break
        after = bisect.bisect_left(starts, mark.end)
        if after < len(tokens) and tokens[after][0] in vocab.POST_NEGATORS:
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


def _order(
    found: list[tuple[str, str]], values: Mapping[str, set[str]]
) -> tuple[tuple[str, ...], ...]:
    """Details of one kind said twice or more, in the order said: 'is A cheaper than B' is not
    'is B cheaper than A', nor is 'from Seattle to Denver' 'from Denver to Seattle'. A city and
    a street are two kinds of place ('state:', 'street:', 'shop:' start a kind)."""
    seen: dict[str, list[str]] = {}
    for field, value in found:
        kind = field + (value[: value.index(":")] if _KIND.match(value) else "")
        kept = seen.setdefault(kind, [])
        if value in values[field] and value not in kept:
            kept.append(value)
    return tuple((kind, *kept) for kind, kept in sorted(seen.items()) if len(kept) > 1)


_KIND = re.compile(r"[a-z]+:[a-z]")


def _after_space(text: str, start: int) -> str:
    """The last character before `start` that is not white space ('' at the start)."""
    i = start - 1
    while i >= 0 and text[i].isspace():
        i -= 1
    return text[i] if i >= 0 else ""


# -- the guard --------------------------------------------------------------------------------

_FIELDS = tuple(f.name for f in fields(Details))
_NO_DETAILS = Details()
_COFFEE_KINDS = frozenset({"beans", "ground", "pods", "instant"})  # "coffee beans" = "beans"
_WHEN = "when"
_TIMED = {"open": "hours", "close": "closing time"}  # "when" + the verb = the noun


class Guard:
    """Tells a paraphrase of a cached query from a near-duplicate with another answer, with the
    catalog's own names, places and vocabulary. Build it once per catalog version."""

    def __init__(
        self,
        names: Mapping[str, vocab.Entry],
        lexicon: Mapping[str, vocab.Entry],
        city_states: Mapping[str, str],
        coffees: Iterable[str] = (),
        origins: Iterable[str] = (),
    ) -> None:
        self._names, self._lexicon = vocab.indexed(names), vocab.indexed(lexicon)
        self._coffees = frozenset(coffees)  # names of the products that are coffees
        self._origins = frozenset(origins)  # places that grow coffee (as details name them)
        self._city_states = dict(city_states)
        phrases = (*names, *lexicon)
        self._known = frozenset(word for phrase in phrases for word in phrase.split())
        # Each turn checks one query against several candidates: read each text once.
        self._read = functools.lru_cache(maxsize=4096)(self._parse)

    @classmethod
    def build(
        cls, products: Iterable[Mapping[str, Any]], shops: Iterable[Mapping[str, Any]]
    ) -> Guard:
        """From catalog records (the products.jsonl / shops.jsonl format)."""
        products, shops = list(products), list(shops)
        gazetteer = hintlib.Gazetteer.build(products, shops)
        city_states = {
            key(str(s.get("city", ""))): f"state:{s['state']}".lower()
            for s in shops
            if s.get("state")
        }
        names = vocab.product_names(products) | vocab.streets(shops)
        coffees = {key(str(p.get("name", ""))) for p in products if p.get("kind") == "coffee"}
        lexicon = vocab.catalog_lexicon(products, gazetteer)
        return cls(names, lexicon, city_states, coffees, vocab.origins(gazetteer))

    def details(self, text: str) -> Details:
        """The critical details of `text` (of its first MAX_CHARS characters)."""
        return self._read(text[:MAX_CHARS]).details

    def words(self, text: str) -> tuple[str, ...]:
        """The canonical content words of `text`, in order: what it says besides its details."""
        return self._read(text[:MAX_CHARS]).words

    def same_question(
        self, query: str, cached_query: str, similarity: float, *, model_id: str
    ) -> bool:
        """May `query` reuse the answer cached for `cached_query`? Close enough for this model's
        embeddings (NaN never is), and not one detail or content word apart."""
        if not similarity >= min_similarity(model_id):
            return False
        return self.reason(query, cached_query) is None

    def reason(self, query: str, cached_query: str) -> str | None:
        """Why the two may not share an answer: "length" (either is too long to judge), "empty"
        (either says nothing once its frames are dropped: only an exact repeat may share), the
        first kind of detail that differs ("numbers", "places"...), "words" (content words, in
        any order), "order" (of the content words, or of details of one kind), or None. A name
        only: logs never carry user text."""
        mine, theirs = self._read(query[:MAX_CHARS]), self._read(cached_query[:MAX_CHARS])
        if max(mine.size, theirs.size) > MAX_WORDS:
            return "length"
        if min(mine.size, theirs.size) == 0:  # "What is it?", "Do you have any?": says nothing
            return "empty"
        a, b = mine.details, theirs.details
        field = next((f for f in _FIELDS if getattr(a, f) != getattr(b, f)), None)
        if field is None and sorted(mine.words) != sorted(theirs.words):
            field = "words"
        if field is None and (mine.words, mine.order) != (theirs.words, theirs.order):
            field = "order"
        return field

    def _parse(self, text: str) -> _Reading:
        """Catalog names first (a 'Midnight Blend' is no time), then times and quantities, then
        every other phrase; what is left may hold a proper noun, and is the content words."""
        cased = fold(text)
        lower = cased.lower()
        if len(lower) != len(cased):  # a rare letter changed length in lower case
            cased = lower
        scan = _Scan(lower)
        scan.tag(self._names)
        for m in pat.STATE_CODES.finditer(cased):
            scan.take("places", f"state:{m['code'].lower()}", m.start("code"), m.end("code"))
        scan.commit()
        for pattern, read in pat.PASSES:
            scan.sub(pattern, read)
        left = scan.tag(self._lexicon)
        scan.sub(pat.MORE_LESS, vocab.more_or_less)
        marks = _negate(lower, scan.marks)
        resolved = sorted((m.start, *_resolve(m)) for m in marks)
        values: dict[str, set[str]] = {f: set() for f in _FIELDS}
        for _, field, value, negated in resolved:
            values[field].add(value)
            if negated:
                values["negated"].add(value)
        values["others"] = self._proper_nouns(cased, left)
        _tidy(values, self._city_states)
        details = Details(**{f: frozenset(v) for f, v in values.items()})
        runs = _runs(marks)
        said = canonical(scan.rest(runs))
        if _WHEN in said and (timed := {_TIMED[a] for a in details.asks if a in _TIMED}):
            said = [w for w in said if w != _WHEN]  # "when does it open" asks its hours
            details = replace(details, asks=details.asks - _TIMED.keys() | timed)
        implied = self._implied(details)
        order = _order([(f, v) for _, f, v, _ in resolved], values)
        objects = ["+".join(sorted({":".join(_resolve(m)[:2]) for m in run})) for run in runs]
        words = content_words(said, implied, objects, details=details != _NO_DETAILS)
        size = sum(w != MASK for w in said) + len(resolved)
        return _Reading(details, words, order, size)

    def _implied(self, details: Details) -> frozenset[str]:
        """Words the details say already: 'the Seattle Uptown shop', 'the Atlas Lot coffee',
        'coffee beans'; only coffee is roasted, grown somewhere or processed ('a Kenyan coffee'
        is 'a Kenyan', 'roasted dark' is 'a dark roast', 'the Huye region' is Huye). A city grows
        no coffee: 'coffee in Seattle' keeps its word."""
        names = details.names
        shop = any(n.startswith("shop:") for n in names)
        coffee = any(n.startswith("~") or n in self._coffees for n in names)
        coffee = coffee or bool(details.kinds & _COFFEE_KINDS or details.roasts)
        coffee = coffee or bool(details.places & self._origins)
        coffee = coffee or any(f.startswith("process:") for f in details.features)
        roast = ("roast", "roasted") if details.roasts else ()
        grown = ("region", "origin", "country") if details.places & self._origins else ()
        return frozenset(("shop",) * shop + ("coffee",) * coffee + roast + grown)

    def _proper_nouns(self, cased: str, left: list[re.Match[str]]) -> set[str]:
        """Capitalised words mid-sentence that nothing else knows: a brand, a town, a person.
        None in Title Cased or SHOUTED text, where capitals say nothing."""
        words = [t for t in TOKEN.finditer(cased.lower()) if t[0][0].isalpha()]
        if len(words) >= 3 and 2 * sum(cased[t.start()].isupper() for t in words) > len(words):
            return set()
        return {
            t[0]
            for t in left
            if cased[t.start()].isupper()
            and t[0] not in vocab.STOPWORDS
            and t[0] not in self._known
            and _after_space(cased, t.start()) not in pat.SENTENCE_START | {""}
        }

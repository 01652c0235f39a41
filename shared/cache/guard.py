"""The guard of the semantic response cache. It rejects by default: a cached answer is reused
for a new query only when the two say the same critical details (numbers, times, places, names,
negations, comparatives, categories, values, amenities...), the same canonical content words in
the same order (every other word, less a closed list of fillers, through a table of synonyms:
shared/cache/words.py), are not too long to judge, and are close in embedding space.
Embeddings rate "in stock" and "out of stock" as near twins; the words keep their answers apart.
Pure and fast: no model calls, no store access, linear in the text, and at most MAX_CHARS of it
inspected."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from typing import Any

from shared.ai import LOCAL_EMBEDDER_ID
from shared.cache import catalog_terms
from shared.cache import patterns as pat
from shared.cache import vocabulary as vocab
from shared.cache.details import (
    Details,
    Reading,
    Scan,
    ScatteredNames,
    after_space,
    negate,
    order_of,
    resolve,
    runs_of,
    tidy,
)
from shared.cache.patterns import MAX_CHARS, TOKEN, fold, key
from shared.cache.words import MASK, canonical, content_words, small_talk
from shared.catalog import profile as profiles
from shared.catalog.profile import Profile
from shared.text import singular

# The cosine floor for the offline model (method and figures: docs/cache.md). Equal details and
# content words decide; the floor only asks the embedding to agree that the two are alike: 0.05
# above the similarity of all but 1 in 100 pairs of different same-intent questions in
# data/intent/dev.jsonl (0.539), rounded up to a multiple of 0.05.
SEMANTIC_MIN_SIMILARITY = 0.60
# When both name the same catalog things (products, places, amounts, categories, values,
# amenities), the details pin what is asked about, and the embedding need only agree that the
# two are the same sort of question: above all but 1 in 20 pairs of questions with different
# intents in data/intent/dev.jsonl (0.283), with 0.05 to spare, rounded up to 0.05.
ANCHORED_MIN_SIMILARITY = 0.35
# Another model's cosine scale is unknown here: only near-identical wording may share answers.
DEFAULT_MIN_SIMILARITY = 0.95
_FLOORS = {LOCAL_EMBEDDER_ID: SEMANTIC_MIN_SIMILARITY}
_ANCHORED_FLOORS = {LOCAL_EMBEDDER_ID: ANCHORED_MIN_SIMILARITY}
_ANCHORS = ("names", "places", "numbers", "kinds", "features", "amenities")
# A longer query is never a semantic hit: the longer the text, the more a short list of words
# can miss in it (an instruction, a condition). Exact repeats are still served.
MAX_WORDS = 25


def min_similarity(model_id: str, *, anchored: bool = False) -> float:
    """The cosine floor for a semantic candidate made by this embedding model (`anchored`: for
    two queries that name the same catalog things; the lowest floor any pair may have)."""
    if anchored:
        return _ANCHORED_FLOORS.get(model_id, DEFAULT_MIN_SIMILARITY)
    return _FLOORS.get(model_id, DEFAULT_MIN_SIMILARITY)


_LESS = re.compile(r"\b([A-Za-z]{3,})less\b")
# Words that ask for the whole sentence, not for one part of it: where they are said does not
# matter ("recommend a mild one" = "which mild one would you recommend"); that they are, does.
_ANYWHERE = frozenset({"recommend", "hello", "thanks", "bye", "please"})
_OPENING = frozenset({"open", "close", "hours", "closing time"})
_COURTESY = frozenset(
    {
        "hello",
        "thanks",
        "bye",
        "please",
        "ok",
        "nevermind",
        "morning",
        "afternoon",
        "evening",
        "night",
    }
)


def _ordered(words: tuple[str, ...]) -> tuple[str, ...]:
    """The content words whose order is compared."""
    return tuple(w for w in words if w not in _ANYWHERE)


def _alike(field: str, a: frozenset[str], b: frozenset[str]) -> bool:
    return pat.same_amounts(a, b) if field == "numbers" else a == b


def _named_brands(names: frozenset[str]) -> frozenset[str]:
    """Brands said beside a named product whose name holds them: the name says them already."""
    products = [f" {n} " for n in names if ":" not in n and not n.startswith("~")]
    return frozenset(
        n for n in names if n.startswith("brand:") and any(f" {n[6:]} " in p for p in products)
    )


# -- the guard --------------------------------------------------------------------------------

_FIELDS = tuple(f.name for f in fields(Details))
_NO_DETAILS = Details()
_WHEN = "when"
_TIMED = {"open": "hours", "close": "closing time"}  # "when" + the verb = the noun


class Guard:
    """Tells a paraphrase of a cached query from a near-duplicate with another answer, with the
    catalog's own names, places and vocabulary (from its profile). Build it once per catalog
    version."""

    def __init__(
        self,
        names: Mapping[str, vocab.Entry],
        lexicon: Mapping[str, vocab.Entry],
        city_states: Mapping[str, str],
        kind_words: Mapping[str, frozenset[str]] | None = None,
        own_words: frozenset[str] = frozenset(),
    ) -> None:
        self._names, self._lexicon = vocab.indexed(names), vocab.indexed(lexicon)
        self._kind_words = dict(kind_words or {})  # a product name -> its category's words
        self._own_words = own_words  # the retailer's name, said or not: the same question
        self._city_states = dict(city_states)
        self._scattered = ScatteredNames(list(self._kind_words))
        self._implied_kinds: dict[str, frozenset[str]] = {}  # from_profile fills these two
        self._shop_city: dict[str, str] = {}
        phrases = (*names, *lexicon)
        self._known = frozenset(word for phrase in phrases for word in phrase.split())
        self._vocabulary = self._known  # from_profile adds every word of the catalog's text
        # Each turn checks one query against several candidates: read each text once.
        self._read = functools.lru_cache(maxsize=4096)(self._parse)

    @classmethod
    def from_profile(cls, profile: Profile) -> Guard:
        """From the catalog profile the ingest function keeps (never a scan of the catalog)."""
        city_states = {key(s.city): f"state:{s.state}".lower() for s in profile.shops if s.state}
        lexicon = vocab.catalog_lexicon(profile)
        # The words of its values and yes/no attributes (a name's last word may be one of them:
        # "Trail Mate Waterproof"), not of its product lines or brands.
        vocabulary = frozenset(
            w
            for phrase, (field, *_) in lexicon.items()
            if field == "features"
            for w in phrase.split()
        )
        names = catalog_terms.product_names(profile, vocabulary) | vocab.streets(profile)
        by_id = vocab.category_words(profile)
        kind_words = {key(n): by_id.get(pid, frozenset()) for pid, n in profile.products.items()}
        shop_words = vocab.common_name_words([s.name for s in profile.shops], 0.5)
        said = key(profile.name or "").split()
        own = frozenset(said) | frozenset(singular(w) for w in said) | shop_words
        guard = cls(names, lexicon, city_states, kind_words, own - vocab.STOPWORDS)
        guard._implied_kinds = catalog_terms.implied_kinds(profile)
        guard._shop_city = catalog_terms.only_shops(profile)
        guard._vocabulary = guard._known | frozenset(profile.terms)
        return guard

    @classmethod
    def build(
        cls,
        products: Iterable[Mapping[str, Any]],
        shops: Iterable[Mapping[str, Any]],
        manifest: Mapping[str, Any] | None = None,
    ) -> Guard:
        """From catalog records (format v1 or v2, as files hold them): for tests and tools."""
        records = [{**p, "category": p.get("category") or p.get("kind") or ""} for p in products]
        return cls.from_profile(profiles.build(records, list(shops), manifest))

    def details(self, text: str) -> Details:
        """The critical details of `text` (of its first MAX_CHARS characters)."""
        return self._read(text[:MAX_CHARS]).details

    def words(self, text: str) -> tuple[str, ...]:
        """The canonical content words of `text`, in order: what it says besides its details."""
        return self._read(text[:MAX_CHARS]).words

    def same_question(
        self, query: str, cached_query: str, similarity: float, *, model_id: str
    ) -> bool:
        """May `query` reuse the answer cached for `cached_query`? Not one detail or content word
        apart, and close enough for this model's embeddings (NaN never is): the lower floor when
        they name catalog things, which the details have already found equal."""
        if not similarity >= min_similarity(model_id, anchored=True):
            return False  # NaN too
        if self.reason(query, cached_query) is not None:
            return False
        details, words = self.details(query), self.words(query)
        anchored = any(getattr(details, f) for f in _ANCHORS)
        # "hello" / "hey there!", "many thanks" / "thank you!": nothing but what the table of
        # greetings says, which it has found equal
        courtesy = bool(words) and set(words) <= _COURTESY and details == _NO_DETAILS
        return similarity >= min_similarity(model_id, anchored=anchored or courtesy)

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
        field = next((f for f in _FIELDS if not _alike(f, getattr(a, f), getattr(b, f))), None)
        if field is None and sorted(mine.words) != sorted(theirs.words):
            field = "words"
        if field is None and (_ordered(mine.words), mine.order) != (
            _ordered(theirs.words),
            theirs.order,
        ):
            field = "order"
        return field

    def _parse(self, text: str) -> Reading:
        """Catalog names first (a 'Midnight Blend' is no time), then times and quantities, then
        every other phrase; what is left may hold a proper noun, and is the content words."""
        cased = _LESS.sub(self._without, fold(text))
        lower = cased.lower()
        if courtesy := small_talk(" ".join(TOKEN.findall(lower))):
            return Reading(_NO_DETAILS, courtesy, (), 1)  # "see you later": a courtesy, no time
        if len(lower) != len(cased):  # a rare letter changed length in lower case
            cased = lower
        scan = Scan(lower)
        self._scattered.take(scan)
        scan.tag(self._names)
        for m in pat.STATE_CODES.finditer(cased):
            scan.take("places", f"state:{m['code'].lower()}", m.start("code"), m.end("code"))
        scan.commit()
        for pattern, read in pat.PASSES:
            scan.sub(pattern, read)
        left = scan.tag(self._lexicon)
        scan.sub(pat.MORE_LESS, vocab.more_or_less)
        marks = [  # the only shop of its city is said by the city's name too
            m._replace(field="places", value=self._shop_city[m.value])
            if m.field == "names" and m.value in self._shop_city
            else m
            for m in negate(lower, scan.marks)
        ]
        resolved = sorted((m.start, *resolve(m)) for m in marks)
        values: dict[str, set[str]] = {f: set() for f in _FIELDS}
        for _, field, value, negated in resolved:
            values[field].add(value)
            if negated:
                values["negated"].add(value)
        values["others"] = self._proper_nouns(cased, left)
        tidy(values, self._city_states)
        details = Details(**{f: frozenset(v) for f, v in values.items()})
        runs = runs_of(marks)
        said = canonical(scan.rest(runs))
        if _WHEN in said and (timed := {_TIMED[a] for a in details.asks if a in _TIMED}):
            said = [w for w in said if w != _WHEN]  # "when does it open" asks its hours
            details = replace(details, asks=details.asks - _TIMED.keys() | timed)
        implied = self._implied(details)
        said_by_name = self._named_kinds(details)
        said_by_name |= self._said_by_details(details)
        if details.kinds & said_by_name:  # "the Copper Lot lamp": the name says its kind
            details = replace(details, kinds=details.kinds - said_by_name)
        if brands := _named_brands(details.names):  # "the Summit 2 from Northwind"
            details = replace(details, names=details.names - brands)
        final = {f: getattr(details, f) for f in _FIELDS}  # what implied details left
        order = order_of([(f, v) for _, f, v, _ in resolved], final)
        objects = [
            "+".join(sorted({f"{f}:{pat.coarse(v) if f == 'numbers' else v}" for m in run
                             for f, v, *_ in [resolve(m)]}))
            for run in runs
        ]  # fmt: skip
        words = content_words(said, implied, objects, details=details != _NO_DETAILS)
        size = sum(w != MASK for w in said) + len(resolved)
        return Reading(details, words, order, size)

    def _without(self, m: re.Match[str]) -> str:
        """ "Frameless" says "no frame" when "frame" is a word of the catalog."""
        stem = m[1].lower()
        known = stem in self._vocabulary or singular(stem) in self._vocabulary
        return f"no {m[1]}" if known else m[0]

    def _named_kinds(self, details: Details) -> frozenset[str]:
        """Categories a named product is in, as the details name them ('lighting', 'lamps')."""
        words: set[str] = set()
        for name in details.names:
            words |= self._kind_words.get(name, frozenset())
        return frozenset(k for k in details.kinds if set(k.split()) <= words)

    def _said_by_details(self, details: Details) -> frozenset[str]:
        """Categories another detail says already: one above a category said ("lighting desk
        lamps" when desk lamps are always lighting), or above everything a value said applies
        to."""
        implied: set[str] = set()
        for detail in details.kinds | details.features:
            implied |= self._implied_kinds.get(detail, frozenset())
        return frozenset(implied) & details.kinds

    def _implied(self, details: Details) -> frozenset[str]:
        """Words the details say already: 'the Seattle Uptown shop' (a shop's name), 'the
        Copper Lot lamp' (the named product's own category), 'the Jaipur region' (the
        attribute a named value belongs to), and the retailer's own name."""
        implied = set(self._own_words)
        shop_cities = set(self._shop_city.values()) | set(self._city_states)
        if any(n.startswith("shop:") for n in details.names) or details.places & shop_cities:
            implied.add("shop")  # "the Highlands store", "our Denver shop": a shop is meant
            if details.asks & _OPENING:
                implied.add("you")  # "Bend store: are you open?" asks if the shop is
        for name in details.names:
            implied |= self._kind_words.get(name, frozenset())
        for feature in details.features:
            attribute, _, value = feature.partition(":")
            if value:
                implied |= {*attribute.split(), *(singular(w) for w in attribute.split())}
        return frozenset(implied)

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
            and after_space(cased, t.start()) not in pat.SENTENCE_START | {""}
        }

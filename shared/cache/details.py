"""What the cache guard reads in a query: its critical `Details`, and the scan that finds them
(marks over the lower-cased text, negation, runs of details, what is left for content words)."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import NamedTuple

from shared.cache import patterns as pat
from shared.cache import vocabulary as vocab
from shared.cache.patterns import TOKEN
from shared.cache.words import MASK


@dataclass(frozen=True)
class Details:
    """The critical details of one query, normalised; two queries with different details have
    different answers however close their embeddings are. Field order is `reason`'s order."""

    numbers: frozenset[str] = frozenset()  # "10", "<15", ">30", "250g", "#2"
    times: frozenset[str] = frozenset()  # "sunday", "weekend", "<07:00", "@19:00", "late", "24h"
    places: frozenset[str] = frozenset()  # cities, "state:tx", streets, cities lacking a shop
    names: frozenset[str] = frozenset()  # products, "shop:uptown", "~alpine" (a product line)
    negated: frozenset[str] = frozenset()  # details said under a negation ("without a hood")
    comparatives: frozenset[str] = frozenset()  # "price_low", "size_high", "more:sweet"...
    kinds: frozenset[str] = frozenset()  # the catalog's categories ("desk lamps")
    amenities: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()  # its values ("fill:down") and yes/no attributes
    asks: frozenset[str] = frozenset()  # what is asked: price, hours, close, contact, refunds...
    others: frozenset[str] = frozenset()  # capitalised words nothing above knows ("Lavazza")


class Reading(NamedTuple):
    details: Details
    words: tuple[str, ...]  # canonical content words, in the order said
    order: tuple[tuple[str, ...], ...]  # two or more details of one kind, in the order said
    size: int  # content words and details, repeats counted


class Mark(NamedTuple):
    field: str
    value: str
    start: int
    end: int
    negated: bool = False


class Scan:
    """One reading of one text: each detail found is masked out of the text left to read. A
    pass masks what it found in one copy of the text, so reading is linear in its length."""

    def __init__(self, lower: str) -> None:
        self.text = self.masked = lower
        self.marks: list[Mark] = []
        self.copied = 0  # characters copied by masking, for the test of linear work
        self._found: list[tuple[int, int]] = []

    def take(self, field: str, value: str, start: int, end: int, negated: bool = False) -> None:
        self.marks.append(Mark(field, value, start, end, negated))
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

    def rest(self, runs: list[list[Mark]]) -> str:
        """The text no detail took, with one MASK for each run of details (a phrase never spans
        one). An invisible character inside a run stays: the words must see it."""
        pieces, done = [], 0
        for run in runs:
            start, end = run[0].start, max(m.end for m in run)
            hidden = "".join(c for c in self.text[start:end] if is_hidden(c))
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


class ScatteredNames:
    """Product names said with their words apart or in another order: "the women's Alder Crew
    150" for "Alder Crew 150 Women's", "the Summit 2 from Northwind" for "Northwind Summit 2".
    Read before the names said whole."""

    SLACK = 4  # words of the sentence that may sit between a name's own

    def __init__(self, names: list[str]) -> None:
        self._words = {n: frozenset(TOKEN.findall(n)) - vocab.STOPWORDS for n in names}
        self._words = {n: w for n, w in self._words.items() if len(w) >= 2}
        self._by_word: dict[str, list[str]] = {}
        for name, said in self._words.items():
            for word in said:
                self._by_word.setdefault(word, []).append(name)

    def take(self, scan: Scan) -> None:
        """Marks the one name all of whose words are said, each once and close together, when
        every other name so said is part of it (two names said: left to the whole names)."""
        tokens = list(TOKEN.finditer(scan.masked))
        at: dict[str, list[int]] = {}
        for i, t in enumerate(tokens):
            for v in vocab.variants(t[0]):
                at.setdefault(v, []).append(i)
        counts: dict[str, int] = {}
        for word in at:
            for name in self._by_word.get(word, ()):
                counts[name] = counts.get(name, 0) + 1
        said = [n for n, c in counts.items() if c == len(self._words[n])]
        if not said:
            return
        top = max(said, key=lambda n: len(self._words[n]))
        words = self._words[top]
        if any(not self._words[n] <= words for n in said) or any(len(at[w]) > 1 for w in words):
            return
        places = sorted(at[w][0] for w in words)
        if places[-1] - places[0] + 1 > len(words) + self.SLACK:
            return
        for i in places:
            scan.take("names", top, tokens[i].start(), tokens[i].end())
        scan.commit()


def runs_of(marks: list[Mark]) -> list[list[Mark]]:
    """The marks grouped by the stretch of text they cover together, in the order said."""
    runs: list[list[Mark]] = []
    end = -1
    for mark in sorted(marks, key=lambda m: (m.start, m.end)):
        if runs and mark.start <= end:
            runs[-1].append(mark)
        else:
            runs.append([mark])
        end = max(end, mark.end) if len(runs[-1]) > 1 else mark.end
    return runs


def is_hidden(char: str) -> bool:
    """A format, private-use or unassigned character (or a control that is no space)."""
    return unicodedata.category(char)[0] == "C" and not char.isspace()


def negate(lower: str, marks: list[Mark]) -> list[Mark]:
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


def resolve(mark: Mark) -> tuple[str, str, bool]:
    """A mark as (field, value, said under a negation)."""
    return mark.field, mark.value, mark.negated


def tidy(values: dict[str, set[str]], city_states: Mapping[str, str]) -> None:
    """Saturday and Sunday are the weekend; 'Seattle, WA' is Seattle."""
    days = values["times"]
    if {"saturday", "sunday"} <= days:
        days -= {"saturday", "sunday"}
        days.add("weekend")
    values["places"] -= {city_states[p] for p in values["places"] if p in city_states}


def order_of(
    found: list[tuple[str, str]], values: Mapping[str, AbstractSet[str]]
) -> tuple[tuple[str, ...], ...]:
    """Details of one kind said twice or more, in the order said: 'is A cheaper than B' is not
    'is B cheaper than A', nor is 'from Seattle to Denver' 'from Denver to Seattle'. A city and
    a street are two kinds of place ('state:', 'street:', 'shop:' start a kind); a day and a
    clock time two kinds of time ('on Saturday before 7am' = 'before 7am on Saturday'); the
    values of two attributes two kinds of feature ('grain-free kitten food' = 'kitten food
    that is grain free')."""
    seen: dict[str, list[str]] = {}
    for field, value in found:
        kind = field + (value[: value.index(":")] if KIND.match(value) else "")
        if field == "times" and any(c.isdigit() for c in value):
            kind = "times:clock"
        elif field == "features":  # values of one attribute; each yes/no attribute alone
            kind = "features:" + value.partition(":")[0]
        kept = seen.setdefault(kind, [])
        if value in values[field] and value not in kept:
            kept.append(value)
    return tuple((kind, *kept) for kind, kept in sorted(seen.items()) if len(kept) > 1)


KIND = re.compile(r"[a-z]+:[a-z]")


def after_space(text: str, start: int) -> str:
    """The last character before `start` that is not white space ('' at the start)."""
    i = start - 1
    while i >= 0 and text[i].isspace():
        i -= 1
    return text[i] if i >= 0 else ""

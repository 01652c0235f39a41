"""The response cache: exact hits on a normalised key, semantic hits that are never wrong.

An entry is keyed by (normalised query, intent, conversation fingerprint, catalog version),
so nothing is served across a catalog change or from another conversation's context. A
semantic hit is a near neighbour of the query's vector among entries with the same intent,
fingerprint and catalog version, above a similarity floor, whose question has the same
critical details (numbers, days and times, places, names, negation, comparatives: see
cache_guard.py). Only a model's complete answers are stored; a TTL per intent keeps answers
about hours or stock short-lived.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import re
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.cache.details import Details
from shared.cache.guard import Guard, min_similarity
from shared.catalog import CATALOG_DOC, META
from shared.catalog import profile as profiles
from shared.catalog.profile import Profile
from shared.logs import fields
from shared.store import EXPIRES_AT, DistanceMeasure, Embedding, Filter, Increment, Store
from shared.store import utc_now as _utc_now
from shared.text import normalise as text_normalise

if TYPE_CHECKING:
    import numpy as np

    from shared.ai import Turn

log = logging.getLogger("shared.cache")
RESPONSE_CACHE = "response_cache"
NEIGHBOURS = 4  # semantic candidates checked by the guard
# Words that make a question lean on the conversation ("is it waterproof?", "and the cheaper one?")
# or on the asker ("recommend one for me", "I'm pregnant, which is safe?"): its answer then
# depends on that conversation, so it is keyed on it and never served to anyone else.
_CONTEXTUAL = re.compile(
    r"\b(it|its|it's|that|those|these|this|them|they|their|one|ones|same|other|another|"
    r"then|else|also|too|more|instead|first|second|last|former|latter|previous|above|both|"
    r"the two|which is|which one|i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|us|our)\b|"
    r"^(and|or|but|so|what about|how about|why|why not|really|ok|okay)\b"
)
# Request frames that say "me" or "I" without telling anything about the asker.
_FRAMES = re.compile(
    r"\b((tell|show|give|let|help|get|find|send) me|(can|could|may|should|shall|do|would) i)\b"
)
_VOLATILE = re.compile(
    r"\b(open|opens|opening|close|closes|closing|closed|hours?|stock|in stock|available|"
    r"availability|left|sold out|inventory)\b"
)
# The answer depends on the moment it is asked, which no cached answer knows.
_MOMENT = re.compile(
    r"\b(now|right now|currently|today|tonight|tomorrow|this (morning|afternoon|evening|week)|"
    r"at the moment|still open|yet)\b"
)
_TTL_SHARE = {"PRODUCT_RAG": 1.0, "LOCATION_RAG": 0.5, "GENERAL_CONVERSATION": 1.0}
_VOLATILE_SHARE = 1 / 12


@dataclass(frozen=True)
class CacheQuery:
    """A turn's question as the cache sees it, built once a turn: what is asked, its vector
    (and the model behind it), and what the answer depends on (intent, conversation, catalog)."""

    text: str
    vector: np.ndarray
    model_id: str
    intent: str
    context: str  # the conversation fingerprint: "" for a question that stands on its own
    catalog_version: int

    @property
    def key(self) -> str:
        return cache_key(self.text, self.intent, self.context, self.catalog_version)


@dataclass(frozen=True)
class CacheHit:
    answer: str
    sources: list[dict[str, Any]]
    kind: str  # "exact" | "semantic"
    similarity: float
    key: str


def normalise(text: str) -> str:
    """The cache key's text: case, width, composed forms, apostrophes, spacing and trailing
    punctuation do not matter (`shared.text.normalise`, then the punctuation off)."""
    return text_normalise(text).rstrip(" ?!.…").strip()


def context_fingerprint(query: str, history: Sequence[Turn], *, names_nothing: bool = False) -> str:
    """Empty for a question that stands on its own (the model then answers it without the
    conversation); otherwise a hash of the whole conversation window the model sees, so the
    answer is only ever reused in the very same conversation. A question leans on the
    conversation when it is very short, refers back or to the asker, or (`names_nothing`)
    asks about something without naming it ("what's the price?", "which is cheaper?")."""
    words = normalise(query).split()
    plain = _FRAMES.sub(" ", " ".join(words))
    if history and (names_nothing or len(words) <= 2 or _CONTEXTUAL.search(plain)):
        window = [[t.role, t.content] for t in history]
        return hashlib.sha256(json.dumps(window).encode()).hexdigest()[:32]
    return ""


def names_nothing(details: Details) -> bool:
    """No product, shop, place, category, amenity or value: only what is asked ("the price",
    "the hours") or how ("cheaper"), which the conversation must complete."""
    return not (
        details.places
        or details.names
        or details.kinds
        or details.amenities
        or details.features
        or details.others
    )


def cache_key(query: str, intent: str, context: str, catalog_version: int) -> str:
    raw = json.dumps([normalise(query), intent, context, catalog_version])
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def ttl_for(query: str, intent: str, base_s: int) -> int:
    """Seconds an answer stays: a share of the base by intent, 1/12 of it for anything about
    opening hours or stock, and 0 (never cached) for a question about the present moment."""
    norm = normalise(query)
    if _MOMENT.search(norm):
        return 0
    share = _TTL_SHARE.get(intent, 1.0)
    if _VOLATILE.search(norm):
        share *= _VOLATILE_SHARE
    return int(base_s * share)


class ResponseCache:
    def __init__(
        self,
        store: Store,
        *,
        ttl_s: int = 3600,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._guard: tuple[int, Guard] | None = None
        self._generic: tuple[int, frozenset[str]] | None = None
        self.hits = HitCounter(store, clock)

    # --- catalog

    def catalog_version(self) -> int:
        meta = self.store.get(META, CATALOG_DOC) or {}
        return int(meta.get("version", 0))

    def guard(self, version: int) -> Guard:
        """The guard for this catalog version, rebuilt when the version moves."""
        cached = self._guard
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._lock:
            cached = self._guard
            if cached is not None and cached[0] == version:
                return cached[1]
            profile = profiles.load(self.store) or Profile()  # built by ingest, never a scan
            guard = Guard.from_profile(profile)
            # Names other products' descriptions use as words ("Cold Brew"): an answer may say
            # the word without meaning the product.
            generic: set[str] = set()
            for name in profile.generic_names:
                generic |= guard.details(name).names
            self._guard = (version, guard)
            self._generic = (version, frozenset(generic))
            return guard

    def generic_names(self, version: int) -> frozenset[str]:
        """The guard's names (for this version) that are also ordinary words."""
        self.guard(version)
        cached = self._generic
        return cached[1] if cached is not None and cached[0] == version else frozenset()

    # --- lookups

    def lookup(self, q: CacheQuery, *, relax: float = 0.0) -> CacheHit | None:
        """The exact entry, else the nearest guarded neighbour above the floor (minus `relax`,
        for the fallback ladder's rung only), else None."""
        key = q.key
        entry = self.store.get(RESPONSE_CACHE, key)
        if entry is not None and entry.get("answer"):
            self._count_hit(key, entry)
            return CacheHit(entry["answer"], list(entry.get("sources", [])), "exact", 1.0, key)
        found = self.store.nearest(
            RESPONSE_CACHE,
            field="embedding",
            query=Embedding(q.vector, q.model_id),
            k=NEIGHBOURS,
            measure=DistanceMeasure.DOT_PRODUCT,
            where=[
                Filter("catalog_version", "==", q.catalog_version),
                Filter("intent", "==", q.intent),
                Filter("context", "==", q.context),
            ],
        )
        guard = self.guard(q.catalog_version)
        floor = min_similarity(q.model_id, anchored=True) - relax  # the guard has its own
        for hit in found:
            similarity = float(hit.distance)
            if similarity < floor:
                break
            cached_query = str(hit.data.get("query", ""))
            if guard.same_question(q.text, cached_query, similarity + relax, model_id=q.model_id):
                self._count_hit(hit.id, hit.data)
                return CacheHit(
                    str(hit.data["answer"]),
                    list(hit.data.get("sources", [])),
                    "semantic",
                    similarity,
                    hit.id,
                )
            log.debug(
                "semantic neighbour rejected",
                extra=fields(
                    similarity=round(similarity, 4), reason=guard.reason(q.text, cached_query)
                ),
            )
        return None

    def store_answer(
        self, q: CacheQuery, *, answer: str, sources: Sequence[Mapping[str, Any]]
    ) -> str | None:
        """Keep a model's complete answer; returns its key (None when its TTL would be 0)."""
        ttl = ttl_for(q.text, q.intent, self.ttl_s)
        if ttl <= 0 or not answer.strip():
            return None
        key = q.key
        now = self._clock()
        self.store.set(
            RESPONSE_CACHE,
            key,
            {
                "query": q.text[:2000],
                "intent": q.intent,
                "context": q.context,
                "catalog_version": q.catalog_version,
                "answer": answer,
                "sources": [dict(s) for s in sources],
                "embedding": Embedding(q.vector, q.model_id),
                "hits": 0,
                "created_at": now,
                EXPIRES_AT: now + timedelta(seconds=ttl),
            },
        )
        return key

    def forget(self, q: CacheQuery) -> None:
        """Drop the entry of this question (its asker's session is gone)."""
        self.store.delete(RESPONSE_CACHE, q.key)

    def _count_hit(self, key: str, entry: Mapping[str, Any]) -> None:
        self.hits.add(key, entry[EXPIRES_AT])

    def flush_hits(self) -> None:
        """Write the hits counted so far (tests; shutdown)."""
        self.hits.flush()

    def close(self) -> None:
        self.hits.close()


_open_counters: weakref.WeakSet[HitCounter] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for counter in list(_open_counters):
        counter.close()


class HitCounter:
    """Hit counts, written off the request path: each entry's hits are summed in memory and
    written as one atomic increment at most every FLUSH_S, so a popular answer costs its
    document about one write a second per instance, not one per hit. The increment carries the
    entry's expiry: if the entry vanished meanwhile, the stub the merge creates (no answer, so
    never served) still expires."""

    FLUSH_S = 1.0

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store, self._clock = store, clock
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, datetime]] = {}
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, key: str, expires_at: datetime) -> None:
        with self._lock:
            if self._closed:
                return  # shutting down: a lost count costs nothing
            count, _ = self._pending.get(key, (0, expires_at))
            self._pending[key] = (count + 1, expires_at)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="cache-hits", daemon=True)
                self._thread.start()
                _open_counters.add(self)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        now = self._clock()
        for key, (count, expires_at) in pending.items():
            try:
                self.store.merge(
                    RESPONSE_CACHE,
                    key,
                    {"hits": Increment(count), "last_hit_at": now, EXPIRES_AT: expires_at},
                )
            except Exception:  # a lost count must never cost anything else
                log.warning("cache hit count failed", exc_info=True)

    def close(self) -> None:
        _open_counters.discard(self)
        with self._lock:
            self._closed, thread = True, self._thread
        self._wake.set()
        if thread is not None:
            thread.join(5)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.FLUSH_S)
            self.flush()

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

import hashlib
import json
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.cache_guard import Guard, min_similarity
from shared.catalog import CATALOG_DOC, META
from shared.logs import fields
from shared.store.base import EXPIRES_AT, DistanceMeasure, Embedding, Filter, Increment, Store
from shared.store.base import utc_now as _utc_now

if TYPE_CHECKING:
    import numpy as np

    from shared.ai.ports import Turn

log = logging.getLogger("shared.cache")
RESPONSE_CACHE = "response_cache"
NEIGHBOURS = 4  # semantic candidates checked by the guard
# Words that make a question lean on the conversation before it ("is it decaf?", "and the
# cheaper one?"): its answer then depends on that conversation, so the key includes it.
_ANAPHORA = re.compile(
    r"\b(it|its|it's|that|those|these|this one|them|they|their|one|ones|same|other|another|"
    r"there|then|else|also|too|more|instead|first|second|last|former|latter|previous|above)\b"
)
_VOLATILE = re.compile(
    r"\b(open|opens|opening|close|closes|closing|closed|hours?|today|tonight|now|tomorrow|"
    r"stock|in stock|available|availability|left|sold out|inventory)\b"
)
_TTL_SHARE = {"PRODUCT_RAG": 1.0, "LOCATION_RAG": 0.5, "GENERAL_CONVERSATION": 1.0}
_VOLATILE_SHARE = 1 / 12


@dataclass(frozen=True)
class CacheHit:
    answer: str
    sources: list[dict[str, Any]]
    kind: str  # "exact" | "semantic"
    similarity: float
    key: str


def normalise(text: str) -> str:
    """Case, width, accents' composed forms, spacing and trailing punctuation do not matter."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\u2018\u2019`]", "'", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip(" ?!.…").strip()


def context_fingerprint(query: str, history: Sequence[Turn]) -> str:
    """ "" for a question that stands on its own; otherwise a hash of the recent conversation,
    so that "is it decaf?" is only ever answered from a conversation about the same thing."""
    words = normalise(query).split()
    if history and (len(words) <= 2 or _ANAPHORA.search(" ".join(words))):
        recent = [[t.role, normalise(t.content)] for t in history[-4:]]
        return hashlib.sha256(json.dumps(recent).encode()).hexdigest()[:24]
    return ""


def cache_key(query: str, intent: str, context: str, catalog_version: int) -> str:
    raw = json.dumps([normalise(query), intent, context, catalog_version])
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def ttl_for(query: str, intent: str, base_s: int) -> int:
    """Seconds an answer stays: a share of the base by intent, and 1/12 of it for anything
    about opening hours or stock, which change under the catalog's feet."""
    share = _TTL_SHARE.get(intent, 1.0)
    if _VOLATILE.search(normalise(query)):
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
            guard = Guard.build(
                (d.data for d in self.store.query("products")),
                (d.data for d in self.store.query("shops")),
            )
            self._guard = (version, guard)
            return guard

    # --- lookups

    def lookup(
        self,
        query: str,
        vector: np.ndarray,
        model_id: str,
        *,
        intent: str,
        context: str,
        catalog_version: int,
        relax: float = 0.0,
    ) -> CacheHit | None:
        """The exact entry, else the nearest guarded neighbour above the floor (minus `relax`,
        for the fallback ladder's rung only), else None."""
        key = cache_key(query, intent, context, catalog_version)
        entry = self.store.get(RESPONSE_CACHE, key)
        if entry is not None and entry.get("answer"):
            self._count_hit(key, entry)
            return CacheHit(entry["answer"], list(entry.get("sources", [])), "exact", 1.0, key)
        found = self.store.nearest(
            RESPONSE_CACHE,
            field="embedding",
            query=Embedding(vector, model_id),
            k=NEIGHBOURS,
            measure=DistanceMeasure.DOT_PRODUCT,
            where=[
                Filter("catalog_version", "==", catalog_version),
                Filter("intent", "==", intent),
                Filter("context", "==", context),
            ],
        )
        guard = self.guard(catalog_version)
        floor = min_similarity(model_id) - relax
        for hit in found:
            similarity = float(hit.distance)
            if similarity < floor:
                break
            cached_query = str(hit.data.get("query", ""))
            if guard.same_question(query, cached_query, similarity + relax, model_id=model_id):
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
                    similarity=round(similarity, 4), reason=guard.reason(query, cached_query)
                ),
            )
        return None

    def store_answer(
        self,
        query: str,
        vector: np.ndarray,
        model_id: str,
        *,
        intent: str,
        context: str,
        catalog_version: int,
        answer: str,
        sources: Sequence[Mapping[str, Any]],
    ) -> str | None:
        """Keep a model's complete answer; returns its key (None when its TTL would be 0)."""
        ttl = ttl_for(query, intent, self.ttl_s)
        if ttl <= 0 or not answer.strip():
            return None
        key = cache_key(query, intent, context, catalog_version)
        now = self._clock()
        self.store.set(
            RESPONSE_CACHE,
            key,
            {
                "query": query[:2000],
                "intent": intent,
                "context": context,
                "catalog_version": catalog_version,
                "answer": answer,
                "sources": [dict(s) for s in sources],
                "embedding": Embedding(vector, model_id),
                "hits": 0,
                "created_at": now,
                EXPIRES_AT: now + timedelta(seconds=ttl),
            },
        )
        return key

    def _count_hit(self, key: str, entry: Mapping[str, Any]) -> None:
        """An atomic increment. It carries the entry's expiry: if the entry vanished meanwhile,
        the stub the merge creates (no answer, so never served) still expires."""
        try:
            self.store.merge(
                RESPONSE_CACHE,
                key,
                {"hits": Increment(1), "last_hit_at": self._clock(), EXPIRES_AT: entry[EXPIRES_AT]},
            )
        except Exception:  # a lost count must not cost the user their answer
            log.warning("cache hit count failed", exc_info=True)

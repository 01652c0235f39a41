"""Grounded search over the catalog: products, shops and document chunks, ranked by the
embedding, narrowed by what the query says outright (a price bound, decaf, a city, a day...),
joined with the inventory for stock at a named shop, and empty rather than noisy."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from shared.catalog import CATALOG_DOC, META
from shared.catalog.indexing import CHUNKS
from shared.errors import BadRequest
from shared.search import hints as hintlib
from shared.store import DistanceMeasure, Embedding, Filter, Store

if TYPE_CHECKING:
    import numpy as np

    from shared.ai import Embedder

log = logging.getLogger("shared.search.retrieval")
Kind = Literal["products", "shops", "documents"]
KINDS: tuple[Kind, ...] = ("products", "shops", "documents")
POOL = 100  # nearest candidates read before filtering (find_nearest allows up to 1000)
MAX_K = 50
# Below these cosine similarities (offline MiniLM, calibrated on data/retrieval/dev.jsonl) a
# hit is noise. A query whose own words pick the records out (a city, a shop name, decaf...)
# may go lower: the filter already vouches for them.
FLOORS: dict[str, float] = {"products": 0.32, "shops": 0.25, "documents": 0.30}
FILTERED_FLOOR = 0.0
NAME_BOOST = 0.15  # every distinctive word of the record's name is in the query
KIND_BOOST = 0.05  # a soft cue: "beans" may come with "a scale for my beans"
NOTES_BOOST = 0.15  # the query names one of the coffee's cup notes
ADDRESS_BOOST = 0.15  # the query names the shop's street
MATCHED = 0.1  # a record with at least this boost is picked out by the query's own words
GAZETTEER_TTL_S = 30.0
_NAME_STOPWORDS = frozenset({"cymbal", "coffee", "the", "a", "of", "and"})
_ADDRESS_STOPWORDS = frozenset(
    {"st", "street", "ave", "avenue", "rd", "road", "blvd", "dr", "drive", "way", "the", "and"}
)


@dataclass(frozen=True)
class SearchHit:
    id: str
    kind: Literal["product", "shop", "document"]
    name: str
    score: float
    fields: dict[str, Any]  # what an answer may use: price, hours, address, text...
    stock: dict[str, int] | None = None  # shop id -> quantity, for the shops the query named


@dataclass
class SearchResult:
    hits: list[SearchHit]
    hints: hintlib.Hints
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def top_score(self) -> float | None:
        return self.hits[0].score if self.hits else None


class Retriever:
    def __init__(
        self, store: Store, embedder: Embedder, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store, self.embedder, self._clock = store, embedder, clock
        self._lock = threading.Lock()
        self._gazetteer: tuple[float, int, hintlib.Gazetteer] | None = None

    def search(
        self,
        query: str,
        kind: Kind,
        k: int = 5,
        filters: Mapping[str, Any] | None = None,
        *,
        vector: np.ndarray | None = None,
    ) -> SearchResult:
        """The best `k` records of `kind` for the query. `filters` adds equality conditions on
        stored fields (e.g. {"kind": "coffee"}); `vector` is the query's embedding when the
        caller has it already (a chat turn embeds its text once)."""
        if kind not in KINDS:
            raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
        if not 1 <= k <= MAX_K:
            raise BadRequest(f"k must be between 1 and {MAX_K}")
        timings: dict[str, float] = {}
        started = self._clock()
        if vector is None:
            vector = self.embedder.embed([query], "query")[0]
            timings["embed"] = _ms(started, self._clock())
        hints = hintlib.parse(query, self.gazetteer())
        t0 = self._clock()
        where = [Filter(f, "==", v) for f, v in (filters or {}).items()]
        if kind == "documents":
            hits = self._documents(vector, k, where)
        else:
            hits = self._records(kind, query, vector, k, hints, where)
        timings["search"] = _ms(t0, self._clock())
        return SearchResult(hits, hints, timings)

    # -- products and shops -------------------------------------------------------------

    def _records(
        self,
        kind: Kind,
        query: str,
        vector: np.ndarray,
        k: int,
        hints: hintlib.Hints,
        where: Sequence[Filter],
    ) -> list[SearchHit]:
        found = self.store.nearest(
            kind,
            field="embedding",
            query=Embedding(vector, self.embedder.model_id),
            k=POOL,
            measure=DistanceMeasure.DOT_PRODUCT,
            where=where,
        )
        keep = _product_filter(hints) if kind == "products" else _shop_filter(hints)
        narrowed = _narrowing(kind, hints)
        if (kind == "products" and hints.unknown_origin) or (
            kind == "shops" and hints.unknown_place
        ):
            return []  # asked for an origin or a city we do not have: nothing is the answer
        stock = self._stock(hints.shop_ids) if kind == "products" and hints.shop_ids else None
        said = set(hintlib.words(query))
        floor = FILTERED_FLOOR if narrowed or stock is not None else FLOORS[kind]
        scored: list[tuple[float, dict[str, Any], str]] = []
        for hit in found:
            data = hit.data
            if not keep(data):
                continue
            if stock is not None and stock.get(hit.id, 0) <= 0:
                continue
            similarity = float(hit.distance)  # unit vectors: the dot product is the cosine
            boost = _boost(data, said, hints)
            if similarity < (FILTERED_FLOOR if boost >= MATCHED else floor):
                continue
            score = similarity + boost
            scored.append((score, data, hit.id))
        scored.sort(key=lambda s: s[0], reverse=True)
        hits = []
        for score, data, doc_id in scored[:k]:
            in_stock = None
            if stock is not None:
                in_stock = self._stock_by_shop(hints.shop_ids, doc_id)
            hits.append(_hit(kind, doc_id, data, round(score, 4), in_stock))
        return hits

    def _stock(self, shop_ids: Sequence[str]) -> dict[str, int]:
        """Product id -> the most any of the named shops holds."""
        stock: dict[str, int] = {}
        for shop_id in shop_ids:
            for doc in self.store.query("inventory", where=[Filter("shop_id", "==", shop_id)]):
                pid, quantity = str(doc.data["product_id"]), int(doc.data.get("quantity", 0))
                stock[pid] = max(stock.get(pid, 0), quantity)
        return stock

    def _stock_by_shop(self, shop_ids: Sequence[str], product_id: str) -> dict[str, int]:
        out = {}
        for shop_id in shop_ids:
            row = self.store.get("inventory", f"{shop_id}_{product_id}")
            out[shop_id] = int(row.get("quantity", 0)) if row else 0
        return out

    # -- documents ----------------------------------------------------------------------

    def _documents(self, vector: np.ndarray, k: int, where: Sequence[Filter]) -> list[SearchHit]:
        found = self.store.nearest(
            CHUNKS,
            field="embedding",
            query=Embedding(vector, self.embedder.model_id),
            k=min(POOL, 4 * k),
            measure=DistanceMeasure.DOT_PRODUCT,
            where=where,
        )
        current: dict[str, str | None] = {}
        hits: list[SearchHit] = []
        seen: set[str] = set()
        for hit in found:
            doc_id = str(hit.data["doc_id"])
            if doc_id in seen or float(hit.distance) < FLOORS["documents"]:
                continue
            if doc_id not in current:  # only chunks of the document's current version count
                parent = self.store.get("documents", doc_id)
                current[doc_id] = parent.get("content_hash") if parent else None
            if hit.data.get("doc_hash") != current[doc_id]:
                continue
            seen.add(doc_id)
            fields = {key: hit.data.get(key) for key in ("title", "url", "text", "position")}
            hits.append(
                SearchHit(
                    doc_id,
                    "document",
                    str(hit.data["title"]),
                    round(float(hit.distance), 4),
                    fields,
                )
            )
            if len(hits) == k:
                break
        return hits

    # -- what the catalog holds ---------------------------------------------------------

    def gazetteer(self) -> hintlib.Gazetteer:
        """Cities, origins, amenities and shop names of the current catalog, rebuilt when the
        catalog version moves (checked at most every GAZETTEER_TTL_S)."""
        now = self._clock()
        cached = self._gazetteer
        if cached is not None and now - cached[0] < GAZETTEER_TTL_S:
            return cached[2]
        with self._lock:
            meta = self.store.get(META, CATALOG_DOC) or {}
            version = int(meta.get("version", 0))
            if cached is not None and cached[1] == version:
                self._gazetteer = (now, version, cached[2])
                return cached[2]
            gazetteer = hintlib.Gazetteer.build(
                (d.data for d in self.store.query("products")),
                (d.data for d in self.store.query("shops")),
            )
            self._gazetteer = (now, version, gazetteer)
            return gazetteer


def _narrowing(kind: str, h: hintlib.Hints) -> bool:
    """Does the query pick records out by their fields (so a weak similarity is no doubt)?"""
    if kind == "products":
        return bool(
            h.decaf
            or h.roast
            or h.origins
            or h.notes
            or h.max_price is not None
            or h.min_price is not None
        )
    return bool(
        h.cities or h.states or h.amenities or h.shop_ids or h.open_weekend is not None
        or h.open_weekdays is not None or h.opens_by is not None or h.closes_after is not None
    )  # fmt: skip


def _product_filter(h: hintlib.Hints) -> Callable[[Mapping[str, Any]], bool]:
    def keep(p: Mapping[str, Any]) -> bool:
        a = p.get("attributes") or {}
        price = float(p.get("price", 0))
        if h.max_price is not None and price > h.max_price:
            return False
        if h.min_price is not None and price < h.min_price:
            return False
        if h.decaf and not (a.get("decaf") is True or a.get("caffeine") is False):
            return False
        if h.roast and p.get("kind") == "coffee" and str(a.get("roast", "")).lower() != h.roast:
            return False
        if h.roast and p.get("kind") != "coffee":
            return False
        origin = {str(a.get("origin")), str(a.get("region"))}
        return not h.origins or bool(origin & set(h.origins))

    return keep


def _shop_filter(h: hintlib.Hints) -> Callable[[Mapping[str, Any]], bool]:
    def keep(s: Mapping[str, Any]) -> bool:
        if h.cities and s.get("city") not in h.cities:
            return False
        if h.states and s.get("state") not in h.states:
            return False
        if h.amenities and not set(h.amenities) <= set(s.get("amenities") or []):
            return False
        hours = s.get("hours") or {}
        weekend, weekdays = hours.get("sat_sun", "closed"), hours.get("mon_fri", "closed")
        if h.open_weekend is not None and (weekend != "closed") != h.open_weekend:
            return False
        if h.open_weekdays is not None and (weekdays != "closed") != h.open_weekdays:
            return False
        if h.opens_by is not None or h.closes_after is not None:
            span = weekend if h.open_weekend else weekdays
            if not hintlib.open_between(span, h.opens_by, h.closes_after):
                return False
        return True

    return keep


def _boost(data: Mapping[str, Any], said: set[str], h: hintlib.Hints) -> float:
    boost = 0.0
    name_words = set(hintlib.words(str(data.get("name", "")))) - _NAME_STOPWORDS
    if name_words and name_words <= said:
        boost += NAME_BOOST
    elif name_words:
        boost += NAME_BOOST * 0.5 * len(name_words & said) / len(name_words)
    notes = (data.get("attributes") or {}).get("notes") or []
    if h.notes and set(h.notes) & set(notes):
        boost += NOTES_BOOST
    if h.product_kind and data.get("kind") == h.product_kind:
        boost += KIND_BOOST
    street = {
        w
        for w in hintlib.words(str(data.get("address", "")))
        if len(w) > 2 and not w.isdigit() and w not in _ADDRESS_STOPWORDS
    } - set(hintlib.words(f"{data.get('city', '')} {data.get('state', '')}"))
    if street & said:
        boost += ADDRESS_BOOST
    return boost


_FIELDS = {
    "products": ("name", "kind", "price", "currency", "description", "attributes"),
    "shops": ("name", "address", "city", "state", "hours", "amenities", "description", "location"),
}


def _hit(
    kind: str, doc_id: str, data: Mapping[str, Any], score: float, stock: dict[str, int] | None
) -> SearchHit:
    fields = {key: data.get(key) for key in _FIELDS[kind] if key in data}
    label: Literal["product", "shop"] = "product" if kind == "products" else "shop"
    return SearchHit(doc_id, label, str(data.get("name", doc_id)), score, fields, stock)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 2)

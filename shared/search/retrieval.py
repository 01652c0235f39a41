"""Grounded search over the catalog: products, shops and document chunks. Products are ranked
by the embedding and BM25 together, under the exact constraints the query states; shops are
picked by place, amenity, name, stock and opening time in their own time zone; every answer
is empty rather than noisy."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from shared.catalog.indexing import CHUNKS
from shared.catalog.records import ordered_attributes
from shared.errors import BadRequest
from shared.search.lexicon import norm
from shared.search.rank import TermCache, rank
from shared.search.understand import Understood, understand
from shared.search.view import CatalogView, CatalogViews
from shared.search.when import check, occasions
from shared.store import DistanceMeasure, Embedding, Filter, Hit, Store

if TYPE_CHECKING:
    import numpy as np

    from shared.ai import Embedder, Retailer

Kind = Literal["products", "shops", "documents"]
KINDS: tuple[Kind, ...] = ("products", "shops", "documents")
POOL = 100  # nearest candidates ranked again (find_nearest allows up to 1000)
MAX_K = 50
# Below these cosine similarities (offline MiniLM, calibrated on the development sets) a hit
# is noise, unless the query's own words pick it out (a name, a constraint it meets).
FLOORS: dict[str, float] = {"products": 0.30, "shops": 0.25, "documents": 0.30}
SHOP_NAME_BOOST = 0.15
ADDRESS_BOOST = 0.15  # the query names the shop's street
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
    understood: Understood
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def top_score(self) -> float | None:
        return self.hits[0].score if self.hits else None


class Retriever:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.embedder, self._clock, self._now = store, embedder, clock, now
        self.views = CatalogViews(store, clock)
        self._terms = TermCache()

    def view(self) -> CatalogView:
        return self.views.current()

    def retailer(self) -> Retailer:
        """Who the assistant speaks for, from the catalog's manifest and profile."""
        return self.view().retailer

    def search(
        self,
        query: str,
        kind: Kind,
        k: int = 5,
        filters: Mapping[str, Any] | None = None,
        *,
        vector: np.ndarray | None = None,
        understood: Understood | None = None,
    ) -> SearchResult:
        """The best `k` records of `kind` for the query. `filters` adds equality conditions on
        stored fields (e.g. {"category": "Home > Lamps"}); `vector` is the query's embedding
        and `understood` its reading, when the caller has them already (a chat turn embeds
        and reads its text once)."""
        if kind not in KINDS:
            raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
        if not 1 <= k <= MAX_K:
            raise BadRequest(f"k must be between 1 and {MAX_K}")
        timings: dict[str, float] = {}
        started = self._clock()
        if vector is None:
            vector = self.embedder.embed([query], "query")[0]
            timings["embed"] = _ms(started, self._clock())
        t0 = self._clock()
        view = self.view()
        u = understood if understood is not None else understand(query, view.lexicon)
        where = [Filter(f, "==", v) for f, v in (filters or {}).items()]
        if kind == "documents":
            hits = self._documents(vector, k, where)
        elif kind == "products":
            hits = self._products(u, vector, k, where, view)
        else:
            hits = self._shops(query, u, vector, k, where)
        timings["search"] = _ms(t0, self._clock())
        return SearchResult(hits, u, timings)

    def _nearest(
        self, collection: str, vector: np.ndarray, k: int, where: Sequence[Filter]
    ) -> list[Hit]:
        return self.store.nearest(
            collection,
            field="embedding",
            query=Embedding(vector, self.embedder.model_id),
            k=k,
            measure=DistanceMeasure.DOT_PRODUCT,
            where=where,
        )

    # -- products ---------------------------------------------------------------------

    def _products(
        self,
        u: Understood,
        vector: np.ndarray,
        k: int,
        where: Sequence[Filter],
        view: CatalogView,
    ) -> list[SearchHit]:
        if u.unknown_head:
            return []  # asks for a thing no product is: "we don't carry that", not noise
        heads = u.head_categories or u.categories  # what is asked for, not what it is for
        category = heads[0] if len(heads) == 1 else None
        if category and view.profile.documents > POOL and not where and _leaf(view, category):
            # A catalog larger than the pool: the named category's own nearest, filtered in the
            # store (a composite vector index on category), then the nearest of the rest.
            found = self._nearest("products", vector, POOL, [Filter("category", "==", category)])
            seen = {h.id for h in found}
            extra = self._nearest("products", vector, POOL // 2, where)
            found += [h for h in extra if h.id not in seen]
        else:
            found = self._nearest("products", vector, POOL, where)
        stock = self._stock(u.shops) if u.shops else None
        pool = [
            (h.id, h.data, float(h.distance))
            for h in found
            if stock is None or stock.get(h.id, 0) > 0
        ]
        ranked = rank(pool, u, view.profile, self._terms)
        currency = view.profile.currency
        hits = []
        for s in ranked:
            if not s.matched and stock is None and s.similarity < FLOORS["products"]:
                continue
            in_stock = self._stock_by_shop(u.shops, s.id) if stock is not None else None
            attributes = ordered_attributes(s.data)  # the record's order, whatever the store's
            data = {
                **s.data,
                "attributes": attributes,
                "currency": s.data.get("currency") or currency,
                "specs": view.profile.specs(attributes),
                "flags": view.profile.flags(attributes),
            }
            hits.append(_hit("products", s.id, data, round(s.score, 4), in_stock))
            if len(hits) == k:
                break
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

    # -- shops ------------------------------------------------------------------------

    def _shops(
        self, query: str, u: Understood, vector: np.ndarray, k: int, where: Sequence[Filter]
    ) -> list[SearchHit]:
        if u.unknown_place:
            return []  # a city the catalog has no shop in: nothing is the answer
        found = self._nearest("shops", vector, POOL, where)
        carriers = self._carriers(u.products) if u.products else None
        now = self._now()
        said = set(_words(query))
        scored: list[tuple[float, dict[str, Any], str]] = []
        closed_then: list[tuple[float, dict[str, Any], str]] = []
        dates = occasions([h.data for h in found], query)  # "on Thanksgiving", from their notes
        for hit in found:
            data = dict(hit.data)
            if u.cities and data.get("city") not in u.cities:
                continue
            if u.states and data.get("state") not in u.states:
                continue
            if u.amenities and not set(u.amenities) <= set(data.get("amenities") or []):
                continue
            if carriers is not None and hit.id not in carriers:
                continue
            if u.shops and hit.id not in u.shops:
                continue  # the question is about the shop it names
            if not u.when.empty or dates:
                result = check(data, u.when, now, dates)
                data["checked"], data["open_then"] = result.checked, result.ok
                if not result.ok:
                    if u.narrows_shops and (u.cities or u.states or u.shops):
                        closed_then.append((float(hit.distance), data, hit.id))
                    continue
            similarity = float(hit.distance)
            boost = SHOP_NAME_BOOST if hit.id in u.shops else 0.0
            boost += ADDRESS_BOOST if _street(data) & said else 0.0
            narrowed = u.narrows_shops or carriers is not None or boost > 0
            if not narrowed and similarity < FLOORS["shops"]:
                continue
            scored.append((similarity + boost, data, hit.id))
        # The place was named and none of its shops is open then: that is the answer, said
        # with their hours ("the Boulder store opens at 10 on Sunday"), not "no such shop".
        scored = scored or closed_then
        scored.sort(key=lambda s: s[0], reverse=True)
        return [_hit("shops", i, d, round(score, 4), None) for score, d, i in scored[:k]]

    def _carriers(self, product_ids: Sequence[str]) -> set[str]:
        """Shops that hold any of the named products."""
        shops: set[str] = set()
        for pid in product_ids:
            for doc in self.store.query("inventory", where=[Filter("product_id", "==", pid)]):
                if int(doc.data.get("quantity", 0)) > 0:
                    shops.add(str(doc.data["shop_id"]))
        return shops

    # -- documents --------------------------------------------------------------------

    def _documents(self, vector: np.ndarray, k: int, where: Sequence[Filter]) -> list[SearchHit]:
        found = self._nearest(CHUNKS, vector, min(POOL, 4 * k), where)
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
            title = str(hit.data["title"])
            hits.append(SearchHit(doc_id, "document", title, round(float(hit.distance), 4), fields))
            if len(hits) == k:
                break
        return hits


def _words(text: str) -> list[str]:
    return list(norm(text))


def _street(data: Mapping[str, Any]) -> set[str]:
    place = set(_words(f"{data.get('city', '')} {data.get('state', '')}"))
    return {
        w
        for w in _words(str(data.get("address", "")))
        if len(w) > 2 and not w.isdigit() and w not in _ADDRESS_STOPWORDS
    } - place


_FIELDS = {
    "products": (
        "name", "category", "brand", "price", "currency", "description", "attributes", "url",
        "specs", "flags",
    ),
    "shops": (
        "name", "address", "city", "state", "timezone", "hours", "hours_exceptions", "amenities",
        "description", "location", "phone", "url", "checked", "open_then",
    ),
}  # fmt: skip


def _hit(
    kind: str, doc_id: str, data: Mapping[str, Any], score: float, stock: dict[str, int] | None
) -> SearchHit:
    fields = {key: data.get(key) for key in _FIELDS[kind] if data.get(key) is not None}
    label: Literal["product", "shop"] = "product" if kind == "products" else "shop"
    return SearchHit(doc_id, label, str(data.get("name", doc_id)), score, fields, stock)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 2)


def _leaf(view: CatalogView, category: str) -> bool:
    """Products carry leaf paths: only a leaf is an equality filter on `category`."""
    return category in view.profile.leaves()

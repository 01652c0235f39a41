"""What a turn's search hits become: the documents the model reads and the cards the page shows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.ai import ContextDoc
from shared.ai.offline_format import content_words

if TYPE_CHECKING:
    import numpy as np

    from shared.search.retrieval import Retriever, SearchHit
    from shared.search.understand import Understood

SEARCHES: dict[str, tuple[tuple[str, int], ...]] = {
    "PRODUCT_RAG": (("products", 5), ("documents", 2)),
    "LOCATION_RAG": (("shops", 5),),
    "GENERAL_CONVERSATION": (),
}
# A hit this far below the best of its kind is noise next to it (a named shop, then four
# others that merely passed the floor): it neither reaches the model nor becomes a card.
RELATIVE_CUT = 0.2
# What a source card may show, besides id, kind, name and score.
_CARD_FIELDS = {
    "product": ("price", "currency", "category"),
    "shop": ("address", "city", "state", "hours"),
    "document": ("title", "url"),
}


def search_for(
    retriever: Retriever, intent: str, text: str, vector: np.ndarray, understood: Understood
) -> list[SearchHit]:
    """A turn's search stage: the intent's searches, each kind's hits cut to those worth
    showing (`relevant`)."""
    hits: list[SearchHit] = []
    for kind, k in SEARCHES[intent]:
        found = retriever.search(text, kind, k, vector=vector, understood=understood)  # type: ignore[arg-type]
        hits.extend(relevant(found.hits, text, others=hits))
    return hits


def relevant(hits: list[SearchHit], text: str, *, others: list[SearchHit]) -> list[SearchHit]:
    """The hits worth showing: close to the best of their kind, and passages (which the floor
    lets through on tone alone) only when they share a word with the question or nothing
    else was found."""
    if not hits:
        return []
    best = hits[0].score
    kept = [h for h in hits if h.score >= best - RELATIVE_CUT]
    if hits[0].kind == "document" and others:
        words = content_words(text)
        kept = [h for h in kept if words & content_words(f"{h.name} {h.fields.get('text', '')}")]
    return kept


def context_doc(hit: SearchHit) -> ContextDoc:
    """A hit as the model reads it: its fields, and a product's stock by shop."""
    data = dict(hit.fields)
    if hit.stock is not None:
        data["stock_by_shop"] = hit.stock
    return ContextDoc(hit.id, hit.kind, hit.name, data)


def card(hit: SearchHit) -> dict[str, Any]:
    """A hit as the page shows it (and the `meta` event and the history report it)."""
    fields = {**hit.fields, "category": hit.fields.get("kind")}  # a product's own "kind"
    shown = {key: fields[key] for key in _CARD_FIELDS[hit.kind] if fields.get(key) is not None}
    return {"id": hit.id, "kind": hit.kind, "name": hit.name, "score": round(hit.score, 4), **shown}

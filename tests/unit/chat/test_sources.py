"""Which hits of a search reach the model and the cards: close to the best, and on topic."""

from __future__ import annotations

from shared.chat.sources import RELATIVE_CUT, relevant
from shared.search.retrieval import SearchHit


def hit(i: str, kind: str, score: float, text: str = "") -> SearchHit:
    fields = {"text": text} if kind == "document" else {}
    return SearchHit(i, kind, i, score, fields)  # type: ignore[arg-type]


def test_hits_far_below_the_best_of_their_kind_are_dropped() -> None:
    shops = [hit("ballard", "shop", 0.79), hit("denver", "shop", 0.42)]
    assert [h.id for h in relevant(shops, "is ballard open", others=[])] == ["ballard"]
    close = [hit("a", "shop", 0.5), hit("b", "shop", 0.5 - RELATIVE_CUT + 0.01)]
    assert len(relevant(close, "shops in seattle", others=[])) == 2
    assert relevant([], "anything", others=[]) == []


def test_passages_next_to_products_must_share_a_word_with_the_question() -> None:
    products = [hit("cof-1", "product", 0.5)]
    docs = [
        hit("loyalty", "document", 0.45, "Earn a star for every purchase."),
        hit("brewing", "document", 0.44, "Grind Kenyan beans medium-fine for a pour-over."),
    ]
    kept = relevant(docs, "Do you have a Kenyan coffee?", others=products)
    assert [h.id for h in kept] == ["brewing"]
    # With nothing else found, a passage is all there is: it stays.
    assert len(relevant(docs, "Do you have a Kenyan coffee?", others=[])) == 2

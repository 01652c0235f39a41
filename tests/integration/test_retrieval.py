"""Search with the real offline embedder over a small catalog ingested by the real upsert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared import catalog, wiring
from shared.catalog import profile
from shared.errors import BadRequest
from shared.search.retrieval import Retriever
from shared.store.sqlite_store import SqliteStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def coffee(i: str, name: str, origin: str, roast: str, price: float, **a: Any) -> dict[str, Any]:
    return {
        "id": i, "kind": "coffee", "name": name, "price": price,
        "description": f"A {roast} roast from {origin}.",
        "attributes": {"origin": origin, "roast": roast, "notes": a.pop("notes", []), **a},
    }  # fmt: skip


PRODUCTS = [
    coffee("c1", "Kilimanjaro Sunrise", "Kenya", "light", 16.0, notes=["blackcurrant"]),
    coffee("c2", "Night Owl Decaf", "Colombia", "dark", 14.0, decaf=True, notes=["cocoa"]),
    coffee("c3", "Harvest Gold", "Brazil", "medium", 11.5, notes=["hazelnut", "caramel"]),
    coffee("c4", "Volcano Ridge", "Guatemala", "dark", 19.0, notes=["smoke"]),
    {"id": "e1", "kind": "equipment", "name": "Conical Burr Grinder", "price": 89.0,
     "description": "A hand grinder with steel burrs for an even grind.",
     "attributes": {"category": "grinder"}},
    {"id": "d1", "kind": "drink", "name": "Oat Milk Latte", "price": 5.0,
     "description": "Espresso with steamed oat milk.",
     "attributes": {"hot": True, "milk": "oat", "strength": "mild", "dairy_free": True}},
]  # fmt: skip


def shop(
    i: str, name: str, city: str, state: str, hours: tuple[str, str], amenities: list[str]
) -> dict[str, Any]:
    return {
        "id": i, "name": f"Cymbal Coffee {name}", "address": f"{len(name)} Main St",
        "city": city, "state": state, "location": {"lat": 40.0, "lng": -100.0},
        "hours": {"mon_fri": hours[0], "sat_sun": hours[1]}, "amenities": amenities,
        "description": f"Our cafe in {city}.",
    }  # fmt: skip


SHOPS = [
    shop("s1", "Seattle Pier", "Seattle", "WA", ("06:00-20:00", "08:00-18:00"), ["wifi"]),
    shop("s2", "Seattle Hill", "Seattle", "WA", ("07:00-17:00", "closed"), ["parking"]),
    shop("s3", "Denver Union", "Denver", "CO", ("05:30-22:00", "07:00-21:00"), ["wifi", "parking"]),
]
INVENTORY = [
    {"shop_id": "s1", "product_id": "c1", "quantity": 5},
    {"shop_id": "s1", "product_id": "c2", "quantity": 0},
    {"shop_id": "s3", "product_id": "c2", "quantity": 7},
]


@pytest.fixture(scope="module")
def retriever() -> Retriever:
    store = SqliteStore()
    embedder = wiring.get_embedder()
    for kind, rows in (("products", PRODUCTS), ("shops", SHOPS), ("inventory", INVENTORY)):
        good, bad = catalog.validate_records(kind, rows)
        assert not bad
        catalog.upsert(store, kind, good, T0, embedder)
    docs, _ = catalog.validate_records(
        "documents",
        [{"id": "returns", "title": "Returns policy",
          "text": "You can return unopened beans within 30 days for a full refund. "
                  "Equipment carries a one-year warranty against defects."}],
    )  # fmt: skip
    catalog.upsert(store, "documents", docs, T0, embedder)
    profile.refresh(store)  # as the ingest function does after a batch
    return Retriever(store, embedder)


def ids(r: Retriever, query: str, kind: str = "products", k: int = 5) -> list[str]:
    return [h.id for h in r.search(query, kind, k).hits]  # type: ignore[arg-type]


def test_the_best_match_comes_first_with_the_fields_an_answer_needs(retriever: Retriever) -> None:
    result = retriever.search("a hand grinder", "products", 3)
    top = result.hits[0]
    assert (top.id, top.kind, top.name) == ("e1", "product", "Conical Burr Grinder")
    assert top.fields["price"] == 89.0 and "description" in top.fields
    assert "embedding" not in top.fields and 0 < top.score <= 1.5
    assert set(result.timings_ms) == {"embed", "search"}


def test_what_the_query_says_filters_price_decaf_roast_and_origin(retriever: Retriever) -> None:
    assert set(ids(retriever, "coffee beans under $15")[:2]) == {"c2", "c3"}  # then the latte
    assert ids(retriever, "a drink under $6") == ["d1"]
    assert ids(retriever, "decaf coffee") == ["c2"]
    assert set(ids(retriever, "a dark roast")) == {"c2", "c4"}
    assert ids(retriever, "something from kenya")[0] == "c1"
    assert ids(retriever, "do you sell croissants") == []  # a thing no product is


def test_shops_by_city_amenity_and_hours(retriever: Retriever) -> None:
    assert set(ids(retriever, "coffee shops in Seattle", "shops")) == {"s1", "s2"}
    assert ids(retriever, "seattle shop with wifi", "shops") == ["s1"]
    assert set(ids(retriever, "open on sunday", "shops")) == {"s1", "s3"}
    assert ids(retriever, "open before 6am", "shops") == ["s3"]
    assert ids(retriever, "a shop in Miami", "shops") == []


def test_a_named_place_closed_at_the_time_asked_is_the_answer_said_so(
    retriever: Retriever,
) -> None:
    (hit,) = retriever.search("is the Seattle Hill shop open on sunday at 9", "shops", 5).hits
    assert hit.id == "s2" and hit.fields["open_then"] is False
    assert hit.fields["checked"].startswith("Sunday ") and " 09:00 " in hit.fields["checked"]
    (hit,) = retriever.search("is the Denver shop open on sunday at 9", "shops", 5).hits
    assert hit.id == "s3" and hit.fields["open_then"] is True
    # No place named: only the shops open then.
    assert set(ids(retriever, "which shops are open on sunday at 9", "shops")) == {"s1", "s3"}


def test_stock_at_a_named_shop_joins_the_inventory(retriever: Retriever) -> None:
    result = retriever.search("decaf in stock at Denver Union", "products", 5)
    assert [h.id for h in result.hits] == ["c2"] and result.hits[0].stock == {"s3": 7}
    assert ids(retriever, "decaf at the Seattle Pier shop") == []  # quantity 0 there


def test_documents_come_back_as_their_current_chunks(retriever: Retriever) -> None:
    (hit,) = retriever.search("can I get a refund on beans", "documents", 3).hits
    assert (hit.id, hit.kind) == ("returns", "document") and "30 days" in hit.fields["text"]


def test_nothing_rather_than_noise(retriever: Retriever) -> None:
    assert ids(retriever, "what is the capital of australia") == []


def test_the_caller_may_pass_the_vector_it_already_has(retriever: Retriever) -> None:
    vector = retriever.embedder.embed(["decaf coffee"], "query")[0]
    result = retriever.search("decaf coffee", "products", 5, vector=vector)
    assert [h.id for h in result.hits] == ["c2"] and "embed" not in result.timings_ms


def test_bad_arguments_are_refused(retriever: Retriever) -> None:
    with pytest.raises(BadRequest):
        retriever.search("x", "recipes", 5)  # type: ignore[arg-type]
    with pytest.raises(BadRequest):
        retriever.search("x", "products", 0)


def test_facts_follow_the_records_attribute_order_whatever_order_the_store_gives_back() -> None:
    """Firestore may hand a map back in an order of its own: the facts a reply shows first
    (`specs`) keep the record's order, kept beside the attributes at ingest."""
    store, embedder = SqliteStore(), wiring.get_embedder()
    record = coffee("c9", "Harvest Gold", "Brazil", "medium", 11.5, notes=["hazelnut"], body="full")
    good, _ = catalog.validate_records("products", [record])
    catalog.upsert(store, "products", good, T0, embedder)
    profile.refresh(store)
    stored = store.get("products", "c9")
    assert stored is not None and stored["attribute_order"] == ["origin", "roast", "notes", "body"]
    scrambled = dict(reversed(list(stored["attributes"].items())))  # as another store may
    store.set("products", "c9", {**stored, "attributes": scrambled})
    (hit,) = Retriever(store, embedder).search("Harvest Gold", "products", 1).hits
    assert hit.fields["specs"] == [
        "origin: Brazil",
        "roast: medium",
        "notes: hazelnut",
        "body: full",
    ]
    assert list(hit.fields["attributes"]) == ["origin", "roast", "notes", "body"]

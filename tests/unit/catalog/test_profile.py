"""The catalog profile: what ingest summarises so that queries never scan the catalog."""

from __future__ import annotations

import pytest

from shared.catalog import CATALOG_DOC, META
from shared.catalog import profile as profiles
from shared.store.sqlite_store import SqliteStore

PRODUCTS = [
    {"id": "r1", "name": "Verdant Solitaire", "category": "Jewellery > Rings", "brand": "Lumen",
     "price": 1800.0, "description": "An emerald solitaire in 18 karat gold.",
     "attributes": {"stone": "emerald", "metal": "gold", "carat_weight_ct": 0.5, "karat": 18,
                    "resizable": True, "sizes": [5, 6, 7]}},
    {"id": "r2", "name": "Frost Band", "category": "Jewellery > Rings", "brand": "Lumen",
     "price": 950.0, "description": "A platinum band with an emerald-cut diamond.",
     "attributes": {"stone": "diamond", "cut": "emerald-cut", "metal": "platinum",
                    "carat_weight_ct": 1.0, "resizable": False, "sizes": [6, 7]}},
    {"id": "n1", "name": "Dew Pendant", "category": "Jewellery > Necklaces", "price": 400.0,
     "description": "A pearl on a silver chain.", "attributes": {"stone": "pearl"}},
]  # fmt: skip
SHOPS = [
    {"id": "s1", "name": "Lumen Jewellers Soho", "city": "London", "state": "",
     "address": "1 Dean St", "timezone": "Europe/London", "amenities": ["engraving"]},
]  # fmt: skip
MANIFEST = {"name": "Lumen Jewellers", "currency": "GBP",
            "attributes": {"karat": {"label": "gold purity", "unit": "k"}},
            "synonyms": {"necklace": ["pendant", "chain"]}}  # fmt: skip


def test_attributes_get_their_kind_unit_values_and_categories() -> None:
    p = profiles.build(PRODUCTS, SHOPS, MANIFEST, version=3)
    assert p.version == 3 and p.name == "Lumen Jewellers" and p.currency == "GBP"
    assert p.categories == {"Jewellery": 3, "Jewellery > Rings": 2, "Jewellery > Necklaces": 1}
    assert p.leaves() == {"Jewellery > Rings", "Jewellery > Necklaces"}
    a = p.attributes
    assert a["stone"].kind == "categorical" and a["stone"].values["emerald"] == 1
    assert (a["carat_weight_ct"].kind, a["carat_weight_ct"].unit) == ("numeric", "ct")
    assert (a["carat_weight_ct"].low, a["carat_weight_ct"].high) == (0.5, 1.0)
    assert (a["karat"].label, a["karat"].unit) == ("gold purity", "k")  # the manifest's
    assert a["resizable"].kind == "boolean" and a["sizes"].kind == "list"
    assert a["stone"].categories == {"Jewellery > Rings": 2, "Jewellery > Necklaces": 1}
    assert p.brands == {"Lumen": 2} and (p.price_low, p.price_high) == (400.0, 1800.0)
    assert p.products["r2"] == "Frost Band" and p.cities == {"London": ""}
    assert p.synonyms == {"necklace": ["pendant", "chain"]} and p.amenities == {"engraving": 1}
    assert p.terms["emerald"] == 2 and p.documents == 3 and p.average_length > 5


def test_stored_in_parts_and_read_back_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqliteStore()
    many = [
        {**p, "id": f"{p['id']}-{i}", "name": f"{p['name']} {i}"}
        for i in range(900)
        for p in PRODUCTS
    ]
    p = profiles.build(many, SHOPS, MANIFEST, version=5)  # several parts' worth
    monkeypatch.setattr(profiles, "PART_CHARS", 50_000)
    assert profiles.save(store, p)
    assert store.get(META, "profile")["parts"] > 1
    assert profiles.load(store) == p
    assert not profiles.save(store, p.model_copy(update={"version": 4}))  # an older build loses


def test_refresh_builds_only_when_the_catalog_moved() -> None:
    store = SqliteStore()
    for p in PRODUCTS:
        store.set("products", p["id"], p)
    store.set(META, CATALOG_DOC, {"version": 2})
    built = profiles.refresh(store)
    assert built is not None and built.version == 2 and profiles.load(store) == built
    assert profiles.refresh(store) is None  # a redelivered batch changes nothing
    store.set(META, CATALOG_DOC, {"version": 3})
    assert profiles.refresh(store).version == 3

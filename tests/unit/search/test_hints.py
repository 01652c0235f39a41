"""What a query says outright, read against what the catalog holds."""

from __future__ import annotations

import pytest

from shared.search.hints import Gazetteer, Hints, open_between, parse

GAZ = Gazetteer.build(
    [
        {"attributes": {"origin": "Kenya", "region": "Nyeri", "roast": "light",
                        "notes": ["blueberry", "dark chocolate"]}},
        {"attributes": {"origin": "Mexico", "roast": "medium-dark"}},
        {"attributes": {"origin": "Brazil", "roast": "dark"}},
        {"attributes": {"roast": "medium"}},
    ],
    [
        {"id": "s1", "name": "Cymbal Coffee Seattle Riverside", "address": "1800 Elm Ave",
         "city": "Seattle", "state": "WA", "amenities": ["wifi", "drive-thru"]},
        {"id": "s2", "name": "Cymbal Coffee Denver Riverside", "address": "2187 Lake Shore Dr",
         "city": "Denver", "state": "CO", "amenities": ["parking"]},
        {"id": "s3", "name": "Cymbal Coffee Denver Riverside", "address": "9 Congress Ave",
         "city": "Denver", "state": "CO", "amenities": []},
        {"id": "s4", "name": "Cymbal Coffee New York Central", "address": "5 Broadway",
         "city": "New York", "state": "NY", "amenities": ["outdoor seating"]},
    ],
)  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("beans under $15", {"max_price": 15.0, "product_kind": "coffee"}),
        ("something less than 20 bucks", {"max_price": 20.0}),
        ("between 10 and 18 dollars", {"min_price": 10.0, "max_price": 18.0}),
        ("over $30 please", {"min_price": 30.0}),
        ("decaf please", {"decaf": True}),
        ("a caffeine-free drink", {"decaf": True, "product_kind": "drink"}),
        ("medium dark mexican", {"roast": "medium-dark", "origins": ("Mexico",)}),
        ("dark roast", {"roast": "dark"}),
        ("notes of dark chocolate", {"notes": ("dark chocolate",)}),
        ("tastes like blueberries", {"notes": ("blueberry",)}),
        ("kenyan from nyeri", {"origins": ("Kenya", "Nyeri")}),
        ("kona from hawaii", {"unknown_origin": True}),
        ("a medium roast", {"roast": "medium"}),
    ],
)
def test_product_hints(query: str, expected: dict[str, object]) -> None:
    assert parse(query, GAZ) == Hints(**expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("shops in seattle", {"cities": ("Seattle",)}),
        ("anything in colorado", {"states": ("CO",)}),
        ("new york shop", {"cities": ("New York",)}),
        ("a cafe in miami", {"unknown_place": True}),
        ("wi-fi and a drive through", {"amenities": ("drive-thru", "wifi")}),
        ("open on sunday", {"open_weekend": True}),
        ("which are closed on weekends", {"open_weekend": False}),
        ("open before 6:30am", {"opens_by": 389}),
        ("open by 6:30am", {"opens_by": 390}),
        ("open until 9", {"closes_after": 21 * 60}),
        ("open late", {"closes_after": 20 * 60}),
        ("open early", {"opens_by": 7 * 60}),
        ("open 24 hours", {"opens_by": 0, "closes_after": 24 * 60}),
    ],
)
def test_shop_hints(query: str, expected: dict[str, object]) -> None:
    assert parse(query, GAZ) == Hints(**expected)  # type: ignore[arg-type]


def test_a_named_shop_is_found_and_its_address_settles_a_shared_name() -> None:
    assert parse("is it in stock at Seattle Riverside?", GAZ).shop_ids == ("s1",)
    assert parse("at denver riverside", GAZ).shop_ids == ("s2", "s3")
    assert parse("denver riverside on lake shore", GAZ).shop_ids == ("s2",)
    assert parse("anything in denver", GAZ).shop_ids == ()  # a city is not a shop


def test_opening_spans() -> None:
    assert open_between("06:00-22:00", 7 * 60, 21 * 60)
    assert not open_between("08:00-17:00", 7 * 60, None)
    assert not open_between("closed", None, None)

"""Amounts that fall in a product's range ("a harness for a 24 inch chest"), amounts that could be
one of several attributes (ranked first, never ruling out), long product names, and shops on a
dated occasion their notes name. A small catalog of our own, named by no code."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.catalog import profile as profiles
from shared.search.lexicon import Lexicon, measure_words
from shared.search.rank import TermCache, rank
from shared.search.understand import understand
from shared.search.when import check, occasions, parse_when

PRODUCTS = [
    {"id": "h1", "category": "Dog > Harnesses", "name": "Strider Harness S", "price": 20,
     "attributes": {"chest_min_cm": 40, "chest_max_cm": 55, "weight_g": 150}},
    {"id": "h2", "category": "Dog > Harnesses", "name": "Strider Harness M", "price": 22,
     "attributes": {"chest_min_cm": 55, "chest_max_cm": 70, "weight_g": 190}},
    {"id": "f1", "category": "Fish > Filters", "name": "Clearflow 60", "price": 30,
     "attributes": {"max_tank_l": 60, "flow_rate_lph": 300}},
    {"id": "f2", "category": "Fish > Filters", "name": "Clearflow 200", "price": 60,
     "attributes": {"max_tank_l": 200, "flow_rate_lph": 800}},
    {"id": "t1", "category": "Fish > Tanks", "name": "Glassline Tank 100 x 40 x 50 cm Rimless",
     "price": 150, "attributes": {"capacity_l": 200, "weight_kg": 30}},
    {"id": "d1", "category": "Dog > Food", "name": "Hearty Bowl Senior", "price": 40,
     "attributes": {"weight_kg": 6, "min_age_years": 7}},
    {"id": "d2", "category": "Dog > Food", "name": "Hearty Bowl Adult", "price": 38,
     "attributes": {"weight_kg": 12}},
    {"id": "s1", "category": "Dog > Shampoo", "name": "Sudsy Oat Shampoo", "price": 12,
     "attributes": {"volume_ml": 500}},
]  # fmt: skip
MANIFEST = {"attributes": {
    "chest_min_cm": {"label": "smallest chest girth", "unit": "cm"},
    "chest_max_cm": {"label": "largest chest girth", "unit": "cm"},
    "max_tank_l": {"label": "maximum tank size", "unit": "l"},
    "min_age_years": {"label": "minimum age", "unit": "years"},
}}  # fmt: skip
PROFILE = profiles.build(PRODUCTS, [], MANIFEST, version=1)
LEX = Lexicon.build(PROFILE)


def ranked(text: str) -> list[str]:
    u = understand(text, LEX)
    pool = [(p["id"], p, 0.5) for p in PRODUCTS]
    return [s.id for s in rank(pool, u, PROFILE, TermCache())]


def test_an_attributes_role_and_what_it_measures_come_from_its_key_and_label() -> None:
    assert measure_words("chest_min_cm", "smallest chest girth") == ("min", {"chest", "girth"})
    assert measure_words("max_tank_l", "maximum tank size") == ("max", {"tank"})
    assert measure_words("weight_g", "weight") == (None, {"weight"})


def test_an_amount_for_what_a_product_fits_falls_in_its_range() -> None:
    u = understand("harness for a dog with a 24 inch chest", LEX)  # 61 cm
    assert {b.keys[0] for b in u.bounds} == {"chest_min_cm", "chest_max_cm"}
    assert not any(b.soft for b in u.bounds)
    assert ranked("harness for a dog with a 24 inch chest")[0] == "h2"
    assert "h1" not in ranked("harness for a dog with a 24 inch chest")
    # a maximum holds what is at most it; a minimum what is at least it
    assert ranked("filter for a 150 litre tank") == ["f2"]
    assert "d2" not in ranked("food for my 12 year old dog")


def test_an_amount_that_could_be_several_attributes_ranks_and_never_rules_out() -> None:
    u = understand("16 oz dog shampoo", LEX)  # a weight? a volume? a dog's?
    assert u.bounds and all(b.soft for b in u.bounds)
    assert not u.narrows_products
    assert "s1" in ranked("16 oz dog shampoo")


def test_a_direction_said_after_the_amount_is_kept() -> None:
    (bound,) = understand("a tank of 100 litres or bigger", LEX).bounds
    assert (bound.low, bound.high) == (100.0, None)


def test_a_long_product_name_is_read_whole() -> None:
    u = understand("is the Glassline Tank 100 x 40 x 50 cm Rimless in stock", LEX)
    assert u.products == ("t1",)


SHOPS = [
    {"id": "a", "name": "Late Night Pets", "timezone": "America/Chicago",
     "hours": {d: ["10:00-18:00"] for d in ("mon", "tue", "wed", "thu", "sun")}
     | {"fri": ["10:00-01:00"], "sat": ["10:00-01:00"]},
     "hours_exceptions": [{"date": "2026-11-26", "hours": [], "note": "Thanksgiving Day"},
                          {"date": "2026-12-24", "hours": ["10:00-14:00"],
                           "note": "Christmas Eve"}]},
    {"id": "b", "name": "Open Holidays Pets", "timezone": "America/Phoenix",
     "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
     "hours_exceptions": [{"date": "2026-11-26", "hours": ["09:00-13:00"],
                           "note": "Thanksgiving: short hours"}]},
]  # fmt: skip
NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("are you open on Thanksgiving?", ["2026-11-26"]), ("hours on christmas eve", ["2026-12-24"]),
     ("open on christmas?", []), ("open on sunday", [])],
)  # fmt: skip
def test_an_occasion_is_the_date_of_the_exceptions_whose_note_names_it(
    text: str, expected: list[str]
) -> None:
    assert [d.isoformat() for d in occasions(SHOPS, text)] == expected


def test_open_on_an_occasion_and_past_midnight() -> None:
    dates = occasions(SHOPS, "which shops are open on Thanksgiving")
    assert [check(s, parse_when("open on thanksgiving"), NOW, dates).ok for s in SHOPS] == [
        False, True,
    ]  # fmt: skip
    late = parse_when("pet store open past midnight")
    assert late.closes_after == 24 * 60 + 1
    assert [check(s, late, NOW).ok for s in SHOPS] == [True, False]
    assert parse_when("open until midnight").closes_after == 24 * 60


def test_what_is_asked_for_is_named_before_what_it_is_for() -> None:
    u = understand("a filter for a 150 litre tank", LEX)
    assert set(u.categories) == {"Fish > Filters", "Fish > Tanks"}
    assert u.head_categories == ("Fish > Filters",)
    assert ranked("a filter for a 150 litre tank")[0] == "f2"


def test_a_value_that_is_also_a_modal_verb_is_read_only_as_the_value() -> None:
    lex = Lexicon.build(
        profiles.build(
            [{"id": "w1", "category": "Cat > Food", "name": "Tuna Bowl",
              "attributes": {"container": "can"}}], [], None, version=1,
        )
    )  # fmt: skip
    assert not understand("Can I park at your store?", lex).values
    assert not understand("I can pick it up tomorrow", lex).values
    assert ("container", "can") in understand("wet food in a can", lex).values

"""The semantic cache's guard: which details make two near-identical queries different."""

from __future__ import annotations

import math

import pytest

from shared.ai.local_embedder import LocalEmbedder
from shared.cache_guard import (
    DEFAULT_MIN_SIMILARITY,
    DETAIL_LESS_MIN_SIMILARITY,
    MAX_CHARS,
    SEMANTIC_MIN_SIMILARITY,
    Details,
    Guard,
    min_similarity,
)

LOCAL = LocalEmbedder.model_id
GUARD = Guard.build(
    [
        {"id": "c1", "kind": "coffee", "name": "Copper Lot",
         "attributes": {"origin": "Kenya", "roast": "light", "notes": ["dark chocolate"]}},
        {"id": "c2", "kind": "coffee", "name": "Copper Select",
         "attributes": {"origin": "Ethiopia", "roast": "medium-dark", "notes": ["blueberry"]}},
        {"id": "c3", "kind": "coffee", "name": "Orchard Bloom Decaf",
         "attributes": {"origin": "Colombia", "region": "Huila", "roast": "dark"}},
        {"id": "c4", "kind": "coffee", "name": "Midnight Blend", "attributes": {"roast": "medium"}},
        {"id": "d1", "kind": "drink", "name": "Caffe Latte", "attributes": {"milk": True}},
        {"id": "d2", "kind": "drink", "name": "Iced Latte", "attributes": {"milk": True}},
        {"id": "e1", "kind": "equipment", "name": "Paper Filters (100)", "attributes": {}},
    ],
    [
        {"id": "s1", "name": "Cymbal Coffee Seattle Riverside", "address": "1800 Elm Ave",
         "city": "Seattle", "state": "WA", "amenities": ["wifi", "drive-thru"]},
        {"id": "s2", "name": "Cymbal Coffee Seattle Uptown", "address": "1413 Broadway",
         "city": "Seattle", "state": "WA", "amenities": ["parking"]},
        {"id": "s3", "name": "Cymbal Coffee Denver Riverside", "address": "2187 Lake Shore Dr",
         "city": "Denver", "state": "CO", "amenities": ["pet friendly"]},
        {"id": "s4", "name": "Cymbal Coffee Denver Riverside", "address": "9 Congress Ave",
         "city": "Denver", "state": "CO", "amenities": []},
        {"id": "s5", "name": "Cymbal Coffee Portland Central", "address": "5 Maple Ave",
         "city": "Portland", "state": "OR", "amenities": ["outdoor seating"]},
    ],
)  # fmt: skip


def same(*texts: str) -> None:
    """Every text says the same critical details as the first."""
    first = GUARD.details(texts[0])
    assert first != Details(), f"{texts[0]!r} should carry a detail"
    for text in texts[1:]:
        assert GUARD.details(text) == first, (texts[0], text)


def differ(a: str, b: str, field: str) -> None:
    assert GUARD.reason(a, b) == field, (a, b, GUARD.details(a), GUARD.details(b))


# -- numbers ------------------------------------------------------------------------------


def test_a_price_said_three_ways_is_one_price() -> None:
    same("a $10 bag", "a 10 dollar bag", "a ten dollar bag", "a 10.00 dollar bag")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("coffee under $10", "coffee under $15"),
        ("coffee under $30", "coffee over $30"),
        ("drinks under five dollars", "drinks under four dollars"),
        ("a 250g bag", "a 500g bag"),
        ("I'd like 2 bags", "I'd like 3 bags"),
    ],
)
def test_another_amount_or_bound_is_another_question(a: str, b: str) -> None:
    differ(a, b, "numbers")


def test_ranges_and_units_are_normalised() -> None:
    same("between $10 and $20", "over 10 and under 20 dollars", "from 10 to 20 bucks", "$10-$20")
    same("a 1kg bag", "a 1000 grams bag", "a 1 kg bag")
    same("coffee under $12.50", "coffee below 12.5 dollars", "coffee for less than $12.5")


# -- times --------------------------------------------------------------------------------


def test_one_clock_time_written_many_ways() -> None:
    same("open at 7am", "open at 7:00 am", "open at 7 a.m.", "open at 07:00", "open at 7 AM")
    same("open at 7pm", "open at 19:00", "open at 7 in the evening")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("open at 7am", "open at 7pm"),
        ("open before 7am", "open before 8am"),
        ("open before 7am", "open after 7am"),
        ("open on Sunday", "open on Saturday"),
        ("open today", "open tomorrow"),
        ("open late", "open early"),
        ("open now", "open tonight"),
        ("open on weekdays", "open on weekends"),
    ],
)
def test_another_day_or_time_is_another_question(a: str, b: str) -> None:
    differ(a, b, "times")


def test_days_are_normalised() -> None:
    same("open on Sunday", "open on Sundays", "open on sun")
    same("open on the weekend", "open on Saturdays and Sundays", "open weekends")
    same("open on weekdays", "open Monday to Friday", "open mon-fri")
    same("open 24/7", "open 24 hours", "open around the clock")


# -- places -------------------------------------------------------------------------------


def test_a_country_and_its_demonym_are_one_place() -> None:
    same("Kenya", "Kenyan", "from kenya")
    same("Colombian", "from Colombia")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Kenyan light roast", "Ethiopian light roast"),
        ("shops in Seattle", "shops in Portland"),
        ("is there a shop in Miami", "is there a shop in Denver"),
        ("coffee from Huila", "coffee from Narino"),
        ("shops in Texas", "shops in Colorado"),
        ("the Denver shop on Lake Shore Dr", "the Denver shop on Congress Ave"),
    ],
)
def test_another_place_is_another_question(a: str, b: str) -> None:
    differ(a, b, "places")


def test_places_are_normalised() -> None:
    same("shops in Seattle", "shops in Seattle, WA", "Seattle shops")
    same("shops in TX", "shops in Texas")
    same("the shop on Lake Shore Dr", "the shop on Lake Shore Drive", "the Lake Shore shop")
    same("coffee from Huila", "coffee from Huíla")


def test_the_word_or_is_not_oregon() -> None:
    assert GUARD.details("tea or coffee").places == frozenset()
    assert GUARD.details("shops in Portland, OR").places == {"portland"}


# -- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How much is Copper Lot?", "How much is Copper Select?"),
        ("Can I get a latte?", "Can I get an Iced Latte?"),
        ("Is Seattle Riverside open on Sunday?", "Is Seattle Uptown open on Sunday?"),
        ("the Copper coffees", "the Orchard coffees"),
        ("Do you sell Lavazza?", "Do you sell Illy?"),
    ],
)
def test_another_name_is_another_question(a: str, b: str) -> None:
    assert GUARD.reason(a, b) in ("names", "others")


def test_names_are_normalised() -> None:
    same("Orchard Bloom Decaf", "orchard bloom decaf", "Orchard Bloom")
    same("a latte", "a Caffe Latte", "a caffè latte")
    same("paper filters", "Paper Filters (100)")


def test_a_product_name_is_not_read_as_a_time() -> None:
    details = GUARD.details("Tell me about the Midnight Blend")
    assert details.names == {"midnight blend"} and details.times == frozenset()


def test_capitals_in_title_case_text_name_nothing() -> None:
    same("Do You Sell Decaf Beans", "do you sell decaf beans")


# -- negation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("a coffee with milk", "a coffee without milk"),
        ("something with no sugar", "something with sugar"),
        ("non-dairy drinks", "dairy drinks"),
        ("which shops are not in Seattle", "which shops are in Seattle"),
        ("coffees that aren't dark roast", "coffees that are dark roast"),
        ("Seattle shops without wifi", "Seattle shops with wifi"),
    ],
)
def test_a_negation_is_another_question(a: str, b: str) -> None:
    differ(a, b, "negated")


def test_decaf_is_one_axis() -> None:
    same("a decaf coffee", "a caffeine-free coffee", "a coffee with no caffeine",
         "a decaffeinated coffee")  # fmt: skip
    same("a regular coffee", "a coffee that is not decaf", "a caffeinated coffee")
    differ("a decaf coffee", "a regular coffee", "features")


def test_negation_stays_in_its_clause() -> None:
    same("No, milk please", "milk please")
    assert GUARD.details("no sugar but milk").negated == {"sugar"}
    assert GUARD.details("without a doubt the one with milk").negated == frozenset()


# -- comparatives, roasts, kinds, amenities, flavours, what is asked ------------------------


def test_comparatives_keep_their_direction_not_their_degree() -> None:
    same("the cheapest coffee", "the least expensive coffee", "a cheaper coffee")
    differ("the cheapest coffee", "the most expensive coffee", "comparatives")
    differ("your strongest drink", "your mildest drink", "comparatives")
    differ("a coffee that is more acidic", "a coffee that is less acidic", "comparatives")
    differ("the nearest shop", "the farthest shop", "comparatives")


@pytest.mark.parametrize(
    ("a", "b", "field"),
    [
        ("light roast under $20", "dark roast under $20", "roasts"),
        ("medium-dark coffees", "medium coffees", "roasts"),
        ("do you sell pods?", "do you sell beans?", "kinds"),
        ("is it sold as whole bean?", "is it sold ground?", "kinds"),
        ("shops with parking", "shops with wifi", "amenities"),
        ("notes of blueberry", "notes of dark chocolate", "flavours"),
        ("When does Seattle Uptown open?", "When does Seattle Uptown close?", "asks"),
        ("I like dark roasts", "I dislike dark roasts", "features"),
    ],
)
def test_other_critical_details(a: str, b: str, field: str) -> None:
    differ(a, b, field)


def test_dark_chocolate_is_a_note_not_a_roast() -> None:
    details = GUARD.details("notes of dark chocolate")
    assert details.flavours == {"dark chocolate"} and details.roasts == frozenset()


def test_synonyms_of_one_detail_are_one_detail() -> None:
    same("medium-dark coffees", "medium dark roast coffees")
    same("beans", "whole bean", "whole beans")
    same("shops with wifi", "shops with wi-fi")
    same("what's the price of Copper Lot", "how much does Copper Lot cost")


# -- deciding -----------------------------------------------------------------------------


def test_the_floor_is_the_calibrated_one_for_the_offline_model_only() -> None:
    assert min_similarity(LOCAL) == SEMANTIC_MIN_SIMILARITY < DETAIL_LESS_MIN_SIMILARITY
    assert min_similarity(LOCAL, has_details=False) == DETAIL_LESS_MIN_SIMILARITY
    assert min_similarity("gemini-embedding-001@768") == DEFAULT_MIN_SIMILARITY
    assert min_similarity("gemini-embedding-001@768", has_details=False) == DEFAULT_MIN_SIMILARITY


def test_below_the_floor_is_no_hit_even_with_equal_details() -> None:
    query = "coffee under $10 in Seattle"
    floor = SEMANTIC_MIN_SIMILARITY
    assert GUARD.same_question(query, query, floor, model_id=LOCAL)
    assert not GUARD.same_question(query, query, floor - 0.01, model_id=LOCAL)
    assert not GUARD.same_question(query, query, math.nan, model_id=LOCAL)
    assert not GUARD.same_question(query, query, 0.94, model_id="another-model")
    assert GUARD.same_question(query, query, 0.96, model_id="another-model")


def test_a_query_without_details_needs_the_higher_floor() -> None:
    assert GUARD.details("hi there") == Details()
    between = (SEMANTIC_MIN_SIMILARITY + DETAIL_LESS_MIN_SIMILARITY) / 2
    assert not GUARD.same_question("hi there", "hello!", between, model_id=LOCAL)
    assert GUARD.same_question("hi there", "hello!", DETAIL_LESS_MIN_SIMILARITY, model_id=LOCAL)
    assert GUARD.same_question("shops in Seattle", "Seattle shops", between, model_id=LOCAL)


def test_equal_similarity_but_different_details_is_no_hit() -> None:
    assert not GUARD.same_question("coffee under $10", "coffee under $15", 1.0, model_id=LOCAL)
    assert GUARD.same_question("coffee under $10", "coffee below 10 dollars", 0.9, model_id=LOCAL)


def test_reason_names_a_field_and_never_repeats_the_text() -> None:
    assert GUARD.reason("do you sell Lavazza", "do you sell Illy") == "others"
    assert GUARD.reason("coffee under $10", "coffee below ten dollars") is None


def test_only_the_first_max_chars_are_read() -> None:
    head = "coffee under $10 "
    text = head + "x " * MAX_CHARS + "in Seattle on Sunday"
    assert GUARD.details(text) == GUARD.details(head)
    assert GUARD.details(text[:MAX_CHARS]) == GUARD.details(text)


@pytest.mark.parametrize(
    "text", ["1" * 50_000, "$" * 50_000, "7:" * 25_000, "not " * 20_000, "between 1 and " * 5_000]
)
def test_hostile_input_is_read_as_data(text: str) -> None:
    assert isinstance(GUARD.details(text), Details)


def test_records_with_missing_fields_still_build() -> None:
    guard = Guard.build([{"id": "p"}, {"id": "q", "name": "Solo", "kind": "coffee"}], [{"id": "s"}])
    assert guard.details("Solo please").names == {"solo"}

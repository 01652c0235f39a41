"""Query understanding from a catalog's profile alone: a jeweller's catalog that no code names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.catalog import profile as profiles
from shared.search.lexicon import Lexicon
from shared.search.measures import Bound
from shared.search.understand import Understood, understand
from shared.search.when import When, check, parse_when
from tests.unit.catalog.test_profile import MANIFEST, PRODUCTS

SHOPS = [
    {"id": "s1", "name": "Lumen Jewellers Soho", "city": "London", "state": "",
     "address": "1 Dean St", "timezone": "Europe/London",
     "amenities": ["engraving", "valet parking"]},
    {"id": "s2", "name": "Lumen Jewellers Harbour", "city": "Bristol", "state": "",
     "address": "4 Quay St", "timezone": "Europe/London", "amenities": []},
    {"id": "s3", "name": "Lumen Jewellers Pearl District", "city": "Portland", "state": "OR",
     "address": "9 NW 10th Ave", "timezone": "America/Los_Angeles", "amenities": []},
]  # fmt: skip
LEX = Lexicon.build(profiles.build(PRODUCTS, SHOPS, MANIFEST, version=1))


def ask(text: str) -> Understood:
    return understand(text, LEX)


def test_categories_plural_case_and_the_manifests_synonyms() -> None:
    assert ask("Do you have RINGS?").categories == ("Jewellery > Rings",)
    assert ask("a ring for my wife").categories == ("Jewellery > Rings",)
    assert ask("a silver chain").categories == ("Jewellery > Necklaces",)  # a synonym
    assert "necklace" in ask("a silver chain").terms  # the synonym's head word ranks too


def test_values_brands_flags_and_values_named_with_their_attribute() -> None:
    u = ask("Lumen emerald rings that are resizable")
    assert u.brands == ("Lumen",) and ("stone", "emerald") in u.values
    assert u.flags == ("resizable",) and not u.strict_values
    assert ask("a ring in size 6").bounds == (Bound(("sizes",), 6.0, 6.0, "6"),)
    # "emerald" the stone and "emerald-cut" the cut are told apart
    assert ("cut", "emerald-cut") in ask("emerald-cut rings").values
    assert ("stone", "emerald") not in ask("emerald-cut rings").values


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("half a carat", 0.425, 0.575), ("at least 0.75 carats", 0.75, None),
        ("under 200 milligrams", None, 1.0), ("rings over 1ct", 1.0, None),
    ],
)  # fmt: skip
def test_amounts_in_any_unit_become_bounds_in_the_catalogs(
    text: str, low: float | None, high: float | None
) -> None:
    (bound,) = ask(text).bounds
    assert bound.keys == ("carat_weight_ct",)
    assert bound.low == pytest.approx(low) if low is not None else bound.low is None
    assert bound.high == pytest.approx(high) if high is not None else bound.high is None


def test_prices_and_superlatives() -> None:
    u = ask("rings between $500 and 1000 dollars")
    assert (u.min_price, u.max_price) == (500.0, 1000.0)
    assert ask("cheapest ring").order == ("price", True)
    assert ask("the biggest stone").order is None  # no volume is measured here
    assert ask("rings under 900").max_price == 900.0


def test_exclusions_not_without_no_and_lists() -> None:
    assert ask("rings, not gold").not_values == (("metal", "gold"),)
    assert ask("something without a diamond").not_values == (("stone", "diamond"),)
    u = ask("no emeralds or pearls please")
    assert set(u.not_values) == {("stone", "emerald"), ("stone", "pearl")}
    assert "emerald" not in u.terms  # an excluded word must not rank
    assert ask("rings, gold is fine but not platinum").values == (("metal", "gold"),)


def test_shops_by_city_state_amenity_and_name() -> None:
    assert ask("your London shop").cities == ("London",)
    assert ask("shops in Oregon").states == ("OR",)
    assert ask("shops in OR").states == ("OR",) and ask("rings or necklaces").states == ()
    assert ask("where can I get engraving").amenities == ("engraving",)
    assert ask("is the Harbour shop open").shops == ("s2",)
    assert ask("Pearl District").shops == ("s3",)
    assert ask("a shop in Chicago").unknown_place and not ask("a shop in London").unknown_place


def test_a_thing_no_product_is_is_named_as_such() -> None:
    assert ask("do you sell wristwatches").unknown_head == "wristwatch"
    assert ask("do you sell rnigs").unknown_head is None  # a typo of a word the catalog uses
    assert ask("rings for a wedding").unknown_head is None


def test_days_and_times() -> None:
    assert parse_when("open on sunday at 9") == When(days=(6,), at=9 * 60)
    assert parse_when("open now?") == When(relative="now")
    assert parse_when("open late tonight") == When(relative="today", closes_after=20 * 60)
    assert parse_when("open before 8am on weekdays") == When(days=(0, 1, 2, 3, 4), opens_by=479)
    assert parse_when("which shops close after 9pm") == When(closes_after=21 * 60)
    assert parse_when("rings under $500") == When()


def test_open_then_is_checked_in_the_shops_own_time_zone() -> None:
    shop = {"timezone": "America/Los_Angeles", "hours": {"sun": ["10:00-18:00"]}}
    # Sunday 2026-12-06 17:00 UTC is 09:00 in Portland: not open yet; at 19:00 UTC it is.
    early, later = datetime(2026, 12, 6, 17, tzinfo=UTC), datetime(2026, 12, 6, 19, tzinfo=UTC)
    assert not check(shop, When(relative="now"), early).ok
    result = check(shop, When(relative="now"), later)
    assert result.ok and result.checked == "Sunday 2026-12-06 11:00 America/Los_Angeles (now)"
    sunday_at_9 = check(shop, When(days=(6,), at=9 * 60), later)
    assert not sunday_at_9.ok and "Sunday" in sunday_at_9.checked


def test_a_tagline_is_said_mid_sentence_and_acronyms_stay() -> None:
    from shared.search.view import _mid_sentence

    assert _mid_sentence("Outdoor gear and clothing") == "outdoor gear and clothing"
    assert _mid_sentence("USB cables and chargers") == "USB cables and chargers"
    assert _mid_sentence("iPhone cases") == "iPhone cases"
    assert _mid_sentence(None) == ""

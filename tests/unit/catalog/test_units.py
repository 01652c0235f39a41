"""Units: what a key's suffix means, amounts in a shopper's words, and conversions."""

from __future__ import annotations

import pytest

from shared.catalog.units import UNITS, amounts, convert, from_key


@pytest.mark.parametrize(
    ("key", "label", "unit"),
    [
        ("weight_g", "weight", "g"), ("capacity_l", "capacity", "l"),
        ("temp_rating_c", "temp rating", "°C"), ("floor_area_m2", "floor area", "m²"),
        ("grams", "weight", "g"), ("lumens", "brightness", "lm"), ("color", "color", None),
        ("burn_time_high_h", "burn time high", "h"),
    ],
)  # fmt: skip
def test_a_keys_suffix_names_its_unit(key: str, label: str, unit: str | None) -> None:
    found_label, found_unit = from_key(key)
    assert found_label == label and (found_unit.symbol if found_unit else None) == unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("under 2 pounds", [(2.0, "lb")]), ("1 kilogram", [(1.0, "kg")]),
        ("at least 30 litres", [(30.0, "l")]), ("half a carat", [(0.5, "ct")]),
        ("-10 degrees F", [(-10.0, "°F")]), ("a 30l pack", [(30.0, "l")]),
        ("3,000 mm", [(3000.0, "mm")]), ("1,5 kg", [(1.5, "kg")]),
        ("size 10 in black", []), ("a 2 l bottle", []), ("2 lbs 4 oz", [(2.0, "lb"), (4.0, "oz")]),
        ("minus 20 Fahrenheit", [(-20.0, "°F")]), ("negative 5 c", [(-5.0, "°C")]),
        ("minus a pound", [(1.0, "lb")]),
    ],
)  # fmt: skip
def test_amounts_in_a_shoppers_words(text: str, expected: list[tuple[float, str]]) -> None:
    assert [(a.value, a.unit.symbol) for a in amounts(text)] == expected


def test_conversions_within_a_dimension_only() -> None:
    assert convert(2, UNITS["lb"], UNITS["g"]) == pytest.approx(907.18474)
    assert convert(-40, UNITS["°F"], UNITS["°C"]) == pytest.approx(-40)
    assert convert(32, UNITS["°F"], UNITS["°C"]) == pytest.approx(0)
    assert convert(1, UNITS["kg"], UNITS["l"]) is None

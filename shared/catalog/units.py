"""Units of measure: what an attribute's number means (from the manifest or its key's suffix,
`weight_g`, `capacity_l`), and amounts in a shopper's words ("2 pounds", "half a carat",
"-5 degrees F") converted to the catalog's unit. Physics, not a domain: nothing here names a
product."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    symbol: str  # as shown: "g", "°C", "m²"
    dimension: str  # units of one dimension convert into each other
    factor: float  # to the dimension's base unit
    offset: float = 0.0  # temperatures: base = value * factor + offset


# symbol, dimension, factor to base, words shoppers write for it (lower case)
_TABLE: tuple[tuple[str, str, float, tuple[str, ...]], ...] = (
    ("mg", "mass", 0.001, ("mg", "milligram", "milligrams", "milligramme", "milligrammes")),
    ("g", "mass", 1.0, ("g", "gr", "gram", "grams", "gramme", "grammes", "grm")),
    ("kg", "mass", 1000.0, ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "kilogramme")),
    ("oz", "mass", 28.349523125, ("oz", "ozs", "ounce", "ounces")),
    ("lb", "mass", 453.59237, ("lb", "lbs", "pound", "pounds")),
    ("ct", "mass", 0.2, ("ct", "cts", "carat", "carats")),
    ("ml", "volume", 0.001, ("ml", "millilitre", "millilitres", "milliliter", "milliliters")),
    ("cl", "volume", 0.01, ("cl", "centilitre", "centilitres", "centiliter", "centiliters")),
    ("l", "volume", 1.0, ("l", "ltr", "ltrs", "litre", "litres", "liter", "liters", "lt")),
    ("gal", "volume", 3.785411784, ("gal", "gallon", "gallons")),
    ("fl oz", "volume", 0.0295735295625, ("fl oz", "fluid ounce", "fluid ounces", "floz")),
    ("mm", "length", 0.001, ("mm", "millimetre", "millimetres", "millimeter", "millimeters")),
    ("cm", "length", 0.01, ("cm", "cms", "centimetre", "centimetres", "centimeter", "centimeters")),
    ("m", "length", 1.0, ("m", "metre", "metres", "meter", "meters")),
    ("km", "length", 1000.0, ("km", "kms", "kilometre", "kilometres", "kilometer", "kilometers")),
    ("in", "length", 0.0254, ("in", "inch", "inches", '"')),
    ("ft", "length", 0.3048, ("ft", "foot", "feet", "'")),
    ("mi", "length", 1609.344, ("mi", "mile", "miles")),
    ("µm", "length", 1e-6, ("µm", "um", "micron", "microns", "micrometre", "micrometer")),
    ("m²", "area", 1.0, ("m²", "m2", "sq m", "square metre", "square metres", "square meter",
                         "square meters", "sqm")),
    ("ft²", "area", 0.09290304, ("ft²", "ft2", "sq ft", "square foot", "square feet", "sqft")),
    ("°C", "temperature", 1.0, ("°c", "c", "celsius", "centigrade", "degrees c", "degree c",
                                "degrees celsius", "deg c")),
    ("°F", "temperature", 5 / 9, ("°f", "f", "fahrenheit", "degrees f", "degree f",
                                  "degrees fahrenheit", "deg f")),
    ("s", "time", 1 / 60, ("s", "sec", "secs", "second", "seconds")),
    ("min", "time", 1.0, ("min", "mins", "minute", "minutes")),
    ("h", "time", 60.0, ("h", "hr", "hrs", "hour", "hours")),
    ("d", "time", 1440.0, ("day", "days")),
    ("wk", "time", 10080.0, ("wk", "wks", "week", "weeks")),
    ("mo", "time", 43830.0, ("mo", "mos", "month", "months")),
    ("yr", "time", 525960.0, ("yr", "yrs", "year", "years")),
    ("W", "power", 1.0, ("w", "watt", "watts")),
    ("kW", "power", 1000.0, ("kw", "kilowatt", "kilowatts")),
    ("lm", "light", 1.0, ("lm", "lumen", "lumens")),
    ("mAh", "charge", 1.0, ("mah", "milliamp hours", "milliamp-hours")),
    ("Ah", "charge", 1000.0, ("ah", "amp hours", "amp-hours")),
    ("l/min", "flow", 1.0, ("l/min", "lpm", "litres per minute", "liters per minute")),
    ("l/h", "flow", 1 / 60, ("l/h", "lph", "litres per hour", "liters per hour")),
    ("gph", "flow", 3.785411784 / 60, ("gph", "gallons per hour", "gallon per hour")),
    ("kcal", "energy", 1.0, ("kcal", "calorie", "calories")),
    ("k", "purity", 1.0, ("k", "kt", "karat", "karats")),
    ("GB", "storage", 1.0, ("gb", "gigabyte", "gigabytes")),
    ("TB", "storage", 1000.0, ("tb", "terabyte", "terabytes")),
    ("mp", "resolution", 1.0, ("mp", "megapixel", "megapixels")),
    ("V", "voltage", 1.0, ("v", "volt", "volts")),
    ("g/m²", "grammage", 1.0, ("g/m²", "g/m2", "gsm")),
)  # fmt: skip
UNITS: dict[str, Unit] = {s: Unit(s, d, f) for s, d, f, _ in _TABLE}
UNITS["°F"] = Unit("°F", "temperature", 5 / 9, -32 * 5 / 9)
# Words for a unit, longest first so "fl oz" wins over "oz".
WORDS: dict[str, str] = {w: s for s, _, _, ws in _TABLE for w in ws}
# Key suffixes that are unit words but also common words of names ("in", "m", "c", "f", "s"):
# a suffix is read as a unit only after an underscore, so "grams" or "weight_g" count.
_SUFFIX_EXTRA = {"micron": "µm", "m2": "m²", "lpm": "l/min", "gsm": "g/m²", "c": "°C", "f": "°F"}
# What an attribute measuring a dimension is called when its key says only the unit ("grams").
DIMENSION_LABELS = {
    "mass": "weight", "volume": "volume", "length": "length", "area": "area",
    "temperature": "temperature", "time": "time", "power": "power", "light": "brightness",
    "charge": "battery capacity", "flow": "flow rate", "purity": "purity", "storage": "storage",
    "resolution": "resolution", "voltage": "voltage", "grammage": "fabric weight",
}  # fmt: skip


def unit_of(symbol: str | None) -> Unit | None:
    if not symbol:
        return None
    found = UNITS.get(symbol) or UNITS.get(WORDS.get(symbol.strip().lower(), ""))
    return found


def from_key(key: str) -> tuple[str, Unit | None]:
    """An attribute key as a label and a unit: "weight_g" -> ("weight", g), "temp_rating_c" ->
    ("temp rating", °C), "grams" -> ("weight", g), "color" -> ("color", None)."""
    parts = key.lower().split("_")
    if len(parts) > 1:
        tail = parts[-1]
        symbol = _SUFFIX_EXTRA.get(tail) or WORDS.get(tail)
        if symbol:
            return " ".join(parts[:-1]), UNITS[symbol]
    whole = key.lower()
    if len(whole) > 2 and whole in WORDS:
        unit = UNITS[WORDS[whole]]
        return DIMENSION_LABELS[unit.dimension], unit
    return " ".join(parts), None


def convert(value: float, source: Unit, target: Unit) -> float | None:
    """The value in the target unit, or None across dimensions."""
    if source.dimension != target.dimension:
        return None
    base = value * source.factor + source.offset
    return (base - target.offset) / target.factor


def show(value: float, unit: Unit | None) -> str:
    number = f"{value:g}" if isinstance(value, float) else str(value)
    if unit is None:
        return number
    return f"{number}{unit.symbol}" if unit.symbol.startswith("°") else f"{number} {unit.symbol}"


_FRACTIONS = {"half a": 0.5, "half an": 0.5, "a half": 0.5, "quarter of a": 0.25,
              "a quarter": 0.25, "three quarters of a": 0.75, "a": 1.0, "an": 1.0, "one": 1.0,
              "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0, "seven": 7.0,
              "eight": 8.0, "nine": 9.0, "ten": 10.0, "a dozen": 12.0}  # fmt: skip
_UNIT_WORDS = "|".join(re.escape(w) for w in sorted(WORDS, key=len, reverse=True))
_AMOUNT = re.compile(
    r"(?<![\w.])(?:(?P<minus>minus|negative)\s+(?=\d))?(?P<n>[-\u2212]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-\u2212]?\d+(?:[.,]\d+)?|"
    + "|".join(re.escape(f) for f in sorted(_FRACTIONS, key=len, reverse=True))
    + r")\s*(?:degrees?\s*|deg\s*|°\s*)?(?P<u>"
    + _UNIT_WORDS
    + r")(?![\w°²])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Amount:
    value: float
    unit: Unit
    start: int
    end: int


def amounts(text: str) -> list[Amount]:
    """Every number with a unit in the text: "2 pounds", "half a carat", "-10°F", "30L"."""
    found = []
    for m in _AMOUNT.finditer(text):
        raw, word = m["n"].lower(), m["u"].lower()
        if raw in _FRACTIONS:
            if len(word) <= 2:  # "a g", "an h": only spelled-out units follow a word number
                continue
            value = _FRACTIONS[raw]
        else:
            raw = raw.replace("\u2212", "-")
            thousands = re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", raw)
            value = float(raw.replace(",", "") if thousands else raw.replace(",", "."))
            if m["minus"] and value > 0:  # "minus 20 Fahrenheit"
                value = -value
        symbol = WORDS[word]
        gap = m[0][len(m["n"]) : m.start("u") - m.start()]
        if (len(word) == 1 or word == "in") and not re.search(r"deg|°", gap, re.IGNORECASE):
            # "30l", "10in", "-5c" count; "size 10 in black" or "2 l bottles" do not
            glued = gap == ""
            last = not re.match(r"\s*[a-z0-9]", text[m.end() :], re.IGNORECASE)
            if not (glued or last):
                continue
        found.append(Amount(value, UNITS[symbol], m.start(), m.end()))
    return found

"""Shop opening hours: per-day ranges (split shifts, ranges past midnight), dated exceptions and
an IANA time zone, read from format v1 (`mon_fri`/`sat_sun`) or v2 (`mon` ... `sun`), and asked
"is it open at this moment, in the shop's own time zone?"."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES: tuple[str, ...] = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)  # fmt: skip
_V1_GROUPS = {"mon_fri": DAYS[:5], "sat_sun": DAYS[5:]}
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
MAX_RANGES = 6  # split shifts in one day
DAY = 24 * 60
DASH = "\u2013"  # en dash, as ranges are shown


def parse_range(text: str) -> tuple[int, int]:
    """ "HH:MM-HH:MM" as minutes after the day's midnight; an end at or before the start is on
    the next day ("18:00-02:00" is 1080 to 1560)."""
    m = _RANGE.match(text.strip())
    if not m or (m[3] == "24" and m[4] != "00"):
        raise ValueError(f"{text!r} is not a time range like 09:00-17:30")
    start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
    if start == end:
        end = start + DAY  # "00:00-00:00": all day
    elif end < start:
        end += DAY
    return start, end


def day_ranges(value: Any) -> list[str]:
    """One day's value ("closed", a range, or a list of ranges) as a list of ranges."""
    if isinstance(value, str):
        value = [] if value.strip().lower() == "closed" else [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('a day is "closed", a range like "09:00-17:00", or a list of ranges')
    if len(value) > MAX_RANGES:
        raise ValueError(f"at most {MAX_RANGES} ranges a day")
    ranges = [v.strip() for v in value if v.strip().lower() != "closed"]
    for r in ranges:
        parse_range(r)
    return sorted(ranges, key=parse_range)


def normalise_week(raw: Any) -> dict[str, list[str]]:
    """Format v1 or v2 hours as {day: [ranges]} for all seven days (a day left out is closed)."""
    if not isinstance(raw, Mapping):
        raise ValueError("hours must be an object of days")
    unknown = set(raw) - set(DAYS) - set(_V1_GROUPS)
    if unknown:
        first = sorted(unknown)[0]
        raise ValueError(f"unknown day {first!r}: use mon ... sun (or mon_fri, sat_sun)")
    week: dict[str, list[str]] = {d: [] for d in DAYS}
    for key, value in raw.items():
        for day in _V1_GROUPS.get(key, (key,)):
            week[day] = day_ranges(value)
    return week


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone such as America/Denver") from None
    return name


@dataclass(frozen=True)
class Moment:
    """A local day and minute in one shop's time zone, as an answer should state it."""

    day: date
    minute: int  # after local midnight

    @property
    def label(self) -> str:
        hh, mm = divmod(self.minute, 60)
        return f"{DAY_NAMES[self.day.weekday()]} {self.day.isoformat()} {hh:02d}:{mm:02d}"


def zone(shop: Mapping[str, Any], default: str = "UTC") -> ZoneInfo:
    try:
        return ZoneInfo(str(shop.get("timezone") or default))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_now(shop: Mapping[str, Any], now: datetime) -> Moment:
    local = now.astimezone(zone(shop))
    return Moment(local.date(), local.hour * 60 + local.minute)


def ranges_on(shop: Mapping[str, Any], day: date) -> list[tuple[int, int]]:
    """The shop's ranges that start on this local date: a dated exception wins over the week."""
    for exception in shop.get("hours_exceptions") or []:
        if exception.get("date") == day.isoformat():
            return [parse_range(r) for r in day_ranges(exception.get("hours", "closed"))]
    week = shop.get("hours") or {}
    return [parse_range(r) for r in week.get(DAYS[day.weekday()], [])]


def open_at(shop: Mapping[str, Any], moment: Moment) -> bool:
    """Open at this local moment, counting a range from the day before that runs past midnight."""
    if any(s <= moment.minute < e for s, e in ranges_on(shop, moment.day)):
        return True
    before = moment.day - timedelta(days=1)
    return any(s <= moment.minute + DAY < e for s, e in ranges_on(shop, before))


def open_during(
    shop: Mapping[str, Any], day: date, *, opens_by: int | None, closes_after: int | None
) -> bool:
    """Open on this local date at all, and (when asked) already by `opens_by` and still after
    `closes_after` (minutes after that day's midnight; past midnight counts)."""
    ranges = ranges_on(shop, day)
    if not ranges:
        return False
    if opens_by is not None and not any(s <= opens_by for s, _ in ranges):
        return False
    return closes_after is None or any(e >= closes_after for _, e in ranges)


def next_date(today: date, weekday: int) -> date:
    """The next date (today included) that falls on this weekday (0 = Monday)."""
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def describe(ranges: Sequence[str]) -> str:
    return "closed" if not ranges else ", ".join(r.replace("-", DASH) for r in ranges)


def week_summary(week: Mapping[str, Sequence[str]], names: Sequence[str] = DAY_NAMES) -> str:
    """Runs of days with the same hours: "Monday to Friday 08:00 to 17:00" (en dashes)."""
    runs: list[tuple[int, int, str]] = []
    for i, day in enumerate(DAYS):
        said = describe(week.get(day, []))
        if runs and runs[-1][2] == said:
            runs[-1] = (runs[-1][0], i, said)
        else:
            runs.append((i, i, said))
    return "; ".join(f"{names[a]}{DASH + names[b] if b > a else ''} {said}" for a, b, said in runs)

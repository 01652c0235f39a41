"""A day and a time in a shopper's words ("open now", "on Sunday at 9", "late tonight", "before
8am on weekdays"), and whether a shop is open then in its own time zone, with the local day and
time that was checked, so an answer can say which it used."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shared.catalog.hours import DAY_NAMES, Moment, local_now, open_at, open_during

_DAYS = {
    0: r"mon(?:day)?s?", 1: r"tue(?:s|sday)?s?", 2: r"wed(?:nesday)?s?", 3: r"thu(?:rs?|rsday)?s?",
    4: r"fri(?:day)?s?", 5: r"sat(?:urday)?s?", 6: r"sun(?:day)?s?",
}  # fmt: skip
_DAY = {d: re.compile(r"\b" + p + r"\b") for d, p in _DAYS.items()}
_WEEKEND = re.compile(r"\bweekends?\b")
_WEEKDAYS = re.compile(r"\bweek ?days?\b")
_NOW = re.compile(r"\b(?:now|right now|currently|at the moment|at this hour|still open)\b")
_TODAY = re.compile(r"\btoday\b")
_TONIGHT = re.compile(r"\b(?:tonight|this evening)\b")
_TOMORROW = re.compile(r"\btomorrow\b")
_TIME = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?|(noon|midday|midnight)"
_AT = re.compile(
    r"\b(?:at|around|for)\s+(?:" + _TIME + r")(?![\d:]|\s*(?:%|percent|people|person))"
)
_BARE_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)")
_OPENS_BEFORE = re.compile(r"\b(?:before|earlier than|by)\s+(?:" + _TIME + r")")
_CLOSES_AFTER = re.compile(r"\b(?:after|until|till|til|past|later than)\s+(?:" + _TIME + r")")
_EARLY = re.compile(r"\b(?:early|earliest|sunrise|first thing)\b")
_LATE = re.compile(r"\b(?:late|latest|evening|night|tonight)\b")
_ALL_DAY = re.compile(r"\b(?:24 ?hours?|24/7|24-7|round the clock|all night|overnight)\b")
_CLOSED = re.compile(r"\bclosed\b")
_OPEN = re.compile(r"\b(?:open|opens|opening|close|closes|closing|hours)\b")
EARLY, LATE, DAY_END = 7 * 60, 20 * 60, 24 * 60


@dataclass(frozen=True)
class When:
    days: tuple[int, ...] = ()  # weekdays named (0 = Monday); any of them will do
    relative: str | None = None  # "now", "today", "tomorrow"
    at: int | None = None  # open at this minute of the day
    opens_by: int | None = None
    closes_after: int | None = None
    closed: bool = False  # asks which are closed then

    @property
    def empty(self) -> bool:
        return self == When()


def parse_when(text: str) -> When:
    values: dict[str, Any] = {}
    days = tuple(d for d, pattern in _DAY.items() if pattern.search(text))
    if _WEEKEND.search(text):
        days += (5, 6)
    elif _WEEKDAYS.search(text):
        days += (0, 1, 2, 3, 4)
    if days:
        values["days"] = tuple(sorted(set(days)))
    if _NOW.search(text) and not days:
        values["relative"] = "now"
    elif _TOMORROW.search(text):
        values["relative"] = "tomorrow"
    elif (_TODAY.search(text) or _TONIGHT.search(text)) and not days:
        values["relative"] = "today"
    if _ALL_DAY.search(text):
        values["opens_by"], values["closes_after"] = 0, 24 * 60 - 1
    elif m := _OPENS_BEFORE.search(text):
        strict = not m[0].startswith("by")
        values["opens_by"] = _minutes(m, default_pm=False) - strict
    elif m := _CLOSES_AFTER.search(text):
        values["closes_after"] = _minutes(m, default_pm=True)
        if "midnight" in m[0]:  # the end of the day: "until midnight", "past midnight" (after)
            values["closes_after"] = DAY_END + (not m[0].startswith(("until", "till", "til")))
    elif m := _AT.search(text) or _BARE_CLOCK.search(text):
        values["at"] = _minutes(m, default_pm=None)
    if (
        "opens_by" not in values
        and "at" not in values
        and _EARLY.search(text)
        and _OPEN.search(text)
    ):
        values["opens_by"] = EARLY
    late = _LATE.search(text) and (_OPEN.search(text) or _TONIGHT.search(text))
    if "closes_after" not in values and "at" not in values and late:
        values["closes_after"] = LATE
        values.setdefault("relative", "today" if _TONIGHT.search(text) else None)
    values["closed"] = bool(_CLOSED.search(text)) and bool(values.get("days") or values.get("at"))
    if values.get("relative") is None:
        values.pop("relative", None)
    return When(**values)


def _minutes(m: re.Match[str], *, default_pm: bool | None) -> int:
    groups = list(m.groups())
    word = next((g for g in groups if g in ("noon", "midday", "midnight")), None)
    if word:
        return 0 if word == "midnight" else 12 * 60
    hour, minute, half = (
        int(groups[0]) % 24,
        int(groups[1] or 0),
        (groups[2] or "").replace(".", ""),
    )
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    elif not half and hour < 12 and (default_pm or (default_pm is None and hour <= 6)):
        hour += 12  # "open after 6": 6pm; "at 9": 9am; "at 3" or "at 5": the afternoon
    return hour * 60 + minute


@dataclass(frozen=True)
class Check:
    ok: bool
    checked: str  # "Sunday 2026-12-13 09:00 America/Denver": what the answer relied on


# Words of an exception's note that name no occasion ("Christmas Day", "Early close").
_NOTE_FILLER = frozenset(
    ("day", "the", "a", "an", "of", "and", "holiday", "hours", "hour", "closed", "close",
     "closing", "early", "late", "open", "opening", "special", "store", "shop", "only", "eve")
)  # fmt: skip
_NOTE_WORD = re.compile(r"[a-z0-9']+")


def occasions(shops: Sequence[Mapping[str, Any]], text: str) -> list[date]:
    """The dates of the shops' dated exceptions whose note the text names ("open on
    Thanksgiving" names "Thanksgiving Day"; "Christmas Eve" names "Christmas Eve" and not
    "Christmas Day"): every word of the note but its fillers is said, and "eve" too if the
    note says it."""
    said = set(_NOTE_WORD.findall(text.lower()))
    found: set[date] = set()
    for shop in shops:
        for exception in shop.get("hours_exceptions") or []:
            words = set(_NOTE_WORD.findall(str(exception.get("note") or "").lower()))
            named = words - _NOTE_FILLER
            eve = "eve" in words
            if named and named <= said and eve == ("eve" in said):
                with contextlib.suppress(TypeError, ValueError):
                    found.add(date.fromisoformat(str(exception.get("date"))))
    return sorted(found)


def check(shop: Mapping[str, Any], when: When, now: datetime, dates: Sequence[date] = ()) -> Check:
    """Is the shop open as asked, in its own time zone? `dates`: the local dates asked about,
    when the question names them (an occasion); otherwise they follow from `when`."""
    today = local_now(shop, now)
    zone_name = str(shop.get("timezone") or "UTC")
    dates = list(dates) or _dates(today, when)
    results = []
    for day in dates:
        if when.relative == "now" and day == today.day:
            ok = open_at(shop, today)
            label = f"{today.label} {zone_name} (now)"
        elif when.at is not None:
            moment = Moment(day, when.at)
            ok = open_at(shop, moment)
            label = f"{moment.label} {zone_name}"
        else:
            ok = open_during(shop, day, opens_by=when.opens_by, closes_after=when.closes_after)
            label = f"{DAY_NAMES[day.weekday()]} {day.isoformat()} {zone_name}"
        if when.closed:
            ok = not ok
        results.append(Check(ok, label))
        if ok:
            return results[-1]
    return results[0] if results else Check(True, "")


def _dates(today: Moment, when: When) -> list[date]:
    start = today.day
    if when.relative == "tomorrow":
        return [start + timedelta(days=1)]
    if when.relative in ("now", "today"):
        return [start]
    if when.days:
        return sorted(start + timedelta(days=(d - start.weekday()) % 7) for d in when.days)
    return [start + timedelta(days=i) for i in range(7)]  # any day of the coming week

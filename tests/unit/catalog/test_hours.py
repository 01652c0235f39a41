"""Shop hours: v1 and v2 read alike, split shifts, ranges past midnight, dated exceptions, and
"open at" in the shop's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.catalog import validate_records
from shared.catalog.hours import Moment, local_now, normalise_week, open_at, open_during

SHOP = {
    "id": "s1", "name": "Night Owl", "address": "1 Main St", "city": "Denver", "state": "CO",
    "location": {"lat": 39.7, "lng": -105.0}, "timezone": "America/Denver",
    "hours": {"mon": ["07:00-11:00", "13:00-18:00"], "fri": "18:00-02:00", "sat": "closed"},
    "hours_exceptions": [{"date": "2026-12-25", "hours": "closed", "note": "Christmas Day"}],
}  # fmt: skip


def shop() -> dict:
    (record,), bad = validate_records("shops", [SHOP])
    assert not bad
    return record.model_dump(mode="json")


def test_v1_hours_spread_over_the_days_and_a_day_left_out_is_closed() -> None:
    week = normalise_week({"mon_fri": "08:00-17:00", "sat_sun": "closed"})
    assert week["wed"] == ["08:00-17:00"] and week["sun"] == []
    assert shop()["hours"]["tue"] == [] and shop()["hours"]["mon"] == ["07:00-11:00", "13:00-18:00"]


@pytest.mark.parametrize(
    "hours",
    [
        {"mon": "9-5"},
        {"monday": "09:00-17:00"},
        {"mon": "25:00-26:00"},
        {"mon": ["09:00-10:00"] * 7},
    ],
)
def test_bad_hours_are_refused_with_a_reason(hours: dict) -> None:
    _, bad = validate_records("shops", [{**SHOP, "hours": hours}])
    assert bad and "hours" in bad[0].reason


def test_a_bad_time_zone_is_refused() -> None:
    _, bad = validate_records("shops", [{**SHOP, "timezone": "Mars/Olympus"}])
    assert bad and "time zone" in bad[0].reason


def test_split_shifts_past_midnight_and_exceptions() -> None:
    s = shop()
    monday, friday, saturday = date(2026, 12, 7), date(2026, 12, 11), date(2026, 12, 12)
    assert open_at(s, Moment(monday, 10 * 60)) and not open_at(s, Moment(monday, 12 * 60))
    assert open_at(s, Moment(friday, 23 * 60))
    assert open_at(s, Moment(saturday, 60))  # Friday's range runs to 02:00 on Saturday
    assert not open_at(s, Moment(saturday, 3 * 60))
    christmas = date(2026, 12, 25)  # a Friday, closed by exception
    assert not open_at(s, Moment(christmas, 23 * 60))
    assert open_during(s, friday, opens_by=None, closes_after=23 * 60)
    assert not open_during(s, monday, opens_by=6 * 60, closes_after=None)


def test_local_time_is_the_shops_own() -> None:
    # 2026-12-07 17:30 UTC is 10:30 in Denver (UTC-7 in winter)
    now = local_now(shop(), datetime(2026, 12, 7, 17, 30, tzinfo=UTC))
    assert (now.day, now.minute) == (date(2026, 12, 7), 10 * 60 + 30)
    assert now.label == "Monday 2026-12-07 10:30"

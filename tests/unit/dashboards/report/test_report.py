"""The weekly report's pure parts: the week, the day a figure belongs to, gaps and the data-quality notes."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from dashboards.report import render
from dashboards.report.weekly import BadWeek, parse_week, weekly_report
from ingest.store.queries import BoutRow, MinuteRow, PromptRow, ResponseRow

BERLIN = ZoneInfo("Europe/Berlin")


def ms(*args: int) -> int:
    return round(datetime(*args, tzinfo=BERLIN).timestamp() * 1000)  # type: ignore[misc]


def test_iso_weeks() -> None:
    assert parse_week("2026-W47") == date(2026, 11, 16)
    assert parse_week("2026-W01") == date(2025, 12, 29)  # ISO week 1 can start in December
    for bad in ("2026-47", "2026-W54", "W47", "2026-w47x"):
        with pytest.raises(BadWeek, match="--week"):
            parse_week(bad)
    # found after the named cases: the last weeks a date can hold gave an OverflowError traceback
    for bad in ("9999-W52", "0001-W01", "2014-W52", "2100-W01"):
        with pytest.raises(BadWeek, match="the year must be from 2015 to 2099"):
            parse_week(bad)


class Store:
    """Queries for one wearer with an hour of sitting on Monday 23:00 (local), a gap on Tuesday, a bout ending
    just after midnight."""

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        return [
            {"t_ms": float(ms(2026, 11, 16, 23)), "sitting_s": 3000.0, "unknown_s": 600.0},
            {"t_ms": float(ms(2026, 11, 17, 0)), "sitting_s": 1200.0, "standing_s": 60.0, "breaks": 1.0},
        ]

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]:
        return [BoutRow(ms(2026, 11, 16, 23, 10), ms(2026, 11, 17, 0, 20), 70 * 60.0)]

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]:
        times = [ms(2026, 11, 17, 10, m) for m in (0, 1, 2, 10, 11)]  # minutes 3-9 missing: a 7-minute gap
        return [MinuteRow(t, 60, 20.0, 0.0, 5.0, 0) for t in times]

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        return []

    async def prompts(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptRow]:
        return []


def test_days_are_local_bouts_count_where_they_end_and_gaps_are_reported() -> None:
    report = asyncio.run(weekly_report(Store(), "ann", "2026-W47", "Europe/Berlin"))  # type: ignore[arg-type]
    monday, tuesday = report.days[0], report.days[1]
    assert monday.sitting_min == 50 and monday.unknown_min == 10 and monday.sitting_by_hour == {23: 50}
    assert tuesday.sitting_min == 20 and tuesday.breaks == 1 and tuesday.longest_bout_min == 70
    assert monday.longest_bout_min == 0  # the bout ended on Tuesday
    assert [(g.start_ms, g.minutes) for g in report.gaps] == [(ms(2026, 11, 17, 10, 3), 7)]
    html = render.html(report)
    assert "Tue 10:03 (7 min)" in html and "Uncalibrated (no upright reference yet, posture unknown): 10 min" in html
    assert "No prompts this week." in html


class LocalHours:
    """Hourly summaries as the engine makes them for a wearer in ``zone`` (hours of the wearer's clock), one
    hour of sitting at every local hour from ``first`` to ``last`` (UTC ms), minutes: ``sitting_s`` = 60 x the
    local hour, so every hour is told apart."""

    def __init__(self, zone: ZoneInfo, first: int, last: int) -> None:
        from alerts.detect.summary import local_hour, local_hour_start_ms

        self.rows: list[dict[str, float]] = []
        t = local_hour_start_ms(first, zone)
        while t < last:
            self.rows.append({"t_ms": float(t), "sitting_s": 60.0 * (1 + local_hour(t, zone))})
            nxt = t + 1000
            while local_hour_start_ms(nxt, zone) == t:  # the next hour's first second (hours can be short)
                nxt += 60_000 if local_hour_start_ms(nxt + 60_000, zone) == t else 1000
            t = nxt

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        return [r for r in self.rows if start_ms <= r["t_ms"] < end_ms]

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]:
        return []

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]:
        return []

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        return []


@pytest.mark.parametrize(
    ("tz", "week", "day_hours"),
    [
        ("Asia/Kolkata", "2026-W10", [24] * 7),  # +05:30
        ("Asia/Kathmandu", "2026-W10", [24] * 7),  # +05:45
        ("America/St_Johns", "2026-W10", [24] * 6 + [23]),  # -03:30, clocks forward on Sunday 8 March
        ("Pacific/Kiritimati", "2026-W10", [24] * 7),  # +14:00
        ("Europe/Berlin", "2026-W13", [24] * 6 + [23]),  # Sunday 29 March
        ("Europe/Berlin", "2026-W43", [24] * 6 + [25]),  # Sunday 25 October
    ],
)
def test_a_day_of_the_report_is_the_wearers_day_made_of_the_wearers_hours(
    tz: str, week: str, day_hours: list[int]
) -> None:
    zone = ZoneInfo(tz)
    monday = parse_week(week)
    start = round(datetime.combine(monday, datetime.min.time(), zone).timestamp() * 1000)
    store = LocalHours(zone, start - 86_400_000, start + 8 * 86_400_000)
    report = asyncio.run(weekly_report(store, "ann", week, tz))  # type: ignore[arg-type]
    assert [h for _, h in report.day_hours()] == day_hours
    for day, hours in zip(report.days, day_hours, strict=True):
        # every local hour of the day, each once (the repeated hour of a 25-hour day twice), none of another day
        expected = {h: float(1 + h) for h in range(24)}
        if hours == 23:
            expected.pop(next(h for h in range(24) if h not in day.sitting_by_hour))
        if hours == 25:
            twice = next(h for h, v in day.sitting_by_hour.items() if v == 2 * (1 + h))
            expected[twice] *= 2
        assert day.sitting_by_hour == expected, day.day
        assert day.sitting_min == sum(expected.values())  # the day's total is the sum of its hours
    html = render.html(report)
    assert f"in each hour of the clock in {tz}" in html
    assert ("the clocks changed" in html) == (day_hours != [24] * 7)

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

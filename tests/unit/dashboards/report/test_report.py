"""The weekly report's pure parts: the week, the day a figure belongs to, gaps and the data-quality notes."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboards.report import render
from dashboards.report.weekly import BadWeek, parse_week, weekly_report
from ingest.store.queries import (
    BoutRow,
    CheckInRow,
    MinuteRow,
    OutcomeRow,
    PrescriptionRow,
    PromptEventRow,
    PromptRow,
    ReadinessRow,
    ResponseRow,
    SessionRow,
)

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

    async def checkins(self, wearer: str, start_ms: int, end_ms: int) -> list[CheckInRow]:
        return []

    async def session_outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[SessionRow]:
        return []

    async def prescriptions(self, wearer: str, start_ms: int, end_ms: int) -> list[PrescriptionRow]:
        return []

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        return []

    async def prompt_events(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptEventRow]:
        return []

    async def outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[OutcomeRow]:
        return []

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

    async def checkins(self, wearer: str, start_ms: int, end_ms: int) -> list[CheckInRow]:
        return []

    async def session_outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[SessionRow]:
        return []

    async def prescriptions(self, wearer: str, start_ms: int, end_ms: int) -> list[PrescriptionRow]:
        return []

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        return []

    async def prompt_events(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptEventRow]:
        return []

    async def outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[OutcomeRow]:
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


class Weeks:
    """Sitting on Mondays only: 2 h on Monday 2026-11-16 (the report's week), 4 h on the Monday a week before, 1 h
    on the Monday three weeks before; nothing else. Counts the response queries."""

    def __init__(self) -> None:
        self.response_queries: list[tuple[int, int]] = []

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        rows = []
        for day, hours in ((16, 2), (9, 4), (-5, 1)):  # -5: 26 October, as 16 - 21
            first = ms(2026, 11, 16, 9) + (day - 16) * 86_400_000
            for h in range(hours):
                rows.append({"t_ms": float(first + h * 3_600_000), "sitting_s": 3600.0, "breaks": 1.0})
        return [r for r in rows if start_ms <= r["t_ms"] < end_ms]

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]:
        return [BoutRow(ms(2026, 11, 16, 9), ms(2026, 11, 16, 9, 45), 45 * 60.0)]

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]:
        return []

    async def checkins(self, wearer: str, start_ms: int, end_ms: int) -> list[CheckInRow]:
        return []

    async def session_outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[SessionRow]:
        return []

    async def prescriptions(self, wearer: str, start_ms: int, end_ms: int) -> list[PrescriptionRow]:
        return []

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        return []

    async def prompt_events(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptEventRow]:
        return []

    async def outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[OutcomeRow]:
        return []

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        self.response_queries.append((start_ms, end_ms))
        if start_ms == ms(2026, 11, 9):
            return [ResponseRow("chin-tuck", 4, 1, 1, 2, 0), ResponseRow("*", 4, 1, 1, 2, 0)]
        return []


def test_the_week_against_the_week_before_and_the_eight_weeks_before() -> None:
    store = Weeks()
    report = asyncio.run(weekly_report(store, "ann", "2026-W47", "Europe/Berlin"))  # type: ignore[arg-type]
    assert [w.week for w in report.history] == [f"2026-W{n}" for n in range(39, 47)]
    assert [w.days_with_data for w in report.history] == [0, 0, 0, 0, 0, 1, 0, 1]  # W44 and W46
    assert report.previous.sitting_h == 4 and report.previous.response_5min_pct == 50
    usual = report.history_mean
    assert usual is not None and usual.sitting_h == 2.5 and usual.sitting_h_per_day == 2.5  # (4 + 1) / 2 weeks
    assert report.totals.sitting_h_per_day == 2 and report.totals.breaks_per_sitting_hour == 1
    # the week's own responses, then one query per earlier week with data: weeks without data ask nothing
    assert len(store.response_queries) == 3
    html = render.html(report)
    figures = html[html.index('<table class="figures">') : html.index("</table>")]
    assert "<td>Sitting per day with data (h)</td><td>2.0</td><td>4.0</td><td>-50 %</td><td>2.5</td><td>-20 %</td>" in (
        figures
    )
    assert "usual (mean of 2 weeks)" in figures
    assert "Mon 16 09:00 to 09:45: 45 min, 15 min over 30" in html  # the longest bouts against the threshold


def test_days_without_data_say_no_data_and_headings_are_words() -> None:
    report = asyncio.run(
        weekly_report(
            Weeks(), "ann", "2026-W47", "Europe/Berlin", tz_source="the wearer's time zone, from their policy"
        )  # type: ignore[arg-type]
    )
    assert [d.has_data for d in report.days] == [True] + [False] * 6
    tuesday = report.days[1].row()
    assert tuesday["date"] == "2026-11-17" and all(v is None for k, v in tuesday.items() if k != "date")
    assert report.days[0].row()["sitting_bouts_30min_plus"] == 0  # a day with data keeps its zeros
    html = render.html(report)
    per_day = html[html.index('<table class="per-day">') :]
    per_day = per_day[: per_day.index("</table>")]
    assert "sitting_bouts_30min_plus" not in per_day and "<td>Sitting bouts ≥ 30 min</td><td>0</td>" in per_day
    # six days without data: every figure of theirs reads "no data", never 0
    assert per_day.count('<td class="nodata">no data</td>') == 6 * len(render.HEADINGS)
    assert "<th>Tue 17</th>" in per_day
    caption = "Days and hours are those of the clock in Europe/Berlin (the wearer's time zone, from their policy)."
    assert escape(caption) in html


def test_csv_keeps_machine_names_and_leaves_days_without_data_empty(tmp_path: Path) -> None:
    report = asyncio.run(weekly_report(Weeks(), "ann", "2026-W47", "Europe/Berlin"))  # type: ignore[arg-type]
    _, csv_path = render.write(report, tmp_path, paper="Letter")
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("date,worn_h,sitting_min,") and "sitting_bouts_30min_plus" in lines[0]
    assert lines[1].startswith("2026-11-16,2.0,120.0,")
    assert lines[2] == "2026-11-17" + "," * (len(lines[0].split(",")) - 1)
    assert "@page{size:Letter portrait" in (tmp_path / "kinetic-ann-2026-W47.html").read_text()

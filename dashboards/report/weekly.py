"""One wearer's week in numbers, from any store's ``Queries`` (InfluxQL or the embedded store).

The figures follow docs/metrics.md and are the same as the *Weekly review* dashboard's (a test checks both on
one seeded week): a day is a calendar day in the report's time zone (by default the wearer's); hourly summaries
are hours of the wearer's clock and belong to the day their hour starts in, bouts to the day they end in. A day
is a whole number of the wearer's hours, 23 or 25 when the clocks change.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from alerts.detect.asymmetry import symmetry_index
from ingest.store.queries import BoutRow, MinuteRow, Queries, ResponseRow

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
GAP_MIN = 5  # a run of minutes without frames at least this long, inside a worn day, is reported as a gap
BOUT_BINS: tuple[tuple[float, float, str], ...] = (
    (0, 10, "<10"),
    (10, 20, "10-20"),
    (20, 30, "20-30"),
    (30, 45, "30-45"),
    (45, 60, "45-60"),
    (60, 90, "60-90"),
    (90, float("inf"), "90+"),
)


class BadWeek(ValueError):
    pass


def parse_week(text: str) -> date:
    """'2026-W47' -> the Monday of that ISO week."""
    match = _WEEK_RE.match(text.strip())
    if not match:
        raise BadWeek(f"--week {text!r} must look like 2026-W47 (ISO year and week)")
    year, number = int(match.group(1)), int(match.group(2))
    if not 2015 <= year <= 2099:  # Kinetic's data lies from 2015 to 2100 (ingest.wire.EARLIEST_MS / LATEST_MS)
        raise BadWeek(f"--week {text!r}: the year must be from 2015 to 2099, where Kinetic's data can lie")
    try:
        return date.fromisocalendar(year, number, 1)
    except ValueError as exc:
        raise BadWeek(f"--week {text!r}: {exc}") from None


def _ms(day: date, zone: ZoneInfo) -> int:
    return round(datetime.combine(day, time(0), zone).timestamp() * 1000)


@dataclass
class DayMetrics:
    day: date
    sitting_min: float = 0.0
    standing_min: float = 0.0
    stepping_min: float = 0.0
    lying_min: float = 0.0
    not_worn_min: float = 0.0
    unknown_min: float = 0.0
    bouts_30_plus: int = 0
    bouts_60_plus: int = 0
    breaks: int = 0
    longest_bout_min: float = 0.0
    incl_0_20_min: float = 0.0
    incl_20_60_min: float = 0.0
    incl_over_60_min: float = 0.0
    lean_10deg_min: float = 0.0
    lean_right_deg_s: float = 0.0
    lean_left_deg_s: float = 0.0
    sitting_by_hour: dict[int, float] = field(default_factory=dict)

    @property
    def worn_h(self) -> float:
        return (self.sitting_min + self.standing_min + self.stepping_min + self.lying_min) / 60

    @property
    def breaks_per_sitting_hour(self) -> float:
        return self.breaks / (self.sitting_min / 60) if self.sitting_min else 0.0

    @property
    def symmetry_index_pct(self) -> float:
        """The day's SI from the day's sums (docs/metrics.md), as the hourly summaries compute it."""
        return symmetry_index(self.lean_right_deg_s, self.lean_left_deg_s)

    def add_hour(self, local_hour: int, m: dict[str, float]) -> None:
        self.sitting_min += m.get("sitting_s", 0) / 60
        self.standing_min += m.get("standing_s", 0) / 60
        self.stepping_min += m.get("moving_s", 0) / 60
        self.lying_min += m.get("lying_s", 0) / 60
        self.not_worn_min += m.get("not_worn_s", 0) / 60
        self.unknown_min += m.get("unknown_s", 0) / 60
        self.bouts_30_plus += int(m.get("sitting_bouts_30_60min", 0) + m.get("sitting_bouts_60min_plus", 0))
        self.bouts_60_plus += int(m.get("sitting_bouts_60min_plus", 0))
        self.breaks += int(m.get("breaks", 0))
        self.incl_0_20_min += m.get("forward_0_20_s", 0) / 60
        self.incl_20_60_min += m.get("forward_20_60_s", 0) / 60
        self.incl_over_60_min += m.get("forward_over_60_s", 0) / 60
        self.lean_10deg_min += m.get("lean_above_10deg_s", 0) / 60
        self.lean_right_deg_s += m.get("lean_right_deg_s", 0)
        self.lean_left_deg_s += m.get("lean_left_deg_s", 0)
        self.sitting_by_hour[local_hour] = self.sitting_by_hour.get(local_hour, 0.0) + m.get("sitting_s", 0) / 60

    def row(self) -> dict[str, object]:
        """The CSV row (and the dashboard's numbers): rounded for reading, not for computing."""
        return {
            "date": self.day.isoformat(),
            "worn_h": round(self.worn_h, 3),
            "sitting_min": round(self.sitting_min, 2),
            "standing_min": round(self.standing_min, 2),
            "stepping_min": round(self.stepping_min, 2),
            "lying_min": round(self.lying_min, 2),
            "sitting_bouts_30min_plus": self.bouts_30_plus,
            "sitting_bouts_60min_plus": self.bouts_60_plus,
            "breaks": self.breaks,
            "breaks_per_sitting_hour": round(self.breaks_per_sitting_hour, 3),
            "longest_sitting_bout_min": round(self.longest_bout_min, 2),
            "incl_0_20deg_min": round(self.incl_0_20_min, 2),
            "incl_20_60deg_min": round(self.incl_20_60_min, 2),
            "incl_over_60deg_min": round(self.incl_over_60_min, 2),
            "lean_10deg_min": round(self.lean_10deg_min, 2),
            "lean_symmetry_index_pct": self.symmetry_index_pct,
            "not_worn_min": round(self.not_worn_min, 2),
            "uncalibrated_min": round(self.unknown_min, 2),
        }


@dataclass
class WeekTotals:
    sitting_h: float
    bouts_60_plus: int
    breaks: int
    lean_10deg_min: float


@dataclass
class Gap:
    start_ms: int
    minutes: int


@dataclass
class WeeklyReport:
    wearer: str
    week: str
    monday: date
    tz: str
    days: list[DayMetrics]  # the seven days, Monday first; days without data are all zero
    bouts_min: list[float]  # every sitting bout that ended in the week
    responses: list[ResponseRow]  # per exercise, then "*" for all
    previous: WeekTotals
    gaps: list[Gap]
    minutes_with_data: int

    @property
    def days_with_data(self) -> list[DayMetrics]:
        return [d for d in self.days if d.worn_h > 0 or d.not_worn_min > 0 or d.unknown_min > 0]

    @property
    def totals(self) -> WeekTotals:
        return _totals(self.days)

    def day_hours(self) -> list[tuple[date, float]]:
        """Each day of the week with its length in hours on the wearer's clock (23 or 25 when the clocks change)."""
        zone = ZoneInfo(self.tz)
        return [(d.day, (_ms(d.day + timedelta(1), zone) - _ms(d.day, zone)) / 3_600_000) for d in self.days]

    def bout_histogram(self) -> list[tuple[str, int]]:
        return [(label, sum(lo <= b < hi for b in self.bouts_min)) for lo, hi, label in BOUT_BINS]


def _totals(days: list[DayMetrics]) -> WeekTotals:
    return WeekTotals(
        sitting_h=sum(d.sitting_min for d in days) / 60,
        bouts_60_plus=sum(d.bouts_60_plus for d in days),
        breaks=sum(d.breaks for d in days),
        lean_10deg_min=sum(d.lean_10deg_min for d in days),
    )


def _days(monday: date, zone: ZoneInfo, hours: list[dict[str, float]], bouts: list[BoutRow]) -> list[DayMetrics]:
    days = {monday + timedelta(i): DayMetrics(monday + timedelta(i)) for i in range(7)}
    for hour in hours:
        local = datetime.fromtimestamp(hour["t_ms"] / 1000, zone)
        if local.date() in days:
            days[local.date()].add_hour(local.hour, hour)
    for bout in bouts:
        day = datetime.fromtimestamp(bout.end_ms / 1000, zone).date()
        if day in days:
            days[day].longest_bout_min = max(days[day].longest_bout_min, bout.duration_s / 60)
    return list(days.values())


def _gaps(minutes: list[MinuteRow], zone: ZoneInfo) -> list[Gap]:
    """Runs of >= GAP_MIN minutes without frames between two minutes with frames on the same local day."""
    by_day: dict[date, list[int]] = defaultdict(list)
    for row in minutes:
        by_day[datetime.fromtimestamp(row.t_ms / 1000, zone).date()].append(row.t_ms)
    gaps = []
    for stamps in by_day.values():
        stamps.sort()
        for a, b in pairwise(stamps):
            missing = (b - a) // 60_000 - 1
            if missing >= GAP_MIN:
                gaps.append(Gap(a + 60_000, missing))
    return gaps


async def weekly_report(queries: Queries, wearer: str, week: str, tz: str) -> WeeklyReport:
    """Ask the store for one wearer's week (and the week before, for the comparison) and compute the report."""
    zone = ZoneInfo(tz)
    monday = parse_week(week)
    start, end = _ms(monday, zone), _ms(monday + timedelta(7), zone)
    before = _ms(monday - timedelta(7), zone)
    hours = await queries.hours(wearer, before, end)
    this_week = await queries.sitting_bouts(wearer, start, end)  # bouts belong to the day they end
    minutes = await queries.minutes(wearer, start, end)
    return WeeklyReport(
        wearer=wearer,
        week=week,
        monday=monday,
        tz=tz,
        days=_days(monday, zone, hours, this_week),
        bouts_min=[b.duration_s / 60 for b in this_week],
        responses=await queries.responses(wearer, start, end),
        previous=_totals(_days(monday - timedelta(7), zone, hours, [])),
        gaps=_gaps(minutes, zone),
        minutes_with_data=len(minutes),
    )

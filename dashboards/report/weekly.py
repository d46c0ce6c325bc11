"""One wearer's week in numbers, from any store's ``Queries`` (InfluxQL or the embedded store).

The figures follow docs/metrics.md and are the same as the *Weekly review* dashboard's (a test checks both on
one seeded week): a day is a calendar day in the report's time zone (by default the wearer's); hourly summaries
are hours of the wearer's clock and belong to the day their hour starts in, bouts to the day they end in. A day
is a whole number of the wearer's hours, 23 or 25 when the clocks change.

A day without any frame is a day *without data* (``DayMetrics.has_data``): the printed report and the CSV leave its
figures empty ("no data") rather than 0, which would read as "did not sit". The week is compared with the week
before and with the mean of the eight weeks before (``WeeklyReport.history``), per week with data.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from alerts.detect.asymmetry import symmetry_index
from alerts.prompts.progression import adherence_event
from dashboards.report.sessions import ExerciseWeek, exercise_weeks
from ingest.store.queries import (
    BoutRow,
    CheckInRow,
    MinuteRow,
    OutcomeRow,
    PrescriptionRow,
    PromptEventRow,
    Queries,
    ReadinessRow,
    ResponseRow,
    SessionRow,
)
from ingest.wire import STRESS_LEVELS, EventV1

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


HISTORY_WEEKS = 8  # the week is set against the mean of this many weeks before it (issue #16)
# the prescription changes and proposals read with a week: those recorded up to four weeks after it (the week's
# proposal is made after it; a dose recorded since shows the prescriptions file's dose was not the week's)
CHANGES_AFTER_MS = 28 * 86_400_000
LONGEST_BOUTS = 5  # the summary lists this many of the week's longest sitting bouts
# Sitting per day the summary measures days against when the caller gives no goal: Ekelund et al. (Lancet 2016,
# 388:1302) found the risk of death rising above about 8 h of sitting a day (in people with little activity).
DEFAULT_SITTING_GOAL_H = 8.0


class BadWeek(ValueError):
    pass


@dataclass(frozen=True)
class Goals:
    """What the week is measured against: at most ``sitting_h_per_day`` hours of sitting a day, and no sitting bout
    longer than ``bout_min`` minutes (by default the wearer's prompt threshold, ``sitting_threshold_min``)."""

    sitting_h_per_day: float = DEFAULT_SITTING_GOAL_H
    bout_min: float = 30.0
    source: str = "defaults"


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
    # the wearer's check-ins that day (the highest pain 0-10, the highest stress 0 low - 2 high, how many) and the
    # day's readiness decision (capacity / relief, its reasons): known with or without posture data that day
    pain_max: float | None = None
    stress_max: float | None = None
    checkins: int = 0
    day_type: str | None = None
    readiness_reason: str | None = None
    # the calendar's part (issue 17): prompts held in a meeting that day (``prompt_held`` 'meeting'), prompts sent
    # because a meeting sat through had ended (``prompt_sent`` 'after_meeting'), and how many of those were followed
    # by a break within 5 min (their ``prompt_outcomes``)
    held_in_meetings: int = 0
    after_meeting: int = 0
    after_meeting_moved_5min: int = 0

    @property
    def has_data(self) -> bool:
        """True when any frame of the day was stored (worn, not worn or uncalibrated)."""
        return self.worn_h > 0 or self.not_worn_min > 0 or self.unknown_min > 0

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

    def add_checkin(self, row: CheckInRow) -> None:
        self.checkins += 1
        if row.pain is not None:
            self.pain_max = max(self.pain_max or 0.0, row.pain)
        if row.stress_level is not None:
            self.stress_max = max(self.stress_max or 0.0, row.stress_level)

    def row(self) -> dict[str, object]:
        """The CSV row (and the dashboard's numbers): rounded for reading, not for computing. A day without data
        has ``None`` for every posture figure (an empty CSV cell), not 0; check-ins and readiness stand on their
        own (a wearer may report pain on a day the sensor stayed home)."""
        figures = self._figures()
        if not self.has_data:
            figures = {k: (v if k == "date" else None) for k, v in figures.items()}
        # numbers, as every CSV column (the Weekly review's units): stress 0 low - 2 high, relief 1 / capacity 0
        figures["pain_max"] = self.pain_max
        figures["stress_level_max"] = self.stress_max
        figures["relief_day"] = None if self.day_type is None else int(self.day_type == "relief")
        return figures

    @property
    def stress_words(self) -> str | None:
        """The day's highest stress in words (low, medium, high), None without a stress check-in."""
        return None if self.stress_max is None else STRESS_LEVELS[round(self.stress_max)]

    def _figures(self) -> dict[str, object]:
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
    """One week's sums over its days (and, when asked, its prompt response for all exercises)."""

    sitting_h: float
    bouts_60_plus: float  # counts; a mean of weeks (``WeeklyReport.history_mean``) is fractional
    breaks: float
    lean_10deg_min: float
    days_with_data: float = 0
    bouts_30_plus: float = 0
    prompts: int = 0
    broke_5min: int = 0
    week: str = ""
    lean_right_deg_s: float = 0.0
    lean_left_deg_s: float = 0.0

    @property
    def symmetry_index_pct(self) -> float | None:
        """The week's lean symmetry index from its sums of R and L (docs/metrics.md); None without lateral lean."""
        if not self.lean_right_deg_s and not self.lean_left_deg_s:
            return None
        return symmetry_index(self.lean_right_deg_s, self.lean_left_deg_s)

    @property
    def sitting_h_per_day(self) -> float | None:
        """Mean sitting hours per day with data; None without data."""
        return self.sitting_h / self.days_with_data if self.days_with_data else None

    @property
    def breaks_per_sitting_hour(self) -> float | None:
        return self.breaks / self.sitting_h if self.sitting_h else None

    @property
    def response_5min_pct(self) -> float | None:
        """Prompts followed by a break within 5 min, in % of prompts; None without prompts."""
        return 100 * self.broke_5min / self.prompts if self.prompts else None


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
    tz_source: str = "given"  # why this zone: "the wearer's policy", "--tz", ... (printed in the caption)
    history: list[WeekTotals] = field(default_factory=list)  # the HISTORY_WEEKS weeks before, oldest first
    goals: Goals = field(default_factory=Goals)
    longest_bouts: list[BoutRow] = field(default_factory=list)  # the week's longest, longest first
    # the exercise programme (issue 19): per prescribed exercise, adherence, dose, quality, pain, pending proposals
    exercises: list[ExerciseWeek] = field(default_factory=list)
    # the dose over weeks (issue 19, item 5): (ISO week, its exercises) for the HISTORY_WEEKS weeks before and this
    # one, oldest first
    dose_weeks: list[tuple[str, list[ExerciseWeek]]] = field(default_factory=list)

    @property
    def days_with_data(self) -> list[DayMetrics]:
        return [d for d in self.days if d.has_data]

    @property
    def totals(self) -> WeekTotals:
        total = next((r for r in self.responses if r.exercise == "*"), None)
        return _totals(self.days, total, self.week)

    @property
    def history_mean(self) -> WeekTotals | None:
        """The mean of the weeks in ``history`` that have data (None when none has): what a usual week looks like."""
        weeks = [w for w in self.history if w.days_with_data]
        if not weeks:
            return None
        n = len(weeks)
        return WeekTotals(
            sitting_h=sum(w.sitting_h for w in weeks) / n,
            bouts_60_plus=sum(w.bouts_60_plus for w in weeks) / n,
            breaks=sum(w.breaks for w in weeks) / n,
            lean_10deg_min=sum(w.lean_10deg_min for w in weeks) / n,
            days_with_data=sum(w.days_with_data for w in weeks) / n,
            bouts_30_plus=sum(w.bouts_30_plus for w in weeks) / n,
            prompts=sum(w.prompts for w in weeks),
            broke_5min=sum(w.broke_5min for w in weeks),
            week=f"mean of {n} week{'s' if n > 1 else ''}",
            lean_right_deg_s=sum(w.lean_right_deg_s for w in weeks) / n,
            lean_left_deg_s=sum(w.lean_left_deg_s for w in weeks) / n,
        )

    def day_hours(self) -> list[tuple[date, float]]:
        """Each day of the week with its length in hours on the wearer's clock (23 or 25 when the clocks change)."""
        zone = ZoneInfo(self.tz)
        return [(d.day, (_ms(d.day + timedelta(1), zone) - _ms(d.day, zone)) / 3_600_000) for d in self.days]

    def bout_histogram(self) -> list[tuple[str, int]]:
        return [(label, sum(lo <= b < hi for b in self.bouts_min)) for lo, hi, label in BOUT_BINS]


def _totals(days: list[DayMetrics], responses: ResponseRow | None = None, week: str = "") -> WeekTotals:
    return WeekTotals(
        sitting_h=sum(d.sitting_min for d in days) / 60,
        bouts_60_plus=sum(d.bouts_60_plus for d in days),
        breaks=sum(d.breaks for d in days),
        lean_10deg_min=sum(d.lean_10deg_min for d in days),
        days_with_data=sum(d.has_data for d in days),
        bouts_30_plus=sum(d.bouts_30_plus for d in days),
        prompts=responses.prompts if responses else 0,
        broke_5min=responses.broke_5min if responses else 0,
        week=week,
        lean_right_deg_s=sum(d.lean_right_deg_s for d in days),
        lean_left_deg_s=sum(d.lean_left_deg_s for d in days),
    )


def iso_week(monday: date) -> str:
    """The ISO week name of a Monday: date(2026, 11, 16) -> '2026-W47'."""
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


def _days(
    monday: date,
    zone: ZoneInfo,
    hours: list[dict[str, float]],
    bouts: list[BoutRow],
    checkins: Sequence[CheckInRow] = (),
    readiness: Sequence[ReadinessRow] = (),
    prompt_events: Sequence[PromptEventRow] = (),
    outcomes: Sequence[OutcomeRow] = (),
) -> list[DayMetrics]:
    days = {monday + timedelta(i): DayMetrics(monday + timedelta(i)) for i in range(7)}
    moved = {o.prompt_id for o in outcomes if o.broke_5min}
    for event in prompt_events:
        day = datetime.fromtimestamp(event.t_ms / 1000, zone).date()
        if day not in days:
            continue
        if event.kind == "prompt_held" and event.reason == "meeting":
            days[day].held_in_meetings += 1
        elif event.kind == "prompt_sent" and event.reason == "after_meeting":
            days[day].after_meeting += 1
            days[day].after_meeting_moved_5min += event.prompt_id in moved
    for checkin in checkins:
        day = datetime.fromtimestamp(checkin.t_ms / 1000, zone).date()
        if day in days:
            days[day].add_checkin(checkin)
    for decision in readiness:  # one a day; a repeated one (a replay) replaces the earlier
        day = datetime.fromtimestamp(decision.t_ms / 1000, zone).date()
        if day in days:
            days[day].day_type, days[day].readiness_reason = decision.day_type, decision.reason
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


def exercises_of_week(
    outcomes: Sequence[SessionRow],
    changes: Sequence[PrescriptionRow],
    monday: date,
    zone: ZoneInfo,
    on_file: Mapping[str, Mapping[str, float]] | None,
    own_week: bool,
) -> list[ExerciseWeek]:
    """The exercise programme of the week from ``monday`` (midnight to midnight in ``zone``): ``outcomes`` must
    hold the session outcomes of that week and the week before, ``changes`` the prescription rows recorded up to at
    least the week's end. A dose only on file (``on_file``) has no known start: it counts for the report's own week
    (``own_week``) and for weeks the exercise was done in. The report and the weekly adherence point
    (``week_adherence_events``) both take the week's figures from here."""
    a, b = _ms(monday, zone), _ms(monday + timedelta(7), zone)
    sessions = [s for s in outcomes if a <= s.t_ms < b]
    done = {s.exercise for s in sessions}
    file_doses = {e: f for e, f in (on_file or {}).items() if own_week or e in done}
    before = [s for s in outcomes if _ms(monday - timedelta(7), zone) <= s.t_ms < a]
    return exercise_weeks(sessions, before, changes, b - 1, file_doses)


async def week_adherence_events(
    queries: Queries,
    wearer: str,
    week: str,
    tz: str,
    on_file: Mapping[str, Mapping[str, float]] | None = None,
) -> list[EventV1]:
    """The ``session_adherence`` events of ``wearer``'s ``week`` (``2026-W49``, cut at midnight in ``tz``), one per
    exercise prescribed at the week's end (sessions per week of at least 1): sessions done of sessions prescribed,
    the figures the weekly report gives that week (``exercises_of_week``, as its own week). An exercise not
    prescribed then (before its first recorded change, or removed) has none. ``kinetic prescription propose``
    publishes them weekly; the Weekly review's adherence panel reads them. Raises BadWeek for a malformed ``week``;
    store errors pass through."""
    zone = ZoneInfo(tz)
    monday = parse_week(week)
    end = _ms(monday + timedelta(7), zone)
    # the changes read as the report reads them: a dose recorded after the week means the file's was not the week's
    changes = await queries.prescriptions(wearer, 0, end + CHANGES_AFTER_MS)
    outcomes = await queries.session_outcomes(wearer, _ms(monday - timedelta(7), zone), end)
    middle = datetime.combine(monday + timedelta(3), time(12), zone)
    return [
        adherence_event(wearer, e.exercise, week, middle, e.done, e.prescribed, e.partial, e.skipped)
        for e in exercises_of_week(outcomes, changes, monday, zone, on_file, True)
        if e.prescribed
    ]


async def weekly_report(
    queries: Queries,
    wearer: str,
    week: str,
    tz: str,
    *,
    tz_source: str = "given",
    goals: Goals | None = None,
    on_file: Mapping[str, Mapping[str, float]] | None = None,
) -> WeeklyReport:
    """Ask the store for one wearer's week, and the HISTORY_WEEKS weeks before it for the comparisons, and compute
    the report. ``tz`` is an IANA zone (the caller resolves the wearer's; ``tz_source`` says from where, for the
    caption); ``on_file``: the wearer's doses in the prescriptions file now (exercise -> ``dose_metrics``), for the
    exercises of which no change was ever recorded (``dashboards.report.sessions``). Raises BadWeek for a malformed
    ``week``; store errors pass through."""
    zone = ZoneInfo(tz)
    monday = parse_week(week)
    start, end = _ms(monday, zone), _ms(monday + timedelta(7), zone)
    first = monday - timedelta(7 * HISTORY_WEEKS)
    hours = await queries.hours(wearer, _ms(first, zone), end)
    this_week = await queries.sitting_bouts(wearer, start, end)  # bouts belong to the day they end
    minutes = await queries.minutes(wearer, start, end)
    history = []
    for i in range(HISTORY_WEEKS, 0, -1):
        earlier = monday - timedelta(7 * i)
        days = _days(earlier, zone, hours, [])
        response = None
        if any(d.has_data for d in days):  # a week without data asks no more of the store
            rows = await queries.responses(wearer, _ms(earlier, zone), _ms(earlier + timedelta(7), zone))
            response = next((r for r in rows if r.exercise == "*"), None)
        history.append(_totals(days, response, iso_week(earlier)))
    longest = sorted(this_week, key=lambda b: (-b.duration_s, b.end_ms))[:LONGEST_BOUTS]
    changes = await queries.prescriptions(wearer, 0, end + CHANGES_AFTER_MS)
    outcomes = await queries.session_outcomes(wearer, _ms(first - timedelta(7), zone), end)
    dose_weeks = []
    for i in range(HISTORY_WEEKS, -1, -1):  # the weeks before, then this one
        earlier = monday - timedelta(7 * i)
        dose_weeks.append((iso_week(earlier), exercises_of_week(outcomes, changes, earlier, zone, on_file, i == 0)))
    exercises = dose_weeks[-1][1]
    return WeeklyReport(
        wearer=wearer,
        week=week,
        monday=monday,
        tz=tz,
        days=_days(
            monday,
            zone,
            hours,
            this_week,
            await queries.checkins(wearer, start, end),
            await queries.readiness(wearer, start, end),
            await queries.prompt_events(wearer, start, end),
            await queries.outcomes(wearer, start, end),
        ),
        bouts_min=[b.duration_s / 60 for b in this_week],
        responses=await queries.responses(wearer, start, end),
        previous=history[-1],
        gaps=_gaps(minutes, zone),
        minutes_with_data=len(minutes),
        tz_source=tz_source,
        history=history,
        goals=goals or Goals(),
        longest_bouts=longest,
        exercises=exercises,
        dose_weeks=dose_weeks,
    )

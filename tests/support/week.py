"""A seeded week whose numbers are known: scripted days of one trunk sensor, run through the real alert engine,
stored as the bridge stores them; and the expected figures computed from the script alone (the oracle).

The script: week 2026-W47 (Monday 16 - Sunday 22 November 2026, Europe/Berlin) for ``ann``, with Sunday left
without data, and two days of the week before (for week-over-week); one day for ``bob`` (another clinic's patient).
Each day starts at its local start time and is a list of segments: ``sit`` (trunk 25 deg forward), ``stand``
(4 deg), ``walk`` (stepping). Lean is constant within a segment (+ = right). The sensor sends its angles, so no
calibration is needed and each second's posture is known: the oracle needs no engine code.

The policy makes prompts predictable: one sitting prompt 30 min into every sitting bout, no re-prompts, no caps.
A bout of 30.5 min is thus followed by a break 30 s after its prompt (within 1, 3 and 5 min), 32 min within 3
and 5, 34 within 5, and anything from 45 min on not within 5.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.store.model import points_for
from ingest.store.points import Point
from ingest.store.rollup import MinuteRollup
from ingest.wire import CommandV1, DeviceStatusV1, EventV1, FeatureBatchV1, FeatureFrameV1, PromptV1, StressLevel

TZ_NAME = "Europe/Berlin"
TZ = ZoneInfo(TZ_NAME)
WEEK = "2026-W47"
MONDAY = date(2026, 11, 16)
PREVIOUS_MONDAY = MONDAY - timedelta(days=7)
DEVICE = "chest"
SYMMETRY_DEADBAND_DEG = 2.0
LEAN_LIMIT_DEG = 10.0

POLICY = PromptPolicy(
    timezone=TZ_NAME,
    sitting_threshold_min=30,
    standing_threshold_min=None,
    lean_duration_min=None,
    escalate_after_min=None,
    max_per_hour=60,
    max_per_day=500,
    min_spacing_min=0,
)


@dataclass(frozen=True)
class Segment:
    activity: str  # sit | stand | walk
    minutes: float
    lean_deg: float = 0.0

    @property
    def seconds(self) -> int:
        return round(self.minutes * 60)


def S(minutes: float, lean: float = 0.0) -> Segment:
    return Segment("sit", minutes, lean)


def T(minutes: float) -> Segment:
    return Segment("stand", minutes)


def W(minutes: float) -> Segment:
    return Segment("walk", minutes)


@dataclass(frozen=True)
class Day:
    wearer: str
    day: date
    start: time
    segments: tuple[Segment, ...]
    battery_pct: int

    @property
    def start_ms(self) -> int:
        return round(datetime.combine(self.day, self.start, TZ).timestamp() * 1000)


def _days() -> list[Day]:
    d = MONDAY
    return [
        Day("ann", d, time(8, 0), (W(5), S(70, 12), T(10), S(30.5), W(3), S(45, -6), T(5), S(32), W(5)), 95),
        Day("ann", d + timedelta(1), time(8, 30), (W(4), S(34), W(2), S(20, 12), T(6), S(61, -12), W(6)), 88),
        Day("ann", d + timedelta(2), time(9, 0), (W(6), S(50), T(15), S(25, 4), W(3), S(31), W(4)), 81),
        Day("ann", d + timedelta(3), time(7, 45), (W(5), S(95, 11), T(3), S(40), W(5)), 74),
        Day("ann", d + timedelta(4), time(8, 15), (W(5), S(30.5), T(4), S(30.5, -11), W(2), S(65), T(8), W(3)), 67),
        Day("ann", d + timedelta(5), time(10, 0), (W(20), T(30), S(15), W(10)), 60),
        # Sunday 22 November: not worn
        Day("ann", PREVIOUS_MONDAY + timedelta(3), time(8, 0), (W(5), S(80), T(5), S(36), W(5)), 99),
        Day("ann", PREVIOUS_MONDAY + timedelta(4), time(8, 0), (W(5), S(62, 12), W(5)), 97),
        Day("bob", d + timedelta(1), time(9, 0), (W(5), S(40), T(10), S(31), W(5)), 50),
    ]


DAYS = _days()


# --- the script as frames -------------------------------------------------------------------------------------


def _frame(t_ms: int, activity: str, lean: float, k: int) -> FeatureFrameV1:
    wobble = 0.3 * math.sin(k / 7.0)  # a little life in the angles; well inside every threshold
    if activity == "walk":
        return FeatureFrameV1(t_ms=t_ms, incl_deg=6 + wobble, lean_deg=0.0, enmo_mg=180.0, sd_mg=260.0, steps=2, n=50)
    incl = 25.0 if activity == "sit" else 4.0
    sd = 6.0 if activity == "sit" else 10.0
    return FeatureFrameV1(t_ms=t_ms, incl_deg=incl + wobble, lean_deg=lean, enmo_mg=5.0, sd_mg=sd, steps=0, n=50)


def day_batches(day: Day, per_message: int = 60) -> list[FeatureBatchV1]:
    frames: list[FeatureFrameV1] = []
    t_ms = day.start_ms
    for segment in day.segments:
        for _ in range(segment.seconds):
            frames.append(_frame(t_ms, segment.activity, segment.lean_deg, len(frames)))
            t_ms += 1000
    return [
        FeatureBatchV1(wearer=day.wearer, device=DEVICE, placement="trunk", seq=i, frames=frames[s : s + per_message])
        for i, s in enumerate(range(0, len(frames), per_message))
    ]


def day_end_ms(day: Day) -> int:
    return day.start_ms + 1000 * sum(s.seconds for s in day.segments)


@dataclass
class Seed:
    points: list[Point] = field(default_factory=list)
    prompts: list[PromptV1] = field(default_factory=list)
    outcomes: list[EventV1] = field(default_factory=list)


def bridge_stats_points() -> list[Point]:
    """One hour of a bridge's own counters on Monday morning: 600 points a minute, 2 dead letters at minute 10,
    lag 1.5 s but 4.0 s at minute 20, 1200 points in the spool at minute 30."""
    start = DAYS[0].start_ms
    out = []
    for minute in range(61):
        out.append(
            Point.make(
                "bridge_stats",
                {"bridge": "bridge"},
                {
                    "messages": 10 * minute,
                    "points_written": 600 * minute,
                    "dead_letters": 2 if minute >= 10 else 0,
                    "lag_s": 4.0 if minute == 20 else 1.5,
                    "spool_points": 1200 if minute == 30 else 0,
                },
                start + minute * 60_000,
            )
        )
    return out


def seed() -> Seed:
    """Run the script through the real engine; the points are what the bridge would store."""
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(POLICY))
    rollups = {wearer: MinuteRollup() for wearer in {d.wearer for d in DAYS}}  # as the bridge computes them
    out = Seed()
    for day in sorted(DAYS, key=lambda d: (d.wearer, d.start_ms)):
        status = dict(wearer=day.wearer, device=DEVICE, placement="trunk", battery_pct=day.battery_pct)
        out.points += points_for(DeviceStatusV1(state="online", t_ms=day.start_ms, **status), 0)  # type: ignore[arg-type]
        for batch in day_batches(day):
            out.points += points_for(batch, 0) + rollups[day.wearer].add(batch)
            for output in engine.process(batch):
                _keep(out, output)
        out.points += points_for(DeviceStatusV1(state="offline", t_ms=day_end_ms(day), **status), 0)  # type: ignore[arg-type]
        out.points += rollups[day.wearer].close_device(day.wearer, DEVICE)
    for wearer in sorted({d.wearer for d in DAYS}):
        for output in engine.close(wearer):
            _keep(out, output)
    out.points += bridge_stats_points()
    out.points += checkin_points() + readiness_points() + session_points()
    return out


# ann's check-ins (local day, hour, pain, stress) and readiness decisions (local day, relief, lying hours, reason):
# what the Weekly review's check-in and readiness panels and the report must show per day
CHECKINS: list[tuple[date, int, int | None, StressLevel | None]] = [
    (MONDAY, 12, 3, "low"),
    (MONDAY + timedelta(1), 18, 6, "high"),
    (MONDAY + timedelta(1), 19, 4, None),
    (MONDAY + timedelta(3), 9, None, "medium"),
]
READINESS: list[tuple[date, bool, float, str]] = [
    (MONDAY + timedelta(2), True, 5.2, "relief day: 5.2 h lying last night, pain 6/10"),
    (MONDAY + timedelta(3), False, 7.5, "capacity day: 7.5 h lying last night, pain 4/10"),
]


def checkin_points() -> list[Point]:
    """The check-ins as the alert service stores them: its engine's events for the ``checkin`` commands (an engine of
    their own, so the week's prompts stay those of the script)."""
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(POLICY))
    points: list[Point] = []
    for day, hour, pain, stress in CHECKINS:
        at = datetime.combine(day, time(hour), TZ)
        _, events = engine.command(CommandV1(kind="checkin", wearer="ann", at=at, pain=pain, stress=stress))
        points += [p for e in events for p in points_for(e, 0)]
    return points


def readiness_points() -> list[Point]:
    """The readiness decisions as the engine publishes them (alerts/readiness.py), at 08:00 local."""
    points: list[Point] = []
    for day, relief, lying_h, reason in READINESS:
        at = datetime.combine(day, time(8), TZ)
        metrics = {"relief": 1.0 if relief else 0.0, "lying_h": lying_h}
        points += points_for(EventV1(kind="readiness", wearer="ann", t=at, reason=reason, metrics=metrics), 0)
    return points


# ann's exercise sessions (issue 19: local day, hour, outcome, reps, pain, effort, reason) and her prescription
# changes and proposals (local day, hour, kind, reps, step, reason): what the Weekly review's session panels show
SESSIONS: list[tuple[date, int, str, float, float, float, str | None]] = [
    (MONDAY, 18, "done", 5, 2, 4, None),
    (MONDAY, 20, "done", 5, 4, 6, None),
    (MONDAY + timedelta(2), 18, "partial", 3, 3, 5, "sensor lost for 30 s during the session"),
    (MONDAY + timedelta(4), 18, "skipped", 0, 1, 2, None),
]
PRESCRIPTIONS: list[tuple[date, int, str, float, float | None, str]] = [
    (MONDAY, 7, "progression_proposed", 5, 1, "2026-W46: reps 4 -> 5: a kept week, pain and quality within the rule"),
    (MONDAY, 9, "prescription_changed", 5, None, "reps 4 -> 5; progression of 2026-W46 accepted by the clinician"),
]


def session_points() -> list[Point]:
    """The session outcomes and prescription events as the alert service and ``kinetic prescription`` publish
    them, stored by the bridge's model."""
    events: list[EventV1] = []
    for day, hour, outcome, reps, pain, effort, reason in SESSIONS:
        events.append(
            EventV1(
                kind="session_outcome",
                wearer="ann",
                t=datetime.combine(day, time(hour), TZ),
                exercise="controlled-sit-to-stand",
                session=f"{day:%Y%m%d}t{hour:02d}0000-controlled-sit-to-stand",
                outcome=outcome,  # type: ignore[arg-type]
                duration_s=120.0,
                reason=reason,
                metrics={"reps": reps, "reps_prescribed": 5, "verified": 1, "pain": pain, "effort": effort},
            )
        )
    for day, hour, kind, reps, step, why in PRESCRIPTIONS:
        dose = {"sets": 1.0, "reps": reps, "rest_s": 30.0, "per_week": 3.0}
        events.append(
            EventV1(
                kind=kind,  # type: ignore[arg-type]
                wearer="ann",
                t=datetime.combine(day, time(hour), TZ),
                exercise="controlled-sit-to-stand",
                reason=why,
                metrics=dose if step is None else dose | {"step": step, "automatic": 0.0},
            )
        )
    return [p for e in events for p in points_for(e, 0)]


def _keep(out: Seed, output: object) -> None:
    if isinstance(output, PromptV1):
        out.prompts.append(output)
    if isinstance(output, EventV1) and output.kind == "prompt_outcome":
        out.outcomes.append(output)
    if isinstance(output, EventV1 | PromptV1):
        out.points += points_for(output, 0)


# --- the oracle: expected figures from the script alone -------------------------------------------------------


@dataclass
class Expected:
    sitting_min: float = 0.0
    standing_min: float = 0.0
    stepping_min: float = 0.0
    bouts_30: int = 0
    bouts_60: int = 0
    breaks: int = 0
    longest_min: float = 0.0
    lean_10_min: float = 0.0
    right_deg_s: float = 0.0
    left_deg_s: float = 0.0
    prompts: int = 0
    broke: dict[int, int] = field(default_factory=lambda: {1: 0, 3: 0, 5: 0})
    sitting_by_hour: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    bout_minutes: list[float] = field(default_factory=list)

    @property
    def breaks_per_sitting_hour(self) -> float:
        return self.breaks / (self.sitting_min / 60) if self.sitting_min else 0.0

    @property
    def symmetry_index(self) -> float:
        total = self.right_deg_s + self.left_deg_s
        return (self.right_deg_s - self.left_deg_s) / (0.5 * total) * 100 if total else 0.0

    @property
    def worn_h(self) -> float:
        return (self.sitting_min + self.standing_min + self.stepping_min) / 60


def expected_day(day: Day) -> Expected:
    e = Expected()
    t = datetime.combine(day.day, day.start, TZ)
    for i, seg in enumerate(day.segments):
        minutes = seg.seconds / 60
        if seg.activity == "sit":
            e.sitting_min += minutes
            e.bout_minutes.append(minutes)
            e.bouts_30 += minutes >= 30
            e.bouts_60 += minutes >= 60
            nxt = day.segments[i + 1] if i + 1 < len(day.segments) else None
            e.breaks += nxt is not None and nxt.activity in ("stand", "walk")
            e.longest_min = max(e.longest_min, minutes)
            if minutes >= 30:  # one prompt at 30 min; the break comes (minutes - 30) later
                e.prompts += 1
                for k in (1, 3, 5):
                    e.broke[k] += (minutes - 30) <= k
            for s in range(seg.seconds):
                e.sitting_by_hour[(t + timedelta(seconds=s)).hour] += 1 / 60
        elif seg.activity == "stand":
            e.standing_min += minutes
        else:
            e.stepping_min += minutes
        if seg.activity != "walk":  # static seconds: lean exposure
            if abs(seg.lean_deg) > LEAN_LIMIT_DEG:
                e.lean_10_min += minutes
            if seg.lean_deg > SYMMETRY_DEADBAND_DEG:
                e.right_deg_s += (seg.lean_deg - SYMMETRY_DEADBAND_DEG) * seg.seconds
            elif seg.lean_deg < -SYMMETRY_DEADBAND_DEG:
                e.left_deg_s += (-seg.lean_deg - SYMMETRY_DEADBAND_DEG) * seg.seconds
        t += timedelta(seconds=seg.seconds)
    return e


def week_days(wearer: str, monday: date = MONDAY) -> dict[date, Expected]:
    """Expected figures per local day of the week starting ``monday`` (days without data left out)."""
    return {d.day: expected_day(d) for d in DAYS if d.wearer == wearer and monday <= d.day < monday + timedelta(7)}


def week_range_ms(monday: date = MONDAY) -> tuple[int, int]:
    start = datetime.combine(monday, time(0), TZ)
    end = datetime.combine(monday + timedelta(7), time(0), TZ)
    return round(start.timestamp() * 1000), round(end.timestamp() * 1000)


def local_day_ms(day: date) -> int:
    return round(datetime.combine(day, time(0), TZ).timestamp() * 1000)

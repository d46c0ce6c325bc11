"""Readiness: what last night and the wearer's check-ins say about today, and the day type that follows. Pure.

Each local day gets one decision, **capacity** or **relief** (the catalog's day types), with the reasons in words
("HRV below your normal range, 5.2 h lying last night, pain 6/10"). It replaces the fixed weekly plan
(``PromptPolicy.week_plan``) when there is data for it, and the weekly plan stands when there is none. A relief day
also lowers the day's prompt cap (``relief_max_per_day``, docs/prompts.md).

The inputs, per wearer, in event time (``ReadinessTracker`` follows them second by second):

- **HRV** (``alerts.detect.hrv``): RMSSD and ln RMSSD from the last 5 min of RR intervals recorded while lying during
  the night, judged against the personal baseline (rolling 7 days of ln RMSSD) and its normal range (mean +- 0.5 SD,
  the smallest worthwhile change of HRV-guided training: Plews et al. 2013; Buchheit 2014). Below the range: relief.
- **Night lying time**: seconds the wearer's posture was ``lying`` between ``NIGHT_START_HOUR`` (18:00) the evening
  before and ``NIGHT_END_HOUR`` (12:00) on the wearer's clock. This is *time in bed*, a sleep-opportunity estimate
  from posture; it is **not** sleep: no sleep staging, no sleep onset or awakenings (a person lying awake reading
  counts, a person asleep sitting up does not). Known only when the sensor was worn for at least 4 h of the core
  night (22:00-06:00). Under ``SHORT_NIGHT_H`` (6 h): relief. Adults need at least 7 h of
  sleep (Watson et al. 2015, AASM/SRS consensus, J Clin Sleep Med 11:591), so less than 6 h in bed cannot give it.
- **Check-ins**: the wearer's latest pain (0-10) and stress (low / medium / high) of the last ``CHECKIN_VALID_H``
  (24 h). Pain above ``PAIN_RELIEF_ABOVE`` (5, as a prescription's ``step_back_when_pain_above`` default,
  alerts/prompts/prescription.py) or high stress: relief.

Any one relief reason makes the day a relief day; with data and none of them, a capacity day. Without any of the
inputs (no HRV reading, no night posture, no check-in) there is no decision and the weekly plan decides.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from alerts.detect.hrv import (
    Baseline,
    HrvReading,
    NoReading,
    baseline,
    rmssd,
    window,
)
from alerts.detect.posture import Posture
from alerts.detect.structs import restore_fields
from alerts.prompts.catalog import DayType
from ingest.wire import STRESS_LEVELS, StressLevel

Stress = StressLevel

NIGHT_START_HOUR = 18  # local: a night is from 18:00 the day before ...
NIGHT_END_HOUR = 12  # ... to 12:00 of the day it ends on
SHORT_NIGHT_H = 6.0  # less time lying than this: relief (see the module docstring)
# the night's lying time is known only when the sensor was worn (any posture but not worn / unknown) for at least
# MIN_NIGHT_OBSERVED_H of the core night, CORE_NIGHT_START_HOUR to CORE_NIGHT_END_HOUR: a sensor put on at 08:00 says
# nothing about the night, and its morning must not read as "0.0 h lying last night"
CORE_NIGHT_START_HOUR = 22
CORE_NIGHT_END_HOUR = 6
MIN_NIGHT_OBSERVED_H = 4.0
PAIN_RELIEF_ABOVE = 5
CHECKIN_VALID_H = 24.0
HISTORY_DAYS = 14  # nights of ln RMSSD kept (the baseline uses the last 7)
# the lying RR intervals kept for the reading: a 5-min window at 240 bpm, with room
MAX_BEATS = 5 * 60 * 4 + 100
_NOT_OBSERVED: frozenset[Posture] = frozenset({"not_worn", "unknown"})


def night_of(local: datetime) -> date | None:
    """The date of the night a local time belongs to (18:00 on the 5th to 12:00 on the 6th: the 6th), or None
    between 12:00 and 18:00."""
    if local.hour < NIGHT_END_HOUR:
        return local.date()
    if local.hour >= NIGHT_START_HOUR:
        return local.date() + timedelta(days=1)
    return None


class CheckIn(msgspec.Struct, frozen=True, array_like=True):
    """What the wearer reported at ``t_ms`` (event time): pain 0-10 and / or stress. Its explicit form in the alert
    service's snapshot is itself (alerts.detect.structs)."""

    t_ms: int
    pain: int | None = None
    stress: Stress | None = None

    def __setstate__(self, state: dict[str, Any] | list[Any]) -> None:
        """Unpickle a check-in of a format-1 snapshot (a dataclass then)."""
        restore_fields(self, state)


@dataclass(frozen=True, slots=True)
class ReadinessInputs:
    """One day's inputs: the night's HRV (or why none), the baseline from the nights before (or why none), the night's
    lying time in seconds (None: the sensor was not worn long enough that night), the latest check-ins."""

    hrv: HrvReading | NoReading
    baseline: Baseline | NoReading
    lying_s: int | None
    pain: int | None = None
    stress: Stress | None = None


@dataclass(frozen=True, slots=True)
class ReadinessDecision:
    """The day type for one local day and why, in words (``reasons``: the relief reasons on a relief day, the figures
    on a capacity day); ``metrics`` are the figures for storage (docs/metrics.md, "Readiness")."""

    day: date
    day_type: DayType
    reasons: tuple[str, ...]
    metrics: dict[str, float]

    @property
    def words(self) -> str:
        return f"{self.day_type} day: {', '.join(self.reasons)}"


def decide(day: date, inputs: ReadinessInputs) -> ReadinessDecision | None:
    """The day's decision from its inputs (module docstring), or None when there is no data at all."""
    relief: list[str] = []
    fine: list[str] = []
    metrics: dict[str, float] = {}
    hrv, base = inputs.hrv, inputs.baseline
    if isinstance(hrv, HrvReading):
        metrics |= {"rmssd_ms": round(hrv.rmssd_ms, 1), "ln_rmssd": round(hrv.ln_rmssd, 3)}
        metrics["rr_artefacts"] = hrv.artefacts
        if isinstance(base, Baseline):
            metrics |= {"baseline_ln_rmssd": round(base.mean, 3), "normal_low": round(base.low, 3)}
            metrics["normal_high"] = round(base.high, 3)
            if hrv.ln_rmssd < base.low:
                relief.append("HRV below your normal range")
            elif hrv.ln_rmssd > base.high:
                fine.append("HRV above your normal range")
            else:
                fine.append("HRV within your normal range")
        else:  # a reading without a baseline yet: known, but it says nothing yet
            fine.append(base.reason)
    if inputs.lying_s is not None:
        hours = inputs.lying_s / 3600
        metrics["lying_h"] = round(hours, 2)
        (relief if hours < SHORT_NIGHT_H else fine).append(f"{hours:.1f} h lying last night")
    if inputs.pain is not None:
        metrics["pain"] = inputs.pain
        (relief if inputs.pain > PAIN_RELIEF_ABOVE else fine).append(f"pain {inputs.pain}/10")
    if inputs.stress is not None:
        metrics["stress_level"] = STRESS_LEVELS.index(inputs.stress)
        (relief if inputs.stress == "high" else fine).append(f"stress {inputs.stress}")
    if not metrics:
        return None
    day_type: DayType = "relief" if relief else "capacity"
    metrics["relief"] = 1.0 if relief else 0.0
    return ReadinessDecision(day, day_type, tuple(relief or fine), metrics)


@dataclass
class ReadinessTracker:
    """One wearer's readiness inputs, fed in event time by the engine: ``second`` for each second of the wearer's
    posture, ``beats`` for RR intervals, ``checkin`` for reports; ``decide_day`` once per local day."""

    night: date | None = None
    night_lying_s: int = 0
    night_observed_s: int = 0
    lying: bool = False
    lying_beats: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=MAX_BEATS))
    history: dict[date, float] = field(default_factory=dict)  # night -> ln RMSSD
    pain: CheckIn | None = None
    stress: CheckIn | None = None
    decided: date | None = None  # the last local day decided (whether or not there was data)
    today: ReadinessDecision | None = None
    # the local time of the current UTC minute (every zone's offset is whole minutes, so a minute's local date, hour and
    # minute are those of its start): one zone conversion a minute instead of one a second
    _minute_ms: int = -1
    _minute_zone: ZoneInfo | None = None
    _minute_local: datetime | None = None
    _second_local: datetime | None = None  # the minute ``second`` last saw, and what it said about the night
    _second_night: date | None = None
    _second_core: bool = False

    def local_minute(self, t_ms: int, zone: ZoneInfo) -> datetime:
        """The start of ``t_ms``'s minute on the wearer's clock (``zone``), cached for the minute."""
        minute_ms = t_ms - t_ms % 60_000
        if minute_ms != self._minute_ms or zone is not self._minute_zone or self._minute_local is None:
            self._minute_ms, self._minute_zone = minute_ms, zone
            self._minute_local = datetime.fromtimestamp(minute_ms / 1000, zone)
        return self._minute_local

    def second(self, local: datetime, posture: Posture, lying_known: bool = True) -> None:
        """One second of the wearer's posture; ``local``: its start on the wearer's clock (event time).
        ``lying_known``: the wearer's sensors can tell lying (a trunk sensor); a thigh alone reads lying as sitting
        (both horizontal), so its nights count as not observed: lying time unknown, never "0 h"."""
        if local is not self._second_local:  # a new minute (``local_minute`` gives one object per minute)
            self._second_local = local
            self._second_night = night_of(local)
            self._second_core = local.hour >= CORE_NIGHT_START_HOUR or local.hour < CORE_NIGHT_END_HOUR
        night = self._second_night
        if night is not None and night != self.night:
            self.night, self.night_lying_s, self.night_observed_s = night, 0, 0
            self.lying_beats.clear()
        # RR intervals are kept while lying at night only (an afternoon nap is not the night's rest)
        self.lying = posture == "lying" and night is not None
        if night is not None and lying_known and posture not in _NOT_OBSERVED:
            self.night_lying_s += self.lying
            self.night_observed_s += self._second_core

    def beats(self, t_ms: int, rr_ms: list[int]) -> None:
        """RR intervals (ms) that ended in the second starting at ``t_ms``: kept while the wearer lies at night."""
        if not self.lying or self.night is None:
            return
        # spread over the second in order, so the window's edge is at the right beat
        for i, rr in enumerate(rr_ms):
            self.lying_beats.append((t_ms + i * 1000 // max(len(rr_ms), 1), float(rr)))

    def checkin(self, report: CheckIn) -> None:
        if report.pain is not None:
            self.pain = report
        if report.stress is not None:
            self.stress = report

    def inputs(self, t_ms: int) -> tuple[ReadinessInputs, HrvReading | NoReading]:
        """Today's inputs at ``t_ms``, and the night's HRV (kept in the history by ``decide_day``)."""
        beats = list(self.lying_beats)
        hrv = rmssd(window(beats), beats[-1][0] if beats else t_ms)
        previous = [v for night, v in sorted(self.history.items()) if self.night is None or night < self.night]
        lying = self.night_lying_s if self.night_observed_s >= MIN_NIGHT_OBSERVED_H * 3600 else None
        valid_ms = CHECKIN_VALID_H * 3_600_000
        pain = self.pain.pain if self.pain is not None and t_ms - self.pain.t_ms <= valid_ms else None
        stress = self.stress.stress if self.stress is not None and t_ms - self.stress.t_ms <= valid_ms else None
        return ReadinessInputs(hrv, baseline(previous), lying, pain, stress), hrv

    def decide_day(self, t_ms: int, day: date) -> ReadinessDecision | None:
        """Decide ``day`` (the local date of ``t_ms``) once: the decision, or None (already decided, or no data)."""
        if self.decided == day:
            return None
        self.decided = day
        inputs, hrv = self.inputs(t_ms)
        if isinstance(hrv, HrvReading) and self.night is not None:
            self.history[self.night] = hrv.ln_rmssd
            for old in sorted(self.history)[:-HISTORY_DAYS]:
                del self.history[old]
        self.today = decide(day, inputs)
        if self.today is not None and isinstance(hrv, NoReading) and self.lying_beats:
            self.today = ReadinessDecision(
                day, self.today.day_type, (*self.today.reasons, f"no HRV reading: {hrv.reason}"), self.today.metrics
            )
        return self.today

    def day_type(self, day: date) -> DayType | None:
        """Today's decided day type, or None (not decided yet, no data): the weekly plan then."""
        return self.today.day_type if self.today is not None and self.today.day == day else None

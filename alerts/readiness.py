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

import itertools
import sys
from array import array
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
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


class ReadinessDecision(msgspec.Struct, frozen=True, array_like=True):
    """The day type for one local day and why, in words (``reasons``: the relief reasons on a relief day, the figures
    on a capacity day); ``metrics`` are the figures for storage (docs/metrics.md, "Readiness"). A ``msgspec.Struct``:
    the alert service's snapshot writes it as the array of its fields in order."""

    day: date
    day_type: DayType
    reasons: tuple[str, ...]
    metrics: dict[str, int | float]

    def __setstate__(self, state: list[Any] | dict[str, Any]) -> None:
        """Unpickle a decision of a format-1 snapshot (a dataclass with slots then)."""
        restore_fields(self, state)

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


# The lying RR intervals packed (the snapshot's form, alerts/state.py): the first beat's t_ms, then the differences
# of t_ms from one beat to the next as little-endian int32 ("i") or int64 ("q") and the RR intervals (ms) as
# little-endian uint16 ("H": whole milliseconds, as the wire carries them) or float64 ("d"): 6 bytes a beat, not 18.
BeatsSnapshot = tuple[int, Literal["i", "q"], bytes, Literal["H", "d"], bytes]
_LITTLE_ENDIAN = sys.byteorder == "little"


def _little_endian(values: array[Any]) -> bytes:
    if not _LITTLE_ENDIAN:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_little_endian(typecode: str, data: bytes) -> array[Any]:
    values = array(typecode)
    values.frombytes(data)
    if not _LITTLE_ENDIAN:
        values.byteswap()
    return values


class LyingBeats(deque[tuple[int, float]]):
    """The night's lying RR intervals, (t_ms, rr ms), the last ``MAX_BEATS``. The snapshot writes them packed
    (``packed``, ``BeatsSnapshot``)."""

    def __init__(self, beats: Iterable[tuple[int, float]] = (), maxlen: int | None = MAX_BEATS) -> None:
        super().__init__(beats, maxlen=maxlen)  # deque's copy and pickle pass maxlen

    def packed(self) -> BeatsSnapshot | None:
        """The beats packed (``BeatsSnapshot``), None when there are none."""
        if not self:
            return None
        times = [t for t, _ in self]
        steps = [b - a for a, b in itertools.pairwise(times)]
        wide = any(not -(2**31) <= d < 2**31 for d in steps)
        rr = [r for _, r in self]
        whole = all(r == int(r) and 0 <= r < 2**16 for r in rr)
        return (
            times[0],
            "q" if wide else "i",
            _little_endian(array("q" if wide else "i", steps)),
            "H" if whole else "d",
            _little_endian(array("H", [int(r) for r in rr]) if whole else array("d", rr)),
        )

    @classmethod
    def unpacked(cls, s: BeatsSnapshot | None) -> LyingBeats:
        """The beats of ``packed``'s form; raises ``ValueError`` when its parts do not fit together."""
        beats = cls()
        if s is None:
            return beats
        t_ms, steps, rr = s[0], _from_little_endian(s[1], s[2]), _from_little_endian(s[3], s[4])
        if len(rr) != len(steps) + 1:
            raise ValueError(f"{len(rr)} RR intervals for {len(steps) + 1} beat times")
        for i, r in enumerate(rr):
            if i:
                t_ms += steps[i - 1]
            beats.append((t_ms, float(r)))
        return beats


@dataclass(slots=True)
class _LocalClock:
    """A tracker's caches, not kept in snapshots (made again from the next second). The local time of the current UTC
    minute (every zone's offset is whole minutes, so a minute's local date, hour and minute are those of its start):
    one zone conversion a minute instead of one a second; the minute ``second`` last saw and what it said about the
    night."""

    minute_ms: int = -1
    minute_zone: ZoneInfo | None = None
    minute_local: datetime | None = None
    second_local: datetime | None = None
    second_night: int | None = None  # as its ordinal
    second_core: bool = False


class ReadinessTracker(msgspec.Struct, array_like=True, dict=True):
    """One wearer's readiness inputs, fed in event time by the engine: ``second`` for each second of the wearer's
    posture, ``beats`` for RR intervals, ``checkin`` for reports; ``decide_day`` once per local day. A
    ``msgspec.Struct``: the alert service's snapshot writes it as the array of its fields in order (a field added,
    removed or moved changes the format); its caches (``_LocalClock``) are outside the fields."""

    night_ordinal: int | None = None  # the night followed (its date: ``night_of``), as ``date.toordinal``
    night_lying_s: int = 0
    night_observed_s: int = 0
    lying: bool = False
    lying_beats: LyingBeats = msgspec.field(default_factory=LyingBeats)
    history: dict[int, float] = msgspec.field(default_factory=dict)  # night (``date.toordinal``) -> ln RMSSD
    pain: CheckIn | None = None
    stress: CheckIn | None = None
    decided_ordinal: int | None = None  # the last local day decided (whether or not there was data), as its ordinal
    today: ReadinessDecision | None = None
    if TYPE_CHECKING:  # not a field: set by __post_init__ (on making and on decoding)
        _clock: _LocalClock = _LocalClock()

    def __post_init__(self) -> None:
        self._clock = _LocalClock()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a tracker of a format-1 snapshot (a dataclass then, its caches among its fields)."""
        state = dict(state)
        night, decided = state.pop("night", None), state.pop("decided", None)
        state["night_ordinal"] = None if night is None else night.toordinal()
        state["decided_ordinal"] = None if decided is None else decided.toordinal()
        state["history"] = {day.toordinal(): value for day, value in state.get("history", {}).items()}
        restore_fields(self, state)
        self.lying_beats = LyingBeats(self.lying_beats)

    def local_minute(self, t_ms: int, zone: ZoneInfo) -> datetime:
        """The start of ``t_ms``'s minute on the wearer's clock (``zone``), cached for the minute."""
        minute_ms = t_ms - t_ms % 60_000
        clock = self._clock
        if minute_ms != clock.minute_ms or zone is not clock.minute_zone or clock.minute_local is None:
            clock.minute_ms, clock.minute_zone = minute_ms, zone
            clock.minute_local = datetime.fromtimestamp(minute_ms / 1000, zone)
        return clock.minute_local

    def second(self, local: datetime, posture: Posture, lying_known: bool = True) -> None:
        """One second of the wearer's posture; ``local``: its start on the wearer's clock (event time).
        ``lying_known``: the wearer's sensors can tell lying (a trunk sensor); a thigh alone reads lying as sitting
        (both horizontal), so its nights count as not observed: lying time unknown, never "0 h"."""
        clock = self._clock
        if local is not clock.second_local:  # a new minute (``local_minute`` gives one object per minute)
            clock.second_local = local
            night_day = night_of(local)
            clock.second_night = None if night_day is None else night_day.toordinal()
            clock.second_core = local.hour >= CORE_NIGHT_START_HOUR or local.hour < CORE_NIGHT_END_HOUR
        night = clock.second_night
        if night is not None and night != self.night_ordinal:
            self.night_ordinal, self.night_lying_s, self.night_observed_s = night, 0, 0
            self.lying_beats.clear()
        # RR intervals are kept while lying at night only (an afternoon nap is not the night's rest)
        self.lying = posture == "lying" and night is not None
        if night is not None and lying_known and posture not in _NOT_OBSERVED:
            self.night_lying_s += self.lying
            self.night_observed_s += clock.second_core

    def beats(self, t_ms: int, rr_ms: list[int]) -> None:
        """RR intervals (ms) that ended in the second starting at ``t_ms``: kept while the wearer lies at night."""
        if not self.lying or self.night_ordinal is None:
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
        tonight = self.night_ordinal
        previous = [v for night, v in sorted(self.history.items()) if tonight is None or night < tonight]
        lying = self.night_lying_s if self.night_observed_s >= MIN_NIGHT_OBSERVED_H * 3600 else None
        valid_ms = CHECKIN_VALID_H * 3_600_000
        pain = self.pain.pain if self.pain is not None and t_ms - self.pain.t_ms <= valid_ms else None
        stress = self.stress.stress if self.stress is not None and t_ms - self.stress.t_ms <= valid_ms else None
        return ReadinessInputs(hrv, baseline(previous), lying, pain, stress), hrv

    def decide_day(self, t_ms: int, day: date) -> ReadinessDecision | None:
        """Decide ``day`` (the local date of ``t_ms``) once: the decision, or None (already decided, or no data)."""
        if self.decided_ordinal == day.toordinal():
            return None
        self.decided_ordinal = day.toordinal()
        inputs, hrv = self.inputs(t_ms)
        if isinstance(hrv, HrvReading) and self.night_ordinal is not None:
            self.history[self.night_ordinal] = hrv.ln_rmssd
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

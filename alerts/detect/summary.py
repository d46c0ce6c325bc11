"""Hourly summaries per wearer, in event time: posture time, sitting bouts by band, breaks, trunk exposure. Pure.

An hour is an hour of the wearer's local clock (``local_hour_start_ms``): in a zone 5:30 ahead of UTC it starts at
:30 UTC, on a day when the clocks go back the local 02:00-03:00 comes twice (two hours), on a day they go forward
one local hour is missing. So a wearer's day is a whole number of their hours, and a day's figure is the sum of its
hours' figures.

Emitted by the engine as ``summary`` events when an hour of event time is complete; the bridge stores them as
``summary_1h``, which dashboards and the clinician's weekly review read (docs/metrics.md defines each field). A
closed hour whose seconds turn out, later, to be a sensor not worn (``StillSeconds``) is emitted again with the
corrected figures, at the same time stamp and with the same tags, so the store replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import msgspec

from alerts.detect.asymmetry import ExposureDay, symmetry_index
from alerts.detect.bouts import Bout
from alerts.detect.posture import Posture
from alerts.detect.structs import restore_fields

HOUR_MS = 3_600_000
_MS = timedelta(milliseconds=1)


def utc_offset_ms(t_ms: int, zone: tzinfo) -> int:
    """The zone's offset from UTC at ``t_ms`` (ms); offsets change on whole seconds."""
    offset = datetime.fromtimestamp(t_ms // 1000, UTC).astimezone(zone).utcoffset()
    return 0 if offset is None else offset // _MS


# per zone, the last local hour found whole: (its start, the start of the next wall-clock hour at its offset), UTC ms
_HOURS: dict[tzinfo, tuple[int, int]] = {}


def local_hour_start_ms(t_ms: int, zone: tzinfo) -> int:
    """The start (UTC ms) of the wearer's local clock hour that ``t_ms`` is in.

    The local hour is floored on the wall clock; when the offset changed since that wall-clock hour began (a DST
    change, or a zone moving by a part of an hour, such as Australia/Lord_Howe's 30 min), the hour begins at the
    change instead, so hours never overlap and every instant is in exactly one of them.

    Called for every frame: the last hour found per zone is kept when its offset holds from its start to the next
    wall-clock hour (not the hour of an offset change), and an instant inside it is answered from it (the zone's
    offset is read twice otherwise: issue 18, a tenth of the alert service's work per message).
    """
    known = _HOURS.get(zone)
    if known is not None and known[0] <= t_ms < known[1]:
        return known[0]
    start = _local_hour_start_ms(t_ms, zone)
    offset = utc_offset_ms(start, zone)
    end = start + HOUR_MS - (start + offset) % HOUR_MS  # the next wall-clock hour at this offset
    if utc_offset_ms(end - 1000, zone) == offset:  # offsets change on whole seconds: none inside [start, end)
        _HOURS[zone] = (start, end)
    return start


def _local_hour_start_ms(t_ms: int, zone: tzinfo) -> int:
    offset = utc_offset_ms(t_ms, zone)
    start = t_ms - (t_ms + offset) % HOUR_MS
    if utc_offset_ms(start, zone) != offset:  # the change lies in (start, t_ms]: find it, to the second
        lo, hi = start // 1000, t_ms // 1000
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if utc_offset_ms(mid * 1000, zone) == offset:
                hi = mid
            else:
                lo = mid
        start = hi * 1000
    return start


def local_hour(hour_ms: int, zone: tzinfo) -> int:
    """The hour of the day (0-23) on the wearer's clock at ``hour_ms``."""
    return (hour_ms + utc_offset_ms(hour_ms, zone)) // HOUR_MS % 24


POSTURES: tuple[Posture, ...] = ("sitting", "standing", "lying", "moving", "not_worn", "unknown")
_POSTURE_INDEX: dict[str, int] = {p: i for i, p in enumerate(POSTURES)}
_NOT_WORN = _POSTURE_INDEX["not_worn"]
# The explicit form of an hour (alerts/state.py): its start (UTC ms), the lean episode minimum (s), the local hour,
# the seconds of each posture in ``POSTURES`` order, the sitting bouts by band, breaks, the exposure, the exposures
# removed (found not worn): ``HourSummary`` itself (``HourSnapshot``, below).
# A wearer's neutral lateral lean: followed while walking (a slow running mean), subtracted before exposure.
NEUTRAL_ALPHA = 0.02
NEUTRAL_MIN_SECONDS = 20


class LeanNeutral(msgspec.Struct, array_like=True):
    """A wearer's neutral lateral lean (deg) and the walking seconds it was followed over (a ``msgspec.Struct``,
    written as the array of its fields in the alert service's snapshot)."""

    value: float = 0.0
    seconds: int = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a neutral of a format-1 snapshot (a dataclass then)."""
        restore_fields(self, state)

    def observe(self, lean_deg: float) -> None:
        self.seconds += 1
        alpha = max(NEUTRAL_ALPHA, 1.0 / self.seconds)
        self.value += alpha * (lean_deg - self.value)

    def relative(self, lean_deg: float) -> float:
        return lean_deg - self.value if self.seconds >= NEUTRAL_MIN_SECONDS else lean_deg


# Exposure figures that add up over seconds (so seconds can be taken out again), and the two made from them.
_ADDITIVE = (
    "static_s",
    "lean_above_10deg_s",
    "lean_right_deg_s",
    "lean_left_deg_s",
    "sustained_lean_episodes",
    "forward_0_20_s",
    "forward_20_60_s",
    "forward_over_60_s",
)


class HourSummary(msgspec.Struct, array_like=True):
    """One local hour of one wearer: starts at ``hour_ms`` (UTC ms), ``local_hour`` on the wearer's clock. Its
    explicit form (``HourSnapshot``) is itself: the array of its fields in order (alerts.detect.structs)."""

    hour_ms: int
    lean_episode_s: int = 5 * 60
    local_hour: int | None = None  # hour of day in the wearer's time zone (policy), for hour-of-day views
    posture_seconds: list[int] = msgspec.field(default_factory=lambda: [0] * len(POSTURES))  # in POSTURES order
    bouts_under_30: int = 0
    bouts_30_60: int = 0
    bouts_60_plus: int = 0
    breaks: int = 0
    exposure: ExposureDay = msgspec.field(default_factory=ExposureDay)  # its lean episodes: ``lean_episode_s``
    removed: tuple[ExposureDay, ...] = ()  # trunk seconds found, later, to be a sensor not worn

    def __post_init__(self) -> None:
        self.exposure.min_episode_s = self.lean_episode_s

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle an hour of a format-1 snapshot (a dataclass then, with a dict of seconds by posture)."""
        by_posture = state.pop("posture_s")
        state["posture_seconds"] = [by_posture[p] for p in POSTURES]
        restore_fields(self, state)

    @property
    def posture_s(self) -> dict[str, int]:
        """Seconds by posture (a copy: ``add_posture`` counts)."""
        return dict(zip(POSTURES, self.posture_seconds, strict=True))

    def add_posture(self, posture: Posture) -> None:
        self.posture_seconds[_POSTURE_INDEX[posture]] += 1

    def add_exposure(self, t_ms: int, posture: Posture, lean_rel: float | None, incl: float | None) -> None:
        """A trunk second (from the wearer's primary sensor, or the trunk partner of a thigh sensor)."""
        self.exposure.add(t_ms, posture, lean_rel, incl)

    def add_bout(self, bout: Bout, next_posture: Posture | None) -> None:
        if bout.posture != "sitting":
            return
        minutes = bout.duration_s / 60
        if minutes >= 60:
            self.bouts_60_plus += 1
        elif minutes >= 30:
            self.bouts_30_60 += 1
        else:
            self.bouts_under_30 += 1
        if next_posture in ("standing", "moving"):
            self.breaks += 1

    def move_to_not_worn(self, counted: dict[str, int], exposure: ExposureDay) -> None:
        """Seconds counted as ``counted`` postures (and their trunk ``exposure``) were a sensor not worn."""
        seconds = self.posture_seconds
        for posture, n in counted.items():
            seconds[_POSTURE_INDEX[posture]] -= n
            seconds[_NOT_WORN] += n
        self.removed = (*self.removed, exposure)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {f"{p}_s": float(n) for p, n in zip(POSTURES, self.posture_seconds, strict=True)}
        out.update(
            sitting_bouts_under_30min=self.bouts_under_30,
            sitting_bouts_30_60min=self.bouts_30_60,
            sitting_bouts_60min_plus=self.bouts_60_plus,
            breaks=self.breaks,
        )
        exposure = {k: float(v) for k, v in self.exposure.summary().items()}
        if self.removed:
            for removed in self.removed:
                for k, v in removed.summary().items():
                    if k in _ADDITIVE and k in exposure:
                        exposure[k] = max(0.0, round(exposure[k] - v, 1))
            if "lean_above_10deg_pct" in exposure:
                static, above = exposure.get("static_s", 0.0), exposure.get("lean_above_10deg_s", 0.0)
                exposure["lean_above_10deg_pct"] = round(100 * above / static, 1) if static else 0.0
            if "lean_symmetry_index_pct" in exposure:
                right, left = exposure.get("lean_right_deg_s", 0.0), exposure.get("lean_left_deg_s", 0.0)
                exposure["lean_symmetry_index_pct"] = symmetry_index(right, left)
        out.update(exposure)
        if self.local_hour is not None:
            out["local_hour"] = float(self.local_hour)
        return out


HourSnapshot = HourSummary


# An hour a still run counted seconds in: its start (``hour_ms``) while the wearer's detection holds it (the current
# or the previous hour: alerts.detect.wearer), the hour itself once it holds it no more (``StillSeconds.detach``).
HourRef = int | HourSummary
StillHour = tuple[HourRef, dict[str, int], ExposureDay]


class StillSeconds(msgspec.Struct, array_like=True):
    """The seconds of one still run of the wearer's primary sensor, as the hourly summaries counted them (per hour:
    postures and trunk exposure), kept until the run ends (they stand) or proves to be a sensor not worn
    (``not_worn``: they move to ``not_worn``, back-dated like the bouts). One entry per hour the run touches, naming
    its hour by its start (``HourRef``): a ``msgspec.Struct`` the snapshot writes as it is, without copies of the
    wearer's hours."""

    since_ms: int
    hours: list[StillHour] = msgspec.field(default_factory=list)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a still run of a format-1 snapshot (a dataclass then, naming its hours by the objects:
        ``WearerDetection.__setstate__`` names the wearer's own by their start)."""
        restore_fields(self, state)

    def _entry(self, hour: HourSummary) -> StillHour:
        if not self.hours or self.hours[-1][0] != hour.hour_ms:
            self.hours.append((hour.hour_ms, {}, ExposureDay(min_episode_s=hour.lean_episode_s)))
        return self.hours[-1]

    def add(self, hour: HourSummary, posture: Posture) -> None:
        counted = self._entry(hour)[1]
        counted[posture] = counted.get(posture, 0) + 1

    def add_exposure(
        self, hour: HourSummary, t_ms: int, posture: Posture, lean_rel: float | None, incl: float | None
    ) -> None:
        self._entry(hour)[2].add(t_ms, posture, lean_rel, incl)

    def detach(self, hour: HourSummary) -> None:
        """The wearer no longer holds ``hour`` (an hour older than the previous one): the run keeps it itself."""
        self.hours = [(hour if ref == hour.hour_ms else ref, c, e) for ref, c, e in self.hours]

    def not_worn(self, held: Mapping[int, HourSummary]) -> list[HourSummary]:
        """Move every second kept so far to ``not_worn``; ``held``: the wearer's hours by start (those the entries
        name by it). Returns the hours that changed."""
        changed = []
        for ref, counted, exposure in self.hours:
            hour = held[ref] if isinstance(ref, int) else ref
            hour.move_to_not_worn(counted, exposure)
            changed.append(hour)
        self.hours = []
        return changed

"""Hourly summaries per wearer, in event time: posture time, sitting bouts by band, breaks, trunk exposure. Pure.

Emitted by the engine as ``summary`` events when an hour of event time is complete; the bridge stores them as
``summary_1h``, which dashboards and the clinician's weekly review read (docs/metrics.md defines each field).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.detect.asymmetry import ExposureDay
from alerts.detect.bouts import Bout
from alerts.detect.posture import Posture

HOUR_MS = 3_600_000
POSTURES: tuple[Posture, ...] = ("sitting", "standing", "lying", "moving", "not_worn", "unknown")
# A wearer's neutral lateral lean: followed while walking (a slow running mean), subtracted before exposure.
NEUTRAL_ALPHA = 0.02
NEUTRAL_MIN_SECONDS = 20


@dataclass
class LeanNeutral:
    value: float = 0.0
    seconds: int = 0

    def observe(self, lean_deg: float) -> None:
        self.seconds += 1
        alpha = max(NEUTRAL_ALPHA, 1.0 / self.seconds)
        self.value += alpha * (lean_deg - self.value)

    def relative(self, lean_deg: float) -> float:
        return lean_deg - self.value if self.seconds >= NEUTRAL_MIN_SECONDS else lean_deg


@dataclass
class HourSummary:
    hour_ms: int
    lean_episode_s: int = 5 * 60
    local_hour: int | None = None  # hour of day in the wearer's time zone (policy), for hour-of-day views
    posture_s: dict[str, int] = field(default_factory=lambda: dict.fromkeys(POSTURES, 0))
    bouts_under_30: int = 0
    bouts_30_60: int = 0
    bouts_60_plus: int = 0
    breaks: int = 0
    exposure: ExposureDay = field(init=False)

    def __post_init__(self) -> None:
        self.exposure = ExposureDay(min_episode_s=self.lean_episode_s)

    def add_posture(self, posture: Posture) -> None:
        self.posture_s[posture] += 1

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

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {f"{p}_s": float(n) for p, n in self.posture_s.items()}
        out.update(
            sitting_bouts_under_30min=self.bouts_under_30,
            sitting_bouts_30_60min=self.bouts_30_60,
            sitting_bouts_60min_plus=self.bouts_60_plus,
            breaks=self.breaks,
        )
        out.update({k: float(v) for k, v in self.exposure.summary().items()})
        if self.local_hour is not None:
            out["local_hour"] = float(self.local_hour)
        return out

"""Where "upright" is for a sensor whose mounting is unknown. Pure, streaming, event time.

The body's vertical is learned from walking: over a few strides the mean acceleration points along the
vertical of the body segment the sensor is on (sedentary-science.md s3), whatever way the sensor sits. An
explicit "stand still for 5 s" calibration sets it at once. When the sensor is moved or turned (taken off and
put back, rotated in a pocket), still periods start to show gravity directions that no posture explains;
the reference is then dropped and learned again from the next walk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

Vector = tuple[float, float, float]

# Walking seconds: enough movement and counted steps. Thresholds in mg on the norm's standard deviation.
WALK_MIN_SD_MG = 80.0
WALK_SECONDS_NEEDED = 20
# A recent walk whose mean direction is this far from the reference means the sensor was moved or turned.
MOVED_DEG = 25.0
RECENT_ALPHA = 1.0 / WALK_SECONDS_NEEDED
# Still seconds: the sensor's norm barely moves.
STILL_MAX_SD_MG = 25.0


def norm(v: Vector) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def unit(v: Vector) -> Vector:
    n = norm(v) or 1.0
    return (v[0] / n, v[1] / n, v[2] / n)


def angle_deg(a: Vector, b: Vector) -> float:
    """Angle between two directions, 0-180 deg."""
    na, nb = norm(a), norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    cos = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


@dataclass
class UprightCalibration:
    """Learns the upright direction; ``reference`` is None until known."""

    reference: Vector | None = None
    source: str = "none"  # none | walking | explicit | declared
    _walk_sum: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    _walk_n: int = 0
    _recent: Vector | None = None
    _recent_n: int = 0
    recalibrations: int = 0

    def set_explicit(self, still_gravity: list[Vector]) -> None:
        """'Stand still for 5 s': the mean gravity direction is upright."""
        if not still_gravity:
            raise ValueError("an explicit calibration needs at least one still second")
        sx = sum(g[0] for g in still_gravity)
        sy = sum(g[1] for g in still_gravity)
        sz = sum(g[2] for g in still_gravity)
        self.reference, self.source = unit((sx, sy, sz)), "explicit"

    def observe(self, gravity: Vector, sd_mg: float, steps: int) -> None:
        """Feed one second. Walking seconds refine the reference (a running mean over the walks seen)."""
        if steps <= 0 or sd_mg < WALK_MIN_SD_MG:
            return
        g = unit(gravity)
        self._walk_sum = [a + b for a, b in zip(self._walk_sum, g, strict=True)]
        self._walk_n += 1
        # A short memory of the latest walking, to notice a sensor that was moved.
        if self._recent is None:
            self._recent = g
        else:
            r = self._recent
            self._recent = unit(
                (
                    r[0] + RECENT_ALPHA * (g[0] - r[0]),
                    r[1] + RECENT_ALPHA * (g[1] - r[1]),
                    r[2] + RECENT_ALPHA * (g[2] - r[2]),
                )
            )
        self._recent_n += 1
        moved = (
            self.reference is not None
            and self._recent_n >= WALK_SECONDS_NEEDED
            and angle_deg(self._recent, self.reference) > MOVED_DEG
        )
        if moved:  # the sensor was moved or turned: start again from the recent walk
            self.recalibrations += 1
            self.reference, self.source = self._recent, "walking"
            self._walk_sum, self._walk_n = list(self._recent), 1
            return
        if self._walk_n >= WALK_SECONDS_NEEDED and self.source in ("none", "walking"):
            self.reference, self.source = unit((self._walk_sum[0], self._walk_sum[1], self._walk_sum[2])), "walking"

    def declare(self, up: Vector) -> None:
        """The mounting is known (a device profile with documented axes): use it until walking says otherwise."""
        self.reference, self.source = unit(up), "declared"

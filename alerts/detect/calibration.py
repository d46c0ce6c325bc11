"""Where "upright" is for a sensor whose mounting is unknown. Pure, streaming, event time, constant memory.

The body's vertical is learned from walking: over a few strides the mean acceleration points along the vertical
of the body segment the sensor is on (sedentary-science.md s3), whatever way the sensor sits. The estimate is a
robust mean of the gravity directions of the most recent walking seconds (a bounded reservoir): seconds that
disagree with the majority by more than 30 deg - pedalling, say, which also looks periodic - are left out.
Because only recent walking counts, a sensor that was moved or turned (taken off and put back, rotated in a
pocket) is re-learned within a couple of minutes of walking; ``recalibrations`` counts those changes.
An explicit "stand still for 5 s" calibration, or a mounting the device profile declares, sets it at once.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

Vector = tuple[float, float, float]

# Walking seconds: counted steps and enough movement (SD of the norm, mg).
WALK_MIN_SD_MG = 80.0
WALK_SECONDS_NEEDED = 20
RESERVOIR_SECONDS = 120  # 120 x 3 floats: a few KB per sensor
AGREE_DEG = 30.0
MOVED_DEG = 25.0
_COS_AGREE = math.cos(math.radians(AGREE_DEG))


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


def robust_mean(directions: list[Vector], iterations: int = 3) -> Vector:
    """Mean direction of unit vectors, re-computed over those within AGREE_DEG of the previous estimate (compared
    by dot product: this runs every few walking seconds for every sensor)."""

    def mean(vs: list[Vector]) -> Vector:
        return unit((sum(v[0] for v in vs), sum(v[1] for v in vs), sum(v[2] for v in vs)))

    estimate = mean(directions)
    for _ in range(iterations):
        ex, ey, ez = estimate
        close = [v for v in directions if v[0] * ex + v[1] * ey + v[2] * ez >= _COS_AGREE]
        if len(close) < len(directions) / 3:
            break
        estimate = mean(close)
    return estimate


def is_walking(sd_mg: float, steps: int) -> bool:
    return steps > 0 and sd_mg >= WALK_MIN_SD_MG


def offline_reference(walking_gravity: list[Vector]) -> Vector | None:
    """Upright from all the walking of a session at once (evaluation of recordings that were made separately,
    where "most recent" means nothing). None with too little walking."""
    if len(walking_gravity) < WALK_SECONDS_NEEDED:
        return None
    return robust_mean([unit(g) for g in walking_gravity])


@dataclass
class UprightCalibration:
    """Learns the upright direction; ``reference`` is None until known."""

    reference: Vector | None = None
    source: str = "none"  # none | walking | explicit | declared
    recalibrations: int = 0
    _walks: deque[Vector] = field(default_factory=lambda: deque(maxlen=RESERVOIR_SECONDS))
    _since_update: int = 0

    def set_explicit(self, still_gravity: list[Vector]) -> None:
        """'Stand still for 5 s': the mean gravity direction is upright."""
        if not still_gravity:
            raise ValueError("an explicit calibration needs at least one still second")
        self.reference, self.source = robust_mean([unit(g) for g in still_gravity]), "explicit"

    def declare(self, up: Vector) -> None:
        """The mounting is known (a device profile with documented axes): use it until walking says otherwise."""
        self.reference, self.source = unit(up), "declared"

    def observe(self, gravity: Vector, sd_mg: float, steps: int) -> None:
        """Feed one second; walking seconds refine the reference."""
        if not is_walking(sd_mg, steps):
            return
        self._walks.append(unit(gravity))
        self._since_update += 1
        if len(self._walks) < WALK_SECONDS_NEEDED or self._since_update < WALK_SECONDS_NEEDED // 2:
            return
        self._since_update = 0
        estimate = robust_mean(list(self._walks))
        if self.reference is not None and self.source != "none" and angle_deg(estimate, self.reference) > MOVED_DEG:
            self.recalibrations += 1  # the sensor was moved or turned
        if self.source in ("none", "walking") or angle_deg(estimate, self.reference or estimate) > MOVED_DEG:
            self.reference, self.source = estimate, "walking"

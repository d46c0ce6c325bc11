"""Where "upright" is for a sensor whose mounting is unknown. Pure, streaming, event time, constant memory.

The body's vertical is learned from walking: over a few strides the mean acceleration points along the vertical
of the body segment the sensor is on (sedentary-science.md s3), whatever way the sensor sits. The estimate is a
robust mean of the gravity directions of the most recent walking seconds (a bounded reservoir, each direction
quantised to one signed byte per axis: 360 bytes per sensor, see ``QUANTUM``): seconds that
disagree with the majority by more than 30 deg - pedalling, say, which also looks periodic - are left out.
Because only recent walking counts, a sensor that slid a little is followed within a couple of minutes of walking.
A sensor taken off and put back another way round (turned, upside down) is noticed from the data and re-learned:
walking seconds that disagree with the upright by more than AGREE_DEG make the mounting suspect after
SUSPECT_SECONDS (posture says ``unknown``), and WALK_SECONDS_NEEDED of them that agree with one another become the
new upright at once; a trunk held still at an impossible angle (head down) for IMPOSSIBLE_STILL_S loses its
upright until the next walk. ``recalibrations`` counts those changes. An explicit "stand still for 5 s"
calibration, or a mounting the device profile declares, sets it at once.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from typing import Any

import msgspec

from alerts.detect.structs import restore_fields

Vector = tuple[float, float, float]


# Walking seconds: counted steps and enough movement (SD of the norm, mg).
WALK_MIN_SD_MG = 80.0
WALK_SECONDS_NEEDED = 20
RESERVOIR_SECONDS = 120  # 120 x 3 signed bytes per sensor
# A reservoir direction is a unit vector stored as round(QUANTUM x component) in a signed byte (issue 18: the
# reservoir was most of a wearer's 5-KB checkpoint and of the service's memory). A component is then off by at most
# 0.5/127, the direction by at most 0.4 deg; the robust mean of many such directions is within 0.5 deg of the mean of
# the exact ones (tests/unit/alerts/detect/test_calibration.py), well inside the 30-deg AGREE_DEG and 25-deg MOVED_DEG
# this calibration decides by. Kinetic's choice, not a standard's.
QUANTUM = 127
AGREE_DEG = 30.0
MOVED_DEG = 25.0
_COS_AGREE = math.cos(math.radians(AGREE_DEG))
# Only walks count: WALK_MIN_RUN_S walking seconds or more with at most WALK_PAUSE_S other seconds between two of them.
# A sitter's fidget can pass for a walking second (a step and an SD over 80 mg: the pocket-phone recordings have them
# while sitting); a few a minute, for an hour, would otherwise become "upright".
WALK_MIN_RUN_S = 3
WALK_PAUSE_S = 2
# A changed mounting, seen while walking: walk seconds in a row whose direction is more than AGREE_DEG from the
# upright. Walking keeps a trunk or thigh within a few degrees of its
# upright on average over a second (the walking this calibration learns from), so 5 such seconds in a row make the
# mounting suspect, and WALK_SECONDS_NEEDED of them that agree with one another (COHERENT_SHARE within AGREE_DEG of
# their mean: a real new mounting, not a scatter of odd strides) are the new upright, by the same bar as the first.
SUSPECT_SECONDS = 5
COHERENT_SHARE = 0.8
# A changed mounting, seen while still: a trunk more than 135 deg from upright is head down, which nobody holds
# still for a minute; the sensor is upside down. (A thigh can point up for minutes, legs up a wall: only walking
# tells there.) Kinetic's choices, not a standard's.
IMPOSSIBLE_STILL_S = 60


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


def disagrees(direction: Vector, reference: Vector) -> bool:
    """Is a unit direction more than AGREE_DEG from a unit reference?"""
    return direction[0] * reference[0] + direction[1] * reference[1] + direction[2] * reference[2] < _COS_AGREE


def quantised(directions: Iterable[Vector]) -> bytearray:
    """Unit directions as a flat run of signed bytes (x, y, z, x, y, z, ...; each component times QUANTUM, in two's
    complement: a ``bytearray``, which msgspec writes as it is)."""
    return bytearray(array("b", [round(max(-1.0, min(1.0, c)) * QUANTUM) for d in directions for c in d]))


def directions_of(reservoir: bytearray | bytes | array[int]) -> list[Vector]:
    """The unit directions a quantised reservoir holds (each renormalised)."""
    packed = memoryview(reservoir).cast("b")
    return [
        unit((packed[i] / QUANTUM, packed[i + 1] / QUANTUM, packed[i + 2] / QUANTUM)) for i in range(0, len(packed), 3)
    ]


class UprightCalibration(msgspec.Struct, array_like=True):
    """Learns the upright direction; ``reference`` is None until known, and ``mounting_known`` is False while the
    data says the sensor was put back another way (posture is then ``unknown``: neither the old upright nor an
    angle the sender computes for its old mounting holds).

    A ``msgspec.Struct`` written as the array of its fields in order (``CalibrationSnapshot``), the reservoir as its
    bytes."""

    reference: Vector | None = None
    source: str = "none"  # none | walking | explicit | declared
    recalibrations: int = 0
    _walks: bytearray = msgspec.field(default_factory=bytearray)  # the reservoir, quantised (``quantised``)
    _since_update: int = 0
    _walk_s: int = 0  # walking seconds in the current walk
    _pause_s: int = 0  # other seconds since its last
    _pending: tuple[Vector, ...] = ()  # its first seconds, until it is long enough to be a walk
    _disagree: tuple[Vector, ...] = ()  # walk seconds in a row far from the reference
    _impossible_s: int = 0  # still seconds in a row at an impossible angle
    lost: bool = False  # the reference was dropped (impossible angle); re-learned from the next walking

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a calibration of a format-1 snapshot (a dataclass then: the dict of its fields; the fields it did
        not have yet keep their defaults): its reservoir an array of signed bytes, or (before the quantised reservoir,
        issue 18) a deque of float directions."""
        walks = state.get("_walks")
        if isinstance(walks, array):
            state["_walks"] = bytearray(walks)
        elif walks is not None and not isinstance(walks, bytearray):
            state["_walks"] = quantised(unit(v) for v in walks)
        restore_fields(self, state)

    @property
    def walking_seconds_held(self) -> int:
        """How many walking seconds the reservoir holds (at most RESERVOIR_SECONDS)."""
        return len(self._walks) // 3

    @property
    def mounting_known(self) -> bool:
        return not self.lost and len(self._disagree) < SUSPECT_SECONDS

    def set_explicit(self, still_gravity: list[Vector]) -> None:
        """'Stand still for 5 s': the mean gravity direction is upright."""
        if not still_gravity:
            raise ValueError("an explicit calibration needs at least one still second")
        self.reference, self.source = robust_mean([unit(g) for g in still_gravity]), "explicit"
        self._disagree, self._impossible_s, self.lost = (), 0, False

    def declare(self, up: Vector) -> None:
        """The mounting is known (a device profile with documented axes): use it until walking says otherwise."""
        self.reference, self.source = unit(up), "declared"
        self._disagree, self._impossible_s, self.lost = (), 0, False

    def observe(self, gravity: Vector, sd_mg: float, steps: int) -> None:
        """Feed one second; seconds of a walk refine the reference, or show that the mounting changed."""
        # a still second stores only what changes: a Struct's attribute store costs about three of its loads
        if not is_walking(sd_mg, steps):
            self._pause_s += 1
            if self._pause_s > WALK_PAUSE_S:  # the walk (if any) is over
                if self._walk_s or self._pending:
                    self._walk_s, self._pending = 0, ()
                if self._disagree and len(self._disagree) < SUSPECT_SECONDS:
                    self._disagree = ()  # a suspicion, once there, lasts until a walk agrees or re-learns
            return
        self._pause_s = 0
        self._walk_s += 1
        direction = unit(gravity)
        if self._walk_s < WALK_MIN_RUN_S:
            self._pending = (*self._pending, direction)  # not a walk yet: maybe a sitter's fidget
            return
        seconds, self._pending = (*self._pending, direction), ()
        for walked in seconds:
            self._walk_second(walked)

    def _walk_second(self, direction: Vector) -> None:
        self._walks.extend(quantised((direction,)))
        if len(self._walks) > 3 * RESERVOIR_SECONDS:
            del self._walks[:3]
        self._since_update += 1
        self._impossible_s = 0
        if self.reference is not None:
            if not disagrees(direction, self.reference):
                self._disagree = ()
            else:
                self._disagree = (*self._disagree, direction)[-WALK_SECONDS_NEEDED:]
                if len(self._disagree) == WALK_SECONDS_NEEDED and self._relearn(list(self._disagree)):
                    return
        if self.walking_seconds_held < WALK_SECONDS_NEEDED or self._since_update < WALK_SECONDS_NEEDED // 2:
            return
        self._since_update = 0
        estimate = robust_mean(directions_of(self._walks))
        if self.reference is not None and self.source != "none" and angle_deg(estimate, self.reference) > MOVED_DEG:
            self.recalibrations += 1  # the sensor was moved or turned
        if self.source in ("none", "walking") or angle_deg(estimate, self.reference or estimate) > MOVED_DEG:
            self.reference, self.source, self.lost = estimate, "walking", False

    def observe_still(self, incl_deg: float | None, impossible_deg: float | None) -> None:
        """Feed one second that is not moving with its inclination from the reference; ``impossible_deg`` is the
        angle the placement cannot hold still (None: any angle is possible). After IMPOSSIBLE_STILL_S seconds in a
        row beyond it, the reference is dropped until the next walking (or an explicit calibration)."""
        if impossible_deg is None or incl_deg is None or self.reference is None or incl_deg <= impossible_deg:
            if self._impossible_s:
                self._impossible_s = 0
            return
        self._impossible_s += 1
        if self._impossible_s >= IMPOSSIBLE_STILL_S:
            self.reference, self.source, self.lost = None, "none", True
            self.recalibrations += 1
            del self._walks[:]
            self._since_update, self._disagree, self._impossible_s = 0, (), 0

    def _relearn(self, recent: list[Vector]) -> bool:
        """WALK_SECONDS_NEEDED walking seconds in a row far from the reference: a new mounting if they agree with
        one another (then it is the reference, learned from them alone); False if they are a scatter."""
        estimate = robust_mean(recent)
        close = sum(1 for v in recent if not disagrees(v, estimate))
        if close < COHERENT_SHARE * len(recent):
            return False
        self.reference, self.source, self.lost = estimate, "walking", False
        self.recalibrations += 1
        self._walks = quantised(recent[-RESERVOIR_SECONDS:])
        self._since_update, self._disagree = 0, ()
        return True


# The explicit form of a calibration in the alert service's snapshot (alerts/state.py, formats 2, 3), field by
# field: reference (a unit vector or None), source, recalibrations, the reservoir as its quantised signed bytes (x, y,
# z, ...: up to 360), seconds since the last update, the current walk's walking and pause seconds, its pending and
# disagreeing seconds (unit vectors, float64: exact), impossible still seconds, lost. The calibration itself.
CalibrationSnapshot = UprightCalibration

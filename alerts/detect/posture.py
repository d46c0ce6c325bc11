"""Posture of one second from edge features, sensor placement and the calibrated upright direction. Pure.

What each placement can know (sedentary-science.md s3):
- thigh: sitting (or lying: a horizontal thigh) versus upright, from the thigh's inclination - activPAL's idea;
- trunk: lying versus upright from the trunk's inclination; sitting versus standing only weakly (a sitter's
  trunk is usually reclined or slumped a little more than a stander's);
- wrist: movement only: still or moving, no posture ("unknown" when still);
- thigh + trunk: the thigh says sitting versus standing, the trunk says lying.
Movement wins: a second with steps or clear movement is "moving" whatever the angles say.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from alerts.detect.calibration import Vector, angle_deg
from alerts.detect.structs import restore_fields
from ingest.wire import FeatureFrameV1, Placement

Posture = Literal["sitting", "standing", "lying", "moving", "not_worn", "unknown"]

# Movement: walking at the thigh or trunk gives an ENMO well above 60 mg and a norm SD above ~100 mg; sitting
# or standing still stays within a few tens of mg. Steps alone are not enough (a fidget can trip the counter).
MOVING_ENMO_MG = 60.0
MOVING_SD_MG = 120.0
# Thigh: horizontal (sitting, lying) versus vertical (standing); 45 deg is the midpoint activPAL-style devices use.
THIGH_SITTING_INCL_DEG = 45.0
# Trunk: near horizontal is lying.
TRUNK_LYING_INCL_DEG = 60.0
# Trunk: more recline/slump than this (relative to the upright learned while walking) reads as sitting. A weak
# cue: sitting and standing overlap at the trunk; see docs/evaluation.md for what it achieves.
TRUNK_SITTING_INCL_DEG = 10.0


def is_moving(frame: FeatureFrameV1) -> bool:
    if frame.sd_mg is not None:
        return frame.sd_mg >= MOVING_SD_MG or (frame.steps >= 2 and frame.enmo_mg >= MOVING_ENMO_MG)
    return frame.steps > 0 or frame.enmo_mg >= MOVING_ENMO_MG


def inclination_deg(frame: FeatureFrameV1, reference: Vector | None) -> float | None:
    """Angle of the body segment from upright: from the gravity vector and the calibrated reference when both
    exist, else the angle the sender computed, else None."""
    gravity = frame.gravity
    if gravity is not None and reference is not None:
        return angle_deg(gravity, reference)
    return frame.incl_deg


def classify(frame: FeatureFrameV1, placement: Placement, reference: Vector | None = None) -> Posture:
    if frame.n == 0:
        return "unknown"
    if is_moving(frame):
        return "moving"
    if placement == "wrist":
        return "unknown"
    incl = inclination_deg(frame, reference)
    if incl is None:
        return "unknown"
    if placement == "thigh":
        return "sitting" if incl >= THIGH_SITTING_INCL_DEG else "standing"
    if incl >= TRUNK_LYING_INCL_DEG:
        return "lying"
    return "sitting" if incl >= TRUNK_SITTING_INCL_DEG else "standing"


def fuse(thigh: Posture, trunk: Posture) -> Posture:
    """Thigh + trunk: lying from the trunk, sitting/standing from the thigh, moving from either."""
    if "moving" in (thigh, trunk):
        return "moving"
    if trunk == "lying":
        return "lying"
    if thigh in ("sitting", "standing"):
        return thigh
    return trunk


# Not worn: a sensor on a desk or on its charger is perfectly still - every second's norm SD within sensor noise and
# its gravity direction fixed - for a long time. A still person is hard to tell from it second by second (a thigh
# sensor on a sitter still for a minute reads about 1 mg, as on a desk: DSADS thigh, median 1.3 mg), so it takes
# NOT_WORN_S of unbroken stillness. Prompts wait while the sensor has shown no life for PROMPT_HOLD_S: a sensor
# put on a desk is never prompted, and a very still sitter is prompted at their next small movement.
STILL_SD_MG = 3.0
# A sensor on a desk holds its gravity direction to a few hundredths of a degree (noise averaged over a second);
# the stillest lab sitters of DSADS drift by 0.12 deg (5th percentile) to 0.9 deg (median) within 2 minutes.
STILL_DEG = 0.2
NOT_WORN_S = 20 * 60
PROMPT_HOLD_S = 60


# The explicit form of a stillness tracker (alerts/state.py): the still run's gravity anchor (g, float64) and start:
# the tracker itself (``StillnessSnapshot``, below).


class StillnessTracker(msgspec.Struct, array_like=True):
    """Streaming: how long the sensor has been perfectly still (constant memory). Its explicit form
    (``StillnessSnapshot``) is itself (alerts.detect.structs)."""

    _anchor: Vector | None = None
    start_ms: int | None = None

    def __setstate__(self, state: tuple[dict[str, Any] | None, dict[str, Any]]) -> None:
        """Unpickle a tracker of a format-1 snapshot (a class with __slots__ then)."""
        restore_fields(self, state)

    def push(self, frame: FeatureFrameV1) -> int:
        """Feed one second; return how long (ms) the current still run has lasted."""
        gravity = frame.gravity
        still = gravity is not None and frame.sd_mg is not None and frame.sd_mg <= STILL_SD_MG
        if not still or gravity is None:
            if self._anchor is not None or self.start_ms is not None:  # stores only what changes (calibration.py)
                self._anchor, self.start_ms = None, None
            return 0
        if self._anchor is None or angle_deg(gravity, self._anchor) > STILL_DEG:
            self._anchor, self.start_ms = gravity, frame.t_ms
        return frame.t_ms - (self.start_ms if self.start_ms is not None else frame.t_ms)


StillnessSnapshot = StillnessTracker

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

from typing import Literal

from alerts.calibration import Vector, angle_deg
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

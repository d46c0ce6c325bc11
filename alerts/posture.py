"""Posture of one second from edge features and sensor placement. Pure.

First version (issue 2): fixed inclination thresholds per placement. Issue 4 replaces this with calibrated,
validated classification (learned upright reference, not-worn detection, thigh + trunk fusion).
"""

from __future__ import annotations

from typing import Literal

from ingest.wire import FeatureFrameV1, Placement

Posture = Literal["sitting", "standing", "lying", "moving", "not_worn", "unknown"]

# Above this much movement (ENMO) a second counts as moving even without counted steps. Light walking
# is typically > 100 mg at the hip/thigh; still sitting or standing is a few mg.
MOVING_ENMO_MG = 60.0
# Thigh: activPAL's idea - a horizontal thigh is sitting (or lying), a vertical one is upright.
THIGH_SITTING_INCL_DEG = 45.0
# Trunk: horizontal is lying. Between upright and lying a still trunk is most often a reclined or slumped
# sitter; sitting vs standing from the trunk alone is weak (sedentary-science.md s3), see issue 4.
TRUNK_LYING_INCL_DEG = 60.0
TRUNK_SITTING_INCL_DEG = 10.0


def classify(frame: FeatureFrameV1, placement: Placement) -> Posture:
    if frame.n == 0:
        return "unknown"
    if frame.steps > 0 or frame.enmo_mg >= MOVING_ENMO_MG:
        return "moving"
    if placement == "thigh":
        return "sitting" if frame.incl_deg >= THIGH_SITTING_INCL_DEG else "standing"
    if placement == "trunk":
        if frame.incl_deg >= TRUNK_LYING_INCL_DEG:
            return "lying"
        return "sitting" if frame.incl_deg >= TRUNK_SITTING_INCL_DEG else "standing"
    # Wrist: movement only, no posture (sedentary-science.md s3).
    return "unknown"

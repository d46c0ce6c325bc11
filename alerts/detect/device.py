"""One sensor, one second: a feature frame -> the sensor's posture. Pure.

The sensor's upright is learned from walking (``calibration``) or taken from an explicit "stand still for 5 s"
request; a sensor perfectly still for ``NOT_WORN_S`` is not worn (``posture``). While the data says the sensor was
put back another way round and its new upright is not learned yet, its posture is ``unknown``. Time comes from the
frames.
"""

from __future__ import annotations

from typing import Any

import msgspec

from alerts.detect.calibration import CalibrationSnapshot, UprightCalibration, Vector, angle_deg
from alerts.detect.posture import (
    NOT_WORN_S,
    Posture,
    StillnessSnapshot,
    StillnessTracker,
    classify,
    inclination_deg,
    is_moving,
)
from alerts.detect.structs import restore_fields
from alerts.detect.summary import LeanNeutral
from ingest.wire import FeatureFrameV1, Placement

# An explicit calibration takes the first 5 quiet seconds (SD <= 25 mg) from the time it was asked for.
EXPLICIT_STILL_SECONDS = 5
EXPLICIT_MAX_SD_MG = 25.0
# The angle from upright a placement cannot hold still for a minute (calibration.IMPOSSIBLE_STILL_S): a trunk
# beyond 135 deg is head down. A thigh can point up (legs up a wall) and a wrist anywhere: no such angle.
IMPOSSIBLE_STILL_DEG: dict[Placement, float] = {"trunk": 135.0}
# The explicit form of a sensor in a format-2 snapshot (alerts/state.py, read only): placement, calibration,
# stillness, still ms, the lean neutral (deg, float64) and its seconds, the newest frame's t_ms, a held frame (its
# JSON, as on the wire), the latest posture, the explicit calibration's start, the latest calibration taken and the
# quiet seconds collected (g). Format 3 writes the sensor itself (its fields in order; the held frame as its JSON).
DeviceSnapshot = tuple[
    Placement,
    CalibrationSnapshot,
    StillnessSnapshot,
    int,
    float,
    int,
    int | None,
    bytes | None,
    Posture,
    int | None,
    int | None,
    list[Vector],
]


class DeviceState(msgspec.Struct, array_like=True):
    """What is known about one sensor: its mounting, stillness and latest posture. A ``msgspec.Struct``: the alert
    service's snapshot writes it as the array of its fields in order (a field added, removed or moved changes the
    format)."""

    placement: Placement
    calibration: UprightCalibration = msgspec.field(default_factory=UprightCalibration)
    stillness: StillnessTracker = msgspec.field(default_factory=StillnessTracker)
    still_ms: int = 0
    lean_neutral: LeanNeutral = msgspec.field(default_factory=LeanNeutral)
    last_ms: int | None = None  # the newest frame taken (ingest/order.py)
    held: FeatureFrameV1 | None = None  # a frame that jumped ahead, waiting for the next to confirm it
    last_posture: Posture = "unknown"
    explicit_from_ms: int | None = None  # a "stand still" calibration was asked for from this time
    calibrate_at_ms: int | None = None  # the latest calibration taken (a command at or before it is a repeat)
    explicit_seconds: list[Vector] = msgspec.field(default_factory=list)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a sensor of a format-1 snapshot (a dataclass then)."""
        restore_fields(self, state)

    @classmethod
    def from_snapshot(cls, s: DeviceSnapshot) -> DeviceState:
        """The sensor of a format-2 snapshot."""
        return cls(
            s[0],
            s[1],
            s[2],
            s[3],
            LeanNeutral(s[4], s[5]),
            s[6],
            None if s[7] is None else FeatureFrameV1.model_validate_json(s[7]),
            s[8],
            s[9],
            s[10],
            s[11],
        )

    def calibrate_from(self, from_ms: int) -> None:
        """Take the upright from the first quiet seconds at or after ``from_ms`` (event time)."""
        self.explicit_from_ms, self.explicit_seconds = from_ms, []

    def second(self, frame: FeatureFrameV1) -> Posture:
        """The sensor's posture this second; updates its calibration and stillness."""
        gravity = frame.gravity
        if gravity is not None:
            if self.explicit_from_ms is not None and frame.t_ms >= self.explicit_from_ms:
                if (frame.sd_mg or 0.0) <= EXPLICIT_MAX_SD_MG:
                    self.explicit_seconds.append(gravity)
                if len(self.explicit_seconds) >= EXPLICIT_STILL_SECONDS:
                    self.calibration.set_explicit(self.explicit_seconds)
                    self.explicit_from_ms, self.explicit_seconds = None, []
            self.calibration.observe(gravity, frame.sd_mg or 0.0, frame.steps)
            reference = self.calibration.reference
            if reference is not None and not is_moving(frame):
                impossible = IMPOSSIBLE_STILL_DEG.get(self.placement)
                self.calibration.observe_still(angle_deg(gravity, reference), impossible)
        posture = classify(frame, self.placement, self.calibration.reference)
        if posture not in ("moving", "unknown") and not self.calibration.mounting_known:
            posture = "unknown"  # put back another way: neither the old upright nor the sender's angle holds
        self.still_ms = self.stillness.push(frame)
        if self.still_ms >= NOT_WORN_S * 1000:
            posture = "not_worn"
        self.last_posture = posture
        return posture

    def trunk_angles(self, frame: FeatureFrameV1, posture: Posture) -> tuple[float | None, float | None]:
        """A trunk sensor's lateral lean relative to the wearer's neutral (followed while walking) and its
        inclination from the calibrated upright, in degrees (ISO 11226); None where the frame cannot say, or while
        the mounting is not known (the sensor was put back another way)."""
        if not self.calibration.mounting_known:
            return None, None
        lean = None
        if frame.lean_deg is not None:
            if posture == "moving":
                self.lean_neutral.observe(frame.lean_deg)
            lean = self.lean_neutral.relative(frame.lean_deg)
        return lean, inclination_deg(frame, self.calibration.reference)

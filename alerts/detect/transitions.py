"""Sitting or upright on the trunk, held from postural transitions. Pure, streaming, constant memory.

A trunk's orientation barely tells sitting from standing (docs/evaluation.md: the chest's mean direction differs by
about a degree between seated computer work and standing); how the wearer got there does. The edge reports each
sit-to-stand and stand-to-sit it detects in the raw samples (``ingest.transitions``; the frame's ``trans``). This
state machine holds what the latest evidence said and combines it with orientation, movement and the calibration:

- a ``stand_to_sit`` transition: **sitting** from its peak; a ``sit_to_stand``: **upright**. It is taken
  ``SETTLE_MS`` after its peak, when the trunk has settled, and its direction is checked against the trunk's
  inclination from the walking upright before and after it (a stand-to-sit ends more reclined than it began): a
  change of ``CONTRADICTION_DEG`` the other way turns it round, a change under ``MIN_AGREE_DEG`` either way (no
  posture change the orientation can see) leaves the held state as it was; without a calibration it is taken as is;
- walking (a ``moving`` second) ends a held sitting state: **upright** (nobody walks seated);
- lying (from the inclination) or a sensor not worn or unknown clears the state: what comes next is decided afresh;
- while **upright** is held, a still second reads ``standing`` unless the trunk is clearly reclined from the
  walking upright (``RECLINED_SITTING_DEG``: a missed stand-to-sit, or sitting back in a chair); while **sitting**
  is held, a still second reads ``sitting`` whatever the small angle (an upright sitter);
- with no state held (no transition seen since the sensor was put on, after lying), the orientation rule of
  ``alerts.detect.posture`` decides, as without transitions; it says ``unknown`` without a calibration.

So a sensor whose edge reports no transitions (an older collector, a recording without them) reads exactly as
before. Movement always wins, as in ``posture.classify``. Kinetic's rule, after the transition-based posture
classification of Najafi et al. (IEEE TBME 50(6), 2003) and Atrsaei et al. (J NeuroEng Rehabil 17:70, 2020).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from alerts.detect.posture import Posture
from alerts.detect.structs import restore_fields
from ingest.transitions import TransitionKind
from ingest.wire import FeatureFrameV1

Held = Literal["sitting", "upright"]

# While upright is held, a still trunk reclined this far from the walking upright reads as sitting all the same: a
# slouch or a lean back in a chair is well beyond the few degrees a stander sways (posture.TRUNK_SITTING_INCL_DEG is
# the 10 deg line without a held state).
RECLINED_SITTING_DEG = 20.0
# A transition is taken SETTLE_MS after its peak, once the trunk has settled: its direction is checked against the
# inclination from the walking upright before (BEFORE_MS before the peak) and after it (from AFTER_MS on); a change
# of CONTRADICTION_DEG the other way turns it round (the edge's vertical velocity can mistake one for the other), one
# under MIN_AGREE_DEG is no posture change (a stander shifting weight). Kinetic's values, from the development
# subjects of HAPT, DSADS and the chest set (docs/evaluation.md): not validated on held-out subjects.
SETTLE_MS = 3_000
BEFORE_MS = (4_000, 1_000)
AFTER_MS = 2_000
CONTRADICTION_DEG = 3.0
MIN_AGREE_DEG = 1.0
HISTORY_S = 12


# The explicit form of a held state in a format-2 snapshot (alerts/state.py, read only): held, since (ms),
# transitions, flipped, the recent (t_ms, inclination deg) seconds, a pending transition (peak ms, kind). Format 3
# writes the state itself (its fields in order).
SitStandSnapshot = tuple[
    Held | None, int | None, int, int, tuple[tuple[int, float], ...], tuple[int, TransitionKind] | None
]


class SitStandState(msgspec.Struct, array_like=True):
    """One trunk sensor's held state; ``second`` maps the orientation posture of a second to the held one. A
    ``msgspec.Struct``: the alert service's snapshot writes it as the array of its fields in order."""

    held: Held | None = None
    since_ms: int | None = None  # the evidence the held state rests on (a transition's peak, a walking second)
    transitions: int = 0  # transitions seen (a sensor that never reports one is read by orientation alone)
    flipped: int = 0  # transitions whose direction the inclination contradicted
    _recent: list[tuple[int, float]] = msgspec.field(default_factory=list)  # the last HISTORY_S seconds
    _pending: tuple[int, TransitionKind] | None = None  # a transition waiting for the inclination after it

    def __setstate__(self, state: list[Any] | dict[str, Any]) -> None:
        """Unpickle a held state of a format-1 snapshot (a dataclass with slots then, its recent seconds a deque)."""
        restore_fields(self, state)
        self._recent = list(self._recent)

    @classmethod
    def from_snapshot(cls, s: SitStandSnapshot) -> SitStandState:
        """The held state of a format-2 snapshot."""
        return cls(s[0], s[1], s[2], s[3], list(s[4]), s[5])

    def second(self, frame: FeatureFrameV1, posture: Posture, incl_deg: float | None) -> Posture:
        """The posture of one trunk second: ``posture`` from ``alerts.detect.posture.classify`` and ``incl_deg``
        the trunk's inclination from the calibrated upright (None when unknown)."""
        if incl_deg is not None and posture != "moving":
            recent = self._recent
            recent.append((frame.t_ms, incl_deg))
            if len(recent) > HISTORY_S:
                del recent[0]
        if frame.trans is not None:
            self.transitions += 1
            self._pending = (frame.t_ms - (frame.trans_lag_ms or 0), frame.trans)
        if self._pending is not None and frame.t_ms >= self._pending[0] + SETTLE_MS:
            peak_ms, kind = self._pending
            self._pending = None
            checked = self._checked(peak_ms, kind)
            if checked is not None:
                self.held, self.since_ms = ("sitting" if checked == "stand_to_sit" else "upright"), peak_ms
        if posture == "moving":
            if self.held == "sitting":
                self.held, self.since_ms = "upright", frame.t_ms
            return posture
        if posture not in ("sitting", "standing"):  # lying, not worn, unknown
            self.held = self.since_ms = None
            return posture
        if self.held == "sitting":
            return "sitting"
        if self.held == "upright":
            if incl_deg is not None and incl_deg >= RECLINED_SITTING_DEG:
                self.held, self.since_ms = "sitting", frame.t_ms
                return "sitting"
            return "standing"
        return posture

    def _checked(self, peak_ms: int, kind: TransitionKind) -> TransitionKind | None:
        """The transition's kind, turned round when the trunk's inclination before and after it clearly says the
        other way (a stand-to-sit ends more reclined from the walking upright than it began, a sit-to-stand less)."""
        before = [i for t, i in self._recent if peak_ms - BEFORE_MS[0] <= t < peak_ms - BEFORE_MS[1]]
        after = [i for t, i in self._recent if t >= peak_ms + AFTER_MS]
        if not before or not after:
            return kind
        change = sum(after) / len(after) - sum(before) / len(before)
        if kind == "stand_to_sit" and change <= -CONTRADICTION_DEG:
            self.flipped += 1
            return "sit_to_stand"
        if kind == "sit_to_stand" and change >= CONTRADICTION_DEG:
            self.flipped += 1
            return "stand_to_sit"
        if abs(change) < MIN_AGREE_DEG:
            return None
        return kind


def postures(frames: list[FeatureFrameV1], orientation: list[Posture], incl: list[float | None]) -> list[Posture]:
    """A recording's seconds through one ``SitStandState`` (the evaluation's batch form of the live path)."""
    state = SitStandState()
    return [state.second(f, p, i) for f, p, i in zip(frames, orientation, incl, strict=True)]

"""What may be learned from labelled recordings, and from which: the seam between fitting and scoring. Pure.

`kinetic evaluate` scores a detector two ways (``run.py``):
- *development*: ``fit`` on every subject of the folder, ``predict`` on the same subjects (what tuning on the
  development subjects gives);
- *leave-one-subject-out* (LOSO): for each subject, ``fit`` on the other subjects only, ``predict`` on the one held
  out; the held-out predictions are pooled and scored as one.

``fit`` is the only place where labels may shape a parameter. ``predict`` sees the parameters it is given and the
recording's own unlabelled data: its per-second frames and the upright reference the calibration learned from the
recording's own walking (found by the movement detector, never by the labels; the live engine learns it the same
way). So a threshold learned from data is fitted inside each fold, never on the subject being scored.

Today nothing is learned: the posture thresholds are physical (``alerts/detect/posture.py``), ``PhysicalThresholds``
returns the same empty ``DetectionParams`` whatever it is given, and LOSO equals development. A detector that
learns (for example transition thresholds for the trunk, ``alerts/detect/transitions.py``) implements
``Detector``: its ``fit`` returns the learned values (hashable, so equal parameters are scored once) and its
``predict`` uses them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from alerts.detect.calibration import Vector
from alerts.detect.posture import Posture, classify, fuse, inclination_deg
from alerts.detect.transitions import postures as held_postures
from ingest.recordings.datasets import Recording
from ingest.wire import FeatureFrameV1, Placement

Config = str  # a placement ("thigh", "trunk", "wrist") or "thigh+trunk"


@dataclass(frozen=True)
class LabelledRecording:
    """One recording, ready to score: per-second frames of each placement (one list per placement, the same seconds),
    the truth per second (an evaluated class, or ``ignore``) and the raw samples they came from. ``truth`` is for
    ``fit`` and for scoring only; ``predict`` must not read it."""

    subject: str
    name: str
    frames: Mapping[Placement, Sequence[FeatureFrameV1]]
    references: Mapping[Placement, Vector | None]  # upright learned from the session's own walking (no labels)
    truth: Sequence[str]
    samples: Recording

    @property
    def t_ms(self) -> list[int]:
        return [f.t_ms for f in next(iter(self.frames.values()))]


P = TypeVar("P", bound=Hashable)


class Detector(Protocol[P]):
    """Learns parameters from training recordings and classifies each second of a recording with them."""

    def fit(self, training: Sequence[LabelledRecording]) -> P: ...

    def predict(self, params: P, recording: LabelledRecording, config: Config) -> list[Posture]: ...


@dataclass(frozen=True, slots=True)
class DetectionParams:
    """Parameters learned from labelled data. None yet: every threshold of the detection path is physical (thigh
    sitting at 45 deg, trunk lying at 60 deg, trunk sitting at 10 deg of recline from the walking upright,
    movement at a norm SD of 120 mg; ``alerts/detect/posture.py``). A learned value becomes a field here."""


@dataclass(frozen=True)
class PhysicalThresholds:
    """Kinetic's detection path as it runs live: per-second posture from the physical thresholds, thigh and trunk
    fused for ``thigh+trunk``; with ``transitions``, a trunk's sitting/upright is held from its postural transitions
    (``alerts.detect.transitions``)."""

    transitions: bool = False

    def fit(self, training: Sequence[LabelledRecording]) -> DetectionParams:
        return DetectionParams()  # nothing is learned from the training subjects' labels

    def predict(self, params: DetectionParams, recording: LabelledRecording, config: Config) -> list[Posture]:
        def postures(placement: Placement) -> list[Posture]:
            reference = recording.references.get(placement)
            frames = recording.frames[placement]
            orientation = [classify(frame, placement, reference) for frame in frames]
            if placement != "trunk" or not self.transitions:
                return orientation
            incl = [inclination_deg(frame, reference) for frame in frames]
            return held_postures(list(frames), orientation, incl)

        if config == "thigh+trunk":
            return [fuse(a, b) for a, b in zip(postures("thigh"), postures("trunk"), strict=True)]
        placement: Placement = "thigh" if config == "thigh" else "trunk" if config == "trunk" else "wrist"
        return postures(placement)

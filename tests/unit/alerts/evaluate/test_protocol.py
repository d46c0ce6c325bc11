"""The evaluation protocol (issue 14, item 2): leave-one-subject-out fits on the other subjects only, development on
all of them; a detector that learns from its training subjects scores well in development and is found out in
leave-one-subject-out; Kinetic's physical thresholds fit nothing, so both protocols give the same figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from alerts.detect.posture import Posture
from alerts.evaluate.protocol import DetectionParams, LabelledRecording, PhysicalThresholds
from alerts.evaluate.run import evaluate
from tests.unit.alerts.evaluate.test_metrics import make_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("protocol") / "synthetic"
    make_dataset(folder)  # two subjects, "0" and "1", one recording each
    return folder


class Memorising:
    """Learns its training subjects' labels by heart: perfect on them, nothing on anyone else."""

    def __init__(self) -> None:
        self.fits: list[frozenset[str]] = []

    def fit(self, training: Sequence[LabelledRecording]) -> frozenset[str]:
        subjects = frozenset(r.subject for r in training)
        self.fits.append(subjects)
        return subjects

    def predict(self, params: frozenset[str], recording: LabelledRecording, config: str) -> list[Posture]:
        known: list[Posture] = ["sitting", "standing", "lying", "moving"]
        return [t if recording.subject in params and t in known else "unknown" for t in recording.truth]  # type: ignore[misc]


def test_leave_one_subject_out_never_fits_on_the_subject_it_scores(dataset: Path) -> None:
    detector = Memorising()
    (result,) = evaluate(dataset, detector=detector)
    assert detector.fits == [frozenset({"0", "1"}), frozenset({"1"}), frozenset({"0"})]  # development, then per fold
    assert result["balanced_accuracy"] == 1.0  # tuned on the subjects it is scored on
    assert result["loso"]["balanced_accuracy"] == 0.0  # each subject held out of its own fit
    assert result["loso"]["per_subject_balanced_accuracy"] == {"0": 0.0, "1": 0.0}


def test_physical_thresholds_fit_nothing_so_both_protocols_agree(dataset: Path) -> None:
    assert PhysicalThresholds().fit([]) == DetectionParams()
    (result,) = evaluate(dataset)
    loso = result["loso"]
    for key in ("seconds", "balanced_accuracy", "classes", "confusion", "sitting_bouts", "calibration"):
        assert loso[key] == result[key], key
    per_subject = loso["per_subject_balanced_accuracy"]
    assert set(per_subject) == {"0", "1"} and all(0.9 <= v <= 1.0 for v in per_subject.values())
    assert loso["per_subject_min"] == min(per_subject.values())

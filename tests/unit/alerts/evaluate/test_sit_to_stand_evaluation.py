"""``python -m alerts.evaluate.sit_to_stand`` on a small modelled dataset laid out like ../shared/data (no real data
needed): sessions cut from the labelled sit/stand runs, counts, matching, timing and the leave-one-subject-out
offset, and the refusals."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest

from alerts.evaluate.sit_to_stand import evaluate_sit_to_stand, leave_one_subject_out, main
from tests.support import exercise_models as em
from tests.support.synthetic import rotation

LABELS = "code,name\n0,UNLABELED\n1,WALKING\n4,SITTING\n5,STANDING\n7,STAND_TO_SIT\n8,SIT_TO_STAND\n"


def make_dataset(folder: Path, subjects: int = 3) -> None:
    (folder / "recordings").mkdir(parents=True)
    (folder / "README.md").write_text("modelled\n")
    (folder / "labels.csv").write_text(LABELS)
    (folder / "kinetic-dataset.yaml").write_text(
        "dataset: modelled\nrate_hz: 50\ntime_column: t_s\nlabel_column: label\nunits: g\n"
        "placements:\n  trunk: [ax, ay, az]\ncalibration: recording\nsubject_pattern: user(?P<subject>\\d+)\n"
        "classes: {1: moving, 4: sitting, 5: standing}\n"
    )
    for subject in range(1, subjects + 1):
        rng = np.random.default_rng(subject)
        # standing, a lowering, sitting, a rise, standing (HAPT's protocol), then walking (no session)
        body, truth = em.sit_to_stand_set(1, 3.0, 2.0, 8.0, rng, stand_s=12.0, lead_s=8.0, rate_hz=50, start="standing")
        _, acc = em.sensor(body, rotation(40 * subject, 20, 10), rng, rate_hz=50, jitter=False)
        # the model's movements: a lowering, a rise, a lowering; the recording ends standing, 8 s after the rise
        (lower, lower_s, lower_d), (rise, rise_s, rise_d) = truth[0], truth[1]
        assert (lower, rise) == ("lowering", "rise")
        labels = np.full(len(acc), 5)
        labels[round(lower_s * 50) : round((lower_s + lower_d) * 50)] = 7
        labels[round((lower_s + lower_d) * 50) : round(rise_s * 50)] = 4
        labels[round(rise_s * 50) : round((rise_s + rise_d) * 50)] = 8
        end = round((rise_s + rise_d + 8.0) * 50)
        acc, labels = acc[:end], labels[:end]
        with gzip.open(folder / "recordings" / f"user{subject:02d}.csv.gz", "wt", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sample", "t_s", "ax", "ay", "az", "label"])
            for i, (row, code) in enumerate(zip(acc, labels, strict=True)):
                writer.writerow([i, f"{i / 50:.3f}", *(f"{v:.5f}" for v in row), int(code)])


def test_modelled_sessions_are_counted_and_timed(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    result = evaluate_sit_to_stand(tmp_path)
    assert result["subjects"] == 3 and result["sessions"] == 3
    assert result["sessions_with_the_labelled_count"] == 3
    for kind in ("rise", "lowering"):
        figures = result["kinds"][kind]
        assert figures["reference"] == 3 and figures["found"] == 3 and figures["ppv"] == 1.0, figures
        assert figures["duration_error"]["median_abs_s"] <= 0.5, figures


def test_the_offset_is_fitted_without_the_held_out_subject() -> None:
    errors = {"a": [("rise", 1.0)], "b": [("rise", 3.0)], "c": [("rise", 2.0), ("lowering", 9.0)]}
    # a: 1 - median(3, 2) = -1.5; b: 3 - median(1, 2) = 1.5; c: 2 - median(1, 3) = 0
    assert leave_one_subject_out(errors, "rise") == [-1.5, 1.5, 0.0]


def test_a_folder_without_transition_labels_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_dataset(tmp_path, subjects=1)
    (tmp_path / "labels.csv").write_text("code,name\n4,SITTING\n5,STANDING\n")
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "STAND_TO_SIT" in err

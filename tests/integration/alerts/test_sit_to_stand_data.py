"""Sit-to-stand repetitions and their timing (alerts.detect.exercise.sit_to_stand) on UCI HAPT's labelled
sit/stand transitions (waist), cut into sit/stand sessions (``python -m alerts.evaluate.sit_to_stand``). Floors below
the measured figures, which docs/exercises.md shows (the test checks that table is today's output)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.evaluate.sit_to_stand import evaluate_sit_to_stand, main
from tests.support.data import dataset

pytestmark = pytest.mark.data
ROOT = Path(__file__).resolve().parents[3]

# sensitivity, PPV, median absolute duration error (s) with the leave-one-subject-out offset
FLOORS = {"rise": (0.80, 0.60, 0.5), "lowering": (0.70, 0.60, 0.5)}


def test_hapt_repetitions_are_counted_and_timed() -> None:
    result = evaluate_sit_to_stand(dataset("uci-hapt-waist"))
    assert result["subjects"] == 20 and result["sessions"] >= 40
    assert result["sessions_with_the_labelled_count"] >= 0.65 * result["sessions"], result
    for kind, (sensitivity, ppv, error_s) in FLOORS.items():
        figures = result["kinds"][kind]
        assert figures["reference"] >= 40, figures
        assert figures["sensitivity"] >= sensitivity, (kind, figures)
        assert figures["ppv"] >= ppv, (kind, figures)
        assert figures["duration_error_loso_offset"]["median_abs_s"] <= error_s, (kind, figures)


def test_the_documented_table_is_reproduced() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "alerts.evaluate.sit_to_stand", str(dataset("uci-hapt-waist"))],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    doc = (ROOT / "docs" / "exercises.md").read_text()
    table = re.search(r"<!-- sit-to-stand:begin -->\n(.*?)\n<!-- sit-to-stand:end -->", doc, re.S)
    assert table is not None and table.group(1).strip() == out.stdout.strip()


def test_a_dataset_without_transition_labels_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(dataset("dsads-torso-legs"))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "STAND_TO_SIT" in err

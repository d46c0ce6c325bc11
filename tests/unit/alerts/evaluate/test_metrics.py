"""`kinetic evaluate` on a small synthetic dataset laid out like ../shared/data (no real data needed)."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from alerts.detect.bouts import Bout
from alerts.evaluate.metrics import balanced_accuracy, class_scores, confusion, match_bouts
from tests.support.synthetic import rotation, segment

SCRIPT = [("walk", 60, 1), ("sit", 300, 4), ("stand", 90, 5), ("walk", 60, 1), ("lie", 120, 6), ("sit", 200, 4)]


def make_dataset(folder: Path) -> None:
    (folder / "recordings").mkdir(parents=True)
    (folder / "README.md").write_text("synthetic\n")
    (folder / "labels.csv").write_text("code,name\n1,walk\n4,sit\n5,stand\n6,lie\n")
    (folder / "kinetic-dataset.yaml").write_text(
        "dataset: synthetic\nrate_hz: 50\ntime_column: t_s\nlabel_column: label\nunits: m/s2\n"
        "placements:\n  trunk: [ax, ay, az]\ncalibration: recording\nsubject_pattern: r(?P<subject>\\d+)\n"
        "classes: {1: moving, 4: sitting, 5: standing, 6: lying}\n"
    )
    rng = np.random.default_rng(7)
    for number, mounting in enumerate([rotation(20, 60, 10), rotation(-70, 140, 45)]):
        with gzip.open(folder / "recordings" / f"r{number}.csv.gz", "wt", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sample", "t_s", "ax", "ay", "az", "label"])
            t0, sample = 0.0, 0
            for activity, seconds, code in SCRIPT:
                # a trunk sitter reclines about 20 deg: modelled by sitting at 20 deg instead of the thigh's 85
                t, acc = segment("stand" if activity == "sit" else activity, seconds, 50, mounting, rng, t0)
                if activity == "sit":
                    tilt = np.radians(20)
                    body = np.array([np.sin(tilt), 0.0, np.cos(tilt)])
                    acc = np.tile(body @ mounting, (len(t), 1)) + rng.normal(0, 0.01, (len(t), 3))
                for ts, row in zip(t, acc * 9.80665, strict=True):
                    writer.writerow([sample, f"{ts / 1000:.3f}", *(f"{v:.5f}" for v in row), code])
                    sample += 1
                t0 += seconds


def test_metrics() -> None:
    table = confusion(["sit", "sit", "stand", "stand"], ["sit", "stand", "stand", "unknown"], ["sit", "stand"])
    assert table == {"sit": {"sit": 1, "stand": 1, "unknown": 0}, "stand": {"sit": 0, "stand": 1, "unknown": 1}}
    scores = class_scores(table)
    assert scores["sit"].precision == 1.0 and scores["sit"].recall == 0.5 and scores["stand"].precision == 0.5
    assert balanced_accuracy(scores) == 0.5
    result = match_bouts([Bout("sitting", 0, 600_000)], [Bout("sitting", 10_000, 590_000)], "sitting", 60)
    assert (result.found, result.median_start_error_s, result.median_end_error_s) == (1, 10.0, 10.0)
    missed = match_bouts([Bout("sitting", 0, 600_000)], [Bout("sitting", 0, 200_000)], "sitting", 60)
    assert missed.found == 0


def test_evaluate_a_dataset_folder_from_the_cli(tmp_path: Path) -> None:
    folder = tmp_path / "synthetic"
    make_dataset(folder)
    out = subprocess.run(
        [sys.executable, "-m", "kinetic", "evaluate", str(folder), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)["synthetic"]
    assert result["config"] == "trunk" and result["calibration"] == {"trunk:walking": 2}
    assert result["balanced_accuracy"] >= 0.97, result
    assert result["sitting_bouts"]["reference"] == 4 and result["sitting_bouts"]["found"] == 4
    loso = result["loso"]  # nothing is fitted: each held-out subject scores as in development
    assert loso["subjects"] == result["subjects"] == 2
    assert set(loso["per_subject_balanced_accuracy"]) == {"0", "1"}
    assert (loso["balanced_accuracy"], loso["confusion"]) == (result["balanced_accuracy"], result["confusion"])
    assert loso["per_subject_min"] == min(loso["per_subject_balanced_accuracy"].values())
    text = subprocess.run(
        [sys.executable, "-m", "kinetic", "evaluate", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "balanced accuracy" in text.stdout and "confusion" in text.stdout
    assert "leave-one-subject-out (2 subjects): balanced accuracy" in text.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "kinetic", "evaluate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "is not a dataset folder" in bad.stderr

"""`kinetic evaluate` on the real dataset folders with only README.md, labels.csv and recordings/ (issue 14, item 7):
the same recordings, subjects, rates and figures as with their index.csv. Before: the pocket set crashed with
KeyError: 'est_rate_hz', and DSADS read each recording as its own subject (sitting recall 0.000)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alerts.evaluate.run import evaluate
from ingest.recordings.datasets import load_description, read_recordings
from tests.support.data import dataset

pytestmark = pytest.mark.data
INDEXED = ["dsads-torso-legs", "pocket-phone-difronzo"]


def without_index(name: str, tmp_path: Path) -> Path:
    source = dataset(name)
    if not (source / "index.csv").is_file():
        pytest.fail(f"the evaluation data is not beside the repository ({source}/index.csv is missing)")
    folder = tmp_path / name  # the folder's name chooses the built-in description
    folder.mkdir()
    for part in ("README.md", "labels.csv"):
        shutil.copy(source / part, folder / part)
    (folder / "recordings").symlink_to(source / "recordings")
    return folder


@pytest.mark.parametrize("name", INDEXED)
def test_recordings_read_the_same_without_index(name: str, tmp_path: Path) -> None:
    bare = without_index(name, tmp_path)
    with_index = read_recordings(dataset(name), load_description(dataset(name)))
    without = read_recordings(bare, load_description(bare))
    assert [(r.name, r.subject, r.rate_hz) for r in without] == [(r.name, r.subject, r.rate_hz) for r in with_index]
    assert all(np.array_equal(a.t_ms, b.t_ms) for a, b in zip(without, with_index, strict=True))
    subjects = {r.subject for r in without}
    assert len(subjects) == 5  # both folders hold five development subjects (their READMEs)
    if name == "dsads-torso-legs":  # one subject per pP_ prefix, as index.csv's subject column says
        index = {
            row.split(",")[0].split("/")[1]: row.split(",")[1]
            for row in (dataset(name) / "index.csv").read_text().splitlines()[1:]
        }
        assert {r.name: r.subject for r in without} == index
    else:  # per recording: median labelled-window rows / 60 s, within 0.1 Hz of index.csv's rounded estimate
        lines = (dataset(name) / "index.csv").read_text().splitlines()
        column = lines[0].split(",").index("est_rate_hz")
        estimate = {line.split(",")[0].split("/")[1]: float(line.split(",")[column]) for line in lines[1:]}
        assert all(abs(r.rate_hz - estimate[r.name]) <= 0.1 for r in without), [(r.name, r.rate_hz) for r in without]


def test_dsads_without_index_scores_as_with_it(tmp_path: Path) -> None:
    bare = without_index("dsads-torso-legs", tmp_path)
    (result,) = evaluate(bare, "thigh")
    (indexed,) = evaluate(dataset("dsads-torso-legs"), "thigh")
    assert result["subjects"] == 5
    assert round(result["classes"]["sitting"]["recall"], 3) == 1.0  # was 0.000: each file its own subject, uncalibrated
    assert result == indexed


def test_the_pocket_set_without_index_is_evaluated_from_the_cli(tmp_path: Path) -> None:
    bare = without_index("pocket-phone-difronzo", tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "kinetic", "evaluate", str(bare), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr  # was KeyError: 'est_rate_hz'
    (result,) = json.loads(out.stdout)["pocket-phone-difronzo"]
    assert result == json.loads(json.dumps(evaluate(dataset("pocket-phone-difronzo"))[0]))

"""`kinetic evaluate` on Sensor Logger exports with labels (issue 15, item 2): a dataset folder whose recordings are
the app's zip or JSON exports, each labelled by ``<name>.labels.csv``, is scored on exactly the samples a live phone
would give - the same as the export's acceleration written out as an ordinary recording."""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from alerts.evaluate.run import evaluate
from ingest.errors import ConfigError
from ingest.phone.export import read_export_recording
from ingest.recordings.datasets import LOCAL_DESCRIPTION, label_classes, load_description, read_recordings
from tests.support.sensorlogger import FIXTURES

DESCRIPTION = """dataset: pocket-exports
time_column: time
units: m/s2
placements:
  thigh: [x, y, z]
"""
LABELS = "code,name,posture_group\n1,WALKING,walking\n4,SITTING,sitting\n5,STANDING,standing\n"
# the excerpt walks for its first 9 s (tests/fixtures/sensorlogger/README.md); the rest is labelled here only so that
# both routes are scored on the same spans
SPANS = "start_s,end_s,label\n0,9,1\n9,25,5\n25,42.5,4\n"


def dataset(tmp_path: Path, exports: list[str]) -> Path:
    folder = tmp_path / "pocket-exports"
    (folder / "recordings").mkdir(parents=True)
    (folder / "labels.csv").write_text(LABELS)
    (folder / LOCAL_DESCRIPTION).write_text(DESCRIPTION)
    for name in exports:
        shutil.copy(FIXTURES / name, folder / "recordings" / name)
        stem = name.rsplit(".", 1)[0]
        (folder / "recordings" / f"{stem}.labels.csv").write_text(SPANS)
    return folder


def csv_twin(folder: Path) -> Path:
    """The zip export's total acceleration as an ordinary recording (seconds, m/s^2), labelled by the same spans."""
    with zipfile.ZipFile(FIXTURES / "pocket-android.zip") as archive:
        rows = list(csv.DictReader(io.TextIOWrapper(archive.open("TotalAcceleration.csv"), encoding="utf-8")))
    t_ms = [int(r["time"]) // 1_000_000 for r in rows]
    path = folder / "recordings" / "twin.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("time,x,y,z,label\n")
        for t, r in zip(t_ms, rows, strict=True):
            elapsed = (t - t_ms[0]) / 1000
            label = 1 if elapsed < 9 else 5 if elapsed < 25 else 4
            handle.write(f"{elapsed:.3f},{r['x']},{r['y']},{r['z']},{label}\n")
    return path


def test_an_export_gives_the_samples_and_labels_of_the_same_data_as_a_recording(tmp_path: Path) -> None:
    folder = dataset(tmp_path, ["pocket-android.zip"])
    csv_twin(folder)
    description = load_description(folder)
    twin, export = sorted(read_recordings(folder, description, read_export_recording), key=lambda r: r.name)[::-1]
    assert (export.name, twin.name) == ("pocket-android.zip", "twin.csv.gz")
    assert len(export.t_ms) == len(twin.t_ms) == 2000
    assert np.array_equal(export.t_ms - export.t_ms[0], twin.t_ms - twin.t_ms[0])
    assert np.allclose(export.acc_g["thigh"], twin.acc_g["thigh"], atol=1e-9)
    assert export.truth == twin.truth and export.rate_hz == pytest.approx(twin.rate_hz, rel=1e-3)


def test_kinetic_evaluate_scores_zip_and_json_exports(tmp_path: Path) -> None:
    folder = dataset(tmp_path, ["pocket-android.zip", "pocket-ios.json"])
    results = evaluate(folder)
    (thigh,) = [r for r in results if r["config"] == "thigh"]
    assert thigh["subjects"] == 2 and thigh["seconds"] >= 45  # each export its own subject; 42 s + 12 s
    # the iPhone's JSON export (axes negated, no total acceleration) reads as the same motion: its first 600
    # samples are the zip's first 600
    description = load_description(folder)
    classes = label_classes(folder, description)
    android = read_export_recording(folder / "recordings" / "pocket-android.zip", description, classes, {})
    ios = read_export_recording(folder / "recordings" / "pocket-ios.json", description, classes, {})
    assert len(ios.t_ms) == 600
    assert np.allclose(ios.acc_g["thigh"], android.acc_g["thigh"][:600], atol=0.02)


def test_an_export_without_labels_or_platform_is_one_line(tmp_path: Path) -> None:
    folder = dataset(tmp_path, ["pocket-android.zip"])
    (folder / "recordings" / "pocket-android.labels.csv").unlink()
    with pytest.raises(ConfigError, match=r"pocket-android\.labels\.csv is missing: an export's labels"):
        evaluate(folder)
    (folder / "recordings" / "pocket-android.labels.csv").write_text("start_s,end_s,label\n5,2,1\n")
    with pytest.raises(ConfigError, match=r"line 2: needs 0 <= start_s < end_s"):
        evaluate(folder)

"""Dataset descriptions (YAML beside this module) and reading labelled recordings into arrays.

A dataset folder holds a README, ``labels.csv`` (code, name[, posture_group]), gzipped CSV recordings under
``recordings/`` and optionally ``index.csv``. The description says which columns are which placement, the units,
the sampling rate and how labels map to the evaluated classes; it names no subject, so other subjects of the same
dataset work unchanged.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.errors import ConfigError
from ingest.features import FloatArray, IntArray

DESCRIPTIONS = Path(__file__).parent / "datasets"
GRAVITY_MS2 = 9.80665

EvalClass = Literal["sitting", "standing", "lying", "moving", "ignore"]
CLASSES: tuple[str, ...] = ("sitting", "standing", "lying", "moving")
# posture_group names used in labels.csv -> evaluated class
GROUP_CLASSES: dict[str, EvalClass] = {
    "sitting": "sitting",
    "standing": "standing",
    "standing_with_movement": "standing",
    "lying": "lying",
    "walking": "moving",
    "moving": "moving",
    "seated_active": "ignore",
    "ignore": "ignore",
}


class DatasetDescription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str
    rate_hz: float | None = Field(default=None, gt=0)
    rate_from_index: str | None = None
    time_column: str | None = None
    label_column: str = "label"
    units: Literal["g", "m/s2", "counts"]
    zero_counts: float = 0.0
    placements: dict[Literal["thigh", "trunk", "wrist"], list[str]]
    calibration: Literal["recording", "subject"] = "recording"
    subject_from_index: str | None = None
    drop_all_zero_rows: bool = False
    classes: dict[int, EvalClass] | None = None


@dataclass
class Recording:
    name: str
    subject: str
    t_ms: IntArray
    acc_g: dict[str, FloatArray]  # placement -> (n, 3) in g
    truth: list[EvalClass]  # evaluated class per sample


LOCAL_DESCRIPTION = "kinetic-dataset.yaml"


def load_description(folder: Path) -> DatasetDescription:
    """``kinetic-dataset.yaml`` inside the folder if there is one, else the built-in description named after the
    folder."""
    if not (folder / "labels.csv").is_file() or not (folder / "recordings").is_dir():
        raise ConfigError(f"{folder} is not a dataset folder (it needs labels.csv and recordings/)")
    path = folder / LOCAL_DESCRIPTION
    if not path.is_file():
        path = DESCRIPTIONS / f"{folder.resolve().name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in DESCRIPTIONS.glob("*.yaml")))
        raise ConfigError(f"no description for dataset folder {folder.name!r} (known: {known}); add {path}")
    try:
        return DatasetDescription.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def label_classes(folder: Path, description: DatasetDescription) -> dict[int, EvalClass]:
    if description.classes is not None:
        return dict(description.classes)
    out: dict[int, EvalClass] = {}
    with (folder / "labels.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            group = row.get("posture_group") or "ignore"
            out[int(row["code"])] = GROUP_CLASSES.get(group, "ignore")
    return out


def _index(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / "index.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as handle:
        return {Path(row["file"]).name: row for row in csv.DictReader(handle)}


def read_recordings(folder: Path, description: DatasetDescription) -> list[Recording]:
    classes = label_classes(folder, description)
    index = _index(folder)
    files = sorted((folder / "recordings").glob("*.csv.gz"))
    if not files:
        raise ConfigError(f"{folder}: no recordings/*.csv.gz")
    return [_read(path, description, classes, index.get(path.name, {})) for path in files]


def read_recording(path: Path) -> tuple[DatasetDescription, Recording]:
    """One recording file (``<dataset>/recordings/<file>.csv.gz``) with its dataset's description."""
    if not path.is_file():
        raise ConfigError(f"recording {path} does not exist")
    folder = path.parent.parent
    description = load_description(folder)
    return description, _read(path, description, label_classes(folder, description), _index(folder).get(path.name, {}))


def _read(path: Path, d: DatasetDescription, classes: dict[int, EvalClass], meta: dict[str, str]) -> Recording:
    with gzip.open(path, "rt", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        col = {name: i for i, name in enumerate(header)}
        wanted = [c for cols in d.placements.values() for c in cols]
        missing = [c for c in [*wanted, d.label_column, *([d.time_column] if d.time_column else [])] if c not in col]
        if missing:
            raise ConfigError(f"{path}: columns {missing} not found (the description expects them)")
        idx = [col[c] for c in wanted]
        rows = [
            (row[col[d.time_column]] if d.time_column else "", row[col[d.label_column]], [row[i] for i in idx])
            for row in reader
        ]
    values = np.array([r[2] for r in rows], dtype=np.float64)
    labels = np.array([int(float(r[1])) for r in rows], dtype=np.int64)
    if d.time_column:
        t_s = np.array([float(r[0]) for r in rows], dtype=np.float64)
        _check_times(path, d.time_column, t_s)
    else:
        rate = float(meta[d.rate_from_index]) if d.rate_from_index else float(d.rate_hz or 0)
        if rate <= 0:
            raise ConfigError(f"{path}: no sampling rate (rate_hz or rate_from_index in the description)")
        t_s = np.arange(len(rows)) / rate
    keep = np.ones(len(rows), dtype=bool)
    if d.drop_all_zero_rows:
        keep &= np.any(values != 0.0, axis=1)
    acc: dict[str, FloatArray] = {}
    start = 0
    for placement, cols in d.placements.items():
        block = values[:, start : start + len(cols)]
        start += len(cols)
        acc[placement] = _to_g(block, d)
    t_ms = np.round(t_s * 1000).astype(np.int64)
    truth = [classes.get(int(code), "ignore") for code in labels[keep].tolist()]
    subject = meta.get(d.subject_from_index, path.stem) if d.subject_from_index else path.stem
    return Recording(path.name, str(subject), t_ms[keep], {p: a[keep] for p, a in acc.items()}, truth)


MIN_SAMPLE_INTERVAL_S = 0.001  # 1 kHz: faster than any wearable accelerometer stream Kinetic reads
MAX_SAMPLE_INTERVAL_S = 1.0  # 1 Hz: slower cannot give per-second features


def _check_times(path: Path, column: str, t_s: FloatArray) -> None:
    """A time column must be seconds, finite and never going back, at a plausible sampling rate (1 Hz to 1 kHz by
    its median interval); milliseconds or nanoseconds in a column described as seconds say so. Raises ConfigError
    naming the file, the column and the first bad row."""
    if len(t_s) < 2:
        return
    if not np.all(np.isfinite(t_s)):
        row = int(np.argmin(np.isfinite(t_s)))
        raise ConfigError(f"{path}: {column} data row {row + 1}: {t_s[row]} is not a time in seconds")
    steps = np.diff(t_s)
    if np.any(steps < 0):
        row = int(np.argmax(steps < 0)) + 1
        raise ConfigError(
            f"{path}: {column} goes back at data row {row + 1} ({t_s[row - 1]} -> {t_s[row]}): times must not decrease"
        )
    median = float(np.median(steps))
    if not MIN_SAMPLE_INTERVAL_S <= median <= MAX_SAMPLE_INTERVAL_S:
        hint = ""
        for unit, factor in (("milliseconds", 1e-3), ("microseconds", 1e-6), ("nanoseconds", 1e-9)):
            if MIN_SAMPLE_INTERVAL_S <= median * factor <= MAX_SAMPLE_INTERVAL_S:
                hint = f"; as {unit} it would be {1 / (median * factor):.1f} Hz"
                break
        raise ConfigError(
            f"{path}: {column} must be seconds: its median step {median:g} means {1 / median if median else 0:g} "
            f"samples per second, outside 1 Hz to 1 kHz{hint}"
        )


def _to_g(block: FloatArray, d: DatasetDescription) -> FloatArray:
    if d.units == "g":
        return block
    if d.units == "m/s2":
        return block / GRAVITY_MS2
    centred = block - d.zero_counts
    scale = float(np.median(np.sqrt(np.einsum("ij,ij->i", centred, centred)))) or 1.0
    return centred / scale

"""Dataset descriptions (YAML beside this module) and reading labelled recordings into arrays.

A dataset folder holds a README, ``labels.csv`` (code, name[, posture_group]) and gzipped CSV recordings under
``recordings/``; an ``index.csv`` is optional. The description says which columns are which placement, the units,
how labels map to the evaluated classes, where the sampling rate comes from (the recording's time column, the
length of its labelled windows, or a nominal rate) and which subject a file belongs to (a pattern on its name); it
names no subject, so other subjects of the same dataset work unchanged. Whatever a folder lacks is a ConfigError
naming the file and what is expected.
"""

from __future__ import annotations

import csv
import gzip
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.errors import ConfigError
from ingest.features import FloatArray, IntArray
from ingest.textfile import TextFileError, load_yaml
from ingest.wire import describe_validation_error

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
    """One dataset's layout. Sampling rate: from ``time_column`` when the recordings have one (``rate_hz`` is then
    the nominal rate it must agree with); without one, from exactly one of ``labelled_window_s`` (each labelled
    window spans that many seconds of wall-clock time: rate = median window length in rows / that),
    ``rate_from_index`` (a column of index.csv) or ``rate_hz``. Subject: ``subject_pattern`` (a regular expression
    with a ``subject`` group that the file name without ``.csv.gz`` must match), else ``subject_from_index`` (a
    column of index.csv), else each recording is its own subject."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    rate_hz: float | None = Field(default=None, gt=0)
    rate_from_index: str | None = None
    labelled_window_s: float | None = Field(default=None, gt=0)
    time_column: str | None = None
    label_column: str = "label"
    units: Literal["g", "m/s2", "counts"]
    zero_counts: float = 0.0
    placements: dict[Literal["thigh", "trunk", "wrist"], list[str]]
    calibration: Literal["recording", "subject"] = "recording"
    subject_pattern: str | None = None
    subject_from_index: str | None = None
    drop_all_zero_rows: bool = False
    classes: dict[int, EvalClass] | None = None
    # Sensor Logger exports (recordings/*.zip, *.json; docs/phone.md): the platform when an export does not say it,
    # and whether the app's "Standardise Units & Frames" was on (iOS axes are then Android's)
    sensorlogger_platform: Literal["ios", "android"] | None = None
    sensorlogger_standardised: bool = False

    @field_validator("subject_pattern")
    @classmethod
    def _one_subject_group(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from exc
        if "subject" not in compiled.groupindex:
            raise ValueError(
                f"{pattern!r} needs a (?P<subject>...) group: the part of the file name that is the subject"
            )
        return pattern

    @model_validator(mode="after")
    def _rate_and_subject_sources(self) -> DatasetDescription:
        sources = [n for n in ("rate_hz", "labelled_window_s", "rate_from_index") if getattr(self, n) is not None]
        if self.time_column is None and len(sources) != 1:
            raise ValueError(
                "without a time_column the sampling rate needs exactly one of rate_hz, labelled_window_s or "
                f"rate_from_index (given: {', '.join(sources) or 'none'})"
            )
        if self.time_column is not None and (self.labelled_window_s or self.rate_from_index):
            raise ValueError(
                "with a time_column the rate comes from the times: drop labelled_window_s / rate_from_index"
            )
        if self.calibration == "subject" and self.subject_pattern is None and self.subject_from_index is None:
            raise ValueError(
                "calibration: subject needs subject_pattern (a regular expression on the file name with a "
                "(?P<subject>...) group) or subject_from_index, else every recording would count as its own subject"
            )
        return self


@dataclass
class Recording:
    name: str
    subject: str
    rate_hz: float  # from the time column's median step, the labelled windows, index.csv or the nominal rate
    t_ms: IntArray
    acc_g: dict[str, FloatArray]  # placement -> (n, 3) in g
    truth: list[EvalClass]  # evaluated class per sample
    codes: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # label code per sample


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
        return DatasetDescription.model_validate(load_yaml(path))
    except TextFileError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc)}") from exc


def label_classes(folder: Path, description: DatasetDescription) -> dict[int, EvalClass]:
    if description.classes is not None:
        return dict(description.classes)
    path = folder / "labels.csv"
    out: dict[int, EvalClass] = {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if "code" not in (reader.fieldnames or []):
            raise ConfigError(
                f"{path}: needs a 'code' column (columns: code, name, posture_group), or the description's classes"
            )
        for row_number, row in enumerate(reader, start=2):
            code = (row.get("code") or "").strip()
            if not code.lstrip("-").isdigit():
                raise ConfigError(f"{path}: line {row_number}: code {code!r} is not a whole number")
            group = row.get("posture_group") or "ignore"
            out[int(code)] = GROUP_CLASSES.get(group, "ignore")
    return out


INDEX = "index.csv"


def _index(folder: Path, d: DatasetDescription) -> dict[str, dict[str, str]]:
    """Rows of the optional index.csv by file name, when the description takes anything from it; else empty."""
    path = folder / INDEX
    if not path.is_file() or (d.rate_from_index is None and d.subject_from_index is None):
        return {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if "file" not in (reader.fieldnames or []):
            raise ConfigError(f"{path}: needs a 'file' column (recordings/<name>.csv.gz per row)")
        return {Path(row["file"]).name: row for row in reader if row.get("file")}


# Recordings in other formats, read by a reader from a higher layer (``ingest.phone.export.read_export_recording``
# for Sensor Logger exports: .zip and .json), given by the caller: suffix -> reader.
ExportReader = Callable[[Path, "DatasetDescription", dict[int, EvalClass], dict[str, dict[str, str]]], "Recording"]
EXPORT_SUFFIXES = (".zip", ".json")


def read_recordings(
    folder: Path, description: DatasetDescription, export_reader: ExportReader | None = None
) -> list[Recording]:
    """Every recording of a dataset folder: ``recordings/*.csv.gz``, and with ``export_reader`` Sensor Logger
    exports (``recordings/*.zip`` / ``*.json``, each with its ``<name>.labels.csv``). Raises ConfigError."""
    classes = label_classes(folder, description)
    index = _index(folder, description)
    files = sorted((folder / "recordings").glob("*.csv.gz"))
    exports = sorted(p for p in (folder / "recordings").iterdir() if p.suffix.lower() in EXPORT_SUFFIXES)
    if exports and export_reader is None:
        raise ConfigError(f"{exports[0]}: a Sensor Logger export is read by `kinetic evaluate`, not here")
    if not files and not exports:
        raise ConfigError(f"{folder}: no recordings/*.csv.gz (or Sensor Logger exports, *.zip / *.json)")
    out = [_read(path, description, classes, index) for path in files]
    if export_reader is not None:
        out += [export_reader(path, description, classes, index) for path in exports]
    return out


def read_recording(path: Path) -> tuple[DatasetDescription, Recording]:
    """One recording file (``<dataset>/recordings/<file>.csv.gz``) with its dataset's description."""
    if not path.is_file():
        raise ConfigError(f"recording {path} does not exist")
    folder = path.parent.parent
    description = load_description(folder)
    return description, _read(path, description, label_classes(folder, description), _index(folder, description))


def _index_value(path: Path, index: dict[str, dict[str, str]], column: str, what: str) -> str:
    where = path.parent.parent / INDEX
    if not where.is_file():
        raise ConfigError(
            f"{path}: the description takes the {what} from {INDEX} column {column!r}, and {where} is missing"
        )
    row = index.get(path.name)
    if row is None:
        raise ConfigError(f"{path}: {where} has no row for recordings/{path.name} (it gives the {what})")
    value = (row.get(column) or "").strip()
    if not value:
        raise ConfigError(f"{path}: {where} has no {column!r} for recordings/{path.name} (it gives the {what})")
    return value


def subject_of(path: Path, d: DatasetDescription, index: dict[str, dict[str, str]]) -> str:
    """The subject a recording belongs to: from its file name by the description's pattern, else from index.csv,
    else the file itself."""
    stem = path.name.removesuffix(".csv.gz").removesuffix(".zip").removesuffix(".json")
    if d.subject_pattern is not None:
        match = re.fullmatch(d.subject_pattern, stem)
        if match is None or not match.group("subject"):
            raise ConfigError(
                f"{path}: the file name {stem!r} does not match subject_pattern {d.subject_pattern!r} of the "
                f"{d.dataset} description, which gives the subject"
            )
        return match.group("subject")
    if d.subject_from_index is not None:
        return _index_value(path, index, d.subject_from_index, "subject")
    return stem


def _rate_from_windows(path: Path, labels: IntArray, classes: dict[int, EvalClass], window_s: float) -> float:
    """Labelled windows of known wall-clock length: the rate is the median window length in rows over it
    (pocket-phone-difronzo's README: 1-minute windows annotated from wall-clock times)."""
    labelled = np.array([classes.get(int(c), "ignore") != "ignore" for c in labels.tolist()], dtype=bool)
    change = np.flatnonzero(np.diff(labels) != 0) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(labels)]))
    lengths = [int(e - s) for s, e in zip(starts.tolist(), ends.tolist(), strict=True) if labelled[s]]
    if not lengths:
        raise ConfigError(
            f"{path}: no labelled window to take the sampling rate from (labelled_window_s {window_s:g} in the "
            "description): give the recording a time column or the description a rate_hz"
        )
    return statistics.median(lengths) / window_s


def _sampling_rate(
    path: Path,
    d: DatasetDescription,
    labels: IntArray,
    classes: dict[int, EvalClass],
    index: dict[str, dict[str, str]],
) -> float:
    if d.labelled_window_s is not None:
        rate = _rate_from_windows(path, labels, classes, d.labelled_window_s)
    elif d.rate_from_index is not None:
        raw = _index_value(path, index, d.rate_from_index, "sampling rate")
        try:
            rate = float(raw)
        except ValueError:
            rate = float("nan")
    else:
        rate = float(d.rate_hz or 0)
    if not 1 / MAX_SAMPLE_INTERVAL_S <= rate <= 1 / MIN_SAMPLE_INTERVAL_S:
        raise ConfigError(f"{path}: sampling rate {rate:g} Hz is not between 1 Hz and 1 kHz")
    return rate


# A time column whose median step disagrees with the description's nominal rate by more than this means the
# description is for another dataset (or another unit): the phone rates of pocket-phone-difronzo differ by 6 %.
NOMINAL_RATE_TOLERANCE = 0.05


def _read(
    path: Path, d: DatasetDescription, classes: dict[int, EvalClass], index: dict[str, dict[str, str]]
) -> Recording:
    wanted = [c for cols in d.placements.values() for c in cols]
    times, labels, values = _columns(path, d, wanted)
    if d.time_column:
        t_s = times
        check_times(path, d.time_column, t_s)
        rate = 1 / float(np.median(np.diff(t_s))) if len(t_s) > 1 else float(d.rate_hz or 0)
        if d.rate_hz is not None and abs(rate - d.rate_hz) > NOMINAL_RATE_TOLERANCE * d.rate_hz:
            raise ConfigError(
                f"{path}: {d.time_column} gives {rate:.3g} Hz by its median step, the {d.dataset} description says "
                f"rate_hz {d.rate_hz:g}"
            )
    else:
        rate = _sampling_rate(path, d, labels, classes, index)
        t_s = np.arange(len(labels)) / rate
    keep = np.ones(len(labels), dtype=bool)
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
    subject = subject_of(path, d, index)
    return Recording(
        path.name, subject, rate, t_ms[keep], {p: a[keep] for p, a in acc.items()}, truth, labels[keep].astype(np.int64)
    )


def _columns(path: Path, d: DatasetDescription, wanted: list[str]) -> tuple[FloatArray, IntArray, FloatArray]:
    """Times (seconds; empty without a time column), label codes and the wanted sensor columns of one gzipped CSV.
    Raises ConfigError naming the file, and the data row and column of the first value that is not a number."""
    try:
        with gzip.open(path, "rt", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise ConfigError(f"{path}: empty: a recording is a CSV with a header row, then one row per sample")
            col = {name: i for i, name in enumerate(header)}
            needed = [*wanted, d.label_column, *([d.time_column] if d.time_column else [])]
            missing = [c for c in needed if c not in col]
            if missing:
                raise ConfigError(f"{path}: columns {missing} not found (the {d.dataset} description expects them)")
            rows = list(reader)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: not a readable gzipped CSV ({exc})") from exc
    if not rows:
        raise ConfigError(f"{path}: a header and no data rows")
    order = [col[c] for c in wanted]

    def numbers(indices: list[int]) -> FloatArray:
        try:
            return np.array([[row[i] for i in indices] for row in rows], dtype=np.float64)
        except (ValueError, IndexError):
            for number, row in enumerate(rows, start=1):
                for i in indices:
                    if i >= len(row):
                        raise ConfigError(
                            f"{path}: data row {number} has {len(row)} values, the header {len(header)}"
                        ) from None
                    try:
                        float(row[i])
                    except ValueError:
                        raise ConfigError(
                            f"{path}: data row {number}, column {header[i]}: {row[i]!r} is not a number"
                        ) from None
            raise

    values = numbers(order)
    blank = ~np.isfinite(values)  # 'nan', 'inf', 'n/a'-style cells that numpy reads as numbers
    if np.any(blank):
        row, column = (int(i) for i in np.argwhere(blank)[0])
        raise ConfigError(
            f"{path}: data row {row + 1}, column {wanted[column]}: {rows[row][order[column]]!r} is not a finite number"
        )
    codes = numbers([col[d.label_column]])[:, 0]
    bad = ~np.isfinite(codes) | (np.nan_to_num(codes) != np.round(np.nan_to_num(codes)))
    if np.any(bad):
        row = int(np.argmax(bad))
        raise ConfigError(f"{path}: data row {row + 1}, column {d.label_column}: {codes[row]:g} is not a label code")
    times = numbers([col[d.time_column]])[:, 0] if d.time_column else np.zeros(0)
    return times, codes.astype(np.int64), values


MIN_SAMPLE_INTERVAL_S = 0.001  # 1 kHz: faster than any wearable accelerometer stream Kinetic reads
MAX_SAMPLE_INTERVAL_S = 1.0  # 1 Hz: slower cannot give per-second features


def check_times(path: Path, column: str, t_s: FloatArray) -> None:
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

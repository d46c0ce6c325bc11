"""Sensor Logger's exported recordings -> readings in time order, as the live messages carry them.

Two export formats (the app's README, "File Handling" and "Accessing Recording Metadata"):

- the zip: one CSV per sensor (``Accelerometer.csv``, ``Gravity.csv``, ``TotalAcceleration.csv``,
  ``Orientation.csv``, ...) with the columns ``time,seconds_elapsed,z,y,x`` (time in UTC epoch nanoseconds, note the
  z, y, x order), and ``metadata.csv`` (``version``, ``device name``, ``recording time``, ``platform``). Kinetic
  reads the three acceleration files and the platform; the other sensors are not needed for posture.
- the JSON export: one array of records ``{"sensor": "Accelerometer", "time": "...", "seconds_elapsed": "...",
  "z": "...", "y": "...", "x": "..."}``, values as strings.

Files are read, not trusted: anything unusable is a ConfigError naming the file, the row and what is expected. The
zip is read lazily, one row of each sensor at a time, so a day's recording needs no day's memory; the JSON export is
one document and is read whole.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from ingest.errors import ConfigError
from ingest.phone.sensorlogger import MAX_ACCELERATION_MS2, MOTION_SENSORS, PhoneStream, Platform, Reading, epoch_ns
from ingest.recordings.datasets import DatasetDescription, EvalClass, Recording, check_times, subject_of

SENSOR_FILES = {
    "Accelerometer.csv": "accelerometer",
    "Gravity.csv": "gravity",
    "TotalAcceleration.csv": "totalacceleration",
}

CHUNK_READINGS = 2_000  # readings handed to the phone stream at once (a day's export holds millions)


@dataclass
class SensorLoggerExport:
    """An opened export: the phone's platform (None when the export does not say) and its motion readings."""

    path: Path
    platform: Platform | None
    device_name: str | None
    sensors: list[str]  # the motion sensors it holds, lower-case
    _read: Iterator[Reading]

    def readings(self) -> Iterator[Reading]:
        """The motion readings of every sensor, merged in time order (once)."""
        return self._read

    def reading_chunks(self, seconds: float | None = None) -> Iterator[list[Reading]]:
        """The readings (once) in lists of at most ``CHUNK_READINGS``, the last one possibly empty, so a long export
        streams through ``PhoneStream.add_readings`` in bounded memory. ``seconds``: only the readings less than that
        many seconds after the first."""
        chunk: list[Reading] = []
        first_ms: int | None = None
        for reading in self._read:
            t_ms = reading.t_ns // 1_000_000
            first_ms = t_ms if first_ms is None else first_ms
            if seconds is not None and t_ms - first_ms >= seconds * 1000:
                break
            chunk.append(reading)
            if len(chunk) >= CHUNK_READINGS:
                yield chunk
                chunk = []
        yield chunk


def open_export(path: Path) -> SensorLoggerExport:
    """A ``.zip`` or ``.json`` Sensor Logger export. Raises ConfigError naming the file and the problem."""
    if not path.is_file():
        raise ConfigError(f"Sensor Logger export {path} does not exist")
    if path.suffix.lower() == ".json":
        return _open_json(path)
    if path.suffix.lower() == ".zip":
        return _open_zip(path)
    raise ConfigError(f"{path}: a Sensor Logger export is a .zip (CSV files) or a .json file")


def is_export(path: Path) -> bool:
    return path.suffix.lower() in (".zip", ".json")


def _platform(value: str | None, where: str) -> Platform | None:
    if value is None or not value.strip():
        return None
    lowered = value.strip().lower()
    if lowered in ("ios", "android"):
        return lowered  # type: ignore[return-value]
    raise ConfigError(f"{where}: platform {value[:40]!r} is neither iOS nor Android")


def _values(row: dict[str, str], where: str) -> dict[str, float]:
    values = {}
    for axis in ("x", "y", "z"):
        raw = row.get(axis)
        try:
            value = float(raw) if raw is not None else math.nan
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or abs(value) > MAX_ACCELERATION_MS2:
            raise ConfigError(f"{where}, column {axis}: {str(raw)[:40]!r} is not an acceleration in m/s^2")
        values[axis] = value
    return values


def _reading(name: str, row: dict[str, str], where: str) -> Reading:
    t_ns = epoch_ns(row.get("time"))
    if isinstance(t_ns, str):
        raise ConfigError(f"{where}, column time: {t_ns}")
    return Reading(name, t_ns, _values(row, where))


def _open_zip(path: Path) -> SensorLoggerExport:
    try:
        archive = zipfile.ZipFile(path)
        members = {PurePosixPath(info.filename).name: info.filename for info in archive.infolist()}
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: not a readable zip ({exc})") from exc
    files = {name: member for name, member in members.items() if name in SENSOR_FILES}
    if not files:
        archive.close()
        raise ConfigError(
            f"{path}: no {', '.join(SENSOR_FILES)} in the zip (export with the accelerometer and gravity sensors on)"
        )
    platform, device = None, None
    if "metadata.csv" in members:
        with archive.open(members["metadata.csv"]) as handle:
            rows = list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8", errors="replace")))
        if rows:
            platform = _platform(rows[0].get("platform"), f"{path}:metadata.csv")
            device = rows[0].get("device name")

    def rows_of(file_name: str) -> Iterator[Reading]:
        where = f"{path}:{file_name}"
        with archive.open(files[file_name]) as handle:
            reader = csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8", errors="replace"))
            missing = [c for c in ("time", "x", "y", "z") if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(f"{where}: columns {missing} not found (expected time,seconds_elapsed,z,y,x)")
            last = -1
            for number, row in enumerate(reader, start=1):
                reading = _reading(SENSOR_FILES[file_name], row, f"{where}: data row {number}")
                if reading.t_ns < last:
                    raise ConfigError(f"{where}: data row {number}: time goes back ({last} -> {reading.t_ns})")
                last = reading.t_ns
                yield reading

    def merged() -> Iterator[Reading]:
        try:
            yield from heapq.merge(*(rows_of(name) for name in sorted(files)), key=lambda r: r.t_ns)
        except (OSError, zipfile.BadZipFile, EOFError, csv.Error) as exc:
            raise ConfigError(f"{path}: not a readable zip ({exc})") from exc
        finally:
            archive.close()

    sensors = sorted(SENSOR_FILES[name] for name in files)
    return SensorLoggerExport(path, platform, device, sensors, merged())


def _open_json(path: Path) -> SensorLoggerExport:
    try:
        records = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{path}: not a readable JSON export ({str(exc)[:120]})") from exc
    if not isinstance(records, list):
        raise ConfigError(f"{path}: a JSON export is an array of records ({{sensor, time, x, y, z, ...}})")
    readings: list[Reading] = []
    platform, device = None, None
    for number, record in enumerate(records, start=1):
        where = f"{path}: record {number}"
        if not isinstance(record, dict):
            raise ConfigError(f"{where}: an object with sensor and time expected")
        sensor = str(record.get("sensor", "")).lower()
        if sensor == "metadata":
            platform = _platform(record.get("platform"), where) or platform
            device = record.get("device name") or record.get("deviceName") or device
        if sensor in MOTION_SENSORS:
            readings.append(_reading(sensor, record, where))
    if not readings:
        raise ConfigError(f"{path}: no Accelerometer, Gravity or TotalAcceleration records")
    readings.sort(key=lambda r: r.t_ns)
    return SensorLoggerExport(path, platform, device, sorted({r.name for r in readings}), iter(readings))


LABELS_SUFFIX = ".labels.csv"


def export_labels_path(path: Path) -> Path:
    """``recordings/day.zip`` -> ``recordings/day.labels.csv``."""
    return path.with_name(path.name.removesuffix(path.suffix) + LABELS_SUFFIX)


def read_export_labels(path: Path) -> list[tuple[float, float, int]]:
    """An export's labels: ``start_s,end_s,label`` rows, seconds from the export's first acceleration sample, label a
    code of the dataset's labels.csv. Raises ConfigError naming the file and the row."""
    if not path.is_file():
        raise ConfigError(f"{path} is missing: an export's labels (start_s,end_s,label; seconds from its first sample)")
    spans: list[tuple[float, float, int]] = []
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("start_s", "end_s", "label") if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"{path}: columns {missing} not found (expected start_s,end_s,label)")
        for number, row in enumerate(reader, start=2):
            try:
                start, end, code = float(row["start_s"]), float(row["end_s"]), int(row["label"])
            except (TypeError, ValueError):
                raise ConfigError(f"{path}: line {number}: start_s and end_s are seconds, label a code") from None
            if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
                raise ConfigError(f"{path}: line {number}: needs 0 <= start_s < end_s (got {start}, {end})")
            spans.append((start, end, code))
    return spans


def read_export_recording(
    path: Path, d: DatasetDescription, classes: dict[int, EvalClass], index: dict[str, dict[str, str]]
) -> Recording:
    """A Sensor Logger export in a dataset folder as a labelled recording: its acceleration samples in g exactly as
    a live phone's stream makes them (``PhoneStream``: units, iOS axes, gravity), labelled by
    ``<name>.labels.csv``. The dataset's description names one placement (where the phone was). Raises ConfigError."""
    if len(d.placements) != 1:
        raise ConfigError(f"{path}: the {d.dataset} description must name one placement for Sensor Logger exports")
    (placement,) = d.placements
    export = open_export(path)
    platform = export.platform or d.sensorlogger_platform
    if platform is None:
        raise ConfigError(f"{path}: the export does not say its platform: set sensorlogger_platform in {d.dataset}")
    times: list[int] = []
    samples: list[tuple[float, float, float]] = []

    def take(t_ms: int, sample: tuple[float, float, float]) -> None:
        times.append(t_ms)
        samples.append(sample)

    stream = PhoneStream(
        "evaluate",
        "export",
        placement,
        ios_axes=platform == "ios" and not d.sensorlogger_standardised,
        on_sample=take,
    )
    for chunk in export.reading_chunks():
        stream.add_readings(chunk)
    if len(times) < 2:
        raise ConfigError(f"{path}: fewer than two acceleration samples (turn on the accelerometer and gravity)")
    t_ms = np.array(times, dtype=np.int64)
    check_times(path, "time", (t_ms - t_ms[0]) / 1000)
    codes = np.full(len(t_ms), -1, dtype=np.int64)  # -1: outside every labelled span
    elapsed_s = (t_ms - t_ms[0]) / 1000
    for start, end, code in read_export_labels(export_labels_path(path)):
        codes[(elapsed_s >= start) & (elapsed_s < end)] = code
    rate = 1000 / float(np.median(np.diff(t_ms)))
    truth = [classes.get(int(code), "ignore") for code in codes.tolist()]
    acc = np.array(samples, dtype=np.float64)
    return Recording(path.name, subject_of(path, d, index), rate, t_ms, {placement: acc}, truth, codes)

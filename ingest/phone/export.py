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

from ingest.errors import ConfigError
from ingest.phone.sensorlogger import MAX_ACCELERATION_MS2, MOTION_SENSORS, Platform, Reading, epoch_ns

SENSOR_FILES = {
    "Accelerometer.csv": "accelerometer",
    "Gravity.csv": "gravity",
    "TotalAcceleration.csv": "totalacceleration",
}


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

"""Sensor Logger data for tests: readings made from recorded pocket accelerations, the app's messages and exports.

The fixtures in tests/fixtures/sensorlogger/ are made by ``python -m tests.support.sensorlogger DATA_DIR`` from a
public recording (pocket-phone-difronzo, MIT licence; see tests/fixtures/sensorlogger/README.md): the recorded
acceleration with gravity (m/s^2, Android axes) becomes ``totalacceleration``; ``gravity`` is its low-pass (a
first-order filter, 0.5 s), as a phone's sensor fusion gives it; ``accelerometer`` is the difference. An iPhone
reports the same motion with all three axes negated and no total acceleration (COORDINATES.md).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sensorlogger"
EXCERPT_FILE = "user01_exp01.csv.gz"
EXCERPT_START = 4400  # walking, then standing still and sitting down (segments.csv: walking ends at 4829)
EXCERPT_ROWS = 2000
RATE_HZ = 47.4  # index.csv's estimate for this recording
START_NS = 1_764_230_400_000_000_000  # 2025-11-27T08:00:00Z

Readings = list[dict[str, Any]]  # as in a message's payload: {"name", "time", "values"}


def pocket_excerpt(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(t_ns, acceleration with gravity in m/s^2, Android axes) of the excerpt."""
    path = data_dir / "pocket-phone-difronzo" / "recordings" / EXCERPT_FILE
    with gzip.open(path, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))[EXCERPT_START : EXCERPT_START + EXCERPT_ROWS]
    acc = np.array([[float(r["acc_x"]), float(r["acc_y"]), float(r["acc_z"])] for r in rows])
    t_ns = START_NS + np.round(np.arange(len(acc)) * 1e9 / RATE_HZ).astype(np.int64)
    return t_ns, acc


def split_gravity(acc: np.ndarray, rate_hz: float = RATE_HZ, tau_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(gravity, acceleration without gravity): a first-order low-pass of the total, and the rest."""
    alpha = 1 / (1 + tau_s * rate_hz)
    gravity = np.empty_like(acc)
    g = acc[0].copy()
    for i, sample in enumerate(acc):
        g = g + alpha * (sample - g)
        gravity[i] = g
    return gravity, acc - gravity


def android_readings(t_ns: np.ndarray, total: np.ndarray) -> Readings:
    gravity, linear = split_gravity(total)
    out: Readings = []
    for i, t in enumerate(t_ns.tolist()):
        for name, values in (("totalacceleration", total[i]), ("gravity", gravity[i]), ("accelerometer", linear[i])):
            out.append({"name": name, "time": t, "values": _xyz(values)})
    return out


def ios_readings(t_ns: np.ndarray, total: np.ndarray) -> Readings:
    """The same motion as an iPhone without 'Standardise Units & Frames' reports it: negated, no total."""
    gravity, linear = split_gravity(total)
    out: Readings = []
    for i, t in enumerate(t_ns.tolist()):
        out.append({"name": "gravity", "time": t, "values": _xyz(-gravity[i])})
        out.append({"name": "accelerometer", "time": t, "values": _xyz(-linear[i])})
    return out


def _xyz(v: np.ndarray) -> dict[str, float]:
    return {"x": round(float(v[0]), 5), "y": round(float(v[1]), 5), "z": round(float(v[2]), 5)}


def messages(
    readings: Readings, *, batch_ms: int = 1000, session: str = "session-1", device: str = "phone-1", first_id: int = 0
) -> list[bytes]:
    """The readings as the app sends them: one message per batch period, ``messageId`` counting up."""
    groups: dict[int, Readings] = {}
    start = min(r["time"] for r in readings)
    for reading in readings:
        groups.setdefault((reading["time"] - start) // (batch_ms * 1_000_000), []).append(reading)
    return [
        json.dumps(
            {"messageId": first_id + i, "sessionId": session, "deviceId": device, "payload": groups[key]}
        ).encode()
        for i, key in enumerate(sorted(groups))
    ]


def _csv(rows: Readings) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "seconds_elapsed", "z", "y", "x"])  # the app's column order
    start = rows[0]["time"]
    for r in rows:
        v = r["values"]
        writer.writerow([r["time"], f"{(r['time'] - start) / 1e9:.6f}", v["z"], v["y"], v["x"]])
    return out.getvalue()


def write_zip(path: Path, readings: Readings, platform: str) -> None:
    files = {
        "accelerometer": "Accelerometer.csv",
        "gravity": "Gravity.csv",
        "totalacceleration": "TotalAcceleration.csv",
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, file_name in files.items():
            rows = [r for r in readings if r["name"] == name]
            if rows:
                archive.writestr(file_name, _csv(rows))
        start = readings[0]["time"]
        orientation = "time,seconds_elapsed,qz,qy,qx,qw,roll,pitch,yaw\n" + f"{start},0.0,0,0,0,1,0,0,0\n"
        archive.writestr("Orientation.csv", orientation)  # not read by Kinetic
        archive.writestr(
            "metadata.csv",
            "version,device name,recording time,platform\n"
            f"3,Pocket excerpt,2025-11-27_08-00-00,{'iOS' if platform == 'ios' else 'Android'}\n",
        )


def write_json(path: Path, readings: Readings, platform: str) -> None:
    start = readings[0]["time"]
    records: list[dict[str, str]] = [
        {"sensor": "Metadata", "time": str(start), "platform": "iOS" if platform == "ios" else "Android"}
    ]
    names = {"accelerometer": "Accelerometer", "gravity": "Gravity", "totalacceleration": "TotalAcceleration"}
    for name, sensor in names.items():  # the JSON export groups records by sensor, each sorted by time
        for r in (r for r in readings if r["name"] == name):
            v = r["values"]
            records.append(
                {
                    "sensor": sensor,
                    "time": str(r["time"]),
                    "seconds_elapsed": f"{(r['time'] - start) / 1e9:.6f}",
                    "z": str(v["z"]),
                    "y": str(v["y"]),
                    "x": str(v["x"]),
                }
            )
    path.write_text(json.dumps(records, indent=0))


JSON_ROWS = 600  # the JSON export is bulky (values as strings): a shorter excerpt


def make_fixtures(data_dir: Path, out: Path = FIXTURES) -> None:
    t_ns, acc = pocket_excerpt(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_zip(out / "pocket-android.zip", android_readings(t_ns, acc), "android")
    write_json(out / "pocket-ios.json", ios_readings(t_ns[:JSON_ROWS], acc[:JSON_ROWS]), "ios")


def fixture_readings(platform: str) -> Readings:
    """The readings of a fixture export, as a message's payload would carry them."""
    if platform == "android":
        readings: Readings = []
        with zipfile.ZipFile(FIXTURES / "pocket-android.zip") as archive:
            for file_name, name in (
                ("TotalAcceleration.csv", "totalacceleration"),
                ("Gravity.csv", "gravity"),
                ("Accelerometer.csv", "accelerometer"),
            ):
                for row in csv.DictReader(io.TextIOWrapper(archive.open(file_name), encoding="utf-8")):
                    values = {k: float(row[k]) for k in ("x", "y", "z")}
                    readings.append({"name": name, "time": int(row["time"]), "values": values})
        return sorted(readings, key=lambda r: r["time"])
    records = json.loads((FIXTURES / "pocket-ios.json").read_text())
    return [
        {"name": r["sensor"].lower(), "time": int(r["time"]), "values": {k: float(r[k]) for k in ("x", "y", "z")}}
        for r in records
        if r["sensor"] != "Metadata"
    ]


if __name__ == "__main__":
    make_fixtures(Path(sys.argv[1]))

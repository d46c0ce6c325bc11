"""Sensor Logger exports (zip of CSVs, JSON): readings in time order, the platform, and one line per bad file."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingest.errors import ConfigError
from ingest.phone.export import CHUNK_READINGS, open_export
from ingest.phone.sensorlogger import PhoneStream
from tests.support.sensorlogger import FIXTURES, fixture_readings


def test_zip_export_readings_in_time_order_with_the_platform() -> None:
    export = open_export(FIXTURES / "pocket-android.zip")
    assert export.platform == "android"
    assert export.sensors == ["accelerometer", "gravity", "totalacceleration"]
    readings = list(export.readings())
    assert len(readings) == 6000
    assert [r.t_ns for r in readings] == sorted(r.t_ns for r in readings)
    # the columns come in the order z, y, x: each value lands on its own axis
    first_total = next(r for r in readings if r.name == "totalacceleration")
    expected = next(r for r in fixture_readings("android") if r["name"] == "totalacceleration")
    assert first_total.values == expected["values"]


def test_json_export_gives_the_same_seconds_as_the_zip() -> None:
    ios = open_export(FIXTURES / "pocket-ios.json")
    assert ios.platform == "ios" and ios.sensors == ["accelerometer", "gravity"]
    ios_stream = PhoneStream("ann", "ann-phone", "thigh", ios_axes=True)
    ios_readings = list(ios.readings())
    ios_frames = [f for b in ios_stream.add_readings(ios_readings) + ios_stream.flush() for f in b.frames]
    android = open_export(FIXTURES / "pocket-android.zip")
    end = ios_readings[-1].t_ns
    wanted = [r for r in android.readings() if r.t_ns <= end and r.name != "totalacceleration"]
    android_stream = PhoneStream("ann", "ann-phone", "thigh")
    android_frames = [f for b in android_stream.add_readings(wanted) + android_stream.flush() for f in b.frames]
    assert [f.t_ms for f in ios_frames] == [f.t_ms for f in android_frames]
    for a, i in zip(android_frames, ios_frames, strict=True):
        assert a.gravity == pytest.approx(i.gravity, abs=1e-4)


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"Gyroscope.csv": "time,seconds_elapsed,z,y,x\n"}, "no Accelerometer.csv, Gravity.csv, TotalAcceleration.csv"),
        ({"Gravity.csv": "time,z,y\n1764230400000000000,1,2\n"}, r"columns \['x'\] not found"),
        (
            {"Gravity.csv": "time,seconds_elapsed,z,y,x\n1764230400000,0,9.8,0,0\n"},
            "data row 1, column time: .*as milliseconds it is 2025-11-27",
        ),
        ({"Gravity.csv": "time,seconds_elapsed,z,y,x\n1764230400000000000,0,nan,0,0\n"}, "column z: 'nan'"),
        (
            {"Gravity.csv": "time,seconds_elapsed,z,y,x\n1764230400100000000,0,1,0,0\n1764230400000000000,0,1,0,0\n"},
            "data row 2: time goes back",
        ),
        (
            {"Gravity.csv": "time,seconds_elapsed,z,y,x\n", "metadata.csv": "platform\nSymbian\n"},
            "platform 'Symbian' is neither iOS nor Android",
        ),
    ],
)
def test_bad_zip_exports_say_which_file_row_and_column(tmp_path: Path, files: dict[str, str], message: str) -> None:
    path = _zip(tmp_path / "export.zip", files)
    with pytest.raises(ConfigError, match=message):
        list(open_export(path).readings())


def test_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "a.zip").write_bytes(b"not a zip")
    (tmp_path / "a.json").write_text('{"sensor": "Gravity"}')
    (tmp_path / "a.csv").write_text("")
    for name, message in (("a.zip", "not a readable zip"), ("a.json", "an array of records"), ("a.csv", ".zip")):
        with pytest.raises(ConfigError, match=message):
            open_export(tmp_path / name)


def test_reading_chunks_are_bounded_keep_every_reading_in_order_and_stop_at_seconds() -> None:
    """Replay and evaluation stream an export through the phone stream in bounded chunks (one generator for both)."""
    whole = list(open_export(FIXTURES / "pocket-android.zip").readings())
    chunks = list(open_export(FIXTURES / "pocket-android.zip").reading_chunks())
    assert all(len(c) <= CHUNK_READINGS for c in chunks)
    assert [r for c in chunks for r in c] == whole
    first_ms = whole[0].t_ns // 1_000_000
    cut = [r for c in open_export(FIXTURES / "pocket-android.zip").reading_chunks(seconds=2) for r in c]
    assert cut == [r for r in whole if r.t_ns // 1_000_000 - first_ms < 2000]
    assert 0 < len(cut) < len(whole)

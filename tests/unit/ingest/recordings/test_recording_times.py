"""A recording's time column is checked where it enters (issue 13, time): seconds, never going back, at a plausible
rate; milliseconds in a column described as seconds are named, not replayed 1000 times too slowly."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ingest.errors import ConfigError
from ingest.recordings.datasets import LOCAL_DESCRIPTION, read_recording

DESCRIPTION = """dataset: tiny
time_column: t_s
units: g
placements:
  thigh: [x, y, z]
classes: {1: sitting}
"""


def recording(tmp_path: Path, times: list[float]) -> Path:
    folder = tmp_path / "tiny"
    (folder / "recordings").mkdir(parents=True)
    (folder / "labels.csv").write_text("code,name\n1,sitting\n")
    (folder / LOCAL_DESCRIPTION).write_text(DESCRIPTION)
    path = folder / "recordings" / "s1.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("t_s,x,y,z,label\n")
        for t in times:
            handle.write(f"{t},0.0,0.0,1.0,1\n")
    return path


def test_times_in_seconds_are_read_as_milliseconds_since_the_start(tmp_path: Path) -> None:
    _, rec = read_recording(recording(tmp_path, [i / 50 for i in range(100)]))
    assert rec.t_ms[:3].tolist() == [0, 20, 40] and len(rec.t_ms) == 100


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (
            [i * 20.0 for i in range(100)],
            r"t_s must be seconds: its median step 20 .* as milliseconds it would be 50\.0 Hz",
        ),
        ([i * 2e7 for i in range(100)], r"as nanoseconds it would be 50\.0 Hz"),
        (
            [i / 50 for i in range(50)] + [0.5] + [1 + i / 50 for i in range(50)],
            r"t_s goes back at data row 51 \(0\.98 -> 0\.5\)",
        ),
        ([0.0, 0.02, float("nan"), 0.06], r"t_s data row 3: nan is not a time in seconds"),
    ],
)
def test_a_time_column_that_is_not_seconds_is_refused_naming_file_column_and_row(
    tmp_path: Path, times: list[float], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        read_recording(recording(tmp_path, times))

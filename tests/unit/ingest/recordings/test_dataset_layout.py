"""A dataset folder of README.md, labels.csv and recordings/ only (issue 14, item 7): the sampling rate comes from the
recording (its time column, or its labelled windows of known length), the subject from the file name by the
description's pattern, index.csv is optional, and whatever is missing is one ConfigError naming the file and what is
expected, never another exception."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.recordings.datasets import LOCAL_DESCRIPTION, load_description, read_recording, read_recordings

TIMED = """dataset: tiny
rate_hz: 50
time_column: t_s
units: g
placements:
  thigh: [x, y, z]
calibration: subject
subject_pattern: s(?P<subject>\\d+)_r\\d+
classes: {1: sitting, 2: standing}
"""

# no time column: 1-second labelled windows of a known wall-clock length, as pocket-phone-difronzo's 1-minute ones
WINDOWED = """dataset: tiny
labelled_window_s: 2
units: g
placements:
  thigh: [x, y, z]
subject_pattern: s(?P<subject>\\d+)_r\\d+
classes: {1: sitting, 2: standing}
"""


def folder_with(tmp_path: Path, description: str, files: dict[str, str], index: str | None = None) -> Path:
    folder = tmp_path / "tiny"
    (folder / "recordings").mkdir(parents=True)
    (folder / "README.md").write_text("tiny\n")
    (folder / "labels.csv").write_text("code,name\n1,sitting\n2,standing\n")
    (folder / LOCAL_DESCRIPTION).write_text(description)
    for name, text in files.items():
        with gzip.open(folder / "recordings" / name, "wt") as handle:
            handle.write(text)
    if index is not None:
        (folder / "index.csv").write_text(index)
    return folder


def timed(n: int = 100, rate_hz: float = 50) -> str:
    return "t_s,x,y,z,label\n" + "".join(f"{i / rate_hz},0.0,0.0,1.0,1\n" for i in range(n))


def windowed(windows: list[tuple[int, int]]) -> str:
    """Rows of (label code, count), unlabelled (0) between."""
    rows = ["x,y,z,label"]
    for code, count in windows:
        rows += ["0.0,0.0,1.0,0"] * 7 + [f"0.0,0.0,1.0,{code}"] * count
    return "\n".join(rows) + "\n"


def test_subjects_come_from_the_file_names_without_index(tmp_path: Path) -> None:
    files = {"s1_r1.csv.gz": timed(), "s1_r2.csv.gz": timed(), "s12_r1.csv.gz": timed()}
    folder = folder_with(tmp_path, TIMED, files)
    recordings = read_recordings(folder, load_description(folder))
    assert [(r.name, r.subject) for r in recordings] == [
        ("s12_r1.csv.gz", "12"),
        ("s1_r1.csv.gz", "1"),
        ("s1_r2.csv.gz", "1"),
    ]
    assert [r.rate_hz for r in recordings] == pytest.approx([50.0, 50.0, 50.0])


def test_the_rate_comes_from_the_labelled_windows_without_index(tmp_path: Path) -> None:
    # windows of 93, 95 and 200 rows over 2 s: median 95 rows -> 47.5 Hz
    folder = folder_with(tmp_path, WINDOWED, {"s3_r1.csv.gz": windowed([(1, 93), (2, 95), (1, 200)])})
    (recording,) = read_recordings(folder, load_description(folder))
    assert recording.rate_hz == 47.5
    assert recording.t_ms[:3].tolist() == [0, 21, 42]  # 1000 / 47.5 ms apart
    assert recording.subject == "3"


@pytest.mark.parametrize(
    ("description", "files", "index", "message"),
    [
        (  # the rate is taken from index.csv, and there is none (was KeyError: 'est_rate_hz')
            WINDOWED.replace("labelled_window_s: 2", "rate_from_index: est_rate_hz"),
            {"s1_r1.csv.gz": windowed([(1, 50)])},
            None,
            r"s1_r1\.csv\.gz: the description takes the sampling rate from index\.csv column 'est_rate_hz', "
            r"and .*index\.csv is missing",
        ),
        (
            WINDOWED.replace("labelled_window_s: 2", "rate_from_index: est_rate_hz"),
            {"s1_r1.csv.gz": windowed([(1, 50)])},
            "file,est_rate_hz\nrecordings/other.csv.gz,50\n",
            r"s1_r1\.csv\.gz: .*index\.csv has no row for recordings/s1_r1\.csv\.gz \(it gives the sampling rate\)",
        ),
        (  # the subject is taken from index.csv, and there is none
            TIMED.replace("subject_pattern: s(?P<subject>\\d+)_r\\d+", "subject_from_index: subject"),
            {"s1_r1.csv.gz": timed()},
            None,
            r"s1_r1\.csv\.gz: the description takes the subject from index\.csv column 'subject'",
        ),
        (
            TIMED,
            {"s1_r1.csv.gz": timed(), "walk.csv.gz": timed()},
            None,
            r"walk\.csv\.gz: the file name 'walk' does not match subject_pattern .* which gives the subject",
        ),
        (
            WINDOWED,
            {"s1_r1.csv.gz": windowed([(0, 50)])},
            None,
            r"s1_r1\.csv\.gz: no labelled window to take the sampling rate from",
        ),
        (  # a time column at 25 Hz under a description of 50 Hz: the description is for another dataset
            TIMED,
            {"s1_r1.csv.gz": timed(rate_hz=25)},
            None,
            r"s1_r1\.csv\.gz: t_s gives 25 Hz by its median step, the tiny description says rate_hz 50",
        ),
        (TIMED, {"s1_r1.csv.gz": ""}, None, r"s1_r1\.csv\.gz: empty: a recording is a CSV with a header row"),
        (TIMED, {"s1_r1.csv.gz": "t_s,x,y,z,label\n"}, None, r"s1_r1\.csv\.gz: a header and no data rows"),
        (
            TIMED,
            {"s1_r1.csv.gz": "t_s,x,y,z,label\n0,0,0,1,1\n0.02,0,zero,1,1\n"},
            None,
            r"s1_r1\.csv\.gz: data row 2, column y: 'zero' is not a number",
        ),
        (  # found after the named cases: cells numpy reads as numbers that are none
            TIMED,
            {"s1_r1.csv.gz": "t_s,x,y,z,label\n0,0,0,1,1\n0.02,0,NaN,1,1\n"},
            None,
            r"s1_r1\.csv\.gz: data row 2, column y: 'NaN' is not a finite number",
        ),
        (
            TIMED,
            {"s1_r1.csv.gz": "t_s,x,y,z,label\n0,0,0,1,1\n0.02,0,n/a,1,1\n"},
            None,
            r"s1_r1\.csv\.gz: data row 2, column y: 'n/a' is not a number",
        ),
        (
            TIMED,
            {"s1_r1.csv.gz": "t_s,x,y,z,label\n0,0,0,1,1\n0.02,0,0\n"},
            None,
            r"s1_r1\.csv\.gz: data row 2 has 3 values, the header 5",
        ),
        (
            TIMED,
            {"s1_r1.csv.gz": "t_s,x,y,z,label\n0,0,0,1,1\n0.02,0,0,1,1.5\n"},
            None,
            r"s1_r1\.csv\.gz: data row 2, column label: 1\.5 is not a label code",
        ),
        (TIMED, {"s1_r1.csv.gz": "t_s,x,z,label\n0,0,1,1\n"}, None, r"columns \['y'\] not found"),
    ],
)
def test_what_a_folder_lacks_is_one_error_naming_the_file(
    tmp_path: Path, description: str, files: dict[str, str], index: str | None, message: str
) -> None:
    folder = folder_with(tmp_path, description, files, index)
    with pytest.raises(ConfigError, match=message) as error:
        read_recordings(folder, load_description(folder))
    assert "\n" not in str(error.value)


def test_a_recording_that_is_not_gzip_is_named(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, TIMED, {})
    (folder / "recordings" / "s1_r1.csv.gz").write_text("t_s,x,y,z,label\n")
    with pytest.raises(ConfigError, match=r"s1_r1\.csv\.gz: not a readable gzipped CSV"):
        read_recordings(folder, load_description(folder))


@pytest.mark.parametrize(
    ("description", "message"),
    [
        (  # DSADS without its index: every recording its own subject gave sitting recall 0.000
            TIMED.replace("subject_pattern: s(?P<subject>\\d+)_r\\d+\n", ""),
            r"calibration: subject needs subject_pattern .* else every recording would count as its own subject",
        ),
        (TIMED.replace("(?P<subject>\\d+)", "(\\d+)"), r"needs a \(\?P<subject>\.\.\.\) group"),
        (TIMED.replace("(?P<subject>\\d+)", "(?P<subject>[0-9"), r"is not a regular expression"),
        (
            WINDOWED.replace("labelled_window_s: 2", ""),
            r"without a time_column the sampling rate needs exactly one of rate_hz, labelled_window_s or "
            r"rate_from_index \(given: none\)",
        ),
        (WINDOWED.replace("labelled_window_s: 2", "labelled_window_s: 2\nrate_hz: 50"), r"given: rate_hz, labelled"),
    ],
)
def test_a_description_that_cannot_give_subject_or_rate_is_refused(
    tmp_path: Path, description: str, message: str
) -> None:
    folder = folder_with(tmp_path, description, {"s1_r1.csv.gz": timed()})
    with pytest.raises(ConfigError, match=message) as error:
        load_description(folder)
    assert "\n" not in str(error.value) and str(error.value).startswith(str(folder / LOCAL_DESCRIPTION))


def test_labels_without_a_code_column_are_named(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, TIMED.replace("classes: {1: sitting, 2: standing}\n", ""), {"s1_r1.csv.gz": timed()})
    (folder / "labels.csv").write_text("label,name\n1,sitting\n")
    with pytest.raises(ConfigError, match=r"labels\.csv: needs a 'code' column"):
        read_recordings(folder, load_description(folder))


CELL = st.one_of(
    st.sampled_from(["0", "1", "2", "0.02", "-1", "", "nan", "inf", "1e308", "x", "1.5"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.sampled_from(["t_s,x,y,z,label", "x,y,z,label", "t_s,x,y,z", ""]),
    rows=st.lists(st.lists(CELL, min_size=0, max_size=6), max_size=8),
    windowed_description=st.booleans(),
)
def test_any_recording_reads_or_is_one_config_error(
    tmp_path_factory: pytest.TempPathFactory, header: str, rows: list[list[str]], windowed_description: bool
) -> None:
    text = header + "\n" + "".join(",".join(row) + "\n" for row in rows) if header else ""
    folder = folder_with(
        tmp_path_factory.mktemp("any"), WINDOWED if windowed_description else TIMED, {"s1_r1.csv.gz": text}
    )
    try:
        _, recording = read_recording(folder / "recordings" / "s1_r1.csv.gz")
    except ConfigError as exc:
        assert "s1_r1.csv.gz" in str(exc) and "\n" not in str(exc)
    else:
        assert len(recording.t_ms) == len(recording.truth) == len(recording.acc_g["thigh"])

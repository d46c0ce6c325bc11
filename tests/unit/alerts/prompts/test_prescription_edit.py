"""Editing prescriptions (issue 19, item 1): one entry changed, the whole file validated again, every change an
event naming what changed; the alert service's copy follows the file and keeps the last good one."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from alerts.prompts.catalog import load_catalog
from alerts.prompts.prescription import (
    PrescriptionError,
    PrescriptionsFile,
    change_event,
    edit_prescriptions,
    parse_prescriptions,
)
from ingest.wire import EventV1, encode

CATALOG = {e.id for e in load_catalog()}
AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
FILE = {
    "wearers": {
        "ann": [
            {
                "exercise": "spinal-decompression-60s",
                "hold_s": 20,
                "sets": 3,
                "per_week": 3,
                "progression": {"add_hold_s": 5, "max_hold_s": 60},
            }
        ]
    }
}


def test_a_change_to_one_field_keeps_the_others_and_says_what_changed() -> None:
    new, old, after = edit_prescriptions(FILE, "ann", "spinal-decompression-60s", {"hold_s": 25}, "f.yaml", CATALOG)
    assert old is not None and after is not None and old.hold_s == 20 and after.hold_s == 25 and after.sets == 3
    assert FILE["wearers"]["ann"][0]["hold_s"] == 20  # the input is not modified
    assert parse_prescriptions(new, "f.yaml", CATALOG)["ann"][0].hold_s == 25
    event = change_event("ann", "spinal-decompression-60s", old, after, AT, "set by the clinician (cli)")
    assert event.kind == "prescription_changed" and event.exercise == "spinal-decompression-60s"
    assert event.reason == "hold_s 20 -> 25; set by the clinician (cli)"
    assert event.metrics == {"sets": 3.0, "rest_s": 30.0, "hold_s": 25.0, "per_week": 3.0}
    assert EventV1.model_validate_json(encode(event)) == event  # it passes the wire contract


def test_nested_fields_a_new_entry_and_a_removal() -> None:
    changes = {"reps": 8, "sets": 2, "tempo.down_s": 3, "tempo.up_s": 3, "per_day": 1}
    new, old, after = edit_prescriptions(FILE, "bo", "controlled-sit-to-stand", changes, "f.yaml", CATALOG)
    assert old is None and after is not None and after.tempo is not None and after.tempo.down_s == 3
    assert change_event("bo", after.exercise, None, after, AT, "cli").reason == (
        "prescribed: 2 x 8 reps at 3-0-3 s, rest 30 s, 1 per day; cli"
    )
    new, _, after = edit_prescriptions(new, "bo", "controlled-sit-to-stand", {"tempo": None}, "f.yaml", CATALOG)
    assert after is not None and after.tempo is None
    new, old, after = edit_prescriptions(new, "bo", "controlled-sit-to-stand", None, "f.yaml", CATALOG)
    assert old is not None and after is None and "bo" not in new["wearers"]
    assert change_event("bo", "controlled-sit-to-stand", old, None, AT, "cli").metrics == {"removed": 1.0}
    # switching a hold to repetitions: the progression must follow, or the file would be refused
    _, _, after = edit_prescriptions(
        FILE,
        "ann",
        "spinal-decompression-60s",
        {
            "hold_s": None,
            "reps": 10,
            "progression.add_hold_s": None,
            "progression.max_hold_s": None,
            "progression.add_reps": 2,
            "progression.max_reps": 20,
        },
        "f.yaml",
        CATALOG,
    )
    assert after is not None and after.kind == "reps" and after.progression is not None


@pytest.mark.parametrize(
    ("wearer", "exercise", "changes", "message"),
    [
        ("ann", "spinal-decompression-60s", {"hold_s": 900}, "entry 1 (spinal-decompression-60s): hold_s: "),
        ("ann", "spinal-decompression-60s", {"reps": 5}, "give reps (repetitions) or hold_s"),
        ("ann", "spinal-decompression-60s", {"hold_s": 70}, "max_hold_s 60 is below the prescribed hold_s 70"),
        ("ann", "no-such-exercise", {"reps": 5, "per_day": 1}, "'no-such-exercise' is not in the catalog"),
        ("ann", "controlled-sit-to-stand", {"sets": 2}, "give reps (repetitions) or hold_s"),
        ("ann", "spinal-decompression-60s", {"exercise": "x"}, "'exercise' is not a field that can be set"),
        ("ann", "spinal-decompression-60s", {"sets": "three"}, "sets: Input should be a valid integer"),
        ("ann", "controlled-sit-to-stand", None, "'controlled-sit-to-stand' is not prescribed, nothing to remove"),
        ("Ann Lee", "spinal-decompression-60s", {"hold_s": 25}, "is no wearer id"),
    ],
)
def test_an_impossible_edit_is_refused_naming_file_wearer_entry_and_reason(
    wearer: str, exercise: str, changes: dict[str, object] | None, message: str
) -> None:
    with pytest.raises(PrescriptionError, match=r"^f\.yaml: ") as info:
        edit_prescriptions(FILE, wearer, exercise, changes, "f.yaml", CATALOG)
    assert message in str(info.value)


def test_an_empty_file_takes_a_first_entry() -> None:
    new, old, after = edit_prescriptions(
        None, "ann", "spinal-decompression-60s", {"hold_s": 20, "per_week": 2}, "f.yaml", CATALOG
    )
    assert old is None and after is not None and list(new["wearers"]) == ["ann"]


def test_the_services_copy_follows_the_file_and_keeps_the_last_good_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "prescriptions.yaml"
    path.write_text(yaml.safe_dump(FILE))
    watched = PrescriptionsFile(path, CATALOG)
    assert watched.current()["ann"][0].hold_s == 20
    new, _, _ = edit_prescriptions(FILE, "ann", "spinal-decompression-60s", {"hold_s": 30}, str(path), CATALOG)
    path.write_text(yaml.safe_dump(new))
    os.utime(path, ns=(1, 1))  # a new stamp even on a file system with coarse times
    assert watched.current()["ann"][0].hold_s == 30
    path.write_text("wearers: {ann: [{exercise: spinal-decompression-60s}]}")
    os.utime(path, ns=(2, 2))
    with caplog.at_level(logging.WARNING):
        assert watched.current()["ann"][0].hold_s == 30  # a slip in an edit does not stop or empty the service
    assert "the prescriptions read before stay in force" in caplog.text
    path.write_text("nonsense: [")
    with pytest.raises(PrescriptionError):
        PrescriptionsFile(path, CATALOG)  # but a service does not start on a bad file


def test_an_edit_saved_by_a_rename_with_the_old_time_and_size_is_seen(tmp_path: Path) -> None:
    """An editor that saves by writing a new file and renaming it over the old one, the old file's times kept and the
    same number of bytes (hold 20 s -> 30 s): a new inode, which the stamp (``ingest.textfile.FileStamp``) includes."""
    path = tmp_path / "prescriptions.yaml"
    path.write_text(yaml.safe_dump(FILE))
    watched = PrescriptionsFile(path, CATALOG)
    assert watched.current()["ann"][0].hold_s == 20
    new, _, _ = edit_prescriptions(FILE, "ann", "spinal-decompression-60s", {"hold_s": 30}, str(path), CATALOG)
    saved = tmp_path / "prescriptions.yaml.new"
    saved.write_text(yaml.safe_dump(new))
    old = path.stat()
    assert saved.stat().st_size == old.st_size
    os.utime(saved, ns=(old.st_atime_ns, old.st_mtime_ns))
    os.replace(saved, path)
    assert watched.current()["ann"][0].hold_s == 30

"""Prescriptions as data (issue 19, item 1): a clinician's file of exercises and doses per wearer, validated like
policy files: each mistake one error naming the file, the wearer, the entry and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerts.prompts.catalog import load_catalog
from alerts.prompts.prescription import PrescriptionError, load_prescriptions, parse_prescriptions

CATALOG = {e.id for e in load_catalog()}
GOOD = """
wearers:
  ann:
    - exercise: controlled-sit-to-stand
      sets: 2
      reps: 8
      tempo: {down_s: 3, pause_s: 1, up_s: 3}
      per_day: 1
      day_types: [capacity]
      progression: {add_reps: 2, max_reps: 12, while_pain_at_most: 3, step_back_when_pain_above: 5}
    - exercise: spinal-decompression-60s
      hold_s: 20
      sets: 3
      rest_s: 60
      per_week: 3
      progression: {add_hold_s: 5, max_hold_s: 60}
"""


def test_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "prescriptions.yaml"
    path.write_text(GOOD)
    (rise, hold) = load_prescriptions(path, CATALOG)["ann"]
    assert rise.kind == "reps" and rise.tempo is not None and rise.tempo.down_s == 3 and rise.day_types == ["capacity"]
    assert hold.kind == "hold" and hold.hold_s == 20 and hold.per_week == 3 and hold.day_types == ["capacity", "relief"]
    assert hold.progression is not None and not hold.progression.automatic  # the clinician accepts each step


def entry(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"exercise": "spinal-decompression-60s", "hold_s": 20, "per_week": 3}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (entry(reps=5), "give reps \\(repetitions\\) or hold_s"),
        (entry(hold_s=None), "give reps \\(repetitions\\) or hold_s"),
        (entry(tempo={"down_s": 3, "up_s": 3}), "a tempo is for repetitions"),
        (entry(per_day=2), "give per_day or per_week"),
        (entry(hold_s=2), "hold_s: Input should be greater than or equal to 5"),
        (entry(sets=40), "sets: Input should be less than or equal to 10"),
        (entry(progression={"add_hold_s": 5, "max_hold_s": 10}), "max_hold_s 10 is below the prescribed hold_s 20"),
        (entry(progression={"add_reps": 2, "max_reps": 10}), "a hold progresses by add_hold_s"),
        (entry(progression={"add_hold_s": 5}), "a progression needs both its step and its maximum"),
        (
            entry(progression={"add_hold_s": 5, "max_hold_s": 60, "while_pain_at_most": 6}),
            "step_back_when_pain_above must not be below",
        ),
        (entry(exercise="plank-of-doom"), "exercise 'plank-of-doom' is not in the catalog"),
        (entry(day_types=["weekend"]), "day_types.0: Input should be 'capacity' or 'relief'"),
        (entry(colour="red"), "colour: Extra inputs are not permitted"),
    ],
)
def test_each_mistake_is_one_error_naming_wearer_entry_and_reason(raw: dict[str, object], message: str) -> None:
    with pytest.raises(
        PrescriptionError, match=r"^p\.yaml: wearer 'ann', entry 1 \([a-z0-9-]+\): (progression: )?" + message
    ):
        parse_prescriptions({"wearers": {"ann": [raw]}}, "p.yaml", CATALOG)


def test_file_level_mistakes(tmp_path: Path) -> None:
    with pytest.raises(PrescriptionError, match="wearer 1042 is no wearer id"):
        parse_prescriptions(yaml.safe_load("wearers: {1042: []}"), "p.yaml", CATALOG)
    with pytest.raises(PrescriptionError, match="prescribed twice"):
        parse_prescriptions({"wearers": {"ann": [entry(), entry(hold_s=30)]}}, "p.yaml", CATALOG)
    with pytest.raises(PrescriptionError, match="expected 'wearers:'"):
        parse_prescriptions({"patients": {}}, "p.yaml", CATALOG)
    bad = tmp_path / "p.yaml"
    bad.write_bytes(b"wearers:\n  ann: [\xff]\n")
    with pytest.raises(PrescriptionError, match="cannot read the prescriptions file"):
        load_prescriptions(bad, CATALOG)

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.errors import CatalogError
from alerts.prompts.catalog import choose_exercise, load_catalog

REQUIRED = {
    "spinal-decompression-60s",
    "hip-opening-sequence",
    "controlled-sit-to-stand",
    "diaphragmatic-breathing-reset",
    "lean-symmetry-reset",
    "standing-reset",
}


def test_the_built_in_catalog_has_the_core_micro_movements() -> None:
    catalog = load_catalog()
    assert {e.id for e in catalog} >= REQUIRED
    assert all(e.safety and e.steps and e.breathing for e in catalog)


def test_clinicians_add_their_own_files(tmp_path: Path) -> None:
    (tmp_path / "clinic.yaml").write_text(
        "exercises:\n  - id: side-plank-20s\n    title: Modified side plank\n    duration_s: 20\n"
        "    tempo: hold\n    breathing: slow exhale\n    steps: [Knees bent, hold 20 s]\n"
        "    triggers: [lean]\n    day_types: [capacity]\n    safety: Skip on flare-up days.\n"
    )
    catalog = load_catalog([tmp_path])
    assert "side-plank-20s" in {e.id for e in catalog}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exercises:\n  - id: x1\n    title: T\n", r"clinic.yaml: entry 'x1': duration_s: Field required"),
        (
            "exercises:\n  - id: spinal-decompression-60s\n    title: T\n    duration_s: 60\n    tempo: t\n"
            "    breathing: b\n    steps: [s]\n    triggers: [sitting]\n    day_types: [relief]\n    safety: s\n",
            "entry 'spinal-decompression-60s': the id is already defined",
        ),
        ("exercises: 3\n", "clinic.yaml: expected 'exercises:'"),
        ("exercises: [\n", "clinic.yaml: cannot read the catalog file"),
    ],
)
def test_a_malformed_file_is_rejected_with_file_entry_and_reason(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "clinic.yaml").write_text(text)
    with pytest.raises(CatalogError, match=message):
        load_catalog([tmp_path])


def _picks(n: int, **kwargs: object) -> list[str]:
    catalog, recent = load_catalog(), list[str]()
    for _ in range(n):
        recent.append(choose_exercise(catalog, "sitting", recent=recent, **kwargs).id)  # type: ignore[arg-type]
    return recent


def test_rotation_only_picks_exercises_for_the_trigger_and_never_repeats_within_the_window() -> None:
    by_id = {e.id: e for e in load_catalog()}
    picks = _picks(12, day_type="capacity", no_repeat_last=2)
    assert all("sitting" in by_id[p].triggers for p in picks)
    assert all(p not in picks[max(0, i - 2) : i] for i, p in enumerate(picks))
    assert len(set(picks[:4])) == 4  # least recently used first: every suitable exercise before a repeat


def test_the_day_type_shapes_the_choice() -> None:
    by_id = {e.id: e for e in load_catalog()}
    relief = _picks(6, day_type="relief")
    assert all("relief" in by_id[p].day_types for p in relief)
    assert "controlled-sit-to-stand" not in relief  # a capacity-building exercise
    assert "controlled-sit-to-stand" in _picks(4, day_type="capacity")


def test_after_a_pause_the_hip_opening_sequence_is_preferred() -> None:
    catalog = load_catalog()
    assert choose_exercise(catalog, "sitting", context="after_pause").id == "hip-opening-sequence"
    # ...unless it was just suggested: rotation wins over the preference
    again = choose_exercise(catalog, "sitting", context="after_pause", recent=["hip-opening-sequence"])
    assert again.id != "hip-opening-sequence"


def test_every_shipped_catalog_file_validates() -> None:
    from alerts.prompts.catalog import CATALOG_DIR, _load_file

    files = sorted(CATALOG_DIR.glob("*.yaml"))
    assert files and all(_load_file(f) for f in files)


ENTRY = (
    "exercises:\n  - id: side-plank-20s\n    title: {title}\n    duration_s: 20\n    tempo: hold\n"
    "    breathing: slow exhale\n    steps: {steps}\n    triggers: [lean]\n    day_types: [capacity]\n    safety: s\n"
)


@pytest.mark.parametrize(
    ("title", "steps", "message"),
    [
        ('"Side\\nplank"', "[a]", "title: control character U\\+000A at position 4"),
        ("Side plank", '["one\\ttwo"]', "steps.0: control character U\\+0009"),
        ("x" * 121, "[a]", "title: String should have at most 120 characters"),
        ("Side plank", "[" + ", ".join(["y" * 120] * 8) + "]", "steps: steps and breathing make a prompt text of"),
    ],
)
def test_catalog_text_follows_the_wires_free_text_rule(tmp_path: Path, title: str, steps: str, message: str) -> None:
    """What becomes a prompt's title and text is checked when the catalog loads, not when the first prompt is due."""
    (tmp_path / "clinic.yaml").write_text(ENTRY.format(title=title, steps=steps))
    with pytest.raises(CatalogError, match=f"entry 'side-plank-20s': {message}"):
        load_catalog([tmp_path])

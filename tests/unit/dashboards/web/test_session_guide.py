"""The guided session's timer phases (dashboards/web/session.guide): the prescribed tempo per repetition with its
breathing cue, holds with a long-exhale cue and rests between sets, the breathing reset's 4 s in / 6 s out."""

from __future__ import annotations

from alerts.prompts.catalog import load_catalog
from alerts.prompts.prescription import Prescribed
from dashboards.web.session import guide

CATALOG = {e.id: e for e in load_catalog()}


def test_repetitions_follow_the_tempo_and_sets_are_separated_by_the_rest() -> None:
    p = Prescribed.model_validate(
        {
            "exercise": "controlled-sit-to-stand",
            "sets": 2,
            "reps": 3,
            "tempo": {"down_s": 3, "pause_s": 1, "up_s": 2},
            "rest_s": 45,
            "per_day": 1,
        }
    )
    phases = guide(CATALOG["controlled-sit-to-stand"], p)
    assert len(phases) == 2 * 3 * 3 + 1 and sum(ph.seconds for ph in phases) == 2 * 3 * 6 + 45
    assert [ph.label for ph in phases[:3]] == [
        "Lower (set 1, repetition 1)",
        "Pause (set 1, repetition 1)",
        "Rise (set 1, repetition 1)",
    ]
    assert phases[0].cue.startswith("breathe in") and phases[2].cue == "breathe out on the effort"
    assert phases[9].label == "Rest" and phases[9].seconds == 45


def test_holds_say_not_to_hold_the_breath_and_the_breathing_reset_paces_six_a_minute() -> None:
    p = Prescribed.model_validate({"exercise": "spinal-decompression-60s", "sets": 3, "hold_s": 20, "per_week": 3})
    phases = guide(CATALOG["spinal-decompression-60s"], p)
    assert [ph.label for ph in phases] == ["Hold", "Rest", "Hold", "Rest", "Hold"]
    assert "do not hold your breath" in phases[0].cue
    breathing = CATALOG["diaphragmatic-breathing-reset"]
    phases = guide(breathing, None)
    assert [(ph.label, ph.seconds) for ph in phases[:2]] == [("Breathe in", 4.0), ("Breathe out", 6.0)]
    assert abs(sum(ph.seconds for ph in phases) - breathing.duration_s) <= 5  # whole cycles over its duration
    unprescribed = guide(CATALOG["hip-opening-sequence"], None)
    assert len(unprescribed) == 1 and unprescribed[0].seconds == CATALOG["hip-opening-sequence"].duration_s


def test_repetitions_prescribed_without_a_tempo_follow_the_catalogs_own() -> None:
    """The page said "3 seconds up, 3 seconds down" and its timer gave 4 s per repetition (found by the fresh-clone
    pass): a prescription with repetitions and no tempo takes the exercise's ``rep_tempo``."""
    exercise = CATALOG["controlled-sit-to-stand"]
    assert exercise.rep_tempo is not None and "3 seconds up, 3 seconds down" in exercise.tempo
    p = Prescribed.model_validate({"exercise": exercise.id, "sets": 1, "reps": 5, "per_day": 1})
    phases = guide(exercise, p)
    assert [(ph.label, ph.seconds) for ph in phases[:2]] == [
        ("Lower (set 1, repetition 1)", 3.0),
        ("Rise (set 1, repetition 1)", 3.0),
    ]
    assert sum(ph.seconds for ph in phases) == 5 * 6

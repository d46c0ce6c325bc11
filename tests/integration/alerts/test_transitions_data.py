"""Postural transition detection on UCI HAPT's labelled sit-to-stand and stand-to-sit segments (waist), through the
edge feature path the collector runs (``python -m alerts.evaluate.transitions``). Floors below the measured figures
(docs/evaluation.md: stand-to-sit 30 of 40 found, PPV 0.833; sit-to-stand 35 of 41, PPV 0.833)."""

from __future__ import annotations

import pytest

from alerts.evaluate.transitions import evaluate_transitions, main
from tests.support.data import dataset

pytestmark = pytest.mark.data

FLOORS = {"stand_to_sit": (0.70, 0.75), "sit_to_stand": (0.80, 0.75)}  # sensitivity, PPV


def test_hapt_transitions_are_found_with_their_sensitivity_and_ppv() -> None:
    result = evaluate_transitions(dataset("uci-hapt-waist"))
    for kind, (sensitivity, ppv) in FLOORS.items():
        figures = result["kinds"][kind]
        assert figures["reference"] >= 40, figures  # the development split's labelled transitions of that kind
        assert figures["sensitivity"] >= sensitivity, (kind, figures)
        assert figures["ppv"] >= ppv, (kind, figures)


def test_a_dataset_without_transition_labels_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(dataset("dsads-torso-legs"))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "STAND_TO_SIT" in err

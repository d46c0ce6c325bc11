"""The Prescriptions page's form (dashboards/web/prescriptions.py): a prescription's values shown in the form, and a
posted form read as the CLI reads ``KEY=VALUE`` pairs: only what differs, an emptied field removed, "More" pairs
parsed as YAML, a bad pair refused with one line."""

from __future__ import annotations

import pytest

from alerts.prompts.prescription import Prescribed
from dashboards.web.prescriptions import dose_values, form_changes
from ingest.errors import ConfigError

SIT = Prescribed.model_validate(
    {"exercise": "controlled-sit-to-stand", "reps": 4, "tempo": {"down_s": 3, "pause_s": 0.5, "up_s": 3}, "per_week": 2}
)


def test_the_form_shows_the_prescriptions_values_and_nothing_for_what_is_not_set() -> None:
    assert dose_values(SIT) == {
        "sets": "1",
        "reps": "4",
        "hold_s": "",
        "tempo.down_s": "3",
        "tempo.pause_s": "0.5",
        "tempo.up_s": "3",
        "rest_s": "30",
        "per_day": "",
        "per_week": "2",
    }


def test_only_what_differs_is_changed_an_emptied_field_is_removed_and_more_is_read_as_yaml() -> None:
    current = dose_values(SIT)
    posted = current | {"reps": "5", "tempo.pause_s": " ", "per_week": "2"}
    changes = form_changes(posted, current, "progression.add_reps=1 'day_types=[capacity]'")
    assert changes == {"reps": 5, "tempo.pause_s": None, "progression.add_reps": 1, "day_types": ["capacity"]}
    assert form_changes(current, current, "") == {}
    # a new exercise: every filled field
    assert form_changes({"hold_s": "20", "per_week": "3", "sets": ""}, {}, "") == {"hold_s": 20, "per_week": 3}


@pytest.mark.parametrize(
    ("more", "reason"),
    [("reps", "prescription setting 'reps' must look like KEY=VALUE"), ("'reps=5", "No closing quotation")],
)
def test_a_bad_more_pair_is_one_line(more: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        form_changes({}, {}, more)

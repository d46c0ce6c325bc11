"""A wearer's own view under the wall asks every database and merges the answers (ingest/store/walled.py): a minute
split between two databases (consent changed within it) is one minute again; responses answered in parts are summed
per exercise with one total."""

from __future__ import annotations

from ingest.store.parted import merged_minutes, summed_responses
from ingest.store.queries import MinuteRow, ResponseRow


def test_a_minute_split_between_databases_is_one_minute_weighted_by_its_frames() -> None:
    clinic = [MinuteRow(60_000, 30, 80.0, 10.0, 2.0, 3), MinuteRow(120_000, 60, 10.0, None, 1.0, 0)]
    private = [MinuteRow(0, 60, 5.0, 1.0, 0.5, 0), MinuteRow(60_000, 10, 40.0, None, 6.0, 1)]
    merged = merged_minutes(clinic + private)
    assert [m.t_ms for m in merged] == [0, 60_000, 120_000]
    assert merged[1] == MinuteRow(60_000, 40, 70.0, 10.0, 3.0, 4)  # (80*30 + 40*10) / 40; lean only from the clinic's
    assert merged[0] == private[0] and merged[2] == clinic[1]


def test_responses_in_parts_are_summed_per_exercise_with_one_total() -> None:
    parts = [
        ResponseRow("chin-tuck", 2, 1, 1, 1, 0),
        ResponseRow("*", 2, 1, 1, 1, 0),
        ResponseRow("chin-tuck", 1, 0, 0, 1, 1),
        ResponseRow("walk", 3, 3, 3, 3, 0),
        ResponseRow("*", 4, 3, 3, 4, 1),
    ]
    assert summed_responses(parts) == [
        ResponseRow("chin-tuck", 3, 1, 1, 2, 1),
        ResponseRow("walk", 3, 3, 3, 3, 0),
        ResponseRow("*", 6, 4, 4, 5, 1),
    ]
    assert summed_responses([]) == []

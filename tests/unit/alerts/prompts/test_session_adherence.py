"""A week's adherence as a point (issue 19, item 5): the ``session_adherence`` event (alerts.prompts.progression)
carries sessions done and prescribed and their ratio, 0 % for a prescribed week with nothing done; it travels on the
wearer's prescriptions topic only and is stored as a ``prescriptions`` point at the middle of its week, where the Weekly
review's adherence panel reads it; a session outcome stored before it still decodes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.prompts.progression import adherence_event
from ingest.errors import WireError
from ingest.store.model import event_points
from ingest.wall import category_of
from ingest.wire import EventV1, Topics, decode, encode

MIDDLE = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)


def test_done_of_prescribed_and_zero_for_a_week_with_nothing_done() -> None:
    e = adherence_event("ann", "controlled-sit-to-stand", "2026-W49", MIDDLE, 2, 3, partial=1)
    assert e.kind == "session_adherence" and e.reason == "2026-W49: 2 of 3 sessions done"
    assert e.metrics is not None and e.metrics["adherence_pct"] == pytest.approx(200 / 3)
    assert (e.metrics["sessions_done"], e.metrics["sessions_prescribed"], e.metrics["sessions_partial"]) == (2, 3, 1)
    nothing = adherence_event("ann", "controlled-sit-to-stand", "2026-W50", MIDDLE, 0, 3)
    assert nothing.metrics is not None and nothing.metrics["adherence_pct"] == 0.0
    with pytest.raises(ValueError, match="0 sessions prescribed"):
        adherence_event("ann", "controlled-sit-to-stand", "2026-W50", MIDDLE, 0, 0)


def test_stored_as_a_prescriptions_point_at_the_middle_of_its_week() -> None:
    e = adherence_event("ann", "controlled-sit-to-stand", "2026-W49", MIDDLE, 0, 3)
    (point,) = [p for p in event_points(e) if p.measurement == "prescriptions"]
    assert dict(point.tags) == {"wearer": "ann", "exercise": "controlled-sit-to-stand", "kind": "session_adherence"}
    assert point.fields["adherence_pct"] == 0.0 and point.t_ms == round(MIDDLE.timestamp() * 1000)


def test_only_on_the_prescriptions_topic() -> None:
    topics = Topics("kinetic")
    e = adherence_event("ann", "controlled-sit-to-stand", "2026-W49", MIDDLE, 1, 2)
    assert topics.event_topic(e) == "kinetic/v1/ann/prescriptions"
    assert decode(topics, topics.event_topic(e), encode(e))[1] == e
    with pytest.raises(WireError, match="session_adherence on an events topic"):
        decode(topics, topics.events("ann"), encode(e))


def test_a_session_outcome_stored_before_still_decodes() -> None:
    old = (
        '{"v":1,"kind":"session_outcome","wearer":"ann","t":"2026-12-01T10:00:00Z","exercise":"controlled-sit-to-'
        'stand","session":"s1","outcome":"done","duration_s":60,"metrics":{"samples":0,"chunks_lost":0,"verified":0}}'
    )
    e = EventV1.model_validate_json(old)
    assert e.outcome == "done" and e.metrics == {"samples": 0.0, "chunks_lost": 0.0, "verified": 0.0}


def test_exercise_data_behind_the_wall_between_clinics() -> None:
    """Shared with a clinic only under its ``exercise`` consent, as the sessions it counts (ingest/wall.py)."""
    assert category_of("events", "session_adherence") == "exercise"
    assert category_of("prescriptions", None) == "exercise"

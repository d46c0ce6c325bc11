"""A pause given before a wearer's first data: the alert service keeps it
(tests/unit/alerts/test_commands_before_data.py), so Home Assistant shows it from the command on (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboards.homeassistant.entities import HaTopics
from dashboards.homeassistant.states import StateTracker
from ingest.wire import CommandV1

BEFORE = datetime(2026, 1, 5, 8, 55, tzinfo=UTC)


def test_home_assistant_shows_a_pause_given_before_the_first_data() -> None:
    """As the alert service keeps it (above), Home Assistant shows the wearer paused from the command on."""
    topics = HaTopics("kinetic")
    tracker = StateTracker(topics, min_interval_ms=0)
    pause = CommandV1(kind="pause", wearer="ann", at=BEFORE, until=BEFORE + timedelta(hours=2), source="cli")
    shown = {p.topic: p.payload.decode() for p in tracker.feed(pause)}
    assert shown[topics.state("ann", "prompts_paused")] == "ON"

"""Events come at least once: the alert service re-publishes the events of the messages it had not acknowledged when
it was killed (its state is restored from the last checkpoint and those messages come again; only prompts are kept
from going out twice, by the outbox). Issue 13: a repeat must never change a count."""

from __future__ import annotations

from dashboards.homeassistant.states import StateTracker
from tests.unit.dashboards.homeassistant.test_states import BERLIN, TOPICS, bout, frames


def today(messages: list) -> dict[str, str]:  # type: ignore[type-arg]
    tracker = StateTracker(TOPICS, BERLIN, min_interval_ms=0)
    out = [p for m in messages for p in tracker.feed(m)]
    return {p.topic.rsplit("/", 1)[-1]: p.payload.decode() for p in out if p.topic.endswith("_today")}


def test_a_sitting_bout_and_its_break_published_twice_count_once() -> None:
    """Before: sitting today 20.0 min and 2 breaks for one 10-minute bout and one break."""
    once = [
        bout("bout_started", "sitting", 0),
        bout("bout_ended", "sitting", 0, 10),
        bout("bout_started", "standing", 10),
    ]
    assert today([*once, frames(12)])["sitting_today"] == "10.0"
    twice = today([*once, *once[1:], frames(12)])
    assert (twice["sitting_today"], twice["breaks_today"]) == ("10.0", "1")

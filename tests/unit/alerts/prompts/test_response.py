"""Did the wearer break the bout after a prompt (alerts.prompts.response, docs/metrics.md prompt response)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerts.prompts.response import FOLLOW_MS, OpenPrompt, ResponseTracker

T0 = 1_767_603_600_000
BOUT_START = T0 - 30 * 60_000


def settle(created_ms: int, end_ms: int, moved: bool = True) -> dict[str, float]:
    tracker = ResponseTracker()
    tracker.add(OpenPrompt("p", "sitting", "x", created_ms, BOUT_START))
    (outcome,) = tracker.ended("sitting", BOUT_START, end_ms, moved)
    return outcome.metrics()


def test_a_break_that_began_before_the_prompt_is_not_counted() -> None:
    metrics = settle(T0, T0 - 5000)  # stood up 5 s before the prompt went out
    assert "break_after_s" not in metrics  # was: break_after_s=0, "moved within 1 min"
    assert (metrics["broke_1min"], metrics["broke_3min"], metrics["broke_5min"]) == (0, 0, 0)
    assert metrics["ended_without_break"] == 0
    assert "break_after_s" not in settle(T0, T0)  # the prompt's own second was seen before it was made


def test_a_break_after_the_prompt_counts_from_the_prompt() -> None:
    metrics = settle(T0, T0 + 42_000)
    assert metrics["break_after_s"] == 42.0 and (metrics["broke_1min"], metrics["broke_5min"]) == (1, 1)


@given(st.integers(min_value=-FOLLOW_MS, max_value=2 * FOLLOW_MS), st.booleans())
def test_break_after_s_is_positive_and_never_counts_time_before_the_prompt(offset_ms: int, moved: bool) -> None:
    metrics = settle(T0, T0 + offset_ms, moved)
    if "break_after_s" in metrics:
        assert moved and 0 < round(metrics["break_after_s"] * 1000) == offset_ms <= FOLLOW_MS
    else:
        assert not (moved and 0 < offset_ms <= FOLLOW_MS)
        assert metrics["broke_5min"] == 0

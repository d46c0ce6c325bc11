"""``prompt_command``: the one builder of prompt commands (CLI, web app): the command each action makes, and the
checks that refuse one before anything is sent."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.prompts.commands import CommandRefused, prompt_command
from alerts.prompts.policy.model import PromptPolicy
from ingest.wire import MAX_PAUSE_MIN

AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_done_is_an_ack_of_the_prompt() -> None:
    command = prompt_command("done", "ann", AT, source="web", prompt_id="ann-sitting-1")
    assert (command.kind, command.wearer, command.prompt_id, command.source, command.at) == (
        "ack",
        "ann",
        "ann-sitting-1",
        "web",
        AT,
    )


def test_snooze_carries_its_minutes_or_leaves_them_to_the_policy() -> None:
    assert prompt_command("snooze", "ann", AT, source="web", prompt_id="p", minutes=10).minutes == 10
    assert prompt_command("snooze", "ann", AT, source="web", prompt_id="p").minutes is None


def test_pause_for_minutes_until_a_time_or_until_resume() -> None:
    """A span says so (``for_min``, with ``until`` its end); a time of day is ``until`` alone (issue 17)."""
    span = prompt_command("pause", "ann", AT, source="web", pause_for_min=60)
    assert (span.until, span.for_min) == (AT + timedelta(hours=1), 60)
    time_of_day = prompt_command("pause", "ann", AT, source="web", until="2026-11-23T12:00:00+01:00")
    assert (time_of_day.until, time_of_day.for_min) == (datetime(2026, 11, 23, 11, tzinfo=UTC), None)
    assert prompt_command("pause", "ann", AT, source="web").until is None


def test_policy_overrides_are_checked_against_the_wearers_policy() -> None:
    command = prompt_command("policy", "ann", AT, source="web", settings={"sitting_threshold_min": 25})
    assert command.settings == {"sitting_threshold_min": 25}
    assert prompt_command("policy", "ann", AT, source="web", settings={"snooze_min": "default"}).settings == {
        "snooze_min": "default"
    }
    with pytest.raises(CommandRefused, match="sitting_threshold_min"):
        prompt_command("policy", "ann", AT, source="web", settings={"sitting_threshold_min": -1})
    with pytest.raises(CommandRefused, match="unknown policy key 'threshold'"):
        prompt_command("policy", "ann", AT, source="web", settings={"threshold": 5})
    with pytest.raises(CommandRefused, match="quiet_hours"):
        prompt_command("policy", "ann", AT, source="web", settings={"quiet_hours": ["25:00-26:00"]})
    # the wearer's own policy is the base: its time zone stays valid, a key checked with it
    berlin = PromptPolicy(timezone="Europe/Berlin")
    assert prompt_command("policy", "ann", AT, source="web", settings={"max_per_day": 3}, policy=berlin).settings


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"action": "done"}, "prompt_id"),
        ({"action": "snooze", "prompt_id": "p", "minutes": 0}, "above 0"),
        ({"action": "pause", "pause_for_min": MAX_PAUSE_MIN + 1}, "at most"),
        ({"action": "pause", "pause_for_min": math.nan}, "minutes"),
        ({"action": "pause", "until": "tomorrow"}, "ISO 8601"),
        ({"action": "pause", "until": "2026-11-23T09:00:00+00:00"}, "not after"),
        ({"action": "pause", "pause_for_min": 5, "until": "2026-11-24T09:00:00+00:00"}, "not both"),
        ({"action": "policy"}, "needs settings"),
        ({"action": "dance"}, "expected one of"),
    ],
)
def test_bad_input_is_refused_in_one_line(kwargs: dict[str, object], needle: str) -> None:
    action = str(kwargs.pop("action"))
    with pytest.raises(CommandRefused, match=needle) as info:
        prompt_command(action, "ann", AT, source="web", **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_pause_minutes_either_make_a_later_pause_or_are_refused(minutes: float) -> None:
    try:
        command = prompt_command("pause", "ann", AT, source="web", pause_for_min=minutes)
    except CommandRefused:  # out of range, or too short to move the time (under a microsecond)
        assert not (0 < minutes <= MAX_PAUSE_MIN) or timedelta(minutes=minutes) == timedelta(0)
    else:
        assert command.until is not None and command.until > AT

"""Do-not-disturb and the after-meeting keys of the policy (issue 17): the switch holds through the planner's one hold
rule, apart from a pause; the new policy keys are validated like the others."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.errors import PolicyError
from alerts.prompts.policy.model import PromptPolicy, merge
from alerts.prompts.policy.planner import reason_in_words
from tests.unit.alerts.prompts.test_policy import MONDAY, run

M = timedelta(minutes=1)


def test_do_not_disturb_holds_from_its_event_time_until_switched_off() -> None:
    r = run("sit 80m", commands=[(20 * M, {"kind": "dnd_on"}), (50 * M, {"kind": "dnd_off"})], escalate_after_min=None)
    assert r.at() == [50 * M] and r.prompts[0].held_s == 20 * 60
    assert [e.reason for e in r.kinds("prompt_held")] == ["dnd"] and reason_in_words("dnd") == "do not disturb"
    assert [e.reason for e in r.kinds("policy_changed")] == ["do not disturb on", "do not disturb off"]
    assert r.prompts[0].exercise == "hip-opening-sequence"  # held: the after-a-pause exercise


def test_do_not_disturb_and_a_pause_are_separate_switches() -> None:
    """Resuming a pause does not end do-not-disturb, nor does switching DND off end a pause."""
    r = run(
        "sit 90m",
        commands=[(10 * M, {"kind": "dnd_on"}), (20 * M, {"kind": "pause"}), (40 * M, {"kind": "resume"})],
        escalate_after_min=None,
    )
    assert r.prompts == []
    r = run(
        "sit 90m",
        commands=[(10 * M, {"kind": "pause"}), (20 * M, {"kind": "dnd_on"}), (40 * M, {"kind": "dnd_off"})],
        escalate_after_min=None,
    )
    assert r.prompts == []


def test_do_not_disturb_given_before_any_data_is_kept() -> None:
    r = run("gap 5m, sit 40m", commands=[(0 * M, {"kind": "dnd_on"})], start=MONDAY, escalate_after_min=None)
    assert r.prompts == [] and [e.reason for e in r.kinds("prompt_held")] == ["dnd"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"after_meeting_min": 0}, "after_meeting_min: Input should be greater than 0"),
        ({"after_meeting_delay_min": -1}, "after_meeting_delay_min: Input should be greater than or equal to 0"),
        ({"after_meeting_delay_min": 61}, "after_meeting_delay_min: Input should be less than or equal to 60"),
    ],
)
def test_after_meeting_keys_are_checked(overrides: dict[str, float], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        merge(PromptPolicy(), overrides, "policy")
    assert merge(PromptPolicy(), {"after_meeting_min": None}, "policy").after_meeting_min is None

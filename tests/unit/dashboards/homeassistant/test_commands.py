"""Home Assistant's button presses and number sets -> Kinetic commands, with the CLI's checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.prompts.policy.model import PromptPolicy
from dashboards.homeassistant.commands import command_for
from dashboards.homeassistant.entities import HaTopics, HomeAssistantError
from ingest.wire import CommandV1, Topics, decode, encode

TOPICS = HaTopics("kinetic")
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
POLICY = PromptPolicy()


def test_pause_for_an_hour_resume_and_a_new_threshold() -> None:
    pause = command_for(TOPICS, "kinetic/ha/ann/pause_1h/set", b"PRESS", NOW, POLICY)
    assert (pause.kind, pause.wearer, pause.at, pause.until) == ("pause", "ann", NOW, NOW + timedelta(hours=1))
    assert pause.for_min == 60  # a span (issue 17): it moves with at where commands are judged on the data's clock
    resume = command_for(TOPICS, "kinetic/ha/ann/resume/set", b"PRESS", NOW, POLICY)
    assert resume.kind == "resume" and resume.until is None
    for payload, value in ((b"25", 25), (b"25.0", 25), (b" 12.5 ", 12.5)):
        policy = command_for(TOPICS, "kinetic/ha/ann/sitting_threshold/set", payload, NOW, POLICY)
        assert policy.kind == "policy" and policy.settings == {"sitting_threshold_min": value}
    # what the alert service reads back from the commands topic is the same command
    address, decoded = decode(Topics("kinetic"), Topics("kinetic").commands("ann"), encode(pause))
    assert decoded == pause and address.wearer == "ann"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("kinetic/ha/ann/pause_1h/set", b"ON", "expected 'PRESS'"),
        ("kinetic/ha/ann/sitting_threshold/set", b"0", "sitting_threshold_min"),
        ("kinetic/ha/ann/sitting_threshold/set", b"1441", "sitting_threshold_min"),
        ("kinetic/ha/ann/sitting_threshold/set", b"nan", "a number of minutes"),
        ("kinetic/ha/ann/sitting_threshold/set", b"inf", "a number of minutes"),
        ("kinetic/ha/ann/sitting_threshold/set", b"twenty", "a number of minutes"),
        ("kinetic/ha/ann/sitting_threshold/set", b"9" * 400, "characters"),
        ("kinetic/ha/ann/sitting_threshold/set", b"\xff\xfe", "not UTF-8"),
        ("kinetic/ha/ann/posture/set", b"sitting", "takes no command"),
        ("kinetic/ha/Ann/resume/set", b"PRESS", "must match"),
    ],
)
def test_what_kinetic_cannot_take_is_one_line_naming_the_topic(topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(HomeAssistantError) as exc:
        command_for(TOPICS, topic, payload, NOW, POLICY)
    assert reason in str(exc.value) and "\n" not in str(exc.value)


@given(st.binary(max_size=64), st.sampled_from(["pause_1h", "resume", "sitting_threshold", "posture"]))
def test_any_payload_gives_a_valid_command_or_a_home_assistant_error(payload: bytes, object_id: str) -> None:
    try:
        command = command_for(TOPICS, f"kinetic/ha/ann/{object_id}/set", payload, NOW, POLICY)
    except HomeAssistantError:
        return
    assert CommandV1.model_validate_json(encode(command)) == command

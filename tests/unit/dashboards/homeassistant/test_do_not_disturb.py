"""Home Assistant's do-not-disturb switch (issue 17): ON / OFF become ``dnd_on`` / ``dnd_off`` commands, and the
switch shows what the last one said, apart from the pause."""

from __future__ import annotations

import pytest

from dashboards.homeassistant.commands import command_for
from dashboards.homeassistant.entities import COMMAND_OBJECTS, WEARER_ENTITIES, HomeAssistantError
from ingest.wire import CommandV1
from tests.unit.dashboards.homeassistant.test_commands import NOW, POLICY, TOPICS
from tests.unit.dashboards.homeassistant.test_states import at, board, frames


def test_the_switch_sends_dnd_on_and_off() -> None:
    (switch,) = [e for e in WEARER_ENTITIES if e.object_id == "do_not_disturb"]
    assert switch.component == "switch" and switch.state and "do_not_disturb" in COMMAND_OBJECTS
    on = command_for(TOPICS, "kinetic/ha/ann/do_not_disturb/set", b"ON", NOW, POLICY)
    off = command_for(TOPICS, "kinetic/ha/ann/do_not_disturb/set", b"OFF", NOW, POLICY)
    assert (on.kind, on.at, on.source, off.kind) == ("dnd_on", NOW, "homeassistant", "dnd_off")
    with pytest.raises(HomeAssistantError, match="expected 'ON' or 'OFF'"):
        command_for(TOPICS, "kinetic/ha/ann/do_not_disturb/set", b"PRESS", NOW, POLICY)


def test_the_switch_shows_the_last_command_and_is_apart_from_the_pause() -> None:
    b = board()
    b.feed(frames(0))
    assert b.state("do_not_disturb") == "OFF"
    b.feed(CommandV1(kind="dnd_on", wearer="ann", at=at(1), source="homeassistant"))
    assert b.state("do_not_disturb") == "ON" and b.state("prompts_paused") == "OFF"
    b.feed(CommandV1(kind="resume", wearer="ann", at=at(2)))
    assert b.state("do_not_disturb") == "ON"
    b.feed(CommandV1(kind="dnd_off", wearer="ann", at=at(3)))
    assert b.state("do_not_disturb") == "OFF"

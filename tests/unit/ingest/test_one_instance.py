"""One service of a kind per settings on a host (issue 13: `kinetic alerts` started twice fought over the broker
connection and shared the state file): ``one_instance`` holds a lock beside the service's file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.process import AlreadyRunning, lock_path, one_instance


def test_a_second_holder_is_refused_in_one_line_naming_the_holder_and_the_setting(tmp_path: Path) -> None:
    state = tmp_path / "k.sqlite"
    first = one_instance(state, "kinetic alerts", "KINETIC_ALERTS__STATE_DIR")
    second = one_instance(state, "kinetic alerts", "KINETIC_ALERTS__STATE_DIR")
    with first, pytest.raises(AlreadyRunning) as refused, second:
        pass
    message = str(refused.value)
    assert "\n" not in message
    assert f"process {os.getpid()} holds {lock_path(state)}" in message
    assert message.endswith("give this one its own KINETIC_ALERTS__STATE_DIR")


def test_the_lock_is_released_when_the_holder_ends(tmp_path: Path) -> None:
    state = tmp_path / "k.sqlite"
    with one_instance(state, "kinetic alerts", "KINETIC_ALERTS__STATE_DIR"):
        pass
    with one_instance(state, "kinetic alerts", "KINETIC_ALERTS__STATE_DIR"):  # a restart after a stop
        pass
    other = tmp_path / "other.sqlite"  # other settings, other file: both run
    with one_instance(state, "a", "X"), one_instance(other, "b", "Y"):
        pass

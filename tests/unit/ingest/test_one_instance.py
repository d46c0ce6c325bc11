"""One service of a kind per settings on a host (issue 13: `kinetic alerts` started twice fought over the broker
connection and shared the state file): ``one_instance`` holds a lock beside the service's file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.process import AlreadyRunning, client_lock_path, lock_path, one_client, one_instance


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


def test_a_second_persistent_mqtt_client_is_refused_naming_the_client_id_lock_and_setting(tmp_path: Path) -> None:
    """``kinetic collect`` / ``kinetic phone`` / the bridge / the alert service: one process per persistent MQTT
    session (client id and broker) on a host, whatever their other settings (issue 16)."""
    first = one_client("127.0.0.1", 1883, "kinetic-collector", tmp_path)
    second = one_client("127.0.0.1", 1883, "kinetic-collector", tmp_path)
    with first, pytest.raises(AlreadyRunning) as refused, second:
        pass
    message = str(refused.value)
    assert "\n" not in message
    lock = client_lock_path("127.0.0.1", 1883, "kinetic-collector", tmp_path)
    assert lock == tmp_path / "kinetic-collector@127.0.0.1_1883.lock"
    assert message == (
        "a process already runs as MQTT client 'kinetic-collector' at 127.0.0.1:1883 (a persistent session) "
        f"(process {os.getpid()} holds {lock}): stop it first, or give this one its own KINETIC_MQTT__CLIENT_ID_PREFIX"
    )
    # another broker or another client id is another session: both run
    with one_client("127.0.0.1", 1883, "a", tmp_path), one_client("127.0.0.1", 1884, "a", tmp_path):
        pass
    with one_client("::1", 1883, "a/b", tmp_path):  # a name safe in a file name
        assert (tmp_path / "a_b@__1_1883.lock").exists()


def test_a_crashed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    """A process killed (-9) while holding the client lock: the kernel releases it, the next one starts."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from ingest.process import one_client\n"
            f"with one_client('127.0.0.1', 1883, 'kinetic-phone', Path({str(tmp_path)!r})):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning), one_client("127.0.0.1", 1883, "kinetic-phone", tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
    with one_client("127.0.0.1", 1883, "kinetic-phone", tmp_path):  # the lock file is still there: not stale
        assert client_lock_path("127.0.0.1", 1883, "kinetic-phone", tmp_path).exists()

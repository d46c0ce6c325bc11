"""`kinetic alerts` started a second time with the same settings (by hand beside the systemd unit, or a container
restarted while the old one is still up). Both connect as `<prefix>-alerts`: the broker drops the older connection
for the newer one, which reconnects at once, and so on: each process logs 'connection lost ... reconnecting' and
'watching ...' several times a second for as long as both run, neither keeps its subscription, and both read and
write the same state file. Right: the second says in one line that one is already running (the state file or the
client id is in use) and exits non-zero; or, at least, the first is not disturbed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from tests.support.processes import Proc, env_for
from tests.support.servers import Server

pytestmark = pytest.mark.integration


def test_a_second_alert_service_does_not_start_a_reconnection_fight(
    mosquitto: Server, unique: str, tmp_path: Path
) -> None:
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path)
    first = Proc(["alerts"], env, tmp_path / "first.log")
    second: Proc | None = None
    try:
        first.wait_for("watching")
        second = Proc(["alerts"], env, tmp_path / "second.log")
        deadline = time.monotonic() + 10  # a window to observe, not a speed requirement
        while time.monotonic() < deadline and second.process.poll() is None:
            time.sleep(0.2)
        refused = second.process.poll() not in (None, 0)
        losses = first.text().count("connection lost")
        assert refused or losses <= 1, f"first lost its connection {losses} times in 10 s:\n{first.text()[-600:]}"
        if refused:
            assert second.text().count("\n") == 1 and "Traceback" not in second.text(), second.text()
    finally:
        if second is not None:
            second.terminate()
        first.terminate()


def test_a_second_bridge_with_the_same_spool_refuses_in_one_line(
    mosquitto: Server, unique: str, tmp_path: Path
) -> None:
    """The bridge the same (the tester saw it re-dead-letter every retained message at each of its reconnections): the
    second, with the same spool, stops in one line while the first is up (here still waiting for its database)."""
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path)
    first = Proc(["bridge"], env, tmp_path / "first.log")
    second: Proc | None = None
    try:
        first.wait_for("127.0.0.1:9")  # it holds the spool's lock from before it waits for the database
        second = Proc(["bridge"], env, tmp_path / "second.log")
        assert second.process.wait(timeout=60) == 2
        assert second.text().strip().endswith("give this one its own KINETIC_BRIDGE__SPOOL_PATH"), second.text()
        assert second.text().count("\n") == 1
    finally:
        if second is not None:
            second.terminate()
        first.terminate()


def wait_online(server: Server, root: str, restarted: bool = False) -> None:
    """Until ``kinetic phone`` says it is online (its retained collector status); ``restarted``: a new one, not the
    retained status of one killed (its will says offline first, then the new one online)."""
    states: list[str] = []
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: states.append(json.loads(m.payload)["state"] if m.payload else "")
    client.connect(server.host, server.port)
    client.subscribe(f"{root}/v1/_collector/+/status", qos=1)
    client.loop_start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if states and states[-1] == "online" and (not restarted or "offline" in states):
                return
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    raise AssertionError(f"kinetic phone not online; statuses seen: {states}")


def test_a_second_phone_service_with_its_own_queue_refuses_in_one_line_naming_the_client_id(
    mosquitto: Server, unique: str, tmp_path: Path
) -> None:
    """``kinetic phone`` (as ``kinetic collect``: a persistent session with a fixed client id, issue 16) started again
    with its own queue file: the two would knock each other off the broker, so the second stops in one line (exit 2)
    naming the client id, the running process, its lock and the setting to change; the first is not disturbed; once
    the first is killed (-9: no clean stop), a third starts: no stale lock."""
    config = tmp_path / "phones.toml"
    config.write_text('[[phone.phones]]\nwearer = "ann"\nplatform = "android"\n')
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path) | {
        "KINETIC_CONFIG": str(config),
        "KINETIC_PHONE__HTTP_PORT": "0",
    }
    first = Proc(["phone"], env, tmp_path / "first.log")
    second: Proc | None = None
    third: Proc | None = None
    try:
        wait_online(mosquitto, unique)
        second = Proc(["phone"], env | {"KINETIC_PHONE__QUEUE_PATH": str(tmp_path / "q2.sqlite")}, tmp_path / "2.log")
        assert second.process.wait(timeout=60) == 2, second.text()
        line = second.text()
        assert line.count("\n") == 1, line
        assert f"a process already runs as MQTT client '{unique}-phone' at 127.0.0.1:{mosquitto.port}" in line
        assert f"(process {first.process.pid} holds " in line
        assert line.strip().endswith("give this one its own KINETIC_MQTT__CLIENT_ID_PREFIX"), line
        assert not (tmp_path / "q2.sqlite").exists()  # refused before it opened its queue
        assert "connection lost" not in first.text()
        first.process.kill()
        first.process.wait(10)
        third = Proc(["phone"], env, tmp_path / "third.log")
        wait_online(mosquitto, unique, restarted=True)
    finally:
        for proc in (second, third, first):
            if proc is not None:
                proc.terminate()

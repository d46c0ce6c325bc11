"""Restart safety of `kinetic alerts` on a real Mosquitto: kill -9 mid-bout, start again, neither a duplicate nor a
missed prompt (issue #5). The kill comes right after a prompt went out and before any checkpoint, so the restarted
service must replay the unacknowledged messages and recognise that prompt in its outbox."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import Topics, encode
from tests.support.processes import Proc, env_for
from tests.support.servers import Server

pytestmark = pytest.mark.integration

START = "2026-11-23T09:00:00+00:00"
DAY = f"""
start: {START}
wearers:
  - wearer: ann
    placement: thigh
    segments: [sit 45m]
  - wearer: bob
    placement: thigh
    segments: [walk 1m, sit 45m]
"""


class Subscriber:
    """mosquitto_sub on the prompts of every wearer, QoS 1."""

    def __init__(self, port: int, topics: Topics, log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topics.all_prompts()],
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def prompts(self) -> list[dict]:  # type: ignore[type-arg]
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def wait(self, count: int, timeout_s: float) -> list[dict]:  # type: ignore[type-arg]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.prompts()
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"{count} prompts expected, got {self.prompts()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        self._out.close()


def wait_delivered(outbox: Path, prompt_id: str, timeout_s: float) -> None:
    """Until the running service's outbox says the prompt's MQTT delivery is done (read-only, beside it)."""
    deadline = time.monotonic() + timeout_s
    with contextlib.closing(sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)) as db:
        while time.monotonic() < deadline:
            row = db.execute(
                "SELECT state FROM deliveries WHERE prompt_id = ? AND channel = 'mqtt'", (prompt_id,)
            ).fetchone()
            if row is not None and row[0] == "done":
                return
            time.sleep(0.005)
    raise AssertionError(f"the outbox never noted {prompt_id} as delivered")


def publish_day(port: int, topics: Topics, done: threading.Event) -> None:
    """Both wearers' frames, 10 s per message, interleaved in event time, about 100 messages a second, with one
    pause of 3 s after 5 minutes of event time (the service checkpoints while idle)."""
    scenario = parse_scenario(DAY)
    streams = [list(batches_for(scenario, w, 10)) for w in scenario.wearers]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="restart-test-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    for i, pair in enumerate(zip(*streams, strict=False)):
        for batch in pair:
            client.publish(topics.features(batch.wearer, batch.device), encode(batch), qos=1).wait_for_publish(5)
        time.sleep(3.0 if i == 30 else 0.02)
    client.loop_stop()
    client.disconnect()
    done.set()


def test_kill_9_mid_bout_gives_no_duplicate_and_no_missed_prompt(
    mosquitto: Server,
    unique: str,
    tmp_path: Path,
    procs: list[Proc],
) -> None:
    topics = Topics(unique)
    policy = tmp_path / "policy.yaml"
    policy.write_text("wearers:\n  ann:\n    sitting_threshold_min: 10\n")
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path) | {
        "KINETIC_ALERTS__POLICY_FILE": str(policy),
        # a checkpoint in the publisher's pause, then none for a minute: the kill below lands after ann's prompt
        # and before the next checkpoint
        "KINETIC_ALERTS__CHECKPOINT_S": "60",
        "KINETIC_ALERTS__IDLE_CHECKPOINT_S": "1",
    }
    first = Proc(["alerts"], env, tmp_path / "alerts-1.log")
    procs.append(first)
    first.wait_for("watching")
    sub = Subscriber(mosquitto.port, topics, tmp_path / "prompts.log")
    try:
        time.sleep(0.3)  # the subscription is in place
        done = threading.Event()
        threading.Thread(target=publish_day, args=(mosquitto.port, topics, done), daemon=True).start()
        (ann_first,) = sub.wait(1, 60)
        # the kill must land after the outbox noted the delivery: a kill in the few ms between the broker taking the
        # prompt and the outbox noting it repeats the delivery after the restart, same id - the documented
        # at-least-once window (docs/prompts.md), not what this test is about (a prompt decided again in the replay)
        outbox = tmp_path / f"{unique}-alerts" / f"{unique}.sqlite"
        wait_delivered(outbox, ann_first["id"], 10)
        first.process.kill()  # kill -9 while both wearers sit, before the next checkpoint
        first.process.wait(5)
        assert ann_first["wearer"] == "ann"

        second = Proc(["alerts"], env, tmp_path / "alerts-2.log")
        procs.append(second)
        second.wait_for("watching")
        assert done.wait(60)
        found = sub.wait(4, 60)
        time.sleep(1.0)  # anything late or duplicated would arrive now
        found = sub.prompts()
        second.wait_for("not sent again")  # the replay did decide ann's first prompt again
        assert "restored the state of 2 wearers" in second.text()
        assert second.terminate() == 0
    finally:
        sub.stop()

    t0 = datetime.fromisoformat(START)
    got = sorted((p["wearer"], p["attempt"], datetime.fromisoformat(p["created"]) - t0) for p in found)
    minute = timedelta(minutes=1)
    assert got == [
        ("ann", 1, 10 * minute),  # sent before the kill, not again after it
        ("ann", 2, 20 * minute),  # the one re-prompt, after the restart
        ("bob", 1, 31 * minute),  # bob sat from minute 1: 30 min later, after the restart
        ("bob", 2, 41 * minute),
    ]
    assert len({p["id"] for p in found}) == len(found) == 4

"""Two `kinetic alerts` instances on one real Mosquitto, splitting 200 wearers by static shard
(KINETIC_ALERTS__SHARD=0/2 and 1/2, alerts/shard.py; issue 18 item 5): every wearer prompted exactly once and by
the instance of their shard only, none by both, including when shard 0 is killed with SIGKILL mid-stream and
started again while the stream goes on (its persistent session kept the messages meanwhile; its state file and
outbox are its shard's). The kill lands after shard 0's prompts so far are noted as delivered in its outbox and
before any checkpoint (as in test_alerts_restart.py): the restarted instance replays all its input, decides those
prompts again and finds them in its outbox."""

from __future__ import annotations

import collections
import contextlib
import json
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from alerts.shard import shard_of
from ingest.wire import Topics
from tests.support.processes import Proc, env_for
from tests.support.servers import start_mosquitto

pytestmark = pytest.mark.integration

WEARERS = 200
BATCH_S = 10  # seconds of frames per message, the wire's default
THRESHOLD_S = 120  # each wearer sits from their first frame and crosses this once
STAGGER = 10  # wearer i's first frame is in round i mod STAGGER: the crossings spread over ten rounds
CROSSING = THRESHOLD_S // BATCH_S  # the round (after the wearer's first) whose message holds the crossing frame
ROUNDS = STAGGER + CROSSING + 3
KILLED_AFTER = 15  # rounds published before shard 0 is killed: the prompts of 4 of the 10 start rounds are out
RESTARTED_AFTER = 18  # rounds published while it is down


def wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


class Listener:
    """mosquitto_sub -v on every prompt and every dead letter of the root, QoS 1."""

    def __init__(self, port: int, topics: Topics, log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        filters = [topics.all_prompts(), topics.all_dead_letters()]
        self.process = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-v"]
            + [arg for f in filters for arg in ("-t", f)],
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def messages(self) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
        lines = [line.partition(" ") for line in self.log.read_text().splitlines()]
        return [(topic, json.loads(body)) for topic, _, body in lines if body.startswith("{")]

    def prompts(self) -> list[dict]:  # type: ignore[type-arg]
        return [body for topic, body in self.messages() if topic.endswith("/prompts")]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        self._out.close()


class Stream:
    """The wearers' feature batches, one round (BATCH_S seconds of event time, one message per started wearer) at a
    time, QoS 1, each acknowledged by the broker before the next round."""

    def __init__(self, port: int, topics: Topics) -> None:
        self.topics = topics
        self.t0_ms = (int(time.time()) - 3600) * 1000  # an hour ago: dated data, sent as if now (env_for)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{topics.root}-stream")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.published = 0

    def round(self, r: int) -> None:
        infos = []
        for i in range(WEARERS):
            start = i % STAGGER
            if r < start:
                continue
            k0 = (r - start) * BATCH_S
            first_ms = self.t0_ms + start * BATCH_S * 1000
            frames = ",".join(
                f'{{"t_ms":{first_ms + k * 1000},"incl_deg":84.0,"enmo_mg":2,"sd_mg":6,"n":50}}'
                for k in range(k0, k0 + BATCH_S)
            )
            payload = f'{{"v":1,"wearer":"w{i}","device":"d","placement":"thigh","seq":{k0},"frames":[{frames}]}}'
            infos.append(self.client.publish(self.topics.features(f"w{i}", "d"), payload, qos=1))
        for info in infos:
            info.wait_for_publish(10)
        self.published += len(infos)
        time.sleep(0.05)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def outbox(path: Path) -> tuple[set[str], int]:
    """The wearers of the prompts in a shard's outbox, and how many of its MQTT deliveries are not done (read-only)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        wearers = {w for (w,) in db.execute("SELECT wearer FROM prompts")}
        (open_,) = db.execute("SELECT count(*) FROM deliveries WHERE channel = 'mqtt' AND state != 'done'").fetchone()
    return wearers, open_


def test_two_shards_prompt_every_wearer_once_through_a_kill_9_and_restart(
    unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    broker = start_mosquitto(tmp_path / "mosquitto", extra_config="max_inflight_messages 0\n")  # as deploy/ has
    topics = Topics(unique)
    owner = {f"w{i}": shard_of(f"w{i}", 2) for i in range(WEARERS)}
    assert 60 <= sum(owner.values()) <= 140  # both shards have wearers to lose
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        f"defaults:\n  sitting_threshold_min: {THRESHOLD_S / 60}\n  escalate_after_min: null\n"
        "  max_per_hour: 60\n  min_spacing_min: 0\n"
    )
    env = env_for(broker.port, "http://127.0.0.1:9", unique, tmp_path) | {
        "KINETIC_ALERTS__POLICY_FILE": str(policy),
        # no checkpoint before the kill: everything shard 0 took is redelivered and replayed after it
        "KINETIC_ALERTS__CHECKPOINT_S": "120",
        "KINETIC_ALERTS__IDLE_CHECKPOINT_S": "60",
    }
    states = tmp_path / f"{unique}-alerts"
    shard_env = [env | {"KINETIC_ALERTS__SHARD": f"{i}/2"} for i in (0, 1)]
    shards = [Proc(["alerts"], shard_env[i], tmp_path / f"alerts-{i}.log") for i in (0, 1)]
    procs.extend(shards)
    listener = Listener(broker.port, topics, tmp_path / "heard.log")
    stream = Stream(broker.port, topics)
    try:
        for p in shards:
            p.wait_for("watching")
        time.sleep(0.3)  # the listener's subscription is in place
        for r in range(KILLED_AFTER + 1):
            stream.round(r)
        expected = {w for i, w in enumerate(owner) if i % STAGGER + CROSSING <= KILLED_AFTER}
        wait(lambda: {p["wearer"] for p in listener.prompts()} >= expected, 60, f"the {len(expected)} first prompts")
        shard0_file = states / f"{unique}.shard-0-of-2.sqlite"
        mine = {w for w in expected if owner[w] == 0}
        wait(lambda: outbox(shard0_file) == (mine, 0), 20, "shard 0's outbox to note its prompts delivered")
        shards[0].process.kill()  # kill -9 mid-stream
        shards[0].process.wait(5)

        for r in range(KILLED_AFTER + 1, RESTARTED_AFTER + 1):  # shard 0 is down: its session keeps these
            stream.round(r)
        again = Proc(["alerts"], shard_env[0], tmp_path / "alerts-0-again.log")
        procs.append(again)
        again.wait_for("watching")
        for r in range(RESTARTED_AFTER + 1, ROUNDS):
            stream.round(r)
        wait(lambda: len(listener.prompts()) >= WEARERS, 90, f"{WEARERS} prompts")
        time.sleep(1.0)  # anything late or duplicated would arrive now
        heard = listener.messages()
        again.wait_for("not sent again")  # the replay decided shard 0's first prompts again; the outbox held them
        assert again.terminate() == 0
        assert shards[1].terminate() == 0
    finally:
        stream.close()
        listener.stop()
        broker.stop()

    prompts = [body for topic, body in heard if topic.endswith("/prompts")]
    per_wearer = collections.Counter(p["wearer"] for p in prompts)
    assert set(per_wearer) == set(owner)
    assert [w for w, n in per_wearer.items() if n != 1] == []  # none missing, none duplicated
    assert len({p["id"] for p in prompts}) == WEARERS
    assert [t for t, _ in heard if not t.endswith("/prompts")] == []  # no other shard's message dead-lettered
    for index in (0, 1):  # each wearer prompted by their shard's instance, none by both
        wearers, open_ = outbox(states / f"{unique}.shard-{index}-of-2.sqlite")
        assert wearers == {w for w, s in owner.items() if s == index}
        assert open_ == 0
    assert not (states / f"{unique}.sqlite").exists()  # no unsharded state beside them
    # shard 1 ran throughout: it took every message of shard 0's wearers and read none of them
    others = sum(ROUNDS - i % STAGGER for i in range(WEARERS) if owner[f"w{i}"] == 0)
    assert f"{others} messages of other shards' wearers acknowledged unread" in shards[1].text()
    assert stream.published == sum(ROUNDS - i % STAGGER for i in range(WEARERS))

"""Prompts back to a phone: Sensor Logger cannot show one, so a phone user gets Kinetic's prompts by ntfy (the ntfy
app on the same phone, docs/phone.md). An iPhone in a trouser pocket pushes a walk and 31 minutes of sitting to the
HTTP endpoint of ``kinetic phone``; the batches it queues go to the alert service, which sends the prompt to ntfy
with its Done / Snooze buttons. ntfy is a loopback receiver checked against ntfy's documented JSON publishing format,
as in tests/integration/alerts/test_channels.py (no ntfy server runs here). The same day as the app's JSON export,
replayed by `kinetic simulate --replay`'s code over real Mosquitto, ends in the same prompt."""

from __future__ import annotations

import json
import math
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from alerts.channels.dispatch import Dispatcher
from alerts.channels.http import NtfyChannel
from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.service import AlertService
from ingest.phone.export import open_export
from ingest.phone.replay import replay_export
from ingest.phone.service import PhoneService
from ingest.settings import MqttSettings, PhoneConfig, PhoneSettings
from ingest.store.spool import Spool
from ingest.wire import PromptV1, Topics
from kinetic.settings import KineticSettings
from tests.support.pipeline import recording, sync, until
from tests.support.receiver import receiver
from tests.support.sensorlogger import write_json
from tests.support.servers import Server

pytestmark = pytest.mark.integration

G = 9.80665
RATE_HZ = 25
START_NS = 1_767_603_600_000_000_000  # 2026-01-05T09:00:00Z
TOKEN = "ann-token-0123456789abcdef"
TOPICS = Topics("kinetic-phone-prompts")


def pocket_day(walk_s: int, sit_s: int, seed: int = 7) -> list[dict[str, object]]:
    """An iPhone (no 'Standardise Units & Frames': gravity and acceleration negated) upside down in a front trouser
    pocket: walking with the thigh upright, then sitting with it horizontal (the directions of pocket-phone-difronzo's
    README table), with a little sensor noise."""
    rng = np.random.default_rng(seed)
    upright = np.array([0.0, -1.0, 0.0])
    seated = np.array([0.0, -0.17, -0.985]) / math.hypot(0.17, 0.985)
    readings: list[dict[str, object]] = []
    for i in range((walk_s + sit_s) * RATE_HZ):
        t_s = i / RATE_HZ
        walking = t_s < walk_s
        gravity = upright if walking else seated
        bounce = 0.3 * math.sin(2 * math.pi * 1.8 * t_s) if walking else 0.0
        linear = gravity * bounce + rng.normal(0.0, 0.01, 3)
        t_ns = START_NS + round(t_s * 1e9)
        for name, v in (("gravity", gravity), ("accelerometer", linear)):
            ios = -v * G
            values = {"x": float(ios[0]), "y": float(ios[1]), "z": float(ios[2])}
            readings.append({"name": name, "time": t_ns, "values": values})
    return readings


def pushes(readings: list[dict[str, object]], batch_s: int = 10) -> list[bytes]:
    groups: dict[int, list[dict[str, object]]] = {}
    for r in readings:
        groups.setdefault((int(r["time"]) - START_NS) // (batch_s * 10**9), []).append(r)  # type: ignore[call-overload]
    return [
        json.dumps({"messageId": i, "sessionId": "day", "deviceId": "iphone", "payload": groups[k]}).encode()
        for i, k in enumerate(sorted(groups))
    ]


@sync
async def test_a_phone_wearer_gets_the_prompt_by_ntfy_with_done_and_snooze(tmp_path: Path, mosquitto: Server) -> None:
    settings = PhoneSettings(
        phones=[PhoneConfig(wearer="ann", platform="ios", token=TOKEN)],  # type: ignore[arg-type]
        http_port=0,
        queue_path=tmp_path / "q.sqlite",
    )
    clock = [START_NS / 1e9]
    phone = PhoneService(settings, TOPICS, Spool(settings.queue_path, 10**9), clock=lambda: clock[0])
    book = PolicyBook(PromptPolicy(channels=["mqtt", "ntfy"], escalate_after_min=None))
    # a dated day replayed as if now (its prompt is sent, not refused as expired by this host's clock)
    alerts = AlertService(topics=TOPICS, engine=AlertEngine(EngineConfig(), load_catalog(), book), send_expired=True)
    published: list[tuple[str, bytes]] = []

    class Out:
        async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
            published.append((topic, payload))

    async with (
        aiohttp.ClientSession() as session,
        receiver(lambda hit, n: _ok()) as ntfy,
        phone.http_server() as port,
    ):
        alerts.dispatcher = Dispatcher(
            {
                "ntfy": NtfyChannel(
                    session, ntfy.url, token="tk", callback_base="https://k.example/cb", callback_secret=b"s"
                )
            },
            alerts.delivery_result,
            timeout_s=2.0,
            retry_base_s=0.05,
            retry_cap_s=0.2,
        )
        for body in pushes(pocket_day(walk_s=60, sit_s=31 * 60)):
            clock[0] = max(int(r["time"]) for r in json.loads(body)["payload"]) / 1e9 + 0.05
            async with session.post(f"http://127.0.0.1:{port}/sensorlogger/ann?token={TOKEN}", data=body) as answer:
                assert answer.status == 200
        phone.flush_idle(everything=True)
        # what kinetic phone would publish, in its queue's order, handed to the alert service
        for entry in phone.queue.peek(10**9):
            topic, _, payload = entry.body.split(b"\n", 2)
            if topic.decode().endswith("/features"):
                await alerts.handle(Out(), topic.decode(), payload)
        await alerts.flush()
        assert alerts.dispatcher is not None
        await alerts.dispatcher.wait_idle()

    prompts = [PromptV1.model_validate_json(p) for t, p in published if t.endswith("/prompts")]
    assert [p.wearer for p in prompts] == ["ann"]
    (hit,) = ntfy.ok
    message = json.loads(hit.body)
    assert message["topic"] == "kinetic-ann" and message["title"] == prompts[0].title
    assert [a["label"] for a in message["actions"]] == ["Done", "Snooze 10 min"]
    # prompted once the sitting bout (from the end of the walk) reached 30 minutes, in the phone's event time
    sat_down = START_NS // 10**6 + 60_000
    assert 30 * 60_000 <= prompts[0].created.timestamp() * 1000 - sat_down <= 30 * 60_000 + 30_000

    # the same day as the app's JSON export, replayed by `kinetic simulate --replay`'s own code over real Mosquitto,
    # ends in the same prompt
    write_json(tmp_path / "day.json", pocket_day(walk_s=60, sit_s=31 * 60), "ios")  # type: ignore[arg-type]
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port)
    async with recording(KineticSettings(mqtt=mqtt), [TOPICS.features("ann", "ann-phone")], "replay-rec") as rec:
        result = await replay_export(
            open_export(tmp_path / "day.json"),
            wearer="ann",
            device="ann-phone",
            placement="thigh",
            ios_axes=True,
            mqtt=mqtt,
            topics=TOPICS,
            speed=0,
        )
        await until(lambda: len(rec.messages) >= result.batches, 20, "the replayed batches")
    replayed: list[tuple[str, bytes]] = []

    class Replayed:
        async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
            replayed.append((topic, payload))

    simulator = AlertService(
        topics=TOPICS, engine=AlertEngine(EngineConfig(), load_catalog(), book), send_expired=True
    )  # a past day replayed: its prompts are past their expiry by this host's clock (issue 13)
    for topic, payload in rec.messages:
        await simulator.handle(Replayed(), topic, payload)
    await simulator.flush()
    again = [PromptV1.model_validate_json(p) for t, p in replayed if t.endswith("/prompts")]
    assert [(p.id, p.exercise, p.created) for p in again] == [(p.id, p.exercise, p.created) for p in prompts]


async def _ok() -> int:
    return 200

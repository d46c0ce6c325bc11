"""Services never exit because of data (issue 13): random, truncated and mutated payloads on every topic the bridge
and the alert service subscribe to, through real Mosquitto (and influxd). Each service stays up, dead-letters what
it refuses with a reason, raises nothing inside (the alert service's ``internal_errors`` stays 0), and a good
message published after the garbage is handled as if nothing had happened."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ingest.errors import WireError
from ingest.mqtt import connect
from ingest.settings import InfluxSettings, MqttSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.wire import CommandV1, DeadLetterV1, FeatureBatchV1, FeatureFrameV1, Topics, decode, encode
from kinetic.settings import KineticSettings
from tests.support.fuzz import garbage
from tests.support.pipeline import recording, running_pipeline, until
from tests.support.servers import Server

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
T0 = round(NOW.timestamp() * 1000)


def valid_messages(topics: Topics) -> list[tuple[str, dict[str, Any]]]:
    """One valid message per topic the two services read, to mutate."""
    frame = {"gx": 0.1, "gy": -0.9, "gz": 0.3, "enmo_mg": 2.0, "sd_mg": 4.0, "n": 50}
    frames = [{"t_ms": T0 + i * 1000, **frame} for i in range(5)]
    at = NOW.isoformat()
    ann = {"v": 1, "wearer": "ann"}
    device = {**ann, "device": "ann-thigh"}
    prompt = {"id": "ann-sitting-1", "trigger": "sitting", "exercise": "x", "title": "t", "text": "t"}
    return [
        (topics.features("ann", "ann-thigh"), {**device, "placement": "thigh", "seq": 3, "frames": frames}),
        (topics.status("ann", "ann-thigh"), {**device, "state": "online", "t_ms": T0, "firmware": "1.2.3"}),
        (topics.commands("ann"), {**ann, "kind": "policy", "at": at, "settings": {"sitting_threshold_min": 25}}),
        (topics.commands("ann"), {**ann, "kind": "snooze", "at": at, "prompt_id": "ann-sitting-1", "minutes": 5}),
        (topics.prompts("ann"), {**ann, **prompt, "created": at, "expires": at}),
        (topics.events("ann"), {**ann, "kind": "summary", "t": at, "metrics": {"sitting_s": 3600.0}}),
    ]


def sentinel(seq: int) -> FeatureBatchV1:
    """A good batch of a wearer of its own, after the garbage."""
    frames = [FeatureFrameV1(t_ms=T0 + 60_000 + i * 1000, incl_deg=85, enmo_mg=1, n=50) for i in range(10)]
    return FeatureBatchV1(wearer="zed", device="zed-thigh", placement="thigh", seq=seq, frames=frames)


def refused(topics: Topics, topic: str, payload: bytes) -> bool:
    if not payload and topic.endswith(("/status", "/commands")):
        return False  # a cleared retained message (MQTT's way to delete one): nothing to store, nothing wrong
    try:
        decode(topics, topic, payload)
    except WireError:
        return True
    return False


@settings(
    max_examples=40,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.data())
def test_garbage_on_every_topic_never_stops_a_service(
    mosquitto: Server, influxd: Server, tmp_path: Path, data: st.DataObject
) -> None:
    unique = f"fz{uuid.uuid4().hex[:10]}"
    topics = Topics(unique)
    messages = data.draw(st.lists(garbage(valid_messages(topics)), min_size=10, max_size=40))
    cfg = KineticSettings(
        mqtt=MqttSettings(port=mosquitto.port, topic_root=unique, client_id_prefix=unique),
        influx=InfluxSettings(url=influxd.url, database=unique),
        bridge={"spool_path": tmp_path / f"{unique}.sqlite", "stats_interval_s": 0},
    )
    sink = InfluxV1Sink(cfg.influx)

    async def scenario() -> None:
        await sink.prepare()
        async with running_pipeline(cfg, sink, unique, tmp_path / f"{unique}.sqlite") as pipeline:
            async with connect(cfg.mqtt, f"{unique}-pub") as client:
                for topic, payload in messages:
                    await client.publish(topic, payload, qos=1)
                await client.publish(topics.features("zed", "zed-thigh"), encode(sentinel(0)), qos=1)
                ack = CommandV1(kind="calibrate", wearer="zed", at=NOW + timedelta(minutes=2))
                await client.publish(topics.commands("zed"), encode(ack), qos=1)
            engine = pipeline.alerts.engine
            await until(lambda: "zed" in engine.wearers, 30, "the good batch after the garbage")
            await until(lambda: engine.wearers["zed"].primary_device.explicit_from_ms is not None, 30, "the command")
            stored = 0
            for _ in range(300):  # the bridge reads the same topics on its own connection: wait for it, 30 s at most
                await pipeline.bridge.drain()
                rows = await sink.query("SELECT count(enmo_mg) FROM features WHERE wearer = 'zed'")
                series = rows["results"][0].get("series")
                stored = series[0]["values"][0][1] if series else 0
                if stored == 10:
                    break
                await asyncio.sleep(0.1)
            assert stored == 10  # stored, all of it
            alerts_in = [(t, p) for t, p in messages if "/features" in t or "/commands" in t]
            assert pipeline.alerts.internal_errors == 0 and pipeline.bridge.internal_errors == 0
            must_refuse = sum(refused(topics, t, p) for t, p in alerts_in)
            assert must_refuse <= pipeline.alerts.dead_letters.count <= len(alerts_in)
            must_refuse = sum(refused(topics, t, p) for t, p in messages if "/commands" not in t)
            assert must_refuse <= pipeline.bridge.dead_letters.count <= len(messages)
        await sink.aclose()

    asyncio.run(scenario())


def test_one_bad_second_costs_only_itself_in_both_services(mosquitto: Server, influxd: Server, tmp_path: Path) -> None:
    """A batch of 10 seconds from a sender that does not check (a phone, a DIY board): second 3 reads all zeros,
    second 6 is NaN, second 8 repeats second 7. Before, both services refused the whole batch; now the 7 good
    seconds are stored and detected, and the message is dead-lettered once per service naming what was left out."""
    unique = f"fz{uuid.uuid4().hex[:10]}"
    topics = Topics(unique)
    cfg = KineticSettings(
        mqtt=MqttSettings(port=mosquitto.port, topic_root=unique, client_id_prefix=unique),
        influx=InfluxSettings(url=influxd.url, database=unique),
        bridge={"spool_path": tmp_path / "spool.sqlite", "stats_interval_s": 0},
    )
    frames: list[dict[str, Any]] = [
        {"t_ms": T0 + i * 1000, "gx": 0.05, "gy": -0.99, "gz": 0.1, "enmo_mg": 3.0, "n": 50} for i in range(10)
    ]
    frames[3] |= {"gx": 0.0, "gy": 0.0, "gz": 0.0}
    frames[6] |= {"enmo_mg": float("nan")}
    frames[8] = dict(frames[7])
    good = [f["t_ms"] for i, f in enumerate(frames) if i not in (3, 6, 8)]
    payload = json.dumps(
        {"v": 1, "wearer": "kim", "device": "kim-thigh", "placement": "thigh", "seq": 0, "frames": frames},
        allow_nan=True,
    ).encode()
    sink = InfluxV1Sink(cfg.influx)

    async def scenario() -> None:
        await sink.prepare()
        async with (
            recording(cfg, [topics.all_dead_letters()], f"{unique}-rec") as rec,
            running_pipeline(cfg, sink, unique, tmp_path / "spool.sqlite") as pipeline,
        ):
            async with connect(cfg.mqtt, f"{unique}-pub") as client:
                await client.publish(topics.features("kim", "kim-thigh"), payload, qos=1)
            engine = pipeline.alerts.engine
            await until(lambda: "kim" in engine.wearers, 30, "kim's good seconds in the alert service")
            assert engine.wearers["kim"].primary_device.last_ms == good[-1]
            await until(lambda: pipeline.bridge.dead_letters.count == 1, 30, "the bridge's dead letter")
            await pipeline.bridge.drain()
            rows = await sink.query("SELECT enmo_mg FROM features WHERE wearer = 'kim'")
            assert [v[0] for v in rows["results"][0]["series"][0]["values"]] == good  # epoch ms
            for service in (pipeline.alerts, pipeline.bridge):
                assert service.dead_letters.count == 1 and service.internal_errors == 0
            await until(lambda: len(rec.on("/_deadletter/alerts")) == 1, 10, "the alert service's dead letter")
            for letter in [*rec.on("/_deadletter/alerts"), *rec.on("/_deadletter/bridge")]:
                dead = DeadLetterV1.model_validate_json(letter)
                assert dead.reason == (
                    "3 of 10 frames refused (first: frames.3: the gravity vector (0.0, 0.0, 0.0) has no direction)"
                )
                assert dead.payload.encode() == payload  # the whole message, as it came
        await sink.aclose()

    asyncio.run(scenario())

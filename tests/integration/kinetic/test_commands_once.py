"""A command is obeyed once (issue 13, "repeats and order"), on real Mosquitto and influxd.

Found after the named cases: a command published with the retain flag was obeyed again by every service at every
new subscription (a restart with a clean session, a bridge resubscribing): a retained ``forget`` erased what had
been stored since, a retained ``calibrate`` re-learned the upright from whatever the wearer did then. Published
live it is obeyed (the broker delivers it without the retain flag); handed over as retained it is refused and
dead-lettered by both services."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.mqtt import clear_retained, connect
from ingest.settings import InfluxSettings, MqttSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.wire import CommandV1, FeatureBatchV1, FeatureFrameV1, Topics, encode, retained_command_problem
from kinetic.settings import KineticSettings
from tests.support.pipeline import running_pipeline, until
from tests.support.servers import Server

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
T0 = round(NOW.timestamp() * 1000)
REFUSED = retained_command_problem().split(":", 1)[0]


def batch(seq: int, start_s: int) -> FeatureBatchV1:
    frames = [FeatureFrameV1(t_ms=T0 + (start_s + i) * 1000, incl_deg=85, enmo_mg=1, n=50) for i in range(10)]
    return FeatureBatchV1(wearer="ret", device="ret-thigh", placement="thigh", seq=seq, frames=frames)


def test_a_retained_command_is_obeyed_once_and_refused_at_every_resubscription(
    mosquitto: Server, influxd: Server, tmp_path: Path
) -> None:
    unique = f"rc{uuid.uuid4().hex[:10]}"
    topics = Topics(unique)
    cfg = KineticSettings(
        mqtt=MqttSettings(port=mosquitto.port, topic_root=unique, client_id_prefix=unique),
        influx=InfluxSettings(url=influxd.url, database=unique),
        bridge={"spool_path": tmp_path / "spool.sqlite", "stats_interval_s": 0},
    )
    sink = InfluxV1Sink(cfg.influx)

    async def stored() -> int:
        rows = await sink.query("SELECT count(enmo_mg) FROM features WHERE wearer = 'ret'")
        series = rows["results"][0].get("series")
        return int(series[0]["values"][0][1]) if series else 0

    async def scenario() -> None:
        await sink.prepare()
        async with running_pipeline(cfg, sink, unique, tmp_path / "state.sqlite") as pipeline:
            async with connect(cfg.mqtt, f"{unique}-pub") as client:
                await client.publish(topics.features("ret", "ret-thigh"), encode(batch(0, 0)), qos=1)
                engine = pipeline.alerts.engine
                await until(lambda: "ret" in engine.wearers, 20, "the first batch")
                # live, with the retain flag: obeyed once
                calibrate = CommandV1(kind="calibrate", wearer="ret", at=NOW + timedelta(seconds=5))
                await client.publish(topics.commands("ret"), encode(calibrate), qos=1, retain=True)
                device = engine.wearers["ret"].primary_device
                await until(lambda: device.calibrate_at_ms is not None, 20, "the live command")
                assert pipeline.alerts.dead_letters.count == 0
            await pipeline.bridge.drain()
        async with running_pipeline(cfg, sink, unique, tmp_path / "state.sqlite") as pipeline:
            # the same services again, on new subscriptions: the broker hands the retained command over, refused
            await until(lambda: pipeline.alerts.dead_letters.reasons.get(REFUSED) == 1, 20, "alerts refusing it")
            await until(lambda: pipeline.bridge.dead_letters.reasons.get(REFUSED) == 1, 20, "the bridge refusing it")
            assert "ret" not in pipeline.alerts.engine.wearers or (
                pipeline.alerts.engine.wearers["ret"].primary_device.explicit_from_ms is None
            )
            async with connect(cfg.mqtt, f"{unique}-pub2") as client:
                # a retained forget, handed over at a resubscription, must not erase what is stored
                forget = CommandV1(kind="forget", wearer="ret", at=NOW + timedelta(minutes=1))
                await clear_retained(client, [topics.commands("ret")])
                await client.publish(topics.features("ret", "ret-thigh"), encode(batch(1, 10)), qos=1)
                for _ in range(100):
                    await pipeline.bridge.drain()
                    if await stored() == 20:
                        break
                    await asyncio.sleep(0.1)
                assert await stored() == 20
        async with connect(cfg.mqtt, f"{unique}-pub3") as client:
            await client.publish(topics.erasure("ret"), encode(forget), qos=1, retain=True)  # its own topic
        async with running_pipeline(cfg, sink, unique, tmp_path / "state.sqlite") as pipeline:
            await until(lambda: pipeline.alerts.dead_letters.reasons.get(REFUSED) == 1, 20, "alerts refusing it")
            await until(lambda: pipeline.bridge.dead_letters.reasons.get(REFUSED) == 1, 20, "the bridge refusing it")
            await pipeline.bridge.drain()
            assert await stored() == 20
            # clearing the retained message (an empty retained payload) is no message for either service
            async with connect(cfg.mqtt, f"{unique}-pub4") as client:
                await clear_retained(client, [topics.erasure("ret")])
            await asyncio.sleep(0.5)
            assert pipeline.alerts.dead_letters.count == 1 and pipeline.bridge.dead_letters.count == 1
        await sink.aclose()

    asyncio.run(scenario())

"""A forged consent routes nothing (issue 20): the real ``kinetic bridge`` with the wall on, on real Mosquitto with the
production ACL (deploy/mosquitto/acl, the passwords make_secrets.py writes) and real influxd.

The alert service's login may write a wearer's events topic, so it can publish a ``consent_granted`` there: the
bridge refuses it (one dead-letter line naming the consent topic) and the wearer's data stays private. On the
consent topic the broker drops it (only the wearer's own logins may write there). The wearer's own grant, on her
consent topic, is what sends her later data to her clinic's database."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.mqtt import connect
from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.wire import ConsentV1, EventV1, FeatureBatchV1, FeatureFrameV1, Topics, encode
from tests.integration.deploy.test_mqtt_acl import consume, production_broker
from tests.support.pipeline import until
from tests.support.processes import Proc, env_for
from tests.support.servers import start_influxd

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
TOPICS = Topics()  # the production root, the one the ACL names


def batch(seq: int, t0_ms: int) -> FeatureBatchV1:
    frames = [FeatureFrameV1(t_ms=t0_ms + 1000 * i, incl_deg=80, enmo_mg=2, n=50) for i in range(60)]
    return FeatureBatchV1(wearer="ann", device="ann-thigh", placement="thigh", seq=seq, frames=frames)


def test_a_consent_event_forged_on_the_events_topic_is_refused_and_routes_no_data(tmp_path: Path, unique: str) -> None:
    broker, login = production_broker(tmp_path)
    influxd = start_influxd(tmp_path / "influxd")
    bridge_login = login("bridge")
    env = env_for(broker.port, influxd.url, unique, tmp_path) | {
        "KINETIC_MQTT__TOPIC_ROOT": TOPICS.root,
        "KINETIC_MQTT__USERNAME": "bridge",
        "KINETIC_MQTT__PASSWORD": bridge_login.password.get_secret_value() if bridge_login.password else "",
        "KINETIC_INFLUX__RAW_RETENTION_DAYS": "30",
        "KINETIC_STORE__CLINIC_WALL": "true",
        "KINETIC_STORE__CLINICS_FILE": str(ROOT / "deploy" / "clinics.yaml"),  # ann: physio-north's patient
    }
    clinic_db, private_db = f"{unique}_physio_north", f"{unique}_private"
    reader = InfluxV1Sink(InfluxSettings(url=influxd.url, database=unique, create_database=False))
    t0 = (int(time.time()) - 600) * 1000
    grant = EventV1(
        kind="consent_granted",
        wearer="ann",
        t=datetime.fromtimestamp(t0 / 1000, UTC),
        consent=ConsentV1(clinic="physio-north", data=["posture", "checkins"]),
    )

    async def count(database: str) -> int:
        result = await reader.query(
            'SELECT count(enmo_mg) FROM "kinetic_raw"."features" WHERE wearer = \'ann\'', database=database
        )
        series = result["results"][0].get("series", [])
        return int(series[0]["values"][0][1]) if series else 0

    async def scenario(bridge: Proc) -> None:
        letters: list[tuple[str, bytes]] = []
        async with connect(login("observer"), "observer") as observer:
            await observer.subscribe(TOPICS.dead_letter("bridge"), qos=1)
            watching = asyncio.create_task(consume(observer, letters))
            async with connect(login("alerts"), "forger") as forger:
                await forger.publish(TOPICS.consent("ann"), encode(grant), qos=1)  # the broker drops it
                await forger.publish(TOPICS.events("ann"), encode(grant), qos=1)  # the bridge refuses it
            await until(lambda: letters, 30, "the bridge's dead letter for the forged consent")
            [(_, letter)] = letters
            dead = json.loads(letter)
            assert dead["topic"] == TOPICS.events("ann")
            assert dead["reason"].startswith("consent_granted on an events topic: consent changes are taken from")
            async with connect(login("collector"), "sensor") as sensor:
                await sensor.publish(TOPICS.features("ann", "ann-thigh"), encode(batch(0, t0)), qos=1)
            await until_stored(private_db, 60, "ann's first minute, private")
            assert await count(clinic_db) == 0  # the forged grant sent nothing to the clinic
            assert "consent_granted for" not in bridge.text()

            async with connect(login("ann"), "ann-consent") as ann:  # the wearer's own grant, on her consent topic
                await ann.publish(TOPICS.consent("ann"), encode(grant), qos=1)
            await asyncio.to_thread(bridge.wait_for, "consent_granted for physio-north")
            async with connect(login("collector"), "sensor") as sensor:
                await sensor.publish(TOPICS.features("ann", "ann-thigh"), encode(batch(1, t0 + 60_000)), qos=1)
            await until_stored(clinic_db, 60, "ann's second minute, at her clinic")
            assert await count(private_db) == 60 and len(letters) == 1
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)

    async def until_stored(database: str, expected: int, what: str) -> None:
        for _ in range(300):
            if await count(database) >= expected:
                break
            await asyncio.sleep(0.1)
        assert await count(database) == expected, what

    bridge = Proc(["bridge"], env, tmp_path / "bridge.log")
    try:
        bridge.wait_for("subscribed under")
        asyncio.run(scenario(bridge))
        asyncio.run(reader.aclose())
    finally:
        code = bridge.terminate()
        broker.stop()
        influxd.stop()
    assert code == 0, bridge.text()[-2000:]

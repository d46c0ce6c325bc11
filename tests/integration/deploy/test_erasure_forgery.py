"""A forged forget erases nothing (issue 20): the real ``kinetic bridge`` and ``kinetic alerts`` on real Mosquitto
with the production ACL (deploy/mosquitto/acl, the passwords make_secrets.py writes), and the real ``kinetic data
delete`` as the operator.

Every login that writes commands (the alert service, the web app, Home Assistant's service and Home Assistant itself)
can publish a ``forget`` on a wearer's commands topic: the bridge and the alert service refuse each (one dead-letter
line naming the erasure topic), the minute the bridge holds open for the wearer is written as before and the alert
service keeps following her. On the erasure topic the broker
drops it (only the operator's and the wearer's own logins may write there). The operator's ``kinetic data delete``,
which publishes its forget on the erasure topic, is what makes the running bridge drop the wearer's open minute; with
the operator's login it also clears the wearer's retained device status (and Home Assistant's entities), which the
operator's ACL lets it read and clear."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.mqtt import connect, retained_messages
from ingest.wire import CommandV1, DeviceStatusV1, FeatureBatchV1, FeatureFrameV1, Topics, encode
from kinetic.settings import load_settings
from tests.integration.deploy.test_mqtt_acl import consume, production_broker
from tests.integration.kinetic.test_data_rights import kinetic, stored, wait_stored
from tests.support.pipeline import until
from tests.support.processes import Proc, env_for

pytestmark = pytest.mark.integration
TOPICS = Topics()  # the production root, the one the ACL names
FORGERS = ("alerts", "kinetic-web", "kinetic-ha", "hass")  # each may write any wearer's commands topic


def test_a_forget_forged_on_the_commands_topic_erases_nothing(tmp_path: Path, unique: str) -> None:
    broker, login = production_broker(tmp_path)

    def as_user(user: str) -> dict[str, str]:
        mqtt = login(user)
        password = mqtt.password.get_secret_value() if mqtt.password else ""
        return {"KINETIC_MQTT__USERNAME": user, "KINETIC_MQTT__PASSWORD": password}

    env = env_for(broker.port, "http://127.0.0.1:9", unique, tmp_path) | {
        "KINETIC_MQTT__TOPIC_ROOT": TOPICS.root,
        "KINETIC_STORE__KIND": "embedded",
        "KINETIC_STORE__EMBEDDED_PATH": str(tmp_path / "kinetic.sqlite"),
    }
    settings = load_settings(environ=env)
    t0 = (int(time.time() * 1000) - 3_600_000) // 60_000 * 60_000  # an hour ago, on a minute
    forget = CommandV1(kind="forget", wearer="ann", at=datetime.fromtimestamp(t0 / 1000 + 45, UTC), source="cli")

    def batch(wearer: str, first_s: int, seconds: int) -> tuple[str, bytes]:
        frames = [FeatureFrameV1(t_ms=t0 + (first_s + i) * 1000, incl_deg=85, enmo_mg=1, n=50) for i in range(seconds)]
        message = FeatureBatchV1(wearer=wearer, device=f"{wearer}-thigh", placement="thigh", seq=first_s, frames=frames)
        return TOPICS.features(wearer, f"{wearer}-thigh"), encode(message)

    async def sensor(messages: list[tuple[str, bytes]], retain: bool = False) -> None:
        async with connect(login("collector"), "sensor") as client:
            for topic, payload in messages:
                await client.publish(topic, payload, qos=1, retain=retain)

    async def retained(wearer: str) -> list[str]:
        async with connect(login("observer"), f"retained-{wearer}") as observer:
            return sorted(await retained_messages(observer, f"{TOPICS.base}/{wearer}/#"))

    def retained_becomes(wearer: str, expected: list[str], what: str) -> None:
        async def poll() -> None:
            seen: list[str] = []

            async def check() -> bool:
                seen[:] = await retained(wearer)
                return seen == sorted(expected)

            deadline = asyncio.get_running_loop().time() + 30
            while not await check():
                assert asyncio.get_running_loop().time() < deadline, f"{what}: retained {seen}"
                await asyncio.sleep(0.2)

        asyncio.run(poll())

    async def forge(letters: list[tuple[str, bytes]]) -> None:
        async with connect(login("observer"), "observer") as observer:
            await observer.subscribe(TOPICS.all_dead_letters(), qos=1)
            watching = asyncio.create_task(consume(observer, letters))
            for user in FORGERS:
                async with connect(login(user), f"forger-{user}") as forger:
                    await forger.publish(TOPICS.erasure("ann"), encode(forget), qos=1)  # the broker drops it
                    await forger.publish(TOPICS.commands("ann"), encode(forget), qos=1)  # the bridge refuses it
            await until(lambda: len(letters) == 2 * len(FORGERS), 30, "the services' dead letter for each forgery")
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)

    bridge = Proc(["bridge"], env | as_user("bridge"), tmp_path / "bridge.log")
    alerts = Proc(["alerts"], env | as_user("alerts"), tmp_path / "alerts.log")
    try:
        bridge.wait_for("subscribed under")
        alerts.wait_for("watching")
        asyncio.run(sensor([batch("ann", 0, 30), batch("bob", 0, 30)]))  # the minute is open for both
        online = DeviceStatusV1(wearer="bob", device="bob-thigh", placement="thigh", state="online", t_ms=t0)
        asyncio.run(sensor([(TOPICS.status("bob", "bob-thigh"), encode(online))], retain=True))
        # the device's status, and the policy in force the alert service retains at bob's first message
        retained_becomes("bob", [TOPICS.status("bob", "bob-thigh"), TOPICS.policy("bob")], "bob's status and policy")
        wait_stored(settings, "ann", 30, 0)
        wait_stored(settings, "bob", 30, 0)
        letters: list[tuple[str, bytes]] = []
        asyncio.run(forge(letters))
        assert sorted(topic for topic, _ in letters) == sorted(
            TOPICS.dead_letter(service) for service in ("bridge", "alerts") for _ in FORGERS
        )
        for _, letter in letters:
            dead = json.loads(letter)
            assert dead["topic"] == TOPICS.commands("ann")
            assert dead["reason"] == "forget on a commands topic: erasure is taken from <root>/v1/<wearer>/erasure only"
        assert "forgot ann" not in bridge.text() and "alerts ann: forget" not in alerts.text()

        # the operator's kinetic data delete: its forget, on bob's erasure topic, reaches the running bridge
        delete = kinetic(env | as_user("kinetic-operator"), "data", "delete", "bob", "--yes")
        assert delete.returncode == 0, delete.stderr
        bridge.wait_for("forgot bob (open minutes dropped")
        alerts.wait_for("alerts bob: forget")
        # the operator's login read and cleared bob's retained status; the alert service cleared its policy in force
        retained_becomes("bob", [], "bob's retained messages cleared")
        # both go on into the next minute: a bridge that held a minute writes it now
        asyncio.run(sensor([batch("ann", 60, 5), batch("bob", 60, 5)]))
        wait_stored(settings, "ann", 35, 0)
        wait_stored(settings, "bob", 5, 0)
    finally:
        code, alerts_code = bridge.terminate(), alerts.terminate()
        broker.stop()
    assert code == 0, bridge.text()[-2000:]
    assert alerts_code == 0, alerts.text()[-2000:]
    assert "alerts ann: forget" not in alerts.text()
    assert len(stored(settings, "ann")["features_1m"]) == 1  # ann's first minute, whole: the forgeries erased nothing
    bob = stored(settings, "bob")
    assert len(bob["features"]) == 5 and not bob.get("features_1m"), bob  # bob's first minute went with the delete
    assert "forgot ann" not in bridge.text()

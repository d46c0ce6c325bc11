"""The production Mosquitto ACL and the password file that deploy/make_secrets.py writes, on real Mosquitto."""

from __future__ import annotations

import asyncio
import runpy
from pathlib import Path

import aiomqtt
import pytest

from ingest.mqtt import MqttAuthError, connect
from ingest.settings import MqttSettings
from ingest.wire import Topics
from tests.support.servers import start_mosquitto

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def test_per_wearer_acl_and_generated_passwords(tmp_path: Path) -> None:
    make = runpy.run_path(str(ROOT / "deploy" / "make_secrets.py"))["make_secrets"]
    secrets, passwd = tmp_path / "secrets", tmp_path / "passwd"
    make(secrets, passwd, ["ann", "bob"])
    acl = ROOT / "deploy" / "mosquitto" / "acl"
    broker = start_mosquitto(
        tmp_path / "broker", extra_config=f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
    )

    def user(name: str, password_file: str) -> MqttSettings:
        return MqttSettings(
            host="127.0.0.1",
            port=broker.port,
            username=name,
            password=(secrets / password_file).read_text().strip(),
        )

    topics = Topics("kinetic")

    async def scenario() -> list[str]:
        received: list[str] = []
        with pytest.raises(MqttAuthError, match="refused the credentials of user 'bridge'"):
            async with connect(user("bridge", "mqtt_alerts_password"), "wrong-pw", max_attempts=1):
                pass
        async with (
            connect(user("bridge", "mqtt_bridge_password"), "bridge") as bridge,
            connect(user("ann", "mqtt_wearer_ann_password"), "ann") as ann,
        ):
            await bridge.subscribe("kinetic/v1/#", qos=1)

            async def consume(client: aiomqtt.Client) -> None:
                async for message in client.messages:
                    received.append(str(message.topic))

            task = asyncio.create_task(consume(bridge))
            await ann.publish(topics.features("ann", "ann-thigh"), b"own", qos=1)
            await ann.publish(topics.features("bob", "bob-thigh"), b"spoofed", qos=1)  # ACL: dropped
            await ann.publish(topics.prompts("bob"), b"fake prompt", qos=1)  # ACL: dropped
            await ann.publish(topics.status("ann", "ann-thigh"), b"status", qos=1)
            await asyncio.sleep(1.0)
            task.cancel()
        return received

    try:
        received = asyncio.run(scenario())
    finally:
        broker.stop()
    assert received == ["kinetic/v1/ann/ann-thigh/features", "kinetic/v1/ann/ann-thigh/status"]


def test_the_alert_service_reads_every_wearers_commands_and_a_wearer_sends_only_its_own(tmp_path: Path) -> None:
    """Without this, no pause, calibrate, done or forget reached `kinetic alerts` under the production ACL."""
    make = runpy.run_path(str(ROOT / "deploy" / "make_secrets.py"))["make_secrets"]
    secrets, passwd = tmp_path / "secrets", tmp_path / "passwd"
    make(secrets, passwd, ["ann", "bob"])
    acl = ROOT / "deploy" / "mosquitto" / "acl"
    broker = start_mosquitto(
        tmp_path / "broker", extra_config=f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
    )

    def user(name: str, password_file: str) -> MqttSettings:
        password = (secrets / password_file).read_text().strip()
        return MqttSettings(host="127.0.0.1", port=broker.port, username=name, password=password)

    topics = Topics("kinetic")

    async def scenario() -> list[tuple[str, bytes]]:
        received: list[tuple[str, bytes]] = []
        async with (
            connect(user("alerts", "mqtt_alerts_password"), "alerts") as alerts,
            connect(user("ann", "mqtt_wearer_ann_password"), "ann") as ann,
        ):
            await alerts.subscribe(topics.all_commands(), qos=1)

            async def consume(client: aiomqtt.Client) -> None:
                async for message in client.messages:
                    received.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]

            task = asyncio.create_task(consume(alerts))
            await ann.publish(topics.commands("ann"), b"ann's own", qos=1)
            await ann.publish(topics.commands("bob"), b"for bob", qos=1)  # ACL: dropped
            await alerts.publish(topics.commands("bob"), b"a button", qos=1)  # the callback server
            await asyncio.sleep(1.0)
            task.cancel()
        return received

    try:
        received = asyncio.run(scenario())
    finally:
        broker.stop()
    assert received == [("kinetic/v1/ann/commands", b"ann's own"), ("kinetic/v1/bob/commands", b"a button")]

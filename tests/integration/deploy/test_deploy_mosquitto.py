"""The production Mosquitto ACL and the password file that deploy/make_secrets.py writes, on real Mosquitto."""

from __future__ import annotations

import asyncio
import runpy
import threading
from pathlib import Path

import aiomqtt
import paho.mqtt.client as paho
import pytest

from ingest.mqtt import MqttAuthError, connect, payload_bytes
from ingest.settings import MqttSettings
from ingest.wire import MAX_PAYLOAD_BYTES, Topics
from tests.support.pipeline import until
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


def _publish_once(port: int, payload: bytes) -> str:
    """Publish one QoS 0 message with paho and wait up to 5 s: "disconnected" if the broker dropped the connection."""
    gone = threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="huge")
    client.on_disconnect = lambda *_: gone.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish("kinetic/v1/ann/ann-thigh/features", payload, qos=0)
        return "disconnected" if gone.wait(5) else "still connected"
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_broker_refuses_a_packet_over_its_limit_and_passes_the_largest_kinetic_message(tmp_path: Path) -> None:
    """deploy/mosquitto's max_packet_size on real Mosquitto: a 3 MiB publish never reaches a service (its sender is
    disconnected), a payload of MAX_PAYLOAD_BYTES does, and the broker carries on."""
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text().splitlines()
    (limit_line,) = [line for line in conf if line.startswith("max_packet_size ")]
    limit = int(limit_line.split()[1])
    assert MAX_PAYLOAD_BYTES + 65_536 < limit < 16 * MAX_PAYLOAD_BYTES
    broker = start_mosquitto(tmp_path / "broker", extra_config=limit_line + "\n")
    settings = MqttSettings(host="127.0.0.1", port=broker.port)

    async def scenario() -> list[int]:
        sizes: list[int] = []
        async with connect(settings, "service") as service:
            await service.subscribe("kinetic/v1/#", qos=1)

            async def consume() -> None:
                async for message in service.messages:
                    sizes.append(len(payload_bytes(message)))

            task = asyncio.create_task(consume())
            assert await asyncio.to_thread(_publish_once, broker.port, b"x" * (3 * 1_048_576)) == "disconnected"
            async with connect(settings, "largest") as largest:
                await largest.publish("kinetic/v1/ann/ann-thigh/features", b"y" * MAX_PAYLOAD_BYTES, qos=1)
                await largest.publish("kinetic/v1/ann/ann-thigh/features", b"{}", qos=1)
            await until(lambda: len(sizes) >= 2, 20, "the two messages under the limit")
            await asyncio.sleep(0.5)
            task.cancel()
        return sizes

    try:
        sizes = asyncio.run(scenario())
    finally:
        broker.stop()
    assert sizes == [MAX_PAYLOAD_BYTES, 2]

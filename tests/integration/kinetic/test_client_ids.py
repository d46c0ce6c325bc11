"""MQTT client ids (issue 16 task 6): two Kinetic processes with the same settings must not knock each other off
the broker. A clean session (``kinetic serve``, the CLI's commands, Home Assistant) gets an id of its own per
connection; a persistent one keeps its fixed id and its service refuses a second instance
(tests/integration/kinetic/test_started_twice.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.mqtt import connect
from ingest.settings import MqttSettings
from tests.support.servers import Server, start_mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Server]:
    server = start_mosquitto(tmp_path / "mqtt")
    yield server
    server.stop()


@pytest.mark.timeout(60)
def test_two_clean_sessions_with_one_configured_id_both_stay_connected(broker: Server) -> None:
    settings = MqttSettings(host=broker.host, port=broker.port, topic_root=f"ids{os.getpid()}")
    topic = f"{settings.topic_root}/v1/w1/commands"

    async def main() -> None:
        async with connect(settings, "kinetic-web") as first, connect(settings, "kinetic-web") as second:
            assert first.identifier != second.identifier
            await second.subscribe(topic, qos=1)
            await second.publish(topic, b"from the second", qos=1, timeout=5)
            # the first is still connected: its publication is confirmed and reaches the second
            await first.publish(topic, b"from the first", qos=1, timeout=5)
            async with asyncio.timeout(10):
                got = []
                async for message in second.messages:
                    got.append(message.payload)
                    if b"from the first" in got:
                        break

    asyncio.run(main())
    assert "already connected" not in broker.log_tail(200)


@pytest.mark.timeout(60)
def test_a_persistent_session_keeps_its_configured_id(broker: Server) -> None:
    settings = MqttSettings(host=broker.host, port=broker.port)

    async def main() -> None:
        async with connect(settings, "kinetic-bridge", clean_session=False) as client:
            assert client.identifier == "kinetic-bridge"

    asyncio.run(main())

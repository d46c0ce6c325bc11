"""The two seams ``ingest.mqtt.MqttClient`` keeps beyond aiomqtt's public API, on real Mosquitto. If aiomqtt changes
either (its ``queue_type`` argument, or the paho client it wraps), these fail loudly instead of the services
silently losing their batching or their at-least-once acknowledgements."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import pytest

from ingest.mqtt import BufferedSocket, MqttClient, ack, connect, message_batches, payload_bytes
from ingest.settings import MqttSettings
from tests.support.pipeline import until
from tests.support.servers import Server

pytestmark = pytest.mark.integration


async def _publish(settings: MqttSettings, client_id: str, topic: str, payloads: list[bytes]) -> None:
    async with connect(settings, client_id) as publisher:
        for payload in payloads:
            await publisher.publish(topic, payload, qos=1)


def test_message_batches_takes_everything_already_waiting_in_order(mosquitto: Server, unique: str) -> None:
    settings = MqttSettings(port=mosquitto.port)
    topic = f"{unique}/batch"
    sent = [str(i).encode() for i in range(50)]

    async def scenario() -> list[list[bytes]]:
        async with connect(settings, f"{unique}-sub") as client:
            assert isinstance(client, MqttClient)
            await client.subscribe(topic, qos=1)
            await _publish(settings, f"{unique}-pub", topic, sent)
            # aiomqtt's public view of its queue must be the queue we hold
            await until(lambda: len(client.messages) == len(sent), 10, "all 50 messages queued")
            assert client.incoming.qsize() == len(sent)
            batches: list[list[bytes]] = []
            async for batch in message_batches(client, max_batch=30):
                batches.append([payload_bytes(m) for m in batch])
                if sum(len(b) for b in batches) == len(sent):
                    break
            return batches

    batches = asyncio.run(scenario())
    assert [len(b) for b in batches] == [30, 20]
    assert [p for b in batches for p in b] == sent


def test_manual_ack_holds_the_puback_until_acknowledged(mosquitto: Server, unique: str) -> None:
    """Unacknowledged QoS 1 messages come back to a persistent session; acknowledged ones do not."""
    settings = MqttSettings(port=mosquitto.port)
    topic = f"{unique}/ack"
    client_id = f"{unique}-svc"

    async def receive(count: int, acknowledge: bool) -> list[bytes]:
        got: list[bytes] = []
        async with connect(settings, client_id, clean_session=False, manual_ack=True) as client:
            await client.subscribe(topic, qos=1)
            if count == 0:
                return got
            async with asyncio.timeout(10):
                async for batch in message_batches(client):
                    for message in batch:
                        got.append(payload_bytes(message))
                        if acknowledge:
                            ack(client, message.mid, message.qos)
                    if len(got) >= count:
                        break
            if acknowledge:
                await asyncio.sleep(0.2)  # let paho send the PUBACKs before the disconnect
        return got

    async def scenario() -> tuple[list[bytes], list[bytes], list[bytes]]:
        await receive(0, acknowledge=False)  # create the persistent session and its subscription
        await _publish(settings, f"{unique}-pub", topic, [b"a", b"b"])
        first = await receive(2, acknowledge=False)
        again = await receive(2, acknowledge=True)
        await _publish(settings, f"{unique}-pub", topic, [b"c"])
        after = await receive(1, acknowledge=True)
        return first, again, after

    first, again, after = asyncio.run(scenario())
    assert first == [b"a", b"b"]
    assert again == [b"a", b"b"]  # never acknowledged: redelivered to the same session
    assert after == [b"c"]  # a and b were acknowledged: not delivered a third time


def test_reads_go_through_the_buffered_socket_and_nothing_stays_held(mosquitto: Server, unique: str) -> None:
    """The third seam: paho reads through ``BufferedSocket`` (set in paho's ``on_socket_open``), and aiomqtt's read
    callback reads on while it holds bytes (``pending()``): a burst of many small messages, many to a ``recv``, all
    arrive although no more data comes after the last."""
    settings = MqttSettings(port=mosquitto.port)
    topic = f"{unique}/burst"
    sent = [str(i).encode() * (1 + i % 7) for i in range(500)]

    async def scenario() -> tuple[bool, int, list[bytes]]:
        async with connect(settings, f"{unique}-sub") as client:
            await client.subscribe(topic, qos=1)
            async with connect(settings, f"{unique}-pub") as publisher:
                await asyncio.gather(*(publisher.publish(topic, p, qos=1) for p in sent))
            await until(lambda: len(client.messages) == len(sent), 10, "all 500 messages queued")
            sock = client._client._sock
            got = [payload_bytes(client.incoming.get_nowait()) for _ in sent]
            return isinstance(sock, BufferedSocket), sock.pending(), got  # type: ignore[union-attr]

    buffered, held, got = asyncio.run(scenario())
    assert buffered and held == 0
    assert got == sent


class CountingSocket:
    """A socket that counts its ``send`` calls (everything else is the socket's)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sends = 0

    def send(self, data: bytes) -> int:
        self.sends += 1
        return self.sock.send(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def test_what_paho_writes_in_one_write_callback_goes_in_a_few_sends_and_all_arrives(
    mosquitto: Server, unique: str
) -> None:
    """The fourth seam: paho writes each packet with a ``send`` of its own; ``BufferedSocket`` keeps them and sends
    them when paho's write callback ends (``on_socket_unregister_write``): 500 publications made at once, then the
    500 PUBACKs of a manually acknowledging subscriber, go in a few sends each, and every message arrives and is
    acknowledged (not redelivered to the subscriber's session)."""
    settings = MqttSettings(port=mosquitto.port)
    topic = f"{unique}/corked"
    sent = [str(i).encode() * (1 + i % 7) for i in range(500)]

    async def scenario() -> tuple[int, int, list[bytes], list[bytes]]:
        async with connect(settings, f"{unique}-sub", clean_session=False, manual_ack=True) as client:
            await client.subscribe(topic, qos=1)
            async with connect(settings, f"{unique}-pub") as publisher:
                buffered = publisher._client._sock
                assert isinstance(buffered, BufferedSocket)
                counting = buffered._sock = CountingSocket(buffered._sock)  # type: ignore[assignment]
                await asyncio.gather(*(publisher.publish(topic, p, qos=1) for p in sent))
                published_in = counting.sends
            await until(lambda: client.incoming.qsize() == len(sent), 10, "all 500 messages queued")
            got = [client.incoming.get_nowait() for _ in sent]
            buffered = client._client._sock
            assert isinstance(buffered, BufferedSocket)
            counting = buffered._sock = CountingSocket(buffered._sock)  # type: ignore[assignment]
            for message in got:
                ack(client, message.mid, message.qos)
            await asyncio.sleep(0.5)
            acked_in = counting.sends
        redelivered: list[bytes] = []
        async with connect(settings, f"{unique}-sub", clean_session=False, manual_ack=True) as client:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    async for message in client.messages:
                        redelivered.append(payload_bytes(message))
        return published_in, acked_in, [payload_bytes(m) for m in got], redelivered

    published_in, acked_in, got, redelivered = asyncio.run(scenario())
    assert got == sent
    assert redelivered == []
    assert published_in <= 50  # 500 without the cork
    assert acked_in <= 5


def test_the_connection_has_nagles_algorithm_off(mosquitto: Server, unique: str) -> None:
    """``TCP_NODELAY`` on the client's socket (``ingest.mqtt.no_delay``, in the hook that installs the buffered
    reads): a prompt or a PUBACK is not held for the delayed ACK of the packet before it."""
    settings = MqttSettings(port=mosquitto.port)

    async def scenario() -> int:
        async with connect(settings, f"{unique}-nodelay") as client:
            sock = client._client._sock
            assert sock is not None
            return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    assert asyncio.run(scenario()) == 1

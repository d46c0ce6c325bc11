"""The two seams ``ingest.mqtt.MqttClient`` keeps beyond aiomqtt's public API, on real Mosquitto. If aiomqtt changes
either (its ``queue_type`` argument, or the paho client it wraps), these fail loudly instead of the services
silently losing their batching or their at-least-once acknowledgements."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import aiomqtt
import pytest

from ingest.mqtt import BufferedSocket, MessageTaker, MqttClient, ack, connect, message_batches, payload_bytes
from ingest.settings import MqttSettings
from tests.support.pipeline import until
from tests.support.servers import Server

pytestmark = pytest.mark.integration


async def _publish(settings: MqttSettings, client_id: str, topic: str, payloads: list[bytes]) -> None:
    async with connect(settings, client_id) as publisher:
        for payload in payloads:
            await publisher.publish(topic, payload, qos=1)


def buffered_socket(client: MqttClient) -> BufferedSocket:
    """The connection's socket as paho writes to it: Kinetic's ``BufferedSocket``."""
    assert isinstance(client, MqttClient)
    sock = client._client.socket()
    assert isinstance(sock, BufferedSocket)
    return sock


def watched_for_writing(loop: asyncio.AbstractEventLoop, fd: int) -> bool:
    """Whether the event loop watches ``fd`` for writing (its selector's key)."""
    selector = loop._selector  # type: ignore[attr-defined]
    try:
        return bool(selector.get_key(fd).events & 2)  # selectors.EVENT_WRITE
    except KeyError:
        return False


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


def taken_at_once(taker: MessageTaker) -> list[aiomqtt.Message]:
    """A take that must finish without suspending (no task, no wait): its coroutine returns at its first step."""
    step = taker.take(None)
    with pytest.raises(StopIteration) as finished:
        step.send(None)
    batch: list[aiomqtt.Message] = finished.value.value
    return batch


def test_a_take_returns_what_waits_at_once_and_in_order_after_a_timed_out_wait(mosquitto: Server, unique: str) -> None:
    """``MessageTaker.take``: messages already queued are taken without a task or a wait; after a take that timed
    out (its wait still pending, and it may hold the oldest message) the next take goes through that wait, so
    nothing comes out of order."""
    settings = MqttSettings(port=mosquitto.port)
    topic = f"{unique}/take"
    sent = [str(i).encode() for i in range(50)]

    async def scenario() -> tuple[list[bytes], list[bytes], list[bytes]]:
        async with connect(settings, f"{unique}-sub") as client:
            assert isinstance(client, MqttClient)
            await client.subscribe(topic, qos=1)
            taker = MessageTaker(client, max_batch=30)
            try:
                assert await taker.take(0.05) == []  # nothing came: its wait stays pending
                await _publish(settings, f"{unique}-pub", topic, sent)
                await until(lambda: len(client.messages) >= len(sent) - 1, 10, "the messages queued")
                after_wait = [payload_bytes(m) for m in await taker.take(1.0)]
                waiting = [payload_bytes(m) for m in taken_at_once(taker)]
                await _publish(settings, f"{unique}-pub", topic, [b"late"])
                await until(lambda: len(client.messages) == 1, 10, "the late message queued")
                late = [payload_bytes(m) for m in taken_at_once(taker)]
            finally:
                taker.close()
            return after_wait, waiting, late

    after_wait, waiting, late = asyncio.run(scenario())
    assert (len(after_wait), len(waiting)) == (30, 20)
    assert after_wait + waiting == sent
    assert late == [b"late"]


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


def test_publish_nowait_futures_are_done_at_their_puback_beside_aiomqtts_own(mosquitto: Server, unique: str) -> None:
    """``MqttClient.publish_nowait`` (the alert service's publications): 300 QoS 1 publications queued at once, each
    future done when its PUBACK comes, every message delivered in order; aiomqtt's own ``publish`` works beside them
    (its PUBACKs are still its own)."""
    settings = MqttSettings(port=mosquitto.port)
    topic = f"{unique}/nowait"
    sent = [f"m{i}".encode() for i in range(300)]

    async def scenario() -> tuple[list[bool], list[bytes]]:
        async with connect(settings, f"{unique}-sub") as client:
            await client.subscribe(topic, qos=1)
            async with connect(settings, f"{unique}-pub") as publisher:
                futures = [publisher.publish_nowait(topic, p) for p in sent[:150]]
                await publisher.publish(topic, sent[150], qos=1)  # aiomqtt's, between and after
                futures += [publisher.publish_nowait(topic, p) for p in sent[151:]]
                async with asyncio.timeout(10):
                    await asyncio.gather(*futures)
                done = [f.done() and f.exception() is None for f in futures]
            await until(lambda: client.incoming.qsize() == len(sent), 10, "all 300 messages queued")
            return done, [payload_bytes(client.incoming.get_nowait()) for _ in sent]

    done, got = asyncio.run(scenario())
    assert done == [True] * 299
    assert got == sent


def test_send_now_writes_at_once_and_leaves_no_watch_on_the_socket(mosquitto: Server, unique: str) -> None:
    """``MqttClient.send_now`` (the alert service, after a message that made publications): what paho queued is in the
    kernel when it returns, before the event loop runs again; the watch for writing that paho asked for is ended once
    it began (else the loop would wake for a writable socket with nothing to write: a busy loop), and is taken up again
    by the next publication; everything arrives in order."""
    settings = MqttSettings(port=mosquitto.port)
    topic = f"{unique}/now"
    sent = [f"n{i}".encode() for i in range(20)]

    async def scenario() -> tuple[list[bool], list[bytes]]:
        loop = asyncio.get_running_loop()
        checks: list[bool] = []
        async with connect(settings, f"{unique}-sub") as client:
            await client.subscribe(topic, qos=1)
            async with connect(settings, f"{unique}-pub") as publisher:
                sock = buffered_socket(publisher)
                futures = []
                for i in range(0, len(sent), 5):
                    futures += [publisher.publish_nowait(topic, p) for p in sent[i : i + 5]]
                    publisher.send_now()
                    checks.append(not publisher._client.want_write() and not sock._out)  # in the kernel already
                    for _ in range(5):
                        await asyncio.sleep(0)
                    checks.append(not watched_for_writing(loop, sock.fileno()))
                async with asyncio.timeout(10):
                    await asyncio.gather(*futures)
                # a publication without send_now still leaves by the watch, which ends as before
                await publisher.publish(topic, b"last", qos=1)
                checks.append(not watched_for_writing(loop, sock.fileno()))
            await until(lambda: client.incoming.qsize() == len(sent) + 1, 10, "every message queued")
            return checks, [payload_bytes(client.incoming.get_nowait()) for _ in range(len(sent) + 1)]

    checks, got = asyncio.run(scenario())
    assert checks == [True] * 9
    assert got == [*sent, b"last"]


def test_send_now_leaves_what_the_kernel_does_not_take_to_the_sockets_writer(mosquitto: Server, unique: str) -> None:
    """A publication larger than the socket's send buffer: ``send_now`` hands the kernel what it takes, and the rest
    goes when the socket can take more (the socket's own writer, after the watch paho asked for is ended), not at
    paho's next write (the next publication, or the keepalive's PINGREQ, a minute later)."""
    settings = MqttSettings(port=mosquitto.port)
    topic = f"{unique}/large"
    large = bytes(range(256)) * 800  # 204,800 bytes

    async def scenario() -> tuple[int, bytes]:
        async with connect(settings, f"{unique}-sub") as client:
            await client.subscribe(topic, qos=1)
            async with connect(settings, f"{unique}-pub") as publisher:
                sock = buffered_socket(publisher)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
                future = publisher.publish_nowait(topic, large)
                publisher.send_now()
                left = sock.unsent  # what the kernel did not take at once
                async with asyncio.timeout(10):
                    await future
            async with asyncio.timeout(10):
                return left, payload_bytes(await client.incoming.get())

    left, got = asyncio.run(scenario())
    assert left > 0  # the case this is about
    assert got == large


def test_a_write_that_fails_in_send_now_ends_the_connection(mosquitto: Server, unique: str) -> None:
    """The socket's sending side broken under the client: ``send_now``'s write fails, and the client learns that its
    connection is gone as from a failed write of aiomqtt's own writer (its disconnection future done with an error,
    the publication's future failed), instead of going on with a dead socket, and no watch for writing is left on
    it."""
    settings = MqttSettings(port=mosquitto.port)

    async def scenario() -> list[bool]:
        loop = asyncio.get_running_loop()
        seen: list[bool] = []
        with contextlib.suppress(aiomqtt.MqttError):
            async with connect(settings, f"{unique}-pub") as publisher:
                sock = buffered_socket(publisher)
                fd = sock.fileno()
                sock.shutdown(socket.SHUT_WR)
                future = publisher.publish_nowait(f"{unique}/broken", b"x" * 100)
                publisher.send_now()
                async with asyncio.timeout(10):
                    await asyncio.gather(future, return_exceptions=True)
                    while not publisher._disconnected.done():
                        await asyncio.sleep(0.01)
                for _ in range(5):
                    await asyncio.sleep(0)
                seen = [
                    future.exception() is not None,
                    publisher._disconnected.exception() is not None,
                    not watched_for_writing(loop, fd),  # no watch left on the dead socket (a busy loop)
                ]
        return seen

    assert asyncio.run(scenario()) == [True, True, True]


def test_publish_nowait_futures_fail_when_the_connection_is_lost_before_their_puback(unique: str) -> None:
    """A broker that takes the connection and the publications but closes before any PUBACK: every future fails with
    aiomqtt.MqttError (the alert service logs them as failed publications, and its checkpoint does not wait forever)."""

    async def scenario() -> list[BaseException | None]:
        got_publishes = asyncio.Event()

        async def broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1024)  # CONNECT
            writer.write(bytes([0x20, 2, 0, 0]))  # CONNACK, accepted
            await writer.drain()
            data = b""
            while data.count(b"lost/topic") < 3:
                data += await reader.read(4096)
            got_publishes.set()
            writer.close()

        server = await asyncio.start_server(broker, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            try:
                async with connect(MqttSettings(port=port), f"{unique}-lost", max_attempts=1) as client:
                    futures = [client.publish_nowait("lost/topic", b"x") for _ in range(3)]
                    await asyncio.wait_for(got_publishes.wait(), 10)
                    await asyncio.wait(futures, timeout=10)
            except aiomqtt.MqttError:
                pass  # leaving the client after the broker closed
        return [f.exception() if f.done() else None for f in futures]

    failures = asyncio.run(scenario())
    assert len(failures) == 3
    assert all(isinstance(f, aiomqtt.MqttError) for f in failures), failures

"""MQTT adapter: builds aiomqtt clients from settings, waits for the broker, dead-letters bad messages.

aiomqtt is the asyncio wrapper around paho-mqtt. Services get a connected client from ``connect`` and talk
to it through the small ``Publisher`` port, so the pure code never sees MQTT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, Protocol

import aiomqtt

from ingest.backoff import Endpoint, backoff_delay_s
from ingest.errors import IngestError, Unreachable
from ingest.process import one_client
from ingest.retry import retry_until_reached
from ingest.settings import MqttSettings, user_data_dir
from ingest.wire import CommandV1, DeadLetterV1, Topics, encode, one_line

_LOGGER = logging.getLogger(__name__)

# CONNACK codes that retrying will not fix (3.1.1: 4 bad user name or password, 5 not authorised;
# MQTT 5: 0x86 bad user name or password, 0x87 not authorised, 0x8C bad authentication method).
_AUTH_CODES = {4, 5, 0x86, 0x87, 0x8C}


class MqttAuthError(IngestError):
    """The broker refused our credentials: a setting must change, retrying is pointless."""


class Publisher(Protocol):
    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None: ...


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    retain: bool = True


def tls_context(settings: MqttSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    if settings.cert_file and settings.key_file:
        context.load_cert_chain(str(settings.cert_file), str(settings.key_file))
    if settings.tls_insecure:
        context.check_hostname = False
    return context


class MqttClient(aiomqtt.Client):
    """aiomqtt's client with what Kinetic's services need beyond its public API, kept here in one place.

    - Batched reads: the queue incoming messages land on is made through aiomqtt's documented ``queue_type`` argument
      and kept as ``incoming``, so ``message_batches`` takes what is already waiting without aiomqtt's
      per-message task.
    - Manual acknowledgement (``manual_ack=True``): aiomqtt 2.x does not expose paho's, so ``ack`` and the set-up
      reach the paho client it wraps (``_client``).
    - Nagle's algorithm off on the connection's socket (``no_delay``), set in the same hook as the next point.
    - Buffered reads: paho reads each packet with at least three ``recv`` calls (its type, its length, its body) and
      one packet per readable event; the socket is handed to paho wrapped in ``BufferedSocket`` (through paho's public
      ``on_socket_open`` hook, before paho reads from it), which reads what the kernel holds in one call and says how
      much it holds through ``pending()``, which aiomqtt's read callback already asks (for TLS sockets) to read on.
    - Corked writes: paho writes each packet with a ``send`` of its own (a PUBACK, a publication), and with Nagle's
      algorithm off each is a TCP segment through the kernel: a seventh of ``kinetic alerts``' time at 10,000 wearers
      (py-spy, issue 18 item 1). ``BufferedSocket`` keeps what paho sends during one write callback and sends it in one
      call when paho says it is done (its public ``on_socket_unregister_write`` hook, after aiomqtt's, which stops
      watching the socket); what the kernel does not take then is sent when the socket is writable again
      (``BufferedSocket.flush_when_writable``), in order, before anything paho sends later.
    - Writes at once: ``send_now`` writes what paho queued without waiting for the loop's writer (paho's public
      ``loop_write``), and ends the watch for writing that paho had asked for once it has begun.
    aiomqtt is pinned below 3 in pyproject.toml; tests/integration/ingest/test_mqtt_client.py fails loudly if a seam
    changes.
    """

    def __init__(self, *, manual_ack: bool = False, **kwargs: Any) -> None:
        made: list[asyncio.Queue[aiomqtt.Message]] = []

        class _Incoming(asyncio.Queue[aiomqtt.Message]):
            def __init__(self, maxsize: int = 0) -> None:
                super().__init__(maxsize)
                made.append(self)

        super().__init__(queue_type=_Incoming, **kwargs)
        if len(made) != 1:
            raise RuntimeError(f"aiomqtt {aiomqtt.__version__} no longer builds its message queue from queue_type")
        self.incoming: asyncio.Queue[aiomqtt.Message] = made[0]
        if manual_ack:
            # Set before connecting: a persistent session's queued messages arrive right after CONNACK.
            self._client.manual_ack_set(True)
        opened = self._client.on_socket_open  # aiomqtt's: registers the socket's reader on the event loop
        if opened is None:
            raise RuntimeError(f"aiomqtt {aiomqtt.__version__} no longer reads through paho's on_socket_open")

        def buffered(client: Any, userdata: Any, sock: Any) -> None:
            if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
                no_delay(sock)
            if isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket):
                client._sock = sock = BufferedSocket(sock)  # paho reads and writes through it from now on
            opened(client, userdata, sock)

        self._client.on_socket_open = buffered
        written = self._client.on_socket_unregister_write  # aiomqtt's: stops watching the socket for writing
        if written is None:
            raise RuntimeError(f"aiomqtt {aiomqtt.__version__} no longer writes through paho's socket callbacks")
        loop = asyncio.get_running_loop()  # aiomqtt's client is made on the loop it runs on
        self._loop_of_pubacks = loop

        def corked(client: Any, userdata: Any, sock: Any) -> None:
            written(client, userdata, sock)
            if isinstance(sock, BufferedSocket) and not sock.flush():
                sock.flush_when_writable(loop)

        self._client.on_socket_unregister_write = corked
        # publish_nowait's publications waiting for their PUBACK, by message id
        self._pubacks: dict[int, asyncio.Future[None]] = {}
        acked, dropped = self._client.on_publish, self._client.on_disconnect  # aiomqtt's
        if acked is None or dropped is None:
            raise RuntimeError(f"aiomqtt {aiomqtt.__version__} no longer hears PUBACKs through paho's on_publish")

        def on_publish(client: Any, userdata: Any, mid: int, *rest: Any) -> None:
            future = self._pubacks.pop(mid, None)
            if future is None:
                acked(client, userdata, mid, *rest)  # one of aiomqtt's own publications
            elif not future.done():
                future.set_result(None)

        def on_disconnect(client: Any, userdata: Any, *rest: Any) -> None:
            dropped(client, userdata, *rest)
            waiting, self._pubacks = self._pubacks, {}
            for future in waiting.values():
                if not future.done():
                    future.set_exception(aiomqtt.MqttError("the connection was lost before the broker's PUBACK"))

        self._client.on_publish = on_publish
        self._client.on_disconnect = on_disconnect
        if not isinstance(getattr(self, "_disconnected", None), asyncio.Future):  # where send_now reports a failure
            raise TypeError(f"aiomqtt {aiomqtt.__version__} no longer keeps its disconnection as _disconnected")

    def publish_nowait(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> asyncio.Future[None]:
        """Queue a publication with paho now and return a future done at the broker's PUBACK (at once for QoS 0),
        failed with aiomqtt.MqttError if the connection is lost first. Raises aiomqtt.MqttCodeError when paho refuses
        it (no connection, its queue full), as ``publish``.

        aiomqtt's ``publish`` is a coroutine that, per publication, waits in ``asyncio.wait_for`` (a task of its own)
        on an event, and counts every pending call of the client twice (a walk over all of them): for a service with
        hundreds of publications in flight that was tens of microseconds each (issue 18 item 1). The service that
        must not wait for a PUBACK to go on (the alert service) keeps the future instead."""
        info = self._client.publish(topic, payload, qos, retain)
        if info.rc != 0:  # paho's MQTT_ERR_SUCCESS
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        future: asyncio.Future[None] = self._loop_of_pubacks.create_future()
        if qos == 0 or info.is_published():
            future.set_result(None)
        else:
            self._pubacks[info.mid] = future
        return future

    def send_now(self) -> None:
        """Write what paho has queued (publications, PUBACKs) to the socket now, in one ``send`` (corked), instead of
        when the event loop next finds the socket writable: paho asks aiomqtt to watch the socket for writing through
        ``call_soon_threadsafe``, so a publication leaves only after three turns of the loop, in which whatever else
        is ready runs first (issue 18 item 1: the alert service sends its prompts so). Called on the event loop, as
        paho's writer is. The watch paho asked for still begins (it is queued on the loop already) and is ended just
        after when paho has nothing left (``_unwatch``), which then hands what the kernel has not taken yet to the
        socket's own writer. A write that raises ends the connection as a failed write in aiomqtt's writer does."""
        client = self._client
        sock = client.socket()
        if sock is None or not client.want_write():
            return
        fd = sock.fileno()
        try:
            client.loop_write()
        except Exception as exc:  # as aiomqtt's writer does with a failed write: the connection is gone
            disconnected: asyncio.Future[None] = self._disconnected
            if not disconnected.done():
                disconnected.set_exception(exc)
            # paho ended its request for the watch before the write raised: the watch aiomqtt is about to begin would
            # never end (a busy loop, and a stale entry for the fd's next socket)
            self._loop_of_pubacks.call_soon(self._loop_of_pubacks.remove_writer, fd)
            return
        if not client.want_write():
            # paho has written everything and ended its request for the watch, which aiomqtt has not begun yet (it
            # comes by call_soon_threadsafe, already queued): once it has begun, it is ended here, else the loop would
            # wake for a writable socket with nothing to write until paho next writes
            self._loop_of_pubacks.call_soon(self._unwatch, sock)

    def _unwatch(self, sock: Any) -> None:
        """Stop watching ``sock`` for writing if paho has nothing to write on it (``send_now``); what the kernel has not
        taken yet of what paho wrote is then sent when the socket can take it (``BufferedSocket.flush_when_writable``),
        as after paho's own writer."""
        current = self._client.socket()
        if current is None or current is not sock or self._client.want_write():
            return
        self._loop_of_pubacks.remove_writer(current.fileno())
        if isinstance(current, BufferedSocket) and current.unsent:
            current.flush_when_writable(self._loop_of_pubacks)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a message received with ``manual_ack=True`` (PUBACK for QoS 1)."""
        if qos > 0:
            self._client.ack(mid, qos)


def no_delay(sock: socket.socket) -> None:
    """Nagle's algorithm off (``TCP_NODELAY``): a small packet (a prompt, a PUBACK, a feature batch) goes out at once
    instead of waiting for the acknowledgement of the one before it, which the peer may delay up to 40 ms (Linux's
    delayed ACK). paho leaves it on; Mosquitto too unless ``set_tcp_nodelay true`` (deploy/mosquitto/mosquitto.conf).
    At 2,000 wearers the prompt latency at a subscriber was p50 33 ms with it on, 3 ms with it off on both ends
    (issue 18 item 1, docs/performance.md)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BufferedSocket:
    """A plain TCP socket whose reads take what the kernel holds (up to ``chunk_bytes``) in one ``recv`` and hand it
    out as asked; ``pending()``: the bytes held here, not yet read. Its writes are kept (``send`` says all was sent)
    until ``flush`` sends them in one call, or until ``cork_bytes`` are kept: then the kernel is given them first, and
    if it takes too little, ``send`` raises BlockingIOError as the socket would (paho keeps its packet and waits for
    the socket). ``close`` sends what is kept first (blocking, at most ``CLOSE_FLUSH_S``). Everything else is the
    socket's.

    Why: paho reads a packet as ``recv(1)`` (type), ``recv(1)`` per length byte, ``recv(n)`` (body), one packet per
    readable event: at a thousand small messages a second that is thousands of system calls and event-loop wake-ups
    (bench/bridge_throughput.py --rate). aiomqtt's read callback calls paho's ``loop_read`` again while the socket
    says ``pending() > 0`` (written for TLS sockets, whose decrypted bytes wait the same way), so what is held here is
    read in the same callback: no packet waits for another to arrive.
    """

    CLOSE_FLUSH_S = 1.0

    def __init__(self, sock: socket.socket, chunk_bytes: int = 262_144, cork_bytes: int = 262_144) -> None:
        self._sock = sock
        self._chunk_bytes = chunk_bytes
        self._held = bytearray()
        self._cork_bytes = cork_bytes
        self._out = bytearray()  # sent by paho, not yet by the kernel
        self._writing: asyncio.AbstractEventLoop | None = None  # the loop watching the socket for ``flush``

    def send(self, data: bytes | bytearray | memoryview) -> int:
        if len(self._out) >= self._cork_bytes and not self.flush():
            raise BlockingIOError("the kernel's send buffer is full")
        self._out += data
        return len(data)

    @property
    def unsent(self) -> int:
        """Bytes paho wrote that the kernel has not taken yet."""
        return len(self._out)

    def flush(self) -> bool:
        """Send what is kept, as much as the kernel takes; True when nothing is left. OSError as ``send``."""
        out = self._out
        while out:
            try:
                sent = self._sock.send(out)
            except BlockingIOError:
                return False
            del out[:sent]
        return True

    def flush_when_writable(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send the rest when the socket can take it (a writer on ``loop``, removed once all is sent or the connection
        failed: paho's read then finds the failure). paho's own writer (aiomqtt's) replaces this one when it has more
        to send, and its end (``MqttClient``'s hook) flushes first."""
        fileno = self._sock.fileno()

        def more() -> None:
            try:
                done = self.flush()
            except OSError:
                self._out.clear()
                done = True
            if done:
                loop.remove_writer(fileno)
                self._writing = None

        self._writing = loop
        loop.add_writer(fileno, more)

    def close(self) -> None:
        """Send what is kept (paho closes right after writing a DISCONNECT), then close the socket."""
        if self._writing is not None:
            with contextlib.suppress(Exception):
                self._writing.remove_writer(self._sock.fileno())
            self._writing = None
        if self._out:
            with contextlib.suppress(OSError):
                self._sock.settimeout(self.CLOSE_FLUSH_S)
                self._sock.sendall(self._out)
            self._out.clear()
        self._sock.close()

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes; b"" when the peer closed; BlockingIOError when none is there (as the socket)."""
        if not self._held:
            data = self._sock.recv(max(size, self._chunk_bytes))
            if len(data) <= size:
                return data
            self._held += data
        out = bytes(self._held[:size])
        del self._held[:size]  # deleting from the front of a bytearray does not copy the rest
        return out

    def pending(self) -> int:
        return len(self._held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def build_client(
    settings: MqttSettings,
    client_id: str,
    *,
    clean_session: bool = True,
    will: Will | None = None,
    manual_ack: bool = False,
) -> MqttClient:
    """A client named ``client_id``; a clean session's name gets a random suffix (``kinetic-web-3f9a1c``).

    A broker keeps one connection per client id and drops the older one for a newer one with the same id (MQTT
    3.1.1, 3.1.4-2): two processes with one fixed id (``kinetic serve`` twice, two CLI commands at once) knock each
    other off for as long as both run. A clean session keeps nothing at the broker, so its id need not be stable; a
    persistent session's id must be (the broker keeps its subscriptions and queued messages under it), and its
    service refuses a second instance instead (``ingest.process.one_client``)."""
    return MqttClient(
        manual_ack=manual_ack,
        hostname=settings.host,
        port=settings.port,
        identifier=f"{client_id}-{secrets.token_hex(3)}" if clean_session else client_id,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        tls_context=tls_context(settings),
        tls_insecure=settings.tls_insecure if settings.tls else None,
        keepalive=settings.keepalive_s,
        clean_session=clean_session,
        will=aiomqtt.Will(will.topic, will.payload, qos=1, retain=will.retain) if will else None,
        timeout=settings.connect_timeout_s,
        # Bounded outgoing queue inside paho: back-pressure instead of memory growth.
        max_queued_outgoing_messages=10_000,
        # QoS 1 publications awaiting their PUBACK at once (paho's default, 20, caps a busy service's output at
        # 20 per broker round trip: bench/alerts_scale.py).
        max_inflight_messages=1000,
    )


def ack(client: MqttClient, mid: int, qos: int) -> None:
    """Acknowledge a message received with ``manual_ack=True`` (PUBACK for QoS 1)."""
    client.ack(mid, qos)


def broker(settings: MqttSettings) -> Endpoint:
    """The broker as the waiting lines and errors name it: where, and the settings that say where."""
    return Endpoint("MQTT broker", f"{settings.host}:{settings.port}", "KINETIC_MQTT__HOST / KINETIC_MQTT__PORT")


async def _connect_once(
    stack: contextlib.AsyncExitStack,
    settings: MqttSettings,
    client_id: str,
    *,
    clean_session: bool = True,
    will: Will | None = None,
    manual_ack: bool = False,
) -> MqttClient:
    """One connection attempt, the client entered into ``stack``; aiomqtt's errors translated: refused credentials
    -> MqttAuthError (retrying will not help), anything else (refused, timed out, unknown host, TLS) -> Unreachable.
    """
    client = build_client(settings, client_id, clean_session=clean_session, will=will, manual_ack=manual_ack)
    where = broker(settings)
    try:
        await stack.enter_async_context(client)
    except aiomqtt.MqttCodeError as exc:
        # paho 2 reports a ReasonCode object (unhashable); older versions a plain int
        code = getattr(exc.rc, "value", exc.rc)
        if code in _AUTH_CODES:
            user = settings.username or "(anonymous)"
            raise MqttAuthError(
                f"mqtt {where.address}: broker refused the credentials of user {user!r} ({exc}): check "
                "KINETIC_MQTT__USERNAME / KINETIC_MQTT__PASSWORD"
            ) from exc
        raise Unreachable(str(where), str(exc), where.settings) from exc
    except aiomqtt.MqttError as exc:
        raise Unreachable(str(where), str(exc), where.settings) from exc
    return client


@contextlib.asynccontextmanager
async def connect(
    settings: MqttSettings,
    client_id: str,
    *,
    clean_session: bool = True,
    will: Will | None = None,
    max_attempts: int | None = None,
    manual_ack: bool = False,
) -> AsyncIterator[MqttClient]:
    """Connect, waiting for the broker (ingest/retry.py: backoff, a line at most every 30 s); yield the client.

    Raises MqttAuthError at once on refused credentials, and Unreachable after ``max_attempts`` (then quietly: the
    error says it all).
    """
    async with contextlib.AsyncExitStack() as stack:
        yield await retry_until_reached(
            partial(
                _connect_once, stack, settings, client_id, clean_session=clean_session, will=will, manual_ack=manual_ack
            ),
            broker(settings),
            f"mqtt {client_id}",
            max_attempts=max_attempts,
        )


async def wait_for_broker(settings: MqttSettings, client_id: str, stop: asyncio.Event) -> bool:
    """Wait until the broker takes a connection (then close it), saying what is awaited; False if ``stop`` came
    first. For a command that opens many connections at once: one wait, one set of lines."""
    async with contextlib.AsyncExitStack() as stack:
        client = await retry_until_reached(
            partial(_connect_once, stack, settings, client_id),
            broker(settings),
            f"mqtt {client_id}",
            stop=stop,
        )
        return client is not None


# What varies between letters of one kind: quoted values (a topic, a wearer, a field's value), numbers (frame
# indexes, counts, times, sizes). Masked, the rest of the reason before its first colon names the kind.
_QUOTED_RE = re.compile(r"'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*"')
_NUMBER_RE = re.compile(
    r"\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:\d\d|Z)?"  # an ISO 8601 time (its colons are not the reason's)
    r"|(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"  # a number, not a name's digits (FeatureBatchV1)
)


def reason_kind(reason: str) -> str:
    """The kind of a dead letter's reason, for counting and the log's rate limit: its text before the first colon,
    quoted values and numbers masked (``payload wearer 'w7' does not match topic wearer 'ann'`` and ``... 'w8' ...``
    are one kind, ``payload wearer '*' does not match topic wearer '*'``), at most 100 characters."""
    masked = _NUMBER_RE.sub("#", _QUOTED_RE.sub("'*'", reason))
    return masked.split(":", 1)[0][:100]


@dataclass
class DeadLetters:
    """Counts, logs and republishes messages a service could not accept. One bad message never stops a loop."""

    service: str
    topics: Topics
    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # per kind of reason (``reason_kind``)
    # a line per kind of reason at most every LOG_EVERY_S: a sender repeating its mistake every second (or a fuzzer)
    # must not flood the log; every letter is still counted and republished
    _logged: dict[str, tuple[float, int]] = field(default_factory=dict, repr=False)

    LOG_EVERY_S: ClassVar[float] = 30.0

    def note(self, topic: str, reason: str) -> None:
        """Count a letter and log it, one line per kind of reason at most every ``LOG_EVERY_S`` seconds (the next
        line says how many more there were). For a service that sends its letters its own way (``kinetic phone``
        queues them); ``send`` does this and publishes."""
        self.count += 1
        kind = reason_kind(reason)
        self.reasons[kind] = self.reasons.get(kind, 0) + 1
        now = time.monotonic()
        last, quiet = self._logged.get(kind, (-self.LOG_EVERY_S, 0))
        if now - last >= self.LOG_EVERY_S:
            more = f" (and {quiet} more like it in the last {now - last:.0f} s)" if quiet else ""
            _LOGGER.warning("%s %s: dead-lettered (%s)%s", self.service, topic, one_line(reason, 500), more)
            self._logged[kind] = (now, 0)
        else:
            self._logged[kind] = (last, quiet + 1)

    async def send(self, publisher: Publisher, topic: str, payload: bytes, reason: str) -> None:
        self.note(topic, reason)
        letter = DeadLetterV1.wrap(
            service=self.service, topic=topic, reason=reason, payload=payload, received=datetime.now(UTC)
        )
        await publisher.publish(self.topics.dead_letter(self.service), encode(letter), qos=1)


def waiting_messages(client: MqttClient, max_batch: int | None = 1000) -> list[aiomqtt.Message]:
    """The messages already in the client's queue, in order, at most ``max_batch`` (None: all); ``[]`` when none
    wait. Takes them without a task or a wait. Not while another take from the queue is pending (an ``anext`` of
    aiomqtt's iterator): that one may already hold the oldest message, and what this returns would come before it."""
    queue = client.incoming
    batch: list[aiomqtt.Message] = []
    while max_batch is None or len(batch) < max_batch:
        try:
            batch.append(queue.get_nowait())
        except asyncio.QueueEmpty:
            break
    return batch


async def message_batches(client: MqttClient, max_batch: int = 1000) -> AsyncIterator[list[aiomqtt.Message]]:
    """The client's messages, as many as are waiting at once (at least one, in order): ``MessageTaker.take`` with no
    time limit. Raises aiomqtt.MqttError when the connection is lost and nothing waits."""
    taker = MessageTaker(client, max_batch)
    try:
        while True:
            yield await taker.take()
    finally:
        taker.close()


class MessageTaker:
    """The client's messages in batches, as many as are waiting at once, with a wait that may end empty-handed: for
    a consumer that must act when nothing more came within a while (the bridge commits what it holds after a linger;
    ``message_batches`` waits without a limit).

    aiomqtt's iterator creates a task and an ``asyncio.wait`` per message, which costs more than handling a
    one-frame message: what is already queued is taken in one go without them (``waiting_messages``), and the
    iterator is used only to wait when nothing is (bench/alerts_scale.py). When a full batch waits, the event loop
    runs once first (``asyncio.sleep(0)``, before anything is taken, so a cancellation there loses nothing): a
    backlog of many batches is not drained with every other task held.

    The wait for the next message is one pending ``anext`` of aiomqtt's iterator, kept across a wait that timed out
    (cancelling it could lose a message taken from the queue at that instant); ``close`` cancels it.
    """

    def __init__(self, client: MqttClient, max_batch: int = 1000) -> None:
        self._client = client
        self._max_batch = max_batch
        self._next: asyncio.Future[aiomqtt.Message] | None = None

    async def take(
        self, timeout_s: float | None = None, also: asyncio.Future[Any] | None = None
    ) -> list[aiomqtt.Message]:
        """The messages waiting (at least one, in order, at most ``max_batch``); ``[]`` if none came within
        ``timeout_s`` (None: no limit) or ``also`` finished first. Raises aiomqtt.MqttError when the connection is
        lost and nothing waits. What is already queued is taken without a task or a wait (``waiting_messages``),
        whether or not ``also`` is done, unless a wait of an earlier take is still pending: that one may hold the
        oldest message. When a full batch waits, the event loop runs once first."""
        if self._next is None:
            if self._client.incoming.qsize() >= self._max_batch:
                await asyncio.sleep(0)  # before the take: a cancellation here loses nothing
            batch = waiting_messages(self._client, self._max_batch)
            if batch:
                return batch
            self._next = asyncio.ensure_future(anext(self._client.messages))
        waits: set[asyncio.Future[Any]] = {self._next} if also is None else {self._next, also}
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if not self._next.done():
            return []
        first, self._next = self._next, None
        return [first.result(), *waiting_messages(self._client, self._max_batch - 1)]

    def close(self) -> None:
        if self._next is not None:
            self._next.cancel()
            self._next = None


def payload_bytes(message: aiomqtt.Message) -> bytes:
    p = message.payload
    if isinstance(p, bytes | bytearray):
        return bytes(p)
    if isinstance(p, str):
        return p.encode()
    return b"" if p is None else str(p).encode()


ServiceRun = Callable[[MqttClient, asyncio.Event], Awaitable[None]]


async def serve(
    run: ServiceRun,
    settings: MqttSettings,
    client_id: str,
    stop: asyncio.Event,
    *,
    clean_session: bool = False,
    manual_ack: bool = False,
    will: Will | None = None,
) -> None:
    """Keep a service connected until ``stop`` is set: wait for the broker (ingest/retry.py), run, and when the
    link drops say so and wait again. Returns when ``stop`` is set, even while waiting.

    ``clean_session=False`` (the default for services) keeps the subscription and queued QoS 1 messages
    in the broker while the service is away, so a restart or a broker hiccup loses nothing.
    """
    who = f"mqtt {client_id}"
    while not stop.is_set():
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await retry_until_reached(
                    partial(
                        _connect_once,
                        stack,
                        settings,
                        client_id,
                        clean_session=clean_session,
                        will=will,
                        manual_ack=manual_ack,
                    ),
                    broker(settings),
                    who,
                    stop=stop,
                )
                if client is None:
                    return
                await run(client, stop)
                return
        except aiomqtt.MqttError as exc:
            # a short pause so a broker that accepts and drops at once is not hammered; the wait says the rest
            delay = backoff_delay_s(0)
            _LOGGER.warning("%s %s: connection lost (%s), reconnecting", who, broker(settings).address, exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()


def only_client(settings: MqttSettings, client_id: str) -> contextlib.AbstractContextManager[None]:
    """While it is held, the only process on this host with the persistent session ``client_id`` at this broker
    (``ingest.process.one_client``, its lock in ``<data dir>/locks``); taken by each service that ``serve``s with
    ``clean_session=False`` before it opens anything. AlreadyRunning (one line) when another holds it."""
    return one_client(settings.host, settings.port, client_id, user_data_dir() / "locks")


def send_command(mqtt: MqttSettings, command: CommandV1) -> None:
    """Publish one command on ``<root>/v1/<wearer>/commands`` (a ``forget``: ``.../erasure``; ``Topics.command_topic``)
    (QoS 1) for the alert service, from a command line.

    Three connection attempts, then Unreachable (one line: the broker, the attempts, the error, the settings).
    """
    topics = Topics(mqtt.topic_root)

    async def job() -> None:
        async with connect(mqtt, f"{mqtt.client_id_prefix}-cli", max_attempts=3) as client:
            await client.publish(topics.command_topic(command), encode(command), qos=1)

    asyncio.run(job())


async def retained_messages(client: MqttClient, topic_filter: str, quiet_s: float = 0.5) -> dict[str, bytes]:
    """The retained messages under ``topic_filter``: what the broker sends at once on subscribing, collected until
    none came for ``quiet_s`` (live messages on the same topics are not retained and are left out)."""
    found: dict[str, bytes] = {}
    await client.subscribe(topic_filter, qos=1)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + quiet_s
    while (left := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(client.incoming.get(), left)
        except TimeoutError:
            break
        if message.retain and payload_bytes(message):
            found[str(message.topic)] = payload_bytes(message)
            deadline = loop.time() + quiet_s
    await client.unsubscribe(topic_filter)
    return found


async def clear_retained(client: MqttClient, topics: Iterable[str]) -> None:
    """Remove the retained message of each topic: an empty retained message (MQTT 3.1.1 s3.3.1.3)."""
    for topic in topics:
        await client.publish(topic, b"", qos=1, retain=True)

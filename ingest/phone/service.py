"""``kinetic phone``: Sensor Logger phones -> per-second features -> MQTT, store-and-forward (docs/phone.md).

Two thin adapters feed one ``PhoneStream`` per wearer (``ingest.phone.sensorlogger``, pure):

- **HTTP push** (aiohttp): ``POST /sensorlogger/<wearer>?token=<token>`` (or ``Authorization: Bearer <token>``).
  The token is a TOML phone's, or a device's from the token store (``ingest.phone.tokens``: made on the web app's
  Settings page; read again when the file changes, so a token added or revoked while this runs counts at the next
  push; its last use noted at most every ``TOUCH_EVERY_S``). Each device has its own stream and device id.
  No token or an unknown one: 401; another wearer's token: 403; a body over ``max_request_kb``: 413; nothing is
  read or stored on a refusal. A body that is not a Sensor Logger message, or one whose readings are all refused
  (a time in milliseconds, say): 400 naming what was refused and what is expected, dead-lettered whole. A message
  with some readings refused: 200 with a body counting them and naming the first reason; the good readings are
  taken, the refused ones dead-lettered (``Taken``). Whether the app retries a push answered 4xx is not documented
  (docs/phone.md): a retried 400 is refused again, counted and dead-lettered again, and the letters go through the
  bounded queue, so a retrying phone costs log lines at most every 30 s and never the queue's good data. A partly
  good push is answered 200 so that it is not sent again. The answer comes once the message's complete batches are
  in the on-disk queue.
- **MQTT**: the app publishes (QoS 0, websockets) on ``<mqtt_topic_root>/<wearer>``; the broker's ACL lets a phone
  publish there only (deploy/mosquitto/acl), so the topic names the wearer. This service subscribes on the same
  connection it publishes Kinetic's topics with.

Batches then go the collector's way: an on-disk queue (``Spool``) sent in order at QoS 1, an entry removed only
after the broker's PUBACK; a full queue drops its oldest batches (counted). Device status: ``online`` (with the
phone's battery) at a phone's first message and when the battery changes, ``offline`` when it has been silent for
``idle_flush_s`` or the service stops; the service's own
status is a collector status (``kinetic/v1/_collector/<id>/status``) with an ``offline`` last will.

Exercise sessions (issue 19, docs/exercises.md): the service reads the wearers' commands; between a wearer's
``session_start`` and ``session_end`` each of their trunk phones (a belt clip or a chest pocket: the detectors read
the trunk, as the BLE collector's trunk sensors) streams its acceleration samples (gravity included, in g, from
the session's start time on) on the session topic as ``SessionSamplesV1`` chunks (``ingest.session_stream``), closed
with the receiver's clock at the end, at a new start, or when the service stops. A phone in a trouser pocket
(``thigh``) streams nothing. Samples of a push that arrives after the end are not sent (at most one push period:
Sensor Logger's HTTP push and MQTT send every second or so).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import aiomqtt
from aiohttp import web

from ingest.errors import ConfigError, WireError
from ingest.forward import Forwarder
from ingest.listen import server_tls, start_site
from ingest.mqtt import DeadLetters, Will, payload_bytes
from ingest.phone.sensorlogger import (
    PhoneStream,
    PushMessage,
    Reading,
    SensorLoggerError,
    decode_message,
    glitch_reason,
)
from ingest.phone.tokens import PhoneDevice, TokenStore, TokenStoreError
from ingest.session_stream import SessionStreamer
from ingest.settings import PhoneConfig, PhoneSettings
from ingest.store.spool import Spool
from ingest.wire import (
    EARLIEST_MS,
    LATEST_MS,
    CollectorStatusV1,
    CommandV1,
    DeadLetterV1,
    DeviceStatusV1,
    FeatureBatchV1,
    SessionSamplesV1,
    Topics,
    decode,
    encode,
    one_line,
)

_LOGGER = logging.getLogger(__name__)

SERVICE = "phone"
Clock = Callable[[], float]  # seconds since the epoch: the receiver's clock, for the phone clock map and statuses
# a partly refused message's dead letter holds its refused readings, at most this many (the letter's payload is cut at
# 64 kB; a reading is about 100 bytes)
MAX_REFUSED_LETTER_READINGS = 500
TOUCH_EVERY_S = 60.0  # a token store device's last use is written at most this often (a push comes every few s)
Key = tuple[str, str]  # (wearer, device)


@dataclass
class PhoneServiceCounters:
    http_accepted: int = 0
    http_unauthorised: int = 0  # 401: no token or an unknown one
    http_forbidden: int = 0  # 403: another wearer's token
    http_too_large: int = 0  # 413
    mqtt_messages: int = 0
    bad_messages: int = 0  # not a Sensor Logger message: dead-lettered
    refused_messages: int = 0  # messages whose readings were all refused (HTTP: 400): dead-lettered whole
    partly_refused_messages: int = 0  # messages with some readings refused: those readings dead-lettered
    unknown_wearers: int = 0  # an MQTT topic of a wearer without a configured phone: dead-lettered
    too_large: int = 0  # MQTT messages over max_request_kb: dead-lettered unread
    internal_errors: int = 0  # messages that raised (a bug): dead-lettered, the service carried on
    batches_queued: int = 0
    batches_published: int = 0
    dropped_batches: int = 0
    session_chunks: int = 0  # SessionSamplesV1 messages queued (the final ones included)
    session_samples_dropped: int = 0  # samples past a session stream's bound (SessionStreamer.dropped)


@dataclass(frozen=True, slots=True)
class Taken:
    """What became of one message (``PhoneService.take``). ``problem``: why it is no Sensor Logger message (nothing
    of it kept). Else ``readings`` it carried, ``refused`` of them left out (each dead-lettered), ``first_refusal``:
    why the first was (its place, e.g. ``payload.3: totalacceleration time: ...``, and what is expected)."""

    problem: str | None = None
    readings: int = 0
    refused: int = 0
    first_refusal: str | None = None

    @property
    def unusable(self) -> bool:
        """Nothing of the message can be used: it is no message, or it carried readings and all were refused. An
        empty message (the app's test push) is usable."""
        return self.problem is not None or (self.refused > 0 and self.refused == self.readings)

    def answer(self) -> tuple[int, str]:
        """The HTTP status and one-line text body of a push with this outcome (the sender's text escaped)."""
        if self.problem is not None:
            return 400, one_line(f"not a Sensor Logger message: {self.problem}", 1000) + "\n"
        why = one_line(str(self.first_refusal), 500)
        if self.unusable:
            return 400, f"no reading could be used: {self.refused} of {self.readings} refused ({why})\n"
        if self.refused:
            taken = self.readings - self.refused
            return 200, f"ok: {taken} of {self.readings} readings taken, {self.refused} refused ({why})\n"
        return 200, "ok\n"


def phone_stream(cfg: PhoneConfig, batch_s: int) -> PhoneStream:
    """The pure stream for one configured phone (iOS axes unless the app standardises them)."""
    return PhoneStream(
        cfg.wearer, cfg.device, cfg.placement, batch_s, ios_axes=cfg.platform == "ios" and not cfg.standardised
    )


@dataclass
class PhoneService:
    settings: PhoneSettings
    topics: Topics
    queue: Spool
    clock: Clock = time.time
    collector_id: str = SERVICE
    counters: PhoneServiceCounters = field(default_factory=PhoneServiceCounters)
    tokens: TokenStore | None = None  # per-device tokens besides the TOML ones (None: the TOML ones only)

    def __post_init__(self) -> None:
        self.phones = {p.wearer: p for p in self.settings.phones}  # the TOML phones (MQTT and their tokens)
        self.streams = {p.wearer: phone_stream(p, self.settings.batch_s) for p in self.settings.phones}
        self._configs: dict[Key, PhoneConfig] = {(p.wearer, p.device): p for p in self.settings.phones}
        self._toml_keys = frozenset(self._configs)
        self._streams: dict[Key, PhoneStream] = {
            (p.wearer, p.device): self.streams[p.wearer] for p in self.phones.values()
        }
        self._tokens = [(p.token.get_secret_value().encode(), p) for p in self.settings.phones if p.token]
        self._last_message: dict[Key, float] = {}  # device -> receiver's clock at its last message
        self._battery: dict[Key, int | None] = {}
        self._online: set[Key] = set()  # devices whose last status said online
        self._touched: dict[Key, float] = {}  # token store devices -> receiver's clock when their use was noted
        self.forwarder = Forwarder(self.queue, self.counters, "phone")
        self.ready = asyncio.Event()  # set once the phones' MQTT topics are subscribed
        self._refusals_said: set[str] = set()
        self.dead_letters = DeadLetters(SERVICE, self.topics)  # its letters go through the queue (_dead_letter)
        # exercise sessions (issue 19): wearer -> (session, start in ms); a trunk phone's stream while it runs
        self._sessions: dict[str, tuple[str, int]] = {}
        self._session_streams: dict[Key, SessionStreamer] = {}
        self._session_samples: dict[Key, tuple[list[int], list[tuple[float, float, float]]]] = {}
        for key, stream in self._streams.items():
            self._watch_samples(key, stream)

    # --- the pure part's entry: one message of one wearer ---------------------------------------------------------
    def take(self, wearer: str, payload: bytes, source: str, device: str | None = None) -> Taken:
        """One message from ``wearer``'s phone ``device`` (default: their TOML phone): decoded, made into frames,
        complete batches queued. Returns what became of it (``Taken``): a message that cannot be used at all is
        counted and dead-lettered whole (nothing of it is stored); the refused readings of a partly good one are
        counted and dead-lettered, the rest taken."""
        key = (wearer, device if device is not None else self.phones[wearer].device)
        stream = self._streams[key]
        try:
            message = decode_message(payload)
        except SensorLoggerError as exc:
            self.counters.bad_messages += 1
            self._dead_letter(source, payload, str(exc))
            return Taken(problem=str(exc))
        now_ms = round(self.clock() * 1000)
        counters = stream.counters
        frames, unknown, no_gravity = counters.refused_frames, counters.unknown_readings, counters.no_gravity
        try:
            batches = stream.add_message(message, now_ms if EARLIEST_MS <= now_ms <= LATEST_MS else None)
        except Exception as exc:  # a bug a message found: this one is set aside, the service carries on
            self.counters.internal_errors += 1
            _LOGGER.exception("phone %s: a message could not be taken, dead-lettered", wearer)
            self._dead_letter(source, payload, f"internal error: {exc!r}"[:500])
            return Taken(problem=f"internal error: {exc!r}"[:200])
        self._last_message[key] = self.clock()
        taken = self._refusals(source, payload, message, stream.last_glitches)
        self._say_once(
            wearer, "frames", stream.counters.refused_frames > frames, f"seconds refused ({stream.last_refusal})"
        )
        self._say_once(wearer, "unknown", counters.unknown_readings > unknown, "readings of unknown sensors ignored")
        self._say_once(
            wearer,
            "gravity",
            counters.no_gravity > no_gravity,
            "accelerometer readings without gravity: turn on the Gravity sensor (or TotalAcceleration) in Sensor "
            "Logger",
        )
        if key not in self._online or stream.battery_pct != self._battery.get(key):
            self._online.add(key)
            self._battery[key] = stream.battery_pct
            self._status(key, "online")
        self._queue_batches(batches)
        self._stream_session(key)
        return taken

    def _refusals(self, source: str, payload: bytes, message: PushMessage, glitches: list[Reading]) -> Taken:
        """The outcome of a decoded message whose readings the stream took (``glitches``: the ones it refused as
        clock glitches). Refused readings are counted and dead-lettered: every reading refused, the message whole;
        some, a letter of the message with those readings only (its good readings are not copied there)."""
        refused = message.refused + len(glitches)
        total = len(message.readings) + message.refused
        first = message.first_refusal or (glitch_reason(glitches[0]) if glitches else None)
        taken = Taken(readings=total, refused=refused, first_refusal=first)
        if not refused:
            return taken
        if taken.unusable:
            self.counters.refused_messages += 1
            self._dead_letter(source, payload, f"no reading could be used, {refused} of {total} refused: {first}")
            return taken
        self.counters.partly_refused_messages += 1
        items = [*message.refused_items, *({"name": r.name, "time": r.t_ns, "values": r.values} for r in glitches)]
        kept = {
            "messageId": message.message_id,
            "sessionId": message.session_id,
            "deviceId": message.device_id,
            "payload": items[:MAX_REFUSED_LETTER_READINGS],
        }
        held = (
            "the refused ones" if refused <= MAX_REFUSED_LETTER_READINGS else f"the first {MAX_REFUSED_LETTER_READINGS}"
        )
        self._dead_letter(
            source,
            json.dumps(kept, separators=(",", ":")).encode(),
            f"{refused} of {total} readings refused (the letter holds {held}): {first}",
        )
        return taken

    # --- exercise sessions (issue 19) -------------------------------------------------------------------------------
    def _watch_samples(self, key: Key, stream: PhoneStream) -> None:
        """Each acceleration sample ``stream`` makes is offered to the session stream of ``key`` (kept only while
        its wearer's session runs, from the session's start on, for a trunk phone)."""

        def sample(t_ms: int, acc_g: tuple[float, float, float]) -> None:
            running = self._sessions.get(key[0])
            if running is None or t_ms < running[1] or self._configs[key].placement != "trunk":
                return
            times, values = self._session_samples.setdefault(key, ([], []))
            times.append(t_ms)
            values.append(acc_g)

        stream.on_sample = sample

    def _stream_session(self, key: Key) -> None:
        """The samples a message gave during a session -> the stream's full chunks, queued."""
        held = self._session_samples.pop(key, None)
        running = self._sessions.get(key[0])
        if held is None or running is None:
            return
        streamer = self._session_streams.get(key)
        if streamer is None:
            streamer = self._session_streams[key] = SessionStreamer(key[0], key[1], running[0])
        dropped = streamer.dropped
        self._queue_session(streamer.add(*held))
        self.counters.session_samples_dropped += streamer.dropped - dropped

    def session_command(self, command: CommandV1) -> None:
        """A wearer's ``session_start`` opens a session stream for their trunk phones (each made at the phone's first
        sample of the session); ``session_end`` (or a new start) closes the running ones with the receiver's clock
        (docs/wire.md). Other commands are not this service's."""
        if command.kind not in ("session_start", "session_end"):
            return
        self._close_sessions(command.wearer)
        if command.kind == "session_start" and command.session is not None:
            self._sessions[command.wearer] = (command.session, round(command.at.timestamp() * 1000))
        trunk = sorted(d for w, d in self._configs if w == command.wearer and self._configs[w, d].placement == "trunk")
        _LOGGER.info(
            "phone %s: %s %s (trunk phones: %s)",
            command.wearer,
            command.kind,
            command.session,
            ", ".join(trunk) or "none",
        )

    def _close_sessions(self, wearer: str | None = None) -> None:
        """The running session streams of ``wearer`` (None: everyone's) closed: what waited, then the final chunk."""
        for key in [k for k in self._session_streams if wearer is None or k[0] == wearer]:
            self._stream_session(key)
            self._queue_session(self._session_streams.pop(key).close(round(self.clock() * 1000)))
        for running in [w for w in self._sessions if wearer is None or w == wearer]:
            del self._sessions[running]
        for key in [k for k in self._session_samples if wearer is None or k[0] == wearer]:
            del self._session_samples[key]

    def _queue_session(self, chunks: list[SessionSamplesV1]) -> None:
        for chunk in chunks:
            self._enqueue(self.topics.session(chunk.wearer, chunk.device), encode(chunk), False, 0)
            self.counters.session_chunks += 1

    def _say_once(self, wearer: str, what: str, happened: bool, text: str) -> None:
        """A problem of a phone's data is logged the first time (it repeats with every message); always counted."""
        if happened and f"{wearer}/{what}" not in self._refusals_said:
            self._refusals_said.add(f"{wearer}/{what}")
            _LOGGER.warning("phone %s: %s", wearer, text)

    def flush_idle(self, *, everything: bool = False) -> None:
        """Send the held seconds of phones silent for ``idle_flush_s`` (a recording stopped), or of all phones, and
        say they are offline (the next message says online again)."""
        now = self.clock()
        for key, last in list(self._last_message.items()):
            if everything or now - last >= self.settings.idle_flush_s:
                self._queue_batches(self._streams[key].flush())
                del self._last_message[key]
                if key in self._online:
                    self._online.discard(key)
                    self._status(key, "offline")

    # --- HTTP push --------------------------------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        """The push endpoint (aiohttp): ``POST /sensorlogger/{wearer}``, and ``GET /healthz``."""

        async def push(request: web.Request) -> web.Response:
            wearer = request.match_info["wearer"]
            owner = await self._token_owner(request)
            if owner is None:
                self.counters.http_unauthorised += 1
                return web.Response(status=401, text="a push token is needed: ?token=... in the push URL\n")
            if owner.wearer != wearer:
                self.counters.http_forbidden += 1
                _LOGGER.warning("phone %s: a push with the token of another wearer refused", wearer)
                return web.Response(status=403, text="this token is not this wearer's\n")
            if request.content_length is not None and request.content_length > self._max_bytes:
                self.counters.http_too_large += 1
                return web.Response(status=413, text=f"at most {self.settings.max_request_kb} kB per push\n")
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                self.counters.http_too_large += 1
                return web.Response(status=413, text=f"at most {self.settings.max_request_kb} kB per push\n")
            taken = self.take(wearer, body, f"http:/sensorlogger/{wearer}", owner.device)
            status, text = taken.answer()
            if status != 200:
                return web.Response(status=status, text=text)
            self.counters.http_accepted += 1
            await self._note_use(owner)
            return web.Response(text=text)

        async def health(_: web.Request) -> web.Response:
            return web.Response(text="ok\n")

        app = web.Application(client_max_size=self._max_bytes)
        app.router.add_post("/sensorlogger/{wearer}", push)
        app.router.add_get("/healthz", health)
        return app

    @property
    def _max_bytes(self) -> int:
        return self.settings.max_request_kb * 1024

    async def _token_owner(self, request: web.Request) -> PhoneConfig | None:
        """The phone whose token the request carries: a TOML phone's, else a token store device's (its stream made
        at its first push), else None. A token store that cannot be read counts as no token there (logged)."""
        given = request.query.get("token", "")
        header = request.headers.get("Authorization", "")
        if not given and header.lower().startswith("bearer "):
            given = header[7:].strip()
        if not given:
            return None
        owner = None
        for token, cfg in self._tokens:  # every token compared, in constant time
            if hmac.compare_digest(token, given.encode()):
                owner = cfg
        if owner is not None or self.tokens is None:
            return owner
        try:
            device = await asyncio.to_thread(self.tokens.lookup, given)  # a file stat, a read when it changed
        except TokenStoreError as exc:
            _LOGGER.warning("phone: %s; its tokens are refused until it is fixed", exc)
            return None
        return None if device is None else self._device_config(device)

    def _device_config(self, device: PhoneDevice) -> PhoneConfig:
        """A token store device as a phone: its stream and status made the first time (a TOML phone of the same
        wearer and device id keeps its own settings)."""
        key = (device.wearer, device.device)
        cfg = self._configs.get(key)
        if cfg is None:
            cfg = PhoneConfig(
                wearer=device.wearer,
                device=device.device,
                placement=device.placement,
                platform=device.platform,
                standardised=device.standardised,
            )
            self._configs[key] = cfg
            self._streams[key] = phone_stream(cfg, self.settings.batch_s)
            self._watch_samples(key, self._streams[key])
            _LOGGER.info("phone %s: device %s (token store) pushes", device.wearer, device.device)
        return cfg

    async def _note_use(self, cfg: PhoneConfig) -> None:
        """A token store device's last use, written at most every TOUCH_EVERY_S (failures logged, never raised)."""
        key = (cfg.wearer, cfg.device)
        if self.tokens is None or key in self._toml_keys:
            return
        now = self.clock()
        if now - self._touched.get(key, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
            return
        self._touched[key] = now
        try:
            await asyncio.to_thread(self.tokens.touch, cfg.wearer, cfg.device, round(now * 1000))
        except TokenStoreError as exc:
            _LOGGER.warning("phone %s: the last use of %s could not be noted (%s)", cfg.wearer, cfg.device, exc)

    @asynccontextmanager
    async def http_server(self) -> AsyncIterator[int]:
        """The push endpoint on ``http_host``:``http_port``; yields the port it listens on (0 in the settings: a
        free one)."""
        runner = web.AppRunner(self.make_app(), access_log=None)  # no access log: push URLs carry tokens
        await runner.setup()
        site = web.TCPSite(runner, self.settings.http_host, self.settings.http_port, ssl_context=self._tls())
        try:
            await start_site(
                site,
                self.settings.http_host,
                self.settings.http_port,
                "KINETIC_PHONE__HTTP_PORT / KINETIC_PHONE__HTTP_HOST",
            )
        except ConfigError:
            await runner.cleanup()
            raise
        try:
            server = site._server
            sockets = getattr(server, "sockets", None) or []
            yield sockets[0].getsockname()[1] if sockets else self.settings.http_port
        finally:
            await runner.cleanup()

    def _tls(self) -> ssl.SSLContext | None:
        """HTTPS when ``tls_cert``/``tls_key`` are set (``ingest.listen.server_tls``: TLS 1.2 or later). Raises
        ConfigError naming the settings when the files cannot be loaded."""
        settings = "KINETIC_PHONE__TLS_CERT / KINETIC_PHONE__TLS_KEY"
        return server_tls(self.settings.tls_cert, self.settings.tls_key, settings)

    # --- MQTT -------------------------------------------------------------------------------------------------------
    def mqtt_topic(self, wearer: str) -> str:
        return f"{self.settings.mqtt_topic_root}/{wearer}"

    async def forward(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """The MQTT side (under ``ingest.mqtt.serve`` with ``will=self.will()``): the phones' topics in, the queue out
        in order, held seconds of silent phones flushed."""
        status_topic = self.topics.collector_status(self.collector_id)
        await client.publish(status_topic, encode(self._collector_status("online")), qos=1, retain=True)
        await client.subscribe(f"{self.settings.mqtt_topic_root}/+", qos=0)
        await client.subscribe(self.topics.all_commands(), qos=1)  # session_start / _end: session streams
        self.ready.set()
        incoming = asyncio.create_task(self._incoming(client), name="phone-mqtt-in")

        def tick(stopping: bool) -> None:
            if stopping:  # a stop ends the session streams (the alert service marks the session incomplete)
                self._close_sessions()
            self.flush_idle(everything=stopping)

        try:
            await self.forwarder.send(client, stop, tick=tick)
            await client.publish(status_topic, encode(self._collector_status("offline")), qos=1, retain=True)
        finally:
            incoming.cancel()
            await asyncio.gather(incoming, return_exceptions=True)

    async def _incoming(self, client: aiomqtt.Client) -> None:
        prefix = f"{self.settings.mqtt_topic_root}/"
        async for message in client.messages:
            topic, payload = str(message.topic), payload_bytes(message)
            if not topic.startswith(prefix) or "/" in topic[len(prefix) :]:  # not a phone's: a Kinetic command
                try:
                    _, command = decode(self.topics, topic, payload)
                except WireError:
                    continue  # the alert service judges commands and dead-letters the bad ones
                if isinstance(command, CommandV1) and not message.retain:  # obeyed once, when published
                    self.session_command(command)
                continue
            self.counters.mqtt_messages += 1
            wearer = topic[len(prefix) :] if topic.startswith(prefix) else ""
            if len(payload) > self._max_bytes:
                self.counters.too_large += 1
                reason = f"{len(payload)} bytes: at most {self.settings.max_request_kb} kB per message"
                self._dead_letter(topic, payload[:1024], reason)
                continue
            if wearer not in self.streams:
                self.counters.unknown_wearers += 1
                self._dead_letter(
                    topic, payload, f"no phone configured for wearer {wearer[:64]!r} (KINETIC_PHONE__PHONES)"
                )
                continue
            self.take(wearer, payload, topic)  # MQTT: the TOML phones (the broker's user is the phone's login)

    # --- the queue ------------------------------------------------------------------------------------------------
    def _queue_batches(self, batches: list[FeatureBatchV1]) -> None:
        for batch in batches:
            self._enqueue(self.topics.features(batch.wearer, batch.device), encode(batch), False, len(batch.frames))
            self.counters.batches_queued += 1

    def _dead_letter(self, topic: str, payload: bytes, reason: str) -> None:
        self.dead_letters.note(topic, reason)  # counted; logged a line per kind of reason at most every 30 s
        letter = DeadLetterV1.wrap(
            service=SERVICE,
            topic=topic,
            reason=reason,
            payload=payload[:65536],
            received=_utc(self.clock()),
        )
        self._enqueue(self.topics.dead_letter(SERVICE), encode(letter), False, 0)

    def _status(self, key: Key, state: Literal["online", "offline"]) -> None:
        wearer = key[0]
        cfg = self._configs[key]
        now_ms = round(self.clock() * 1000)
        status = DeviceStatusV1(
            wearer=wearer,
            device=cfg.device,
            state=state,
            placement=cfg.placement,
            t_ms=now_ms if EARLIEST_MS <= now_ms <= LATEST_MS else None,
            battery_pct=self._streams[key].battery_pct,
            firmware=f"Sensor Logger ({cfg.platform})",
        )
        self._enqueue(self.topics.status(wearer, cfg.device), encode(status), True, 0)

    def _enqueue(self, topic: str, payload: bytes, retain: bool, points: int) -> None:
        self.forwarder.put(topic, payload, retain, points)

    def will(self) -> Will:
        return Will(self.topics.collector_status(self.collector_id), encode(self._collector_status("offline")))

    def _collector_status(self, state: Literal["online", "offline"]) -> CollectorStatusV1:
        now_ms = round(self.clock() * 1000)
        return CollectorStatusV1(
            collector=self.collector_id,
            state=state,
            devices=sorted({device for _, device in self._configs})[:256],
            t_ms=now_ms if EARLIEST_MS <= now_ms <= LATEST_MS else None,
        )


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)

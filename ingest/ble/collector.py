"""``kinetic collect``: wearables over BLE (bleak) -> per-second features at the edge -> MQTT, store-and-forward.

One task per wearable, independent: scan (by address or name) -> connect -> subscribe -> decode -> per-second
frames (host clock at reception: InfiniTime sends no timestamps) -> batches -> an on-disk queue -> one publisher
task that sends the queue in order at QoS 1 and removes a batch only after the broker's PUBACK. A broker outage
or a collector crash (kill -9) therefore loses nothing that reached the queue. When the queue reaches its bound
the **oldest** batches are dropped (a BLE stream cannot be paused): counted in ``dropped_batches``, logged once
per outage.

The bleak backend is chosen by the caller: the platform's (BlueZ, CoreBluetooth, WinRT) in production, or
``BumbleScanner``/``BumbleClient`` with a ``VirtualRadio`` (tests, demo) or a Bumble USB dongle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import aiomqtt
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from ingest.backoff import backoff_delay_s
from ingest.ble.aggregate import Batcher, ClockWatch, SecondAggregator
from ingest.ble.profiles import heart_rate, infinitime
from ingest.ble.profiles.device_info import (
    BATTERY_LEVEL,
    FIRMWARE_REVISION,
    MANUFACTURER_NAME,
    MODEL_NUMBER,
    decode_battery,
    device_text,
)
from ingest.ble.profiles.repeats import RepeatFilter
from ingest.ble.streams import motion_stream
from ingest.errors import DecodeError, WireError
from ingest.forward import Forwarder
from ingest.mqtt import DeadLetters, Will, payload_bytes, reason_kind
from ingest.session_stream import SessionStreamer
from ingest.settings import CollectorSettings, WearableConfig
from ingest.store.spool import Spool
from ingest.transitions import TransitionDetector
from ingest.wire import (
    EARLIEST_MS,
    LATEST_MS,
    MAX_RR_PER_FRAME,
    RR_MAX_MS,
    RR_MIN_MS,
    CollectorStatusV1,
    CommandV1,
    DeadLetterV1,
    DeviceStatusV1,
    FeatureBatchV1,
    FeatureFrameV1,
    PromptV1,
    SessionSamplesV1,
    Topics,
    decode,
    encode,
)

_LOGGER = logging.getLogger(__name__)

Clock = Callable[[], float]  # seconds since the epoch; the adapter's clock (the pure parts take time from data)
_T = TypeVar("_T")


@dataclass
class CollectorCounters:
    notifications: int = 0  # motion and heart rate notifications received, repeats included
    repeated_notifications: int = 0  # the same notification delivered again (BlueZ after a reconnect): dropped
    samples: int = 0
    decode_errors: int = 0
    refused_device_values: int = 0  # a battery level or Device Information string that could not be used
    frames: int = 0
    batches_queued: int = 0
    batches_published: int = 0  # queue entries sent and acknowledged (feature batches and statuses)
    dropped_batches: int = 0
    connects: int = 0
    link_losses: int = 0
    prompts_delivered: int = 0
    prompts_undelivered: int = 0
    refused_frames: int = 0  # seconds the wire contract refuses (clock before 2015, zeros): dead-lettered
    refused_prompts: int = 0  # messages on a prompts topic that are not a prompt for that topic's wearer
    internal_errors: int = 0  # prompts whose showing raised: dead-lettered, the collector carried on
    clock_steps: int = 0  # sample times that went back by more than a late notification can (SecondAggregator)
    rr_intervals: int = 0  # RR intervals put on frames (Heart Rate Measurement, for HRV)
    refused_rr: int = 0  # RR intervals outside 250-2500 ms, beyond 8 in a second, or with no frame to carry them


@dataclass
class _HeldLetter:
    """A dead letter held for more like it (``Collector._dead_letter``)."""

    first_ms: int
    data: bytes
    reason: str
    more: int = 0


@dataclass
class HeartRateTrack:
    """The latest heart rate of a wearable with the Heart Rate Service, put on the frames of the seconds it covers
    (a reading older than ``max_age_ms`` is not used), and its RR intervals, each on exactly one frame: the first
    frame whose second ends after the notification that carried it was received (``rr_ms``, ingest/wire.py).

    RR intervals arrive in 1/1024 s and go on the wire in whole ms. One outside ``RR_MIN_MS`` .. ``RR_MAX_MS`` is
    not a heartbeat (a strap losing contact): refused and counted (``refused``), as are those beyond
    ``MAX_RR_PER_FRAME`` in one second and those still waiting after ``max_age_ms`` with no frame to carry them (the
    motion stream stopped): bounded memory, and no frame refused for its RR."""

    max_age_ms: int = 3000
    t_ms: int | None = None
    bpm: int | None = None
    pending_rr: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=64))  # (received ms, RR ms)
    refused: int = 0
    carried: int = 0
    not_heartbeats: int = 0  # of ``refused``: outside RR_MIN_MS .. RR_MAX_MS (the device's data is wrong)

    def add(self, t_ms: int, bpm: int, rr_s: tuple[float, ...] = ()) -> None:
        if 20 <= bpm <= 300:  # 0 = no reading yet; the wire accepts 20-300
            self.t_ms, self.bpm = t_ms, bpm
        for rr in rr_s:
            rr_ms = round(rr * 1000)
            if not RR_MIN_MS <= rr_ms <= RR_MAX_MS:
                self.refused += 1
                self.not_heartbeats += 1
            elif len(self.pending_rr) == self.pending_rr.maxlen:  # the motion stream stopped: none can be carried
                self.refused += 1
            else:
                self.pending_rr.append((t_ms, rr_ms))

    def stamp(self, frames: list[FeatureFrameV1]) -> list[FeatureFrameV1]:
        out = []
        for f in frames:
            update: dict[str, object] = {}
            if self.t_ms is not None and self.bpm is not None and abs(f.t_ms + 500 - self.t_ms) <= self.max_age_ms:
                update["hr_bpm"] = float(self.bpm)
            while self.pending_rr and self.pending_rr[0][0] < f.t_ms - self.max_age_ms:  # no frame came for them
                self.pending_rr.popleft()
                self.refused += 1
            rr: list[int] = []
            while self.pending_rr and self.pending_rr[0][0] < f.t_ms + 1000:
                if len(rr) < MAX_RR_PER_FRAME:
                    rr.append(self.pending_rr.popleft()[1])
                else:
                    self.pending_rr.popleft()
                    self.refused += 1
            if rr:
                update["rr_ms"] = rr
                self.carried += len(rr)
            out.append(f.model_copy(update=update) if update else f)
        return out


@dataclass
class Collector:
    settings: CollectorSettings
    topics: Topics
    queue: Spool
    scanner_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. backend=BumbleScanner, radio=...
    client_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. backend=BumbleClient, radio=...
    clock: Clock = time.time
    counters: CollectorCounters = field(default_factory=CollectorCounters)

    def __post_init__(self) -> None:
        self.forwarder = Forwarder(self.queue, self.counters, "collector")
        self._ble_done = asyncio.Event()
        self._clients: dict[str, BleakClient] = {}  # connected wearables, by device id
        self._seq: dict[str, int] = {}
        self._rssi: dict[str, int] = {}  # the last advertisement's signal strength per device (dBm)
        self._delivered: deque[str] = deque(maxlen=1000)  # prompt ids already shown (QoS 1 may redeliver)
        self.connected: dict[str, bool] = {w.device: False for w in self.settings.wearables}
        self.dead_letters = DeadLetters("collector", self.topics)
        # a letter per characteristic and kind of reason, held for batch_s (``_dead_letter``)
        self._held: dict[tuple[str, str], _HeldLetter] = {}
        # exercise sessions (issue 19): a trunk device's raw samples streamed while its wearer's session runs
        self.session_streams: dict[str, SessionStreamer] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """The BLE side: one independent task per wearable, until ``stop``. MQTT is not needed here: everything
        goes through the queue, which ``forward`` sends."""
        self._ble_done.clear()
        try:
            async with asyncio.TaskGroup() as group:
                for wearable in self.settings.wearables:
                    group.create_task(self._wearable(wearable, stop), name=f"collect-{wearable.device}")
        finally:
            self._ble_done.set()
            self.forwarder.queued.set()

    # --- one wearable -------------------------------------------------------------------------------------------
    async def _wearable(self, cfg: WearableConfig, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                device = await self._find(cfg)
                if device is None:
                    raise TimeoutError("not found while scanning")
                await self._session(cfg, device, stop)
                attempt = 0
            except Exception as exc:
                delay = backoff_delay_s(attempt, base_s=1.0, cap_s=30.0)
                expected = isinstance(exc, BleakError | TimeoutError | OSError | DecodeError)
                _LOGGER.warning(
                    "%s %s: %s, retrying in %.1fs",
                    cfg.wearer,
                    cfg.address or cfg.name,
                    exc,
                    delay,
                    exc_info=not expected,
                )
                attempt += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stop.wait()

    async def _find(self, cfg: WearableConfig) -> BLEDevice | None:
        """Scan for the wearable by address or advertised name; note its signal strength for the status."""

        name = _text_or_none(cfg.name or "")

        def wanted(device: BLEDevice, adv: AdvertisementData) -> bool:
            if cfg.address:
                found = device.address.upper() == cfg.address.upper()
            else:  # advertised names are any bytes a device chose: compared in the form Kinetic would show them
                found = name is not None and name in (_text_or_none(adv.local_name), _text_or_none(device.name))
            if found:
                self._rssi[cfg.device] = adv.rssi
            return found

        timeout = self.settings.scan_timeout_s
        return await BleakScanner.find_device_by_filter(wanted, timeout=timeout, **self.scanner_kwargs)

    async def _session(self, cfg: WearableConfig, device: BLEDevice, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        # a trunk sensor also reports sit-to-stand / stand-to-sit transitions, which the trunk's posture rests on
        aggregator = SecondAggregator(transitions=TransitionDetector() if cfg.placement == "trunk" else None)
        # the message counter runs on across reconnections, so a receiver can account for gaps per device
        batcher = Batcher(
            cfg.wearer, cfg.device, cfg.placement, self.settings.batch_s, seq=self._seq.get(cfg.device, 0)
        )

        stream = motion_stream(cfg)
        watch = ClockWatch()

        def on_motion(_: Any, data: bytearray) -> None:
            self.counters.notifications += 1
            received_ms = round(self.clock() * 1000)
            frames: list[FeatureFrameV1] = []
            steps = aggregator.clock_steps
            if watch.read(received_ms):  # the host clock was set back: the second in progress ends here
                frames += aggregator.restart(watch.last_step_ms)
            try:
                timed = stream.decode(received_ms, data)
            except DecodeError as exc:
                self.counters.decode_errors += 1
                self._dead_letter(cfg, "motion", bytes(data), f"bad notification: {exc}", received_ms)
                timed = []
            if timed is None:
                self.counters.repeated_notifications += 1
                timed = []
            self.counters.samples += len(timed)
            for t_ms, sample in timed:
                frames += aggregator.add(t_ms, sample)
            streamer = self.session_streams.get(cfg.device)
            if streamer is not None and timed:
                self._queue_session(streamer.add([t for t, _ in timed], [sample for _, sample in timed]))
            if aggregator.clock_steps > steps:
                self.counters.clock_steps += aggregator.clock_steps - steps
                _LOGGER.warning(
                    "%s %s: the sample clock went back %.1f s (host clock set back, or the device's reset); seconds "
                    "start again from the new time, and receivers treat them as late until they pass the old",
                    cfg.wearer,
                    cfg.device,
                    -aggregator.last_step_ms / 1000,
                )
            refused = batcher.refused
            rr_refused, rr_carried = heart.refused, heart.carried
            stamped = heart.stamp(frames)
            self._count_rr(cfg, heart, rr_refused, rr_carried)
            self._queue_batches(batcher.add(stamped))
            self.counters.refused_frames += batcher.refused - refused
            self._dead_letter_seconds(cfg, batcher.refusals())

        heart = HeartRateTrack()
        # no counter in a Heart Rate Measurement: the same bytes within half its period are a repeat (harmless for
        # the frames, which keep the latest reading, but counted like every repeat)
        heart_repeats: RepeatFilter[bytes] = RepeatFilter(window_ms=heart_rate.PERIOD_MS // 2)

        def on_heart_rate(_: Any, data: bytearray) -> None:
            self.counters.notifications += 1
            received_ms = round(self.clock() * 1000)
            try:
                measurement = heart_rate.decode_measurement(data)
            except DecodeError as exc:
                self.counters.decode_errors += 1
                self._dead_letter(cfg, "heart rate", bytes(data), f"bad heart rate notification: {exc}", received_ms)
                return
            if heart_repeats.is_repeat(bytes(data), received_ms):
                self.counters.repeated_notifications += 1
                return
            refused, carried, wrong = heart.refused, heart.carried, heart.not_heartbeats
            heart.add(received_ms, measurement.bpm, measurement.rr_s)
            if heart.not_heartbeats > wrong:  # a strap losing contact (the others refused wait in vain: counted)
                self._dead_letter(
                    cfg,
                    "heart rate",
                    bytes(data),
                    f"{heart.not_heartbeats - wrong} of {len(measurement.rr_s)} RR intervals refused: expected "
                    f"{RR_MIN_MS}-{RR_MAX_MS} ms",
                    received_ms,
                )
            self._count_rr(cfg, heart, refused, carried)

        battery: int | None = None
        firmware: str | None = None
        online = False
        try:
            async with BleakClient(device, disconnected_callback=lambda _: lost.set(), **self.client_kwargs) as client:
                self.counters.connects += 1
                self._clients[cfg.device] = client
                battery = await self._read(cfg, client, "battery level", BATTERY_LEVEL, decode_battery)
                firmware = await self._read(cfg, client, "firmware revision", FIRMWARE_REVISION, device_text)
                model = await self._read(cfg, client, "model number", MODEL_NUMBER, device_text)
                maker = await self._read(cfg, client, "manufacturer name", MANUFACTURER_NAME, device_text)
                self._status(cfg, "online", battery, firmware)
                online = True
                # heart rate first: opening the motion stream starts the sensor (Polar), which then sends both
                if client.services.get_characteristic(heart_rate.MEASUREMENT) is not None:
                    await client.start_notify(heart_rate.MEASUREMENT, on_heart_rate)
                await stream.open(client, on_motion)
                self.connected[cfg.device] = True  # connected and subscribed: the stream is flowing
                _LOGGER.info(
                    "%s %s: streaming from %s (model %s, manufacturer %s, firmware %s)",
                    cfg.wearer,
                    cfg.device,
                    device.address,
                    model,
                    maker,
                    firmware,
                )
                waiter = asyncio.create_task(lost.wait())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
        finally:
            # whatever ended the session (stop, a lost link, an error), the data so far and the status go out
            self.connected[cfg.device] = False
            self._clients.pop(cfg.device, None)
            rr_refused, rr_carried = heart.refused, heart.carried
            last = heart.stamp(aggregator.flush())
            self._count_rr(cfg, heart, rr_refused, rr_carried)
            refused = batcher.refused
            self._queue_batches(batcher.add(last) + batcher.flush())
            self.counters.refused_frames += batcher.refused - refused
            self._dead_letter_seconds(cfg, batcher.refusals(final=True))
            self._letters_due(cfg)
            self._seq[cfg.device] = batcher.seq
            if online:
                self._status(cfg, "offline", battery, firmware)
        if lost.is_set() and not stop.is_set():
            self.counters.link_losses += 1
            raise BleakError("link lost")

    def _count_rr(self, cfg: WearableConfig, heart: HeartRateTrack, refused: int, carried: int) -> None:
        """Count the RR intervals ``heart`` carried and refused since it had ``carried`` and ``refused``; the first
        refusal of a connection is said (a strap losing skin contact sends many)."""
        self.counters.rr_intervals += heart.carried - carried
        if heart.refused > refused:
            if refused == 0:
                _LOGGER.warning(
                    "%s %s: RR intervals refused (outside %d-%d ms, more than %d in a second, or no frame to carry "
                    "them); check the strap's skin contact",
                    cfg.wearer,
                    cfg.device,
                    RR_MIN_MS,
                    RR_MAX_MS,
                    MAX_RR_PER_FRAME,
                )
            self.counters.refused_rr += heart.refused - refused

    async def _read(
        self, cfg: WearableConfig, client: BleakClient, what: str, uuid: str, decode: Callable[[bytes], _T]
    ) -> _T | None:
        """One characteristic for the status, decoded; None when the device has none or sends one that cannot be
        used (said once per connection and counted: the status goes out without it)."""
        try:
            data = bytes(await client.read_gatt_char(uuid))
        except BleakError:
            return None  # not offered by this device
        try:
            return decode(data)
        except DecodeError as exc:
            self.counters.refused_device_values += 1
            _LOGGER.warning("%s %s: %s not used (%s)", cfg.wearer, cfg.device, what, exc)
            self._dead_letter(cfg, what, data, f"{what} not used: {exc}", logged=True)  # read once a connection
            return None

    def _dead_letter(
        self,
        cfg: WearableConfig,
        what: str,
        data: bytes,
        reason: str,
        now_ms: int | None = None,
        logged: bool = False,
    ) -> None:
        """What the device sent that could not be used, through the queue to ``<root>/v1/_deadletter/collector``
        (``DeadLetterV1``: the bytes, base64 when they are not text), its "topic" naming the wearable and the
        characteristic (``ble:/<wearer>/<device>/<what>``); counted, and logged a line per kind of reason every 30 s
        at most (``DeadLetters.note``) unless ``logged`` already. From a stream (``now_ms``: a notification received
        then, host clock), one letter per characteristic and kind of reason per ``batch_s`` seconds at most, as the
        data's batches: the first bad notification is held, those of its kind that follow within ``batch_s`` are
        counted in it (its reason says how many, their bytes not kept), and it goes out ``batch_s`` after it came (a
        timer on the event loop), or when the connection ends (``_letters_due``). A firmware sending nothing
        but garbage, or a strap without skin contact, so cannot fill the queue with letters ahead of the data."""
        source = f"ble:/{cfg.wearer}/{cfg.device}/{what}"
        if now_ms is None:
            if logged:
                self.dead_letters.count += 1
            else:
                self.dead_letters.note(source, reason)
            self._letter(source, data, reason)
            return
        key = (source, reason_kind(reason))
        held = self._held.get(key)
        if held is not None and not self._due(held, now_ms):
            held.more += 1
            return
        if held is not None:
            self._send_held(key, held)
        held = self._held[key] = _HeldLetter(now_ms, data, reason)
        with contextlib.suppress(RuntimeError):  # no running loop (a test calling in): the next bad one or the end
            asyncio.get_running_loop().call_later(self.settings.batch_s, self._send_if_held, key, held)

    def _due(self, held: _HeldLetter, now_ms: int) -> bool:
        """Whether a held letter's ``batch_s`` is over at ``now_ms`` (a host clock set back: over too)."""
        return not 0 <= now_ms - held.first_ms < self.settings.batch_s * 1000

    def _send_if_held(self, key: tuple[str, str], held: _HeldLetter) -> None:
        if self._held.get(key) is held:
            self._send_held(key, held)

    def _letters_due(self, cfg: WearableConfig) -> None:
        """Send the device's held letters (``_dead_letter``): its connection ended."""
        prefix = f"ble:/{cfg.wearer}/{cfg.device}/"
        for key, held in list(self._held.items()):
            if key[0].startswith(prefix):
                self._send_held(key, held)

    def _send_held(self, key: tuple[str, str], held: _HeldLetter) -> None:
        del self._held[key]
        more = "" if not held.more else f"; {held.more} more like it in the next {self.settings.batch_s} s, not kept"
        reason = held.reason + more
        self.dead_letters.note(key[0], reason)
        self._letter(key[0], held.data, reason, held.first_ms)

    def _dead_letter_seconds(self, cfg: WearableConfig, refusals: list[tuple[FeatureFrameV1, str]]) -> None:
        """Refused seconds (``Batcher.refusals``) as one dead letter: the frames as the batch would have carried
        them (``{"wearer", "device", "placement", "frames"}``, a NaN written as null) and the rule the first breaks;
        its topic the device's features topic."""
        if not refusals:
            return
        head = json.dumps({"wearer": cfg.wearer, "device": cfg.device, "placement": cfg.placement})[:-1]
        frames = b",".join(frame.model_dump_json(exclude_none=True).encode() for frame, _ in refusals)
        payload = head.encode() + b',"frames":[' + frames + b"]}"
        n = len(refusals)
        reason = (
            f"{n} second{'s' if n > 1 else ''} refused by the wire contract (first: {refusals[0][1]}); check the "
            "host's clock and the sensor"
        )
        topic = self.topics.features(cfg.wearer, cfg.device)
        self.dead_letters.note(topic, reason)
        self._letter(topic, payload, reason)

    def _letter(self, topic: str, payload: bytes, reason: str, received_ms: int | None = None) -> None:
        """Queue a dead letter; ``received_ms``: when the payload came (this host's clock, maybe unset: DeadLetterV1),
        now if not given."""
        at_s = self.clock() if received_ms is None else received_ms / 1000
        received = datetime.fromtimestamp(at_s, UTC)
        letter = DeadLetterV1.wrap(service="collector", topic=topic, reason=reason, payload=payload, received=received)
        self._enqueue(self.topics.dead_letter("collector"), encode(letter), retain=False, points=0)

    def _status(
        self, cfg: WearableConfig, state: Literal["online", "offline"], battery: int | None, firmware: str | None = None
    ) -> None:
        status = DeviceStatusV1(
            wearer=cfg.wearer,
            device=cfg.device,
            state=state,
            placement=cfg.placement,
            t_ms=self._host_ms(),
            battery_pct=battery,
            rssi_dbm=self._rssi.get(cfg.device),
            firmware=firmware,
        )
        self._enqueue(self.topics.status(cfg.wearer, cfg.device), encode(status), retain=True, points=0)

    # --- store and forward --------------------------------------------------------------------------------------
    def _queue_batches(self, batches: list[FeatureBatchV1]) -> None:
        for batch in batches:
            self.counters.frames += len(batch.frames)
            self._enqueue(self.topics.features(batch.wearer, batch.device), encode(batch), False, len(batch.frames))
            self.counters.batches_queued += 1

    def _queue_session(self, chunks: list[SessionSamplesV1]) -> None:
        for chunk in chunks:
            self._enqueue(self.topics.session(chunk.wearer, chunk.device), encode(chunk), False, 0)

    def session_command(self, command: CommandV1) -> None:
        """A wearer's ``session_start`` opens a session stream for each of their trunk devices (the detectors read
        the trunk); ``session_end`` closes them with this host's clock (docs/wire.md). Other commands are not the
        collector's."""
        devices = [w.device for w in self.settings.wearables if w.wearer == command.wearer and w.placement == "trunk"]
        for device in devices:
            running = self.session_streams.pop(device, None)
            if running is not None:  # a new start or the end: the stream so far is closed
                self._queue_session(running.close(round(self.clock() * 1000)))
            if command.kind == "session_start" and command.session is not None:
                self.session_streams[device] = SessionStreamer(command.wearer, device, command.session)
        if devices and command.kind in ("session_start", "session_end"):
            _LOGGER.info("%s: %s %s (%s)", command.wearer, command.kind, command.session, ", ".join(devices))

    def _enqueue(self, topic: str, payload: bytes, retain: bool, points: int) -> None:
        self.forwarder.put(topic, payload, retain, points)

    def will(self) -> Will:
        """The last will to connect with (``serve(..., will=collector.will())``): the collector's offline status."""
        return Will(self.topics.collector_status(self.settings.id), encode(self._collector_status("offline")))

    def _collector_status(self, state: Literal["online", "offline"]) -> CollectorStatusV1:
        return CollectorStatusV1(
            collector=self.settings.id,
            state=state,
            devices=[w.device for w in self.settings.wearables],
            t_ms=self._host_ms(),
        )

    def _host_ms(self) -> int | None:
        """This host's clock for a status, or None while it is not set (a Raspberry Pi without a real-time clock
        starts in 1970 until NTP answers): the status goes out without a time rather than with a wrong one."""
        now_ms = round(self.clock() * 1000)
        return now_ms if EARLIEST_MS <= now_ms <= LATEST_MS else None

    async def forward(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """The MQTT side (run it under ``ingest.mqtt.serve`` with ``will=self.will()``): the collector's own status,
        prompts for our wearers to their watches, and the queue, in order."""
        status_topic = self.topics.collector_status(self.settings.id)
        await client.publish(status_topic, encode(self._collector_status("online")), qos=1, retain=True)
        for wearer in {w.wearer for w in self.settings.wearables}:
            await client.subscribe(self.topics.prompts(wearer), qos=1)
            await client.subscribe(self.topics.commands(wearer), qos=1)  # session_start / _end: session streams
        prompts = asyncio.create_task(self._prompts(client), name="collect-prompts")
        try:
            await self.forwarder.send(client, stop, producer_done=self._ble_done.is_set)
            # a clean stop says so itself (the will is for crashes and lost links)
            await client.publish(status_topic, encode(self._collector_status("offline")), qos=1, retain=True)
        finally:
            prompts.cancel()
            await asyncio.gather(prompts, return_exceptions=True)

    async def _prompts(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic, payload = str(message.topic), payload_bytes(message)
            try:
                _, prompt = decode(self.topics, topic, payload)  # a prompt speaks for its topic's wearer only
                if isinstance(prompt, CommandV1):
                    if not message.retain:  # a command is obeyed once, when published
                        self.session_command(prompt)
                    continue
                if not isinstance(prompt, PromptV1):
                    raise WireError(f"expected a prompt on {topic}")
            except WireError as exc:
                if topic.endswith("/commands"):  # the alert service judges commands and dead-letters the bad ones
                    continue
                self.counters.refused_prompts += 1
                await self.dead_letters.send(client, topic, payload, str(exc))
                continue
            try:
                await self.deliver(prompt)
            except Exception as exc:  # a bug a prompt found: this one is set aside, the next is shown
                self.counters.internal_errors += 1
                _LOGGER.exception("%s: showing prompt %s failed, dead-lettered", prompt.wearer, prompt.id)
                await self.dead_letters.send(client, topic, payload, f"internal error: {exc!r}"[:500])

    async def deliver(self, prompt: PromptV1) -> bool:
        """Show the prompt on the wearer's watch (InfiniTime New Alert: a notification and a short vibration)."""
        if prompt.id in self._delivered:
            return True
        for cfg in self.settings.wearables:
            ble = self._clients.get(cfg.device)
            if cfg.wearer != prompt.wearer or cfg.profile != "infinitime" or ble is None:
                continue
            try:
                await ble.write_gatt_char(
                    infinitime.NEW_ALERT, infinitime.encode_new_alert(prompt.title, prompt.text), response=True
                )
            except (BleakError, TimeoutError) as exc:
                _LOGGER.warning("%s %s: prompt %s not delivered (%s)", cfg.wearer, cfg.device, prompt.id, exc)
                continue
            self._delivered.append(prompt.id)
            self.counters.prompts_delivered += 1
            return True
        self.counters.prompts_undelivered += 1
        _LOGGER.info(
            "%s: prompt %s not shown on a wearable (none connected that can show it)", prompt.wearer, prompt.id
        )
        return False


def _text_or_none(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return device_text(raw)
    except DecodeError:
        return None

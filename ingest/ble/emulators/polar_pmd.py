"""The Polar emulator: a Bumble GATT server speaking the profile of ``ingest.ble.profiles.polar_pmd``, for tests,
the demo and replays on the virtual radio."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from ingest.ble.bumble_backend import advertise
from ingest.ble.emulators.notify import Notifier, Pace, no_wait
from ingest.ble.emulators.notify import realtime as _realtime
from ingest.ble.profiles import heart_rate
from ingest.ble.profiles.device_info import (
    BATTERY_LEVEL,
    BATTERY_SERVICE,
    DEVICE_INFORMATION_SERVICE,
    FIRMWARE_REVISION,
    MANUFACTURER_NAME,
    MODEL_NUMBER,
)
from ingest.ble.profiles.polar_pmd import (
    ACC,
    FACTOR,
    OP_GET_SETTINGS,
    OP_START,
    OP_STOP,
    PMD_CP,
    PMD_DATA,
    PMD_SERVICE,
    RANGE,
    RESOLUTION,
    SAMPLE_RATE,
    VERITY_FACTOR,
    Model,
    decode_settings,
    encode_delta,
    encode_settings,
)

READ = Characteristic.Properties.READ


@dataclass
class PolarEmulator:
    """An emulated Polar H10 (frame type 0x01, mG) or Verity Sense (delta frames 0x80 with a FACTOR) that answers the
    control point as the SDK expects and streams ACC once started. ``clock_ns`` is its own clock (ns since 2000),
    which may run fast or slow (``drift_ppm``) and start anywhere. ``duplicate_after_s``: every notification and
    indication is sent twice, this far apart (``Notifier``)."""

    device: Device
    model: Model = "h10"
    rate_hz: int = 50
    clock_ns: int = 599_616_000_000_000_000  # 2019-01-01, the H10's default after power-down
    drift_ppm: float = 0.0
    per_frame: int = 10
    battery_pct: int = 71
    streaming: asyncio.Event = field(default_factory=asyncio.Event)
    cp_writes: list[bytes] = field(default_factory=list)
    frames_sent: int = 0
    heart_rate_bpm: int = 72
    # the RR intervals (s) sent, one per Heart Rate Measurement, in turn; empty: 60 / heart_rate_bpm each time
    rr_intervals_s: tuple[float, ...] = ()
    duplicate_after_s: float | None = None
    # what the sensor says about itself, as bytes (a test may pad them with NUL or break their UTF-8)
    firmware: bytes | None = None  # default: the model's
    model_number: bytes | None = None
    manufacturer: bytes = b"Polar Electro Oy"
    advertised_name: bytes | None = None  # default: ``name``

    def __post_init__(self) -> None:
        self.notifier = Notifier(self.device, self.duplicate_after_s)
        features = bytes([0x0F, 0x05, 0x00]) if self.model == "h10" else bytes([0x0F, 0x06, 0x00])
        self.cp: Characteristic[bytes] = Characteristic(
            PMD_CP,
            Characteristic.Properties.READ | Characteristic.Properties.WRITE | Characteristic.Properties.INDICATE,
            Characteristic.READABLE | Characteristic.WRITEABLE,
            CharacteristicValue(read=lambda _: features, write=self._on_cp),  # type: ignore[arg-type,unused-ignore]
        )
        self.data = Characteristic(PMD_DATA, Characteristic.Properties.NOTIFY, Characteristic.READABLE, bytes(0))
        self.hr = Characteristic(
            heart_rate.MEASUREMENT, Characteristic.Properties.NOTIFY, Characteristic.READABLE, bytes(2)
        )
        battery = Characteristic(BATTERY_LEVEL, READ, Characteristic.READABLE, bytes([self.battery_pct]))
        h10 = self.model == "h10"
        information = [
            Characteristic(uuid, READ, Characteristic.READABLE, value)
            for uuid, value in (
                (FIRMWARE_REVISION, self.firmware or (b"3.1.1" if h10 else b"2.1.0")),
                (MODEL_NUMBER, self.model_number or (b"H10" if h10 else b"Polar Verity Sense")),
                (MANUFACTURER_NAME, self.manufacturer),
            )
        ]
        self.device.add_services(
            [
                Service(PMD_SERVICE, [self.cp, self.data]),
                Service(heart_rate.SERVICE, [self.hr]),
                Service(BATTERY_SERVICE, [battery]),
                Service(DEVICE_INFORMATION_SERVICE, information),
            ]
        )
        self._pending: list[bytes] = []

    @property
    def name(self) -> str:
        return "Polar H10 0A3B5C7D" if self.model == "h10" else "Polar Sense B5C7D9E1"

    def _on_cp(self, connection: object, value: bytes) -> None:
        value = bytes(value)
        self.cp_writes.append(value)
        if len(value) < 2:
            op, mtype = (value[0] if value else 0), 0xFF
        else:
            op, mtype = value[0], value[1] & 0x3F
        if op == OP_GET_SETTINGS and mtype == ACC:
            rates = [25, 50, 100, 200] if self.model == "h10" else [52]
            params = bytes([SAMPLE_RATE, len(rates)]) + b"".join(r.to_bytes(2, "little") for r in rates)
            params += encode_settings({RESOLUTION: 16}) + bytes([RANGE, 1]) + (8).to_bytes(2, "little")
            response = bytes([0xF0, op, mtype, 0, 0]) + params
        elif op == OP_START and mtype == ACC:
            settings = decode_settings(value[2:])
            rate = int(settings.get(SAMPLE_RATE, [self.rate_hz])[0])
            allowed = (25, 50, 100, 200) if self.model == "h10" else (52,)
            if rate not in allowed:
                response = bytes([0xF0, op, mtype, 8, 0])  # invalid sample rate
            else:
                self.rate_hz = rate
                params = b"" if self.model == "h10" else bytes([FACTOR, 1]) + struct.pack("<f", VERITY_FACTOR)
                response = bytes([0xF0, op, mtype, 0, 0]) + params
                self.streaming.set()
        elif op == OP_STOP and mtype == ACC:
            self.streaming.clear()
            response = bytes([0xF0, op, mtype, 0, 0])
        else:
            response = bytes([0xF0, op, mtype, 1 if op not in (1, 2, 3) else 2, 0])
        self._pending.append(response)
        asyncio.get_running_loop().create_task(self._indicate())

    async def _indicate(self) -> None:
        await asyncio.sleep(0)  # after the write response, as a real device does
        while self._pending:
            await self.notifier.indicate(self.cp, self._pending.pop(0))

    async def start(self) -> None:
        # Polar straps list the Heart Rate Service
        await advertise(self.device, self.advertised_name or self.name, uuid16=0x180D)

    def frame(self, samples_g: Sequence[tuple[float, float, float]]) -> bytes:
        """One data notification for these samples; advances the device clock by their duration."""
        self.clock_ns += round(len(samples_g) * 1e9 / self.rate_hz * (1 + self.drift_ppm / 1e6))
        head = bytes([ACC]) + self.clock_ns.to_bytes(8, "little")
        if self.model == "h10":
            mg = [tuple(max(-32768, min(32767, round(v * 1000))) for v in s) for s in samples_g]
            return head + b"\x01" + b"".join(struct.pack("<hhh", *s) for s in mg)
        counts = [tuple(max(-32768, min(32767, round(v / VERITY_FACTOR))) for v in s) for s in samples_g]
        return head + b"\x80" + encode_delta(counts)  # type: ignore[arg-type]

    async def stream(
        self, samples_g: Iterable[tuple[float, float, float]], *, realtime: bool = False, pace: Pace | None = None
    ) -> None:
        """Send samples (g) in frames of ``per_frame`` once the client started ACC, each frame when its last sample
        is taken, and the heart rate once a second: on the wall clock (``realtime``), as fast as possible, or on
        ``pace``."""
        await self.streaming.wait()
        pace = pace or (_realtime() if realtime else no_wait)
        batch: list[tuple[float, float, float]] = []
        for i, sample in enumerate(samples_g):
            if i % self.rate_hz == 0:  # the standard Heart Rate Service, once a second, with the RR interval
                cycle = self.rr_intervals_s or (60 / self.heart_rate_bpm,)
                rr = cycle[(i // self.rate_hz) % len(cycle)]
                beat = heart_rate.encode_measurement(self.heart_rate_bpm, (rr,))
                await self.notifier.notify(self.hr, beat, i / self.rate_hz, pace)
            batch.append(sample)
            if len(batch) == self.per_frame:
                await self.notifier.notify(self.data, self.frame(batch), i / self.rate_hz, pace)
                self.frames_sent += 1
                batch = []
        if batch:
            await self.notifier.notify(self.data, self.frame(batch), i / self.rate_hz, pace)
            self.frames_sent += 1

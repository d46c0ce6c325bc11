"""BBC micro:bit accelerometer service (Lancaster University micro:bit profile): decoder and an emulated micro:bit.

Facts (../shared/reference/ble-profiles.md, section e.1): service ``E95D0753-...``; AccelerometerData ``E95DCA4B-...``
(read, notify) = 3 x int16 LE, x, y, z in milli-g; AccelerometerPeriod ``E95DFB24-...`` (read, write) = uint16 ms,
one of 1, 2, 5, 10, 20, 80, 160, 640. One sample per notification, no timestamp: the collector stamps reception.
Profile v1.7+ asks for passkey pairing by default; a MakeCode project can choose "no pairing required".
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from ingest.ble.bumble_backend import advertise
from ingest.errors import DecodeError

SERVICE = "e95d0753-251d-470a-a062-fa1922dfa9a8"
DATA = "e95dca4b-251d-470a-a062-fa1922dfa9a8"
PERIOD = "e95dfb24-251d-470a-a062-fa1922dfa9a8"
PERIODS_MS = (1, 2, 5, 10, 20, 80, 160, 640)
PREFERRED_PERIOD_MS = 20  # 50 Hz: enough for posture and steps


def decode_accel(data: bytes | bytearray) -> tuple[float, float, float]:
    """AccelerometerData -> g."""
    if len(data) != 6:
        raise DecodeError(f"micro:bit accelerometer: expected 6 bytes, got {len(data)}")
    x, y, z = struct.unpack("<hhh", bytes(data))
    return (x / 1000, y / 1000, z / 1000)


def decode_period(data: bytes | bytearray) -> int:
    if len(data) != 2:
        raise DecodeError(f"micro:bit accelerometer period: expected 2 bytes, got {len(data)}")
    period = int(struct.unpack("<H", bytes(data))[0])
    if period not in PERIODS_MS:
        raise DecodeError(f"micro:bit accelerometer period {period} ms is not one of {PERIODS_MS}")
    return period


def encode_period(period_ms: int) -> bytes:
    if period_ms not in PERIODS_MS:
        raise ValueError(f"period {period_ms} ms is not one of {PERIODS_MS}")
    return struct.pack("<H", period_ms)


@dataclass
class MicrobitEmulator:
    device: Device
    period_ms: int = 640  # the firmware's power-on default is slow; the collector asks for 20 ms
    sent: int = 0
    period_writes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data = Characteristic(
            DATA, Characteristic.Properties.READ | Characteristic.Properties.NOTIFY, Characteristic.READABLE, bytes(6)
        )
        self.period: Characteristic[bytes] = Characteristic(
            PERIOD,
            Characteristic.Properties.READ | Characteristic.Properties.WRITE,
            Characteristic.READABLE | Characteristic.WRITEABLE,
            CharacteristicValue(  # type: ignore[arg-type,unused-ignore]
                read=lambda _: encode_period(self.period_ms), write=self._on_period
            ),
        )
        self.device.add_services([Service(SERVICE, [self.data, self.period])])

    def _on_period(self, connection: object, value: bytes) -> None:
        period = struct.unpack("<H", bytes(value))[0] if len(value) == 2 else 0
        self.period_writes.append(period)
        if period in PERIODS_MS:  # the firmware ignores other values
            self.period_ms = period

    async def start(self) -> None:
        await advertise(self.device, "BBC micro:bit [tegip]")

    async def stream(self, samples_g: Iterable[tuple[float, float, float]], *, realtime: bool = True) -> None:
        for sample in samples_g:
            raw = struct.pack("<hhh", *(max(-32768, min(32767, round(v * 1000))) for v in sample))
            await self.device.notify_subscribers(self.data, raw)
            self.sent += 1
            await asyncio.sleep(self.period_ms / 1000 if realtime else 0)

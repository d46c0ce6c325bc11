"""The Microbit emulator: a Bumble GATT server speaking the profile of ``ingest.ble.profiles.microbit``, for tests,
the demo and replays on the virtual radio."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from ingest.ble.bumble_backend import advertise
from ingest.ble.profiles.microbit import (
    DATA,
    PERIOD,
    PERIODS_MS,
    SERVICE,
    encode_period,
)


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

"""The Microbit emulator: a Bumble GATT server speaking the profile of ``ingest.ble.profiles.microbit``, for tests,
the demo and replays on the virtual radio."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from ingest.ble.bumble_backend import advertise
from ingest.ble.emulators.notify import Notifier, Pace, no_wait
from ingest.ble.emulators.notify import realtime as _realtime
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
    sent: int = 0  # readings sent (copies not included)
    period_writes: list[int] = field(default_factory=list)
    duplicate_after_s: float | None = None  # every notification twice, this far apart (``Notifier``)

    def __post_init__(self) -> None:
        self.notifier = Notifier(self.device, self.duplicate_after_s)
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

    async def stream(
        self, samples_g: Iterable[tuple[float, float, float]], *, realtime: bool = True, pace: Pace | None = None
    ) -> None:
        """One reading every period, on the wall clock (``realtime``), as fast as possible, or on ``pace``."""
        pace = pace or (_realtime() if realtime else no_wait)
        due_s = 0.0
        for sample in samples_g:
            raw = struct.pack("<hhh", *(max(-32768, min(32767, round(v * 1000))) for v in sample))
            await self.notifier.notify(self.data, raw, due_s, pace)
            self.sent += 1
            due_s += self.period_ms / 1000

"""The KineticDiy emulator: a Bumble GATT server speaking the profile of ``ingest.ble.profiles.kinetic_diy``, for tests,
the demo and replays on the virtual radio."""

from __future__ import annotations

import struct

from bumble.device import Device
from bumble.gatt import Characteristic, Service

from ingest.ble.bumble_backend import advertise
from ingest.ble.emulators.notify import Notifier, Pace, no_wait
from ingest.ble.emulators.notify import realtime as _realtime
from ingest.ble.profiles.infinitime import BATTERY_LEVEL, BATTERY_SERVICE
from ingest.ble.profiles.kinetic_diy import (
    MOTION,
    RATE,
    SERVICE,
    encode_motion,
)


class KineticDiyEmulator:
    """An emulated DIY sensor: motion in packets of ``per_packet`` samples at ``rate_hz``, battery, rate.
    ``duplicate_after_s``: every notification is sent twice, this far apart (``Notifier``)."""

    def __init__(
        self,
        device: Device,
        rate_hz: int = 52,
        per_packet: int = 10,
        battery_pct: int = 90,
        duplicate_after_s: float | None = None,
    ) -> None:
        self.device = device
        self.notifier = Notifier(device, duplicate_after_s)
        self.rate_hz = rate_hz
        self.per_packet = per_packet
        self.counter = 0
        self.motion = Characteristic(MOTION, Characteristic.Properties.NOTIFY, Characteristic.READABLE, b"")
        rate = Characteristic(RATE, Characteristic.Properties.READ, Characteristic.READABLE, struct.pack("<H", rate_hz))
        battery = Characteristic(
            BATTERY_LEVEL, Characteristic.Properties.READ, Characteristic.READABLE, bytes([battery_pct])
        )
        device.add_services([Service(SERVICE, [self.motion, rate]), Service(BATTERY_SERVICE, [battery])])

    async def start(self, name: str = "Kinetic DIY") -> None:
        await advertise(self.device, name, in_scan_response=False)

    async def stream(
        self, samples: list[tuple[float, float, float]], realtime: bool = True, pace: Pace | None = None
    ) -> None:
        """Send the samples in packets, each when its last sample is taken: on the wall clock (``realtime``), as
        fast as possible, or on ``pace``."""
        pace = pace or (_realtime() if realtime else no_wait)
        for i in range(0, len(samples), self.per_packet):
            chunk = samples[i : i + self.per_packet]
            await self.send(chunk, (i + len(chunk) - 1) / self.rate_hz, pace)

    async def send(self, chunk: list[tuple[float, float, float]], due_s: float, pace: Pace) -> None:
        """One motion packet (the counter runs on)."""
        await self.notifier.notify(self.motion, encode_motion(self.counter, chunk), due_s, pace)
        self.counter += len(chunk)

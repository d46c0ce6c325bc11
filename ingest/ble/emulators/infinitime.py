"""The InfiniTime emulator: a Bumble GATT server speaking the profile of ``ingest.ble.profiles.infinitime``, for tests,
the demo and replays on the virtual radio."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from ingest.ble.bumble_backend import advertise
from ingest.ble.emulators.notify import Notifier, Pace, no_wait, realtime
from ingest.ble.profiles.infinitime import (
    ALERT_NOTIFICATION_SERVICE,
    BATTERY_LEVEL,
    BATTERY_SERVICE,
    HEART_RATE_SERVICE_16,
    LSB_PER_G,
    MOTION_SERVICE,
    NEW_ALERT,
    RAW_MOTION,
    STEP_COUNT,
    decode_new_alert,
)


@dataclass
class InfiniTimeEmulator:
    """An emulated PineTime on a Bumble device: motion + steps (notify), battery, New Alert (recorded).
    ``duplicate_after_s``: every notification is sent twice, this far apart (``Notifier``); ``sent`` counts the
    motion readings sent (copies not included)."""

    device: Device
    battery_pct: int = 87
    alerts: list[tuple[int, str, str]] = field(default_factory=list)
    sent: int = 0
    duplicate_after_s: float | None = None

    def __post_init__(self) -> None:
        self.notifier = Notifier(self.device, self.duplicate_after_s)
        self._last: bytes | None = None
        self._steps = 0
        self.raw = Characteristic(
            RAW_MOTION,
            Characteristic.Properties.READ | Characteristic.Properties.NOTIFY,
            Characteristic.READABLE,
            bytes(6),
        )
        self.step_count = Characteristic(
            STEP_COUNT,
            Characteristic.Properties.READ | Characteristic.Properties.NOTIFY,
            Characteristic.READABLE,
            bytes(4),
        )
        self.new_alert: Characteristic[bytes] = Characteristic(
            NEW_ALERT,
            Characteristic.Properties.WRITE,
            Characteristic.WRITEABLE,
            CharacteristicValue(write=self._on_alert),  # type: ignore[arg-type,unused-ignore]
        )
        battery = Characteristic(
            BATTERY_LEVEL,
            Characteristic.Properties.READ | Characteristic.Properties.NOTIFY,
            Characteristic.READABLE,
            bytes([self.battery_pct]),
        )
        self.device.add_services(
            [
                Service(MOTION_SERVICE, [self.step_count, self.raw]),
                Service(ALERT_NOTIFICATION_SERVICE, [self.new_alert]),
                Service(BATTERY_SERVICE, [battery]),
            ]
        )

    def _on_alert(self, connection: object, value: bytes) -> None:
        self.alerts.append(decode_new_alert(bytes(value)))

    async def start(self) -> None:
        await advertise(self.device, "InfiniTime", uuid16=HEART_RATE_SERVICE_16)  # the name only in the scan response

    async def push(
        self, sample_g: tuple[float, float, float], steps: int = 0, due_s: float = 0.0, pace: Pace = no_wait
    ) -> None:
        """One 100 ms motion reading (at ``due_s`` of ``pace``); notified only when it changed, like the firmware."""
        raw = struct.pack("<hhh", *(max(-32768, min(32767, round(v * LSB_PER_G))) for v in sample_g))
        if raw != self._last:
            self._last = raw
            self.raw.value = raw
            await self.notifier.notify(self.raw, raw, due_s, pace)
            self.sent += 1
        if steps:
            self._steps += steps
            value = struct.pack("<I", self._steps)
            self.step_count.value = value
            await self.notifier.notify(self.step_count, value, due_s, pace)

    async def stream(
        self, samples: Iterable[tuple[float, float, float]], rate_hz: float = 10.0, pace: Pace | None = None
    ) -> None:
        """Push samples at ``rate_hz`` on the wall clock (0: as fast as the radio takes them), or on ``pace``."""
        pace = pace or (realtime() if rate_hz > 0 else no_wait)
        for i, sample in enumerate(samples):
            await self.push(sample, due_s=i / rate_hz if rate_hz > 0 else 0.0, pace=pace)

"""InfiniTime (PineTime) over BLE: Motion Service decoding, New Alert encoding, and an emulated watch.

Facts (../shared/reference/ble-profiles.md, section b; InfiniTime sources at 82505657):
- Motion service ``00030000-78fc-48fe-8e23-433b3a1942d0``; raw motion ``...0002`` = 3 x int16 LE (X, Y, Z), 1 g = 1024
  (BMA421 at +-2 g), X and Y already swapped by the firmware; notified at most every 100 ms and only on change.
  Step count ``...0001`` = uint32 LE.
- Alert Notification Service 0x1811, New Alert 0x2A46 (write with response):
  ``[category][count][0x00][title]0x00[body]``, at most 100 message bytes kept; category 0 = simple alert
  (35 ms vibration). The name "InfiniTime" is only in the scan response.
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

MOTION_SERVICE = "00030000-78fc-48fe-8e23-433b3a1942d0"
STEP_COUNT = "00030001-78fc-48fe-8e23-433b3a1942d0"
RAW_MOTION = "00030002-78fc-48fe-8e23-433b3a1942d0"
ALERT_NOTIFICATION_SERVICE = "00001811-0000-1000-8000-00805f9b34fb"
NEW_ALERT = "00002a46-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
HEART_RATE_SERVICE_16 = 0x180D
LSB_PER_G = 1024.0
MAX_ALERT_MESSAGE_BYTES = 100


def decode_motion(data: bytes | bytearray) -> tuple[float, float, float]:
    """Raw motion notification -> acceleration in g (X, Y, Z as the watch reports them)."""
    if len(data) != 6:
        raise DecodeError(f"InfiniTime raw motion: expected 6 bytes, got {len(data)}")
    x, y, z = struct.unpack("<hhh", bytes(data))
    return (x / LSB_PER_G, y / LSB_PER_G, z / LSB_PER_G)


def decode_steps(data: bytes | bytearray) -> int:
    if len(data) != 4:
        raise DecodeError(f"InfiniTime step count: expected 4 bytes, got {len(data)}")
    return int(struct.unpack("<I", bytes(data))[0])


def encode_new_alert(title: str, body: str, category: int = 0) -> bytes:
    """A New Alert write that shows a notification and vibrates (category 0: simple alert, 35 ms)."""
    message = title.encode()[:40] + b"\x00" + body.encode()
    return bytes([category, 1, 0]) + message[:MAX_ALERT_MESSAGE_BYTES]


def decode_new_alert(data: bytes) -> tuple[int, str, str]:
    """What the watch shows: (category, title, body); used by the emulator and its tests."""
    if len(data) <= 3:
        raise DecodeError("New Alert: 3 bytes or fewer are ignored by InfiniTime")
    message = data[3 : 3 + MAX_ALERT_MESSAGE_BYTES]
    title, _, body = message.partition(b"\x00")
    return data[0], title.decode("utf-8", "replace"), body.decode("utf-8", "replace")


@dataclass
class InfiniTimeEmulator:
    """An emulated PineTime on a Bumble device: motion + steps (notify), battery, New Alert (recorded)."""

    device: Device
    battery_pct: int = 87
    alerts: list[tuple[int, str, str]] = field(default_factory=list)
    sent: int = 0

    def __post_init__(self) -> None:
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

    async def push(self, sample_g: tuple[float, float, float], steps: int = 0) -> None:
        """One 100 ms motion reading; notified only when it changed, like the firmware."""
        raw = struct.pack("<hhh", *(max(-32768, min(32767, round(v * LSB_PER_G))) for v in sample_g))
        if raw != self._last:
            self._last = raw
            self.raw.value = raw
            await self.device.notify_subscribers(self.raw, raw)
            self.sent += 1
        if steps:
            self._steps += steps
            value = struct.pack("<I", self._steps)
            self.step_count.value = value
            await self.device.notify_subscribers(self.step_count, value)

    async def stream(self, samples: Iterable[tuple[float, float, float]], rate_hz: float = 10.0) -> None:
        """Push samples at ``rate_hz`` (0: as fast as the radio takes them)."""
        for sample in samples:
            await self.push(sample)
            await asyncio.sleep(1 / rate_hz if rate_hz > 0 else 0)

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

import struct

from ingest.ble.profiles.device_info import BATTERY_LEVEL, BATTERY_SERVICE
from ingest.errors import DecodeError

__all__ = ["BATTERY_LEVEL", "BATTERY_SERVICE"]  # re-exported: the emulators and tests name them from here

MOTION_SERVICE = "00030000-78fc-48fe-8e23-433b3a1942d0"
STEP_COUNT = "00030001-78fc-48fe-8e23-433b3a1942d0"
RAW_MOTION = "00030002-78fc-48fe-8e23-433b3a1942d0"
ALERT_NOTIFICATION_SERVICE = "00001811-0000-1000-8000-00805f9b34fb"
NEW_ALERT = "00002a46-0000-1000-8000-00805f9b34fb"
HEART_RATE_SERVICE_16 = 0x180D
LSB_PER_G = 1024.0
MOTION_PERIOD_MS = 100  # the firmware polls the accelerometer every 100 ms and notifies only a changed value
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

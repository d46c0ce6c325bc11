"""BBC micro:bit accelerometer service (Lancaster University micro:bit profile): decoder and an emulated micro:bit.

Facts (../shared/reference/ble-profiles.md, section e.1): service ``E95D0753-...``; AccelerometerData ``E95DCA4B-...``
(read, notify) = 3 x int16 LE, x, y, z in milli-g; AccelerometerPeriod ``E95DFB24-...`` (read, write) = uint16 ms,
one of 1, 2, 5, 10, 20, 80, 160, 640. One sample per notification, no timestamp: the collector stamps reception.
Profile v1.7+ asks for passkey pairing by default; a MakeCode project can choose "no pairing required".
"""

from __future__ import annotations

import struct

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

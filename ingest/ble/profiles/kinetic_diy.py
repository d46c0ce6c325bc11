"""Kinetic's open BLE profile for DIY sensors (ESP32, nRF52): documented in docs/ble-diy-profile.md.

Motion values are InfiniTime-compatible (int16, 1 g = 1024) but several samples travel per notification, so a
52 Hz sensor needs about five notifications a second instead of 52, and a sample counter makes losses visible.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.ble.profiles.infinitime import LSB_PER_G
from ingest.errors import DecodeError

SERVICE = "4b4e0001-7e4f-4d2c-9a67-6b696e657469"
MOTION = "4b4e0002-7e4f-4d2c-9a67-6b696e657469"  # notify: [counter u16 LE][n u8][n x (x, y, z) int16 LE]
RATE = "4b4e0003-7e4f-4d2c-9a67-6b696e657469"  # read: sample rate, uint16 LE, Hz
HEADER = struct.Struct("<HB")
SAMPLE = struct.Struct("<hhh")
MAX_SAMPLES = 40  # 3 + 40 * 6 = 243 bytes: fits an ATT MTU of 247


@dataclass(frozen=True, slots=True)
class MotionPacket:
    counter: int  # index of the first sample, modulo 65536
    samples: tuple[tuple[float, float, float], ...]  # g


def decode_motion(data: bytes | bytearray) -> MotionPacket:
    if len(data) < HEADER.size:
        raise DecodeError(f"Kinetic DIY motion: {len(data)} bytes is shorter than the 3-byte header")
    counter, n = HEADER.unpack_from(data)
    if n == 0 or n > MAX_SAMPLES or len(data) != HEADER.size + n * SAMPLE.size:
        raise DecodeError(f"Kinetic DIY motion: header says {n} samples, got {len(data) - HEADER.size} sample bytes")
    samples = tuple(
        (x / LSB_PER_G, y / LSB_PER_G, z / LSB_PER_G) for x, y, z in SAMPLE.iter_unpack(bytes(data[HEADER.size :]))
    )
    return MotionPacket(counter, samples)


def encode_motion(counter: int, samples: Iterable[tuple[float, float, float]]) -> bytes:
    raw = [tuple(max(-32768, min(32767, round(v * LSB_PER_G))) for v in s) for s in samples]
    return HEADER.pack(counter % 65536, len(raw)) + b"".join(SAMPLE.pack(*s) for s in raw)


def decode_rate(data: bytes | bytearray) -> int:
    if len(data) != 2:
        raise DecodeError(f"Kinetic DIY rate: expected 2 bytes, got {len(data)}")
    rate = int(struct.unpack("<H", bytes(data))[0])
    if not 1 <= rate <= 1000:
        raise DecodeError(f"Kinetic DIY rate: {rate} Hz is out of range")
    return rate

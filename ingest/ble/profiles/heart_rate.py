"""Bluetooth SIG Heart Rate Service (0x180D): Heart Rate Measurement (0x2A37) decoding and encoding.

Facts (../shared/reference/ble-profiles.md, section c.1): flags u8 (bit0 uint16 value, bit1-2 sensor contact with
bit2 = supported and bit1 = detected, bit3 energy expended present, bit4 RR intervals present); the value in bpm;
energy expended uint16 kJ; RR intervals uint16 in 1/1024 s, oldest first, possibly several per notification.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ingest.errors import DecodeError

SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"
MEASUREMENT = "00002a37-0000-1000-8000-00805f9b34fb"
PERIOD_MS = 1000  # sensors notify a measurement about once a second (Polar H10, InfiniTime)


@dataclass(frozen=True, slots=True)
class HeartRate:
    bpm: int
    contact: bool | None  # None: the sensor cannot tell
    energy_kj: int | None
    rr_s: tuple[float, ...]


def decode_measurement(data: bytes | bytearray) -> HeartRate:
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError(f"heart rate measurement: {len(data)} bytes")
    flags = data[0]
    i = 1
    if flags & 0x01:
        if len(data) < 3:
            raise DecodeError("heart rate measurement: uint16 value truncated")
        bpm = int(struct.unpack_from("<H", data, 1)[0])
        i = 3
    else:
        bpm = data[1]
        i = 2
    energy = None
    if flags & 0x08:
        if len(data) < i + 2:
            raise DecodeError("heart rate measurement: energy expended truncated")
        energy = int(struct.unpack_from("<H", data, i)[0])
        i += 2
    rr: tuple[float, ...] = ()
    if flags & 0x10:
        rest = data[i:]
        if len(rest) % 2:
            raise DecodeError("heart rate measurement: odd number of RR bytes")
        rr = tuple(v / 1024 for v in struct.unpack(f"<{len(rest) // 2}H", rest))
    contact = bool(flags & 0x02) if flags & 0x04 else None
    return HeartRate(bpm, contact, energy, rr)


def encode_measurement(bpm: int, rr_s: tuple[float, ...] = (), contact: bool | None = True) -> bytes:
    """The emulators' side (uint8 value when it fits, contact status, RR intervals)."""
    flags = 0x10 if rr_s else 0
    if contact is not None:
        flags |= 0x04 | (0x02 if contact else 0)
    value = bytes([bpm]) if bpm < 256 else struct.pack("<H", bpm)
    flags |= 0 if bpm < 256 else 0x01
    return bytes([flags]) + value + b"".join(struct.pack("<H", round(r * 1024)) for r in rr_s)

"""Polar Measurement Data (PMD) over BLE: H10 and Verity Sense accelerometer streams. Decoders, the control-point
handshake, the device clock, and an emulated sensor.

Facts (../shared/reference/ble-profiles.md, section a, from Polar's BLE SDK and PMD documents):
- Service ``FB005C80-...``, control point (CP) ``FB005C81-...`` (read, write with response, indicate), data
  ``FB005C82-...`` (notify). Session: large MTU, indications on CP and notifications on data, read CP (features),
  get settings ``01 02``, start ``02 02 <TLV>``; responses are CP indications ``F0 <op> <type> <status> <more>
  [params]``; a start response may carry a FACTOR (TLV type 5, float32) that every sample is multiplied by.
- Data: ``[type][timestamp u64 LE, ns since 2000-01-01, of the LAST sample][frame type][samples]``. ACC frame types
  0x00/0x01/0x02: int8/int16/int24 per channel, mG. Delta frames (bit 7): a reference sample, then blocks
  ``[bit width][count][LSB-first bit stream of channel-interleaved two's-complement deltas]``; 0x80 decodes to
  g (x FACTOR x 1000 for mG), 0x81 to mG (x FACTOR).
- H10: frame type 0x01, 25/50/100/200 Hz, +-2/4/8 g. Verity Sense: 52 Hz, +-8 g, delta frames with a FACTOR.
- The device clock is not UTC (unset after power-down; local time when set): it is mapped to the host clock
  (``ClockMap``), keeping the device's own sample spacing.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from ingest.errors import DecodeError

PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

ECG, PPG, ACC = 0, 1, 2
OP_GET_SETTINGS, OP_START, OP_STOP = 0x01, 0x02, 0x03
SAMPLE_RATE, RESOLUTION, RANGE, RANGE_MILLIUNIT, CHANNELS, FACTOR, SECURITY = 0, 1, 2, 3, 4, 5, 6
_SETTING_SIZES = {SAMPLE_RATE: 2, RESOLUTION: 2, RANGE: 2, RANGE_MILLIUNIT: 4, CHANNELS: 1, FACTOR: 4, SECURITY: 16}
STATUS = {
    0: "success",
    1: "invalid op code",
    2: "invalid measurement type",
    3: "not supported",
    4: "invalid length",
    5: "invalid parameter",
    6: "already in state",
    7: "invalid resolution",
    8: "invalid sample rate",
    9: "invalid range",
    10: "invalid MTU",
    11: "invalid number of channels",
    12: "invalid state",
    13: "device in charger",
    14: "disk full",
}
EPOCH_2000_NS = 946_684_800_000_000_000  # 2000-01-01T00:00:00Z in Unix ns
HEADER = 10
Sample = tuple[int, int, int]


# --- control point -----------------------------------------------------------------------------------------------
def encode_settings(settings: dict[int, int]) -> bytes:
    """Chosen settings for a start request: ``[type][1][value LE]`` each (FACTOR is never sent)."""
    out = b""
    for kind, value in settings.items():
        size = _SETTING_SIZES[kind]
        out += bytes([kind, 1]) + value.to_bytes(size, "little")
    return out


def encode_start(measurement: int, settings: dict[int, int]) -> bytes:
    return bytes([OP_START, measurement]) + encode_settings(settings)


def encode_stop(measurement: int) -> bytes:
    return bytes([OP_STOP, measurement])


def encode_get_settings(measurement: int) -> bytes:
    return bytes([OP_GET_SETTINGS, measurement])


def decode_settings(data: bytes) -> dict[int, list[float]]:
    """A settings TLV -> {type: [values]} (FACTOR as float)."""
    out: dict[int, list[float]] = {}
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise DecodeError(f"PMD settings: truncated at byte {i}")
        kind, count = data[i], data[i + 1]
        size = _SETTING_SIZES.get(kind)
        if size is None:
            raise DecodeError(f"PMD settings: unknown setting type {kind}")
        i += 2
        if i + size * count > len(data):
            raise DecodeError(f"PMD settings: setting {kind} needs {size * count} bytes, {len(data) - i} left")
        values: list[float] = []
        for _ in range(count):
            raw = data[i : i + size]
            values.append(struct.unpack("<f", raw)[0] if kind == FACTOR else int.from_bytes(raw, "little"))
            i += size
        out[kind] = values
    return out


@dataclass(frozen=True, slots=True)
class CpResponse:
    opcode: int
    measurement: int
    status: int
    more: bool
    params: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def reason(self) -> str:
        return STATUS.get(self.status, f"status {self.status}")


def decode_cp_response(data: bytes) -> CpResponse:
    if len(data) < 5 or data[0] != 0xF0:
        raise DecodeError(f"PMD control point: not a response ({bytes(data[:8]).hex()})")
    return CpResponse(data[1], data[2] & 0x3F, data[3], data[4] != 0, bytes(data[5:]) if data[3] == 0 else b"")


# --- data frames -------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PmdFrame:
    measurement: int
    timestamp_ns: int  # device clock, ns since 2000-01-01, of the last sample
    frame_type: int
    samples_mg: list[tuple[float, float, float]]


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def decode_delta(payload: bytes, resolution: int = 16, channels: int = 3) -> list[list[int]]:
    """A delta-compressed payload -> samples as integers (before FACTOR)."""
    width = math.ceil(resolution / 8)
    if len(payload) < width * channels:
        raise DecodeError("PMD delta frame: shorter than its reference sample")
    ref = [_signed(int.from_bytes(payload[c * width : (c + 1) * width], "little"), resolution) for c in range(channels)]
    samples = [ref]
    i = width * channels
    while i < len(payload):
        if i + 2 > len(payload):
            raise DecodeError(f"PMD delta frame: truncated block header at byte {i}")
        bits, count = payload[i], payload[i + 1]
        if bits == 0 or bits > 32:
            raise DecodeError(f"PMD delta frame: delta width {bits} bits")
        size = math.ceil(bits * count * channels / 8)
        i += 2
        if i + size > len(payload):
            raise DecodeError(f"PMD delta frame: block of {count} x {bits} bits needs {size} bytes")
        stream = int.from_bytes(payload[i : i + size], "little")
        i += size
        pos = 0
        mask = (1 << bits) - 1
        for _ in range(count):
            previous = samples[-1]
            sample = []
            for c in range(channels):
                sample.append(previous[c] + _signed((stream >> pos) & mask, bits))
                pos += bits
            samples.append(sample)
    return samples


def encode_delta(samples: Sequence[Sample], resolution: int = 16, block: int = 32) -> bytes:
    """The emulator's side: samples -> a delta payload (reference + blocks of the narrowest width that fits)."""
    width = math.ceil(resolution / 8)
    out = b"".join((v & ((1 << (8 * width)) - 1)).to_bytes(width, "little") for v in samples[0])
    for start in range(1, len(samples), block):
        chunk = samples[start : start + block]
        deltas = [s[c] - p[c] for p, s in zip([samples[start - 1], *chunk[:-1]], chunk, strict=True) for c in range(3)]
        bits = max(2, *(d.bit_length() + 1 for d in deltas))  # two's complement of the widest delta
        stream, pos = 0, 0
        for d in deltas:
            stream |= (d & ((1 << bits) - 1)) << pos
            pos += bits
        out += bytes([bits, len(chunk)]) + stream.to_bytes(math.ceil(pos / 8), "little")
    return out


def decode_data(data: bytes | bytearray, factor: float = 1.0) -> PmdFrame:
    """A data notification -> accelerometer samples in mG. Raises DecodeError for anything else or malformed."""
    data = bytes(data)
    if len(data) < HEADER:
        raise DecodeError(f"PMD data: {len(data)} bytes, a frame has a {HEADER}-byte header")
    measurement = data[0] & 0x3F
    if measurement != ACC:
        raise DecodeError(f"PMD data: measurement type {measurement} is not ACC")
    timestamp = int.from_bytes(data[1:9], "little")
    frame_type = data[9]
    payload = data[HEADER:]
    samples: list[tuple[float, float, float]]
    if frame_type in (0x00, 0x01, 0x02):
        size = frame_type + 1
        if not payload or len(payload) % (3 * size):
            raise DecodeError(f"PMD ACC type {frame_type}: {len(payload)} bytes is not whole samples of {3 * size}")
        values = [
            _signed(int.from_bytes(payload[i : i + size], "little"), 8 * size) for i in range(0, len(payload), size)
        ]
        samples = [(float(values[i]), float(values[i + 1]), float(values[i + 2])) for i in range(0, len(values), 3)]
    elif frame_type in (0x80, 0x81):
        scale = factor * 1000 if frame_type == 0x80 else factor
        if not math.isfinite(scale) or scale == 0:
            raise DecodeError(f"PMD ACC delta frame: unusable factor {factor}")
        samples = [(s[0] * scale, s[1] * scale, s[2] * scale) for s in decode_delta(payload)]
    else:
        raise DecodeError(f"PMD ACC: unknown frame type 0x{frame_type:02x}")
    return PmdFrame(measurement, timestamp, frame_type, samples)


# --- the device clock ------------------------------------------------------------------------------------------
@dataclass
class ClockMap:
    """Device time (ns since 2000, any epoch the device believes in) -> host time (Unix ms), drift-safe.

    The offset host - device is estimated as the smallest seen over the last ``window`` frames: transmission only
    ever delays a notification, so the smallest offset is the closest to the truth, and a sliding window follows
    a device clock that drifts (tens of ppm). Sample times keep the device's spacing within a frame (the SDK's
    rule: spread the frame over the time since the previous frame's last sample) when that spacing is within 10 %
    of the sample rate's; otherwise (a lost frame, a clock step) the nominal spacing.

    A step of the device clock (set, reset to its power-on default) never stamps a sample before one already
    stamped, nor holds the samples after it back: a device time earlier than the previous frame's, or an offset
    more than ``STEP_MS`` from the estimate either way, starts the map again from that frame (counted in
    ``jumps``); a smaller step forward needs nothing, as the new, smaller offset is the minimum at once. Two steps
    cannot be told from what they look like: one forward by less than 10 % of a frame's duration looks like the
    device's own rate (that frame's samples are spread over up to that much more time), one back by less than a
    frame's duration like a link delay (samples stamped up to that much early until the window has moved on)."""

    rate_hz: float
    window: int = 256
    _offsets: deque[float] = field(default_factory=deque)
    _previous_ns: int | None = None
    jumps: int = 0
    last_step_ms: float = 0.0  # the size of the last step (device time gained; negative: set back)

    STEP_MS: ClassVar[float] = 10_000.0  # longer than any link delay

    def samples(self, received_ms: float, timestamp_ns: int, n: int) -> list[float]:
        """Host times (Unix ms) of a frame's ``n`` samples, the last at ``timestamp_ns`` in device time."""
        device_ms = timestamp_ns / 1e6
        offset = received_ms - device_ms
        previous = self._previous_ns
        if self._offsets:
            best = min(self._offsets)
            stepped_back = previous is not None and timestamp_ns < previous
            if stepped_back or abs(offset - best) > self.STEP_MS:
                self._offsets.clear()  # the device clock was set or reset: start again
                self.jumps += 1
                self.last_step_ms = best - offset
                previous = None
        self._offsets.append(offset)
        if len(self._offsets) > self.window:
            self._offsets.popleft()
        best = min(self._offsets)
        self._previous_ns = timestamp_ns
        step_ns = 1e9 / self.rate_hz
        if previous is not None and n > 0 and abs((timestamp_ns - previous) / n - step_ns) <= 0.1 * step_ns:
            step_ns = (timestamp_ns - previous) / n
        return [(timestamp_ns - step_ns * (n - 1 - i)) / 1e6 + best for i in range(n)]


# --- the emulated sensors ------------------------------------------------------------------------------------------
Model = Literal["h10", "verity"]
VERITY_FACTOR = 1 / 4096  # g per count: 16-bit samples over +-8 g

"""Motion streams on a connected bleak client, one class per profile: what to set up, which characteristic to
subscribe to, and how a notification becomes time-stamped samples in g. The collector only calls ``open`` and
``decode``; each class is a thin adapter around its pure profile module.

- InfiniTime and micro:bit: one sample per notification, stamped at reception (no device time).
- Kinetic DIY: several samples per notification, the last at reception, the others spaced by the sample rate.
- Polar PMD: the control-point handshake, then frames time-stamped through the device clock (``ClockMap``).

A notification delivered twice (BlueZ after a reconnection) is decoded once (``ingest.ble.profiles.repeats``):
where a notification carries a sample counter (Kinetic DIY) or a device timestamp (Polar PMD), the same bytes as
one of the last 64; where it carries neither, the same bytes within half a notification period of host time
(InfiniTime, micro:bit). ``decode`` returns None for a repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from bleak import BleakClient

from ingest.ble.profiles import infinitime, kinetic_diy, microbit, polar_pmd
from ingest.ble.profiles.polar_pmd import ACC, FACTOR, RANGE, RESOLUTION, SAMPLE_RATE, ClockMap, CpResponse
from ingest.ble.profiles.repeats import RepeatFilter
from ingest.errors import DecodeError
from ingest.settings import WearableConfig

_LOGGER = logging.getLogger(__name__)
CP_TIMEOUT_S = 5.0
PREFERRED_RATES = (50, 52, 25, 26, 100, 104)  # enough for posture and steps, light on the radio


Timed = list[tuple[int, tuple[float, float, float]]]  # (host ms, sample in g)
Handler = Callable[[Any, bytearray], None]


class MotionStream(Protocol):
    async def open(self, client: BleakClient, on_data: Handler) -> None:
        """Set the sensor up and subscribe ``on_data`` to its motion notifications."""
        ...

    def decode(self, received_ms: int, data: bytes | bytearray) -> Timed | None:
        """A notification -> samples, or None when it repeats one already decoded (drop it); raises DecodeError."""
        ...


class InfiniTimeStream:
    """Raw motion, about every 100 ms and only when it changed: the same bytes again within 50 ms are a repeat
    (the firmware never sends one reading twice in a row)."""

    def __init__(self) -> None:
        self.repeats: RepeatFilter[bytes] = RepeatFilter(window_ms=infinitime.MOTION_PERIOD_MS // 2)

    async def open(self, client: BleakClient, on_data: Handler) -> None:
        await client.start_notify(infinitime.RAW_MOTION, on_data)

    def decode(self, received_ms: int, data: bytes | bytearray) -> Timed | None:
        sample = infinitime.decode_motion(data)
        if self.repeats.is_repeat(bytes(data), received_ms):
            return None
        return [(received_ms, sample)]


class MicrobitStream:
    """One reading per period (20 ms asked for), sent even when unchanged: the same bytes again within half a
    period are taken for a repeat (a board at rest can give the same reading twice: docs/collector.md)."""

    def __init__(self) -> None:
        self.repeats: RepeatFilter[bytes] = RepeatFilter(window_ms=microbit.PREFERRED_PERIOD_MS // 2)

    async def open(self, client: BleakClient, on_data: Handler) -> None:
        period = microbit.encode_period(microbit.PREFERRED_PERIOD_MS)
        await client.write_gatt_char(microbit.PERIOD, period, response=True)
        await client.start_notify(microbit.DATA, on_data)

    def decode(self, received_ms: int, data: bytes | bytearray) -> Timed | None:
        sample = microbit.decode_accel(data)
        if self.repeats.is_repeat(bytes(data), received_ms):
            return None
        return [(received_ms, sample)]


class KineticDiyStream:
    """Packets carry the index of their first sample, so no two real packets of a connection are equal: a packet
    equal to one of the last 64 is a repeat."""

    def __init__(self) -> None:
        self.rate_hz = 10.0
        self.repeats: RepeatFilter[bytes] = RepeatFilter()

    async def open(self, client: BleakClient, on_data: Handler) -> None:
        self.rate_hz = float(kinetic_diy.decode_rate(await client.read_gatt_char(kinetic_diy.RATE)))
        await client.start_notify(kinetic_diy.MOTION, on_data)

    def decode(self, received_ms: int, data: bytes | bytearray) -> Timed | None:
        packet = kinetic_diy.decode_motion(data)
        if self.repeats.is_repeat(bytes(data), received_ms):
            return None
        n = len(packet.samples)
        return [(received_ms - round((n - 1 - i) * 1000 / self.rate_hz), s) for i, s in enumerate(packet.samples)]


def motion_stream(cfg: WearableConfig) -> MotionStream:
    if cfg.profile == "polar-pmd":
        return PolarStream(cfg.rate_hz)
    if cfg.profile == "microbit":
        return MicrobitStream()
    if cfg.profile == "kinetic-diy":
        return KineticDiyStream()
    return InfiniTimeStream()


class PolarStream:
    """The PMD handshake, then ACC frames. Each frame carries its device timestamp, so no two real frames are equal:
    a frame equal to one of the last 64 is a repeat. (Not the timestamp alone: a device clock set back gives
    timestamps already seen to new samples.)"""

    def __init__(self, rate_hz: int | None = None) -> None:
        self.wanted_rate = rate_hz
        self.rate_hz = 50
        self.factor = 1.0
        self.clock = ClockMap(rate_hz=50)
        self.repeats: RepeatFilter[bytes] = RepeatFilter()
        self._responses: asyncio.Queue[CpResponse] = asyncio.Queue()

    def _on_cp(self, _: Any, data: bytearray) -> None:
        try:
            self._responses.put_nowait(polar_pmd.decode_cp_response(bytes(data)))
        except DecodeError as exc:
            _LOGGER.warning("polar: control point: %s", exc)

    async def _request(self, client: BleakClient, request: bytes) -> CpResponse:
        while not self._responses.empty():  # left over (an indication delivered twice): not an answer to this
            self._responses.get_nowait()
        await client.write_gatt_char(polar_pmd.PMD_CP, request, response=True)
        params = b""
        while True:
            async with asyncio.timeout(CP_TIMEOUT_S):
                response = await self._responses.get()
            if response.opcode != request[0]:
                continue
            if not response.ok:
                raise DecodeError(f"polar: {request[:2].hex()} refused: {response.reason}")
            params += response.params
            if not response.more:
                return CpResponse(response.opcode, response.measurement, 0, False, params)

    async def open(self, client: BleakClient, on_data: Handler) -> None:
        """Data notifications and CP indications on, features read, settings asked, ACC started."""
        await client.start_notify(polar_pmd.PMD_DATA, on_data)
        await client.start_notify(polar_pmd.PMD_CP, self._on_cp)
        features = bytes(await client.read_gatt_char(polar_pmd.PMD_CP))
        if len(features) < 2 or features[0] != 0x0F or not features[1] & (1 << ACC):
            raise DecodeError(f"polar: the sensor offers no accelerometer stream (features {features.hex()})")
        settings = polar_pmd.decode_settings((await self._request(client, polar_pmd.encode_get_settings(ACC))).params)
        rates = [int(r) for r in settings.get(SAMPLE_RATE, [])] or [50]
        wanted = [self.wanted_rate] if self.wanted_rate else list(PREFERRED_RATES)
        self.rate_hz = next((r for r in wanted if r in rates), min(rates))
        ranges = [int(r) for r in settings.get(RANGE, [8])]
        chosen = {SAMPLE_RATE: self.rate_hz, RESOLUTION: 16, RANGE: 8 if 8 in ranges else max(ranges)}
        started = await self._request(client, polar_pmd.encode_start(ACC, chosen))
        factor = polar_pmd.decode_settings(started.params).get(FACTOR) if started.params else None
        self.factor = float(factor[0]) if factor else 1.0
        self.clock = ClockMap(rate_hz=self.rate_hz)
        _LOGGER.info("polar: ACC at %d Hz, factor %g", self.rate_hz, self.factor)

    def decode(self, received_ms: int, data: bytes | bytearray) -> Timed | None:
        """A data notification -> (host ms, sample in g) per sample; None for a repeat."""
        frame = polar_pmd.decode_data(data, self.factor)
        if self.repeats.is_repeat(bytes(data), received_ms):
            return None
        jumps = self.clock.jumps
        times = self.clock.samples(received_ms, frame.timestamp_ns, len(frame.samples_mg))
        if self.clock.jumps != jumps:
            _LOGGER.warning(
                "polar: the device clock stepped by %+.3f s; its frames are mapped to the host clock from here",
                self.clock.last_step_ms / 1000,
            )
        return [
            (round(t), (x / 1000, y / 1000, z / 1000)) for t, (x, y, z) in zip(times, frame.samples_mg, strict=True)
        ]

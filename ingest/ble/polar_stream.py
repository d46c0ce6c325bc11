"""A Polar PMD accelerometer stream on a connected bleak client: the control-point handshake, then data frames
decoded and time-stamped through the device clock (``ClockMap``). An adapter around the pure polar_pmd module."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bleak import BleakClient

from ingest.ble.profiles import polar_pmd
from ingest.ble.profiles.polar_pmd import ACC, FACTOR, RANGE, RESOLUTION, SAMPLE_RATE, ClockMap, CpResponse
from ingest.errors import DecodeError

_LOGGER = logging.getLogger(__name__)
CP_TIMEOUT_S = 5.0
PREFERRED_RATES = (50, 52, 25, 26, 100, 104)  # enough for posture and steps, light on the radio


class PolarStream:
    def __init__(self, rate_hz: int | None = None) -> None:
        self.wanted_rate = rate_hz
        self.rate_hz = 50
        self.factor = 1.0
        self.clock = ClockMap(rate_hz=50)
        self._responses: asyncio.Queue[CpResponse] = asyncio.Queue()

    def _on_cp(self, _: Any, data: bytearray) -> None:
        try:
            self._responses.put_nowait(polar_pmd.decode_cp_response(bytes(data)))
        except DecodeError as exc:
            _LOGGER.warning("polar: control point: %s", exc)

    async def _request(self, client: BleakClient, request: bytes) -> CpResponse:
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

    async def start(self, client: BleakClient) -> None:
        """CP indications on, features read, settings asked, ACC started (data notifications are already on)."""
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

    def decode(self, received_ms: int, data: bytes | bytearray) -> list[tuple[int, tuple[float, float, float]]]:
        """A data notification -> (host ms, sample in g) per sample."""
        frame = polar_pmd.decode_data(data, self.factor)
        times = self.clock.samples(received_ms, frame.timestamp_ns, len(frame.samples_mg))
        return [
            (round(t), (x / 1000, y / 1000, z / 1000)) for t, (x, y, z) in zip(times, frame.samples_mg, strict=True)
        ]

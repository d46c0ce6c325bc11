"""The unchanged bleak API over the Bumble virtual radio, talking real GATT to an emulated PineTime."""

from __future__ import annotations

import asyncio
import contextlib
import math

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from hypothesis import given
from hypothesis import strategies as st

from ingest.ble.bumble_backend import BumbleClient, BumbleScanner, VirtualRadio
from ingest.ble.emulators.infinitime import InfiniTimeEmulator
from ingest.ble.profiles import infinitime, kinetic_diy
from ingest.errors import DecodeError
from ingest.features import seconds_from_samples

pytestmark = pytest.mark.integration


def test_bleak_scans_connects_and_streams_motion_from_an_emulated_pinetime() -> None:
    async def run() -> tuple[list[tuple[float, float, float]], list[tuple[int, str, str]], int, str | None]:
        radio = VirtualRadio()
        await radio.start()
        watch = InfiniTimeEmulator(radio.peripheral("pinetime", "F1:00:00:00:00:07"))
        await watch.start()
        # InfiniTime's name is only in the scan response: found by name means active scanning works
        device = await BleakScanner.find_device_by_name("InfiniTime", timeout=5, backend=BumbleScanner, radio=radio)
        assert device is not None
        received: list[tuple[float, float, float]] = []
        async with BleakClient(device, backend=BumbleClient, radio=radio) as client:
            mtu = client.mtu_size
            battery = await client.read_gatt_char(infinitime.BATTERY_LEVEL)
            await client.start_notify(
                infinitime.RAW_MOTION, lambda _, data: received.append(infinitime.decode_motion(data))
            )
            # a thigh sitting: gravity along the watch's z; 3 s at 10 Hz, with a little noise so values change
            rng = np.random.default_rng(1)
            samples = [(0.01 * rng.standard_normal(), 0.01 * rng.standard_normal(), 1.0) for _ in range(30)]
            await watch.stream(samples, rate_hz=0)
            await client.write_gatt_char(
                infinitime.NEW_ALERT,
                infinitime.encode_new_alert("Stand up", "You have been sitting for 30 min"),
                response=True,
            )
            await asyncio.sleep(0.1)
        return received, watch.alerts, mtu, f"{battery[0]}"

    received, alerts, mtu, battery = asyncio.run(run())
    assert len(received) == 30 and all(abs(z - 1.0) < 0.002 for _, _, z in received)
    assert alerts == [(0, "Stand up", "You have been sitting for 30 min")]
    assert mtu == 247 and battery == "87"
    t_ms = np.arange(30) * 100
    (first, *_) = list(seconds_from_samples(t_ms, np.array(received)))
    assert first.gravity is not None and math.isclose(first.gravity[2], 1.0, abs_tol=0.01)


@given(st.binary(max_size=20))
def test_infinitime_decoders_raise_only_decode_errors(data: bytes) -> None:
    for decoder in (infinitime.decode_motion, infinitime.decode_steps, infinitime.decode_new_alert):
        with contextlib.suppress(DecodeError):
            decoder(data)


@given(st.binary(max_size=300))
def test_diy_decoders_raise_only_decode_errors(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        packet = kinetic_diy.decode_motion(data)
        assert 1 <= len(packet.samples) <= kinetic_diy.MAX_SAMPLES
    with contextlib.suppress(DecodeError):
        kinetic_diy.decode_rate(data)


def test_diy_motion_round_trip() -> None:
    samples = [(0.5, -0.25, 1.0), (0.0, 0.0, -1.0)]
    packet = kinetic_diy.decode_motion(kinetic_diy.encode_motion(70000, samples))
    assert packet.counter == 70000 % 65536 and packet.samples == tuple(samples)

"""BLE profile decoders: Polar PMD checked against the byte vectors in ../shared/reference/ble-profiles.md (section a)
and by round trips; micro:bit and heart rate by their units; every decoder fuzzed (any bytes -> a DecodeError or a
value, never another exception)."""

from __future__ import annotations

import contextlib
import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.ble.profiles.polar_pmd import (
    ACC,
    CHANNELS,
    EPOCH_2000_NS,
    FACTOR,
    RANGE,
    RESOLUTION,
    SAMPLE_RATE,
    ClockMap,
    decode_cp_response,
    decode_data,
    decode_delta,
    decode_settings,
    encode_delta,
    encode_start,
)
from ingest.errors import DecodeError


def test_the_documented_h10_start_request() -> None:
    start = encode_start(ACC, {SAMPLE_RATE: 200, RESOLUTION: 16, RANGE: 8})
    assert start == bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")


def test_the_documented_settings_tlv() -> None:
    settings = decode_settings(bytes.fromhex("00 01 34 00 01 01 10 00 02 04 F5 00 F4 01 E8 03 D0 07 04 01 03"))
    assert settings == {SAMPLE_RATE: [52], RESOLUTION: [16], RANGE: [245, 500, 1000, 2000], CHANNELS: [3]}
    factor = decode_settings(bytes([FACTOR, 1]) + struct.pack("<f", 0.5))
    assert factor == {FACTOR: [0.5]}


def test_the_documented_control_point_responses() -> None:
    response = decode_cp_response(bytes.fromhex("F0 01 02 00 00 FF FF FF"))
    assert (response.opcode, response.measurement, response.ok, response.more) == (1, ACC, True, False)
    assert response.params == b"\xff\xff\xff"
    refused = decode_cp_response(bytes.fromhex("F0 02 02 08 00"))
    assert not refused.ok and refused.reason == "invalid sample rate" and refused.params == b""


def test_the_documented_verity_sense_delta_vector() -> None:
    # reference D0 FF 65 01 E4 0F, block 08 02 (the spec prints the first two deltas of 29)
    payload = bytes.fromhex("D0 FF 65 01 E4 0F 08 02 FC 07 FF 0C 13 F2")
    assert decode_delta(payload) == [[-48, 357, 4068], [-52, 364, 4067], [-40, 383, 4053]]


def test_an_h10_frame_in_mg_with_the_time_of_its_last_sample() -> None:
    t = 599_616_000_000_000_000
    data = bytes([ACC]) + t.to_bytes(8, "little") + b"\x01" + struct.pack("<hhhhhh", 10, -20, 1000, 11, -21, 999)
    frame = decode_data(data)
    assert frame.timestamp_ns == t and frame.frame_type == 1
    assert frame.samples_mg == [(10.0, -20.0, 1000.0), (11.0, -21.0, 999.0)]
    assert (t + EPOCH_2000_NS) // 10**9 == 1546300800  # 2019-01-01, the H10's default clock


samples = st.lists(
    st.tuples(*(st.integers(-32768, 32767) for _ in range(3))),
    min_size=1,
    max_size=80,
)


@given(samples)
def test_delta_frames_round_trip(values: list[tuple[int, int, int]]) -> None:
    assert [tuple(s) for s in decode_delta(encode_delta(values))] == values


@given(samples, st.sampled_from([0x80, 0x81]))
def test_delta_frames_scale_by_the_factor(values: list[tuple[int, int, int]], frame_type: int) -> None:
    data = bytes([ACC]) + bytes(8) + bytes([frame_type]) + encode_delta(values)
    frame = decode_data(data, factor=0.25)
    scale = 250.0 if frame_type == 0x80 else 0.25  # 0x80 decodes to g: x factor x 1000 for mG
    assert frame.samples_mg == [(x * scale, y * scale, z * scale) for x, y, z in values]


@given(st.binary(max_size=120), st.floats(allow_nan=True, allow_infinity=True))
def test_decoders_raise_only_decode_errors(data: bytes, factor: float) -> None:
    for decode in (lambda: decode_data(data, factor), lambda: decode_cp_response(data), lambda: decode_settings(data)):
        with contextlib.suppress(DecodeError):
            decode()


@given(st.binary(min_size=11, max_size=120), st.integers(0, 119), st.integers(0, 255))
def test_corrupted_and_truncated_frames_raise_only_decode_errors(data: bytes, cut: int, flip: int) -> None:
    frame = bytearray(bytes([ACC]) + data[:8] + bytes([data[8] & 0x81]) + data[9:])
    frame[min(cut, len(frame) - 1)] ^= flip
    with contextlib.suppress(DecodeError):
        decode_data(bytes(frame[: max(cut, 1)]), 1 / 4096)


def test_the_clock_map_keeps_the_device_spacing_and_takes_the_least_delayed_frame() -> None:
    clock = ClockMap(rate_hz=50)
    device_start_ns = 599_616_000_000_000_000
    host_start_ms = 1_795_420_000_000.0
    delays_ms = [40, 5, 80, 12, 3, 60, 7, 9, 100, 4] * 10
    times: list[float] = []
    for i, delay in enumerate(delays_ms):
        last_ns = device_start_ns + (i + 1) * 10 * 20_000_000  # 10 samples of 20 ms per frame
        times += clock.samples(host_start_ms + (last_ns - device_start_ns) / 1e6 + delay, last_ns, 10)
    # after the least delayed frame (3 ms), every sample is within 3 ms of its true time and 20 ms apart
    true = [host_start_ms + (k + 1) * 20 for k in range(len(times))]
    assert all(abs(t - u) <= 3.0 + 1e-6 for t, u in list(zip(times, true, strict=True))[50:])
    assert all(abs((b - a) - 20) < 1e-6 for a, b in itertools.pairwise(times[50:]))


def test_the_clock_map_follows_a_drifting_device_clock_and_a_reset() -> None:
    clock = ClockMap(rate_hz=50, window=64)
    drift = 1 + 100e-6  # the device clock runs 100 ppm fast
    host_ms = 1_795_420_000_000.0
    errors = []
    for i in range(3000):  # 10 minutes of 0.2 s frames
        host_ms += 200
        device_ns = round(599_616_000_000_000_000 + i * 200e6 * drift)
        (t,) = clock.samples(host_ms + 2, device_ns, 1)
        errors.append(t - host_ms)
    assert max(abs(e) for e in errors[100:]) < 5  # ms: 100 ppm is 20 ms per 200 s, the window follows it
    (after_reset,) = clock.samples(host_ms + 202, 0, 1)  # the clock was set to another epoch
    assert clock.jumps == 1 and abs(after_reset - (host_ms + 202)) < 1


def mapped_frames(steps_ns: dict[int, int], frames: int = 60) -> tuple[list[float], list[float], ClockMap]:
    """Frames of 10 samples at 50 Hz, each received exactly when its last sample is taken; at frame ``k`` of
    ``steps_ns`` the device clock is set by that much. Mapped times and true times of every sample."""
    clock = ClockMap(rate_hz=50)
    device_ns, host_ms = 599_616_000_000_000_000, 1_795_420_000_000.0
    mapped: list[float] = []
    true: list[float] = []
    for k in range(frames):
        device_ns += 200_000_000 + steps_ns.get(k, 0)
        host_ms += 200
        mapped += clock.samples(host_ms, device_ns, 10)
        true += [host_ms - 20 * (9 - i) for i in range(10)]
    return mapped, true, clock


@pytest.mark.parametrize(
    ("step_ns", "jumps"),
    [
        (-3_000_000_000, 1),  # set back 3 s
        (3_000_000_000, 0),  # set forward 3 s: the new offset is the smallest at once
        (-(599_616_000_000_000_000 - 1_000_000_000), 1),  # reset to its power-on epoch
        (20 * 365 * 86_400 * 10**9, 1),  # set to a date 20 years on
    ],
)
def test_a_device_clock_step_neither_repeats_nor_holds_back_a_sample(step_ns: int, jumps: int) -> None:
    mapped, true, clock = mapped_frames({30: step_ns})
    assert mapped == pytest.approx(true, abs=0.01)  # every sample at its true time: none twice, none held back
    assert clock.jumps == jumps


@given(
    st.dictionaries(
        st.integers(1, 59),
        # forward beyond 10 % of a frame, back past a frame: smaller steps look like the device's rate or a delay
        st.one_of(st.integers(20_000_001, 10**18), st.integers(-(10**17), -200_000_001)),
        max_size=5,
    )
)
def test_any_device_clock_steps_map_every_sample_to_its_true_time(steps_ns: dict[int, int]) -> None:
    mapped, true, _ = mapped_frames(steps_ns)
    assert mapped == pytest.approx(true, abs=0.01)  # ms: the float precision of ns since 2000


@given(st.binary(max_size=12))
def test_microbit_decoders_raise_only_decode_errors(data: bytes) -> None:
    from ingest.ble.profiles import microbit

    for decode in (microbit.decode_accel, microbit.decode_period):
        with contextlib.suppress(DecodeError):
            decode(data)


def test_microbit_values_are_milli_g() -> None:
    from ingest.ble.profiles import microbit

    assert microbit.decode_accel(struct.pack("<hhh", -12, 980, 250)) == (-0.012, 0.98, 0.25)
    assert microbit.decode_period(microbit.encode_period(20)) == 20


def test_heart_rate_measurements_of_the_sig_spec() -> None:
    from ingest.ble.profiles.heart_rate import HeartRate, decode_measurement, encode_measurement

    # uint8 value, contact detected, two RR intervals of 1/1024 s
    assert decode_measurement(bytes([0x16, 72]) + struct.pack("<HH", 1024, 512)) == HeartRate(
        72, True, None, (1.0, 0.5)
    )
    # uint16 value, energy expended, contact not supported
    assert decode_measurement(bytes([0x09]) + struct.pack("<HH", 180, 35)) == HeartRate(180, None, 35, ())
    assert decode_measurement(encode_measurement(61, (0.984375,), contact=False)) == HeartRate(
        61, False, None, (0.984375,)
    )


@given(st.binary(max_size=24))
def test_heart_rate_decoder_raises_only_decode_errors(data: bytes) -> None:
    from ingest.ble.profiles.heart_rate import decode_measurement

    with contextlib.suppress(DecodeError):
        decode_measurement(data)

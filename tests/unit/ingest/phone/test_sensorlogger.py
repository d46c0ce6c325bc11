"""The Sensor Logger decoder and stream: units, axes, gravity, repeats, order, gaps, times, bad input."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.ble.aggregate import Batcher, SecondAggregator
from ingest.phone.sensorlogger import (
    MAX_READINGS,
    STANDARD_GRAVITY_MS2,
    PhoneStream,
    SensorLoggerError,
    decode_message,
)
from ingest.wire import FeatureBatchV1, FeatureFrameV1
from tests.support.fuzz import JSON
from tests.support.sensorlogger import fixture_readings, messages

G = STANDARD_GRAVITY_MS2
T0 = 1_764_230_400_000_000_000  # 2025-11-27T08:00:00Z in ns
STEP_NS = 20_000_000  # 50 Hz


def reading(name: str, t_ns: int, x: float, y: float, z: float) -> dict[str, Any]:
    return {"name": name, "time": t_ns, "values": {"x": x, "y": y, "z": z}}


def message(message_id: int, payload: list[Any], session: str = "s1") -> bytes:
    return json.dumps({"messageId": message_id, "sessionId": session, "deviceId": "d1", "payload": payload}).encode()


def still(name: str, seconds: float, xyz: tuple[float, float, float], start_ns: int = T0) -> list[dict[str, Any]]:
    return [reading(name, start_ns + i * STEP_NS, *xyz) for i in range(int(seconds * 50))]


def stream(**kwargs: Any) -> PhoneStream:
    return PhoneStream("ann", "ann-phone", "thigh", batch_s=10, **kwargs)


def frames_of(batches: list[FeatureBatchV1]) -> list[FeatureFrameV1]:
    return [f for b in batches for f in b.frames]


def run(s: PhoneStream, payloads: list[bytes], received_ms: int | None = None) -> list[FeatureFrameV1]:
    out: list[FeatureBatchV1] = []
    for payload in payloads:
        out += s.add_message(decode_message(payload), received_ms)
    return frames_of(out + s.flush())


def test_android_total_acceleration_is_the_sample_in_g() -> None:
    # a phone on its back: Android reads +g on z (COORDINATES.md), which is Kinetic's convention
    frames = run(stream(), [message(0, still("totalacceleration", 3, (0.0, 0.0, G)))])
    assert len(frames) == 3
    for frame in frames:
        assert frame.gravity == pytest.approx((0.0, 0.0, 1.0))
        assert frame.enmo_mg == pytest.approx(0.0, abs=1e-6)


def test_ios_acceleration_plus_gravity_negated_unless_standardised() -> None:
    # the same phone on its back as an iPhone reports it: gravity -z (CROSSPLATFORM.md); user acceleration 0.1 g on x
    ios = still("gravity", 2, (0.0, 0.0, -G)) + still("accelerometer", 2, (-0.1 * G, 0.0, 0.0))
    frames = run(stream(ios_axes=True), [message(0, ios)])
    assert [f.gravity for f in frames] == [pytest.approx((0.0, 0.0, 1.0))] * 2  # the gravity sensor's direction
    assert frames[0].enmo_mg == pytest.approx((np.hypot(0.1, 1.0) - 1) * 1000, rel=1e-6)
    # with 'Standardise Units & Frames' on, iOS sends Android's convention: nothing is negated
    standard = still("gravity", 2, (0.0, 0.0, G)) + still("accelerometer", 2, (0.1 * G, 0.0, 0.0))
    assert run(stream(), [message(0, standard)]) == frames


def test_gravity_sensor_gives_the_direction_else_the_mean_of_the_total() -> None:
    total = still("totalacceleration", 2, (0.0, 0.3 * G, G))
    gravity = still("gravity", 2, (0.0, 0.0, G))
    with_gravity = run(stream(), [message(0, total + gravity)])
    without = run(stream(), [message(0, total)])
    assert with_gravity[0].gravity == pytest.approx((0.0, 0.0, 1.0))
    assert without[0].gravity == pytest.approx((0.0, 0.3, 1.0))
    assert with_gravity[0].enmo_mg == without[0].enmo_mg  # movement from the total acceleration either way


def test_frames_are_the_ble_collectors_for_the_same_samples() -> None:
    """Phone frames come from the collector's own pure code: same samples, same frames, same batches."""
    readings = [r for r in fixture_readings("android") if r["name"] == "totalacceleration"]
    phone = run(stream(), messages(readings))
    aggregator, batcher = SecondAggregator(), Batcher("ann", "ann-phone", "thigh", 10)
    batches: list[FeatureBatchV1] = []
    for r in readings:
        v = r["values"]
        sample = (v["x"] / G, v["y"] / G, v["z"] / G)
        batches += batcher.add(aggregator.add(r["time"] // 1_000_000, sample))
    batches += batcher.add(aggregator.flush()) + batcher.flush()
    assert phone == frames_of(batches)
    assert len(phone) >= 40


def test_ios_and_android_exports_of_the_same_motion_give_the_same_frames() -> None:
    android = fixture_readings("android")
    ios = fixture_readings("ios")
    end = max(r["time"] for r in ios)
    android_frames = run(
        stream(), messages([r for r in android if r["time"] <= end and r["name"] != "totalacceleration"])
    )
    ios_frames = run(stream(ios_axes=True), messages(ios))
    assert len(ios_frames) == len(android_frames) >= 12
    for a, i in zip(android_frames, ios_frames, strict=True):
        assert a.t_ms == i.t_ms
        assert a.gravity == pytest.approx(i.gravity, abs=1e-4)
        assert a.enmo_mg == pytest.approx(i.enmo_mg, abs=0.05)


def test_missing_gravity_is_counted_and_makes_no_frames() -> None:
    s = stream(ios_axes=True)
    assert run(s, [message(0, still("accelerometer", 3, (0.1, 0.0, 0.0)))]) == []
    assert s.counters.no_gravity == 150 and s.counters.samples == 0


def test_unknown_and_unused_sensors_are_ignored_and_counted() -> None:
    s = stream()
    extra = [
        {"name": "gyroscope", "time": T0, "values": {"x": 0, "y": 0, "z": 0}},
        {"name": "Pedometer", "time": T0, "values": {"steps": 3}},
        {"name": "lidar", "time": T0, "values": {"depth": 1}},
        {"name": "battery", "time": T0, "values": {"batteryLevel": 0.42, "batteryState": "unplugged"}},
    ]
    frames = run(s, [message(0, still("totalacceleration", 2, (0.0, G, 0.0)) + extra)])
    assert len(frames) == 2
    assert (s.counters.unused_readings, s.counters.unknown_readings) == (2, 1)
    assert s.battery_pct == 42


def test_repeated_messages_are_dropped_like_ble_repeats() -> None:
    payloads = messages(still("totalacceleration", 4, (0.0, 0.0, G)))
    once = run(stream(), payloads)
    s = stream()
    twice = run(s, [p for p in payloads for _ in range(2)])
    assert twice == once
    assert s.counters.repeated_messages == len(payloads)


def test_out_of_order_and_missing_messages() -> None:
    payloads = messages(still("totalacceleration", 6, (0.0, 0.0, G)))  # ids 0..5, one second each
    s = stream()
    frames = run(s, [payloads[0], payloads[2], payloads[1], payloads[4], payloads[5]])
    assert s.counters.late_messages == 1  # id 1 after id 2: its second was already passed
    assert s.counters.missing_messages == 2  # 1 (until it came late) and 3
    assert [f.t_ms // 1000 for f in frames] == [T0 // 10**9 + k for k in (0, 2, 4, 5)]


def test_a_new_recording_counts_again_and_an_old_ones_message_is_late() -> None:
    s = stream()
    first = messages(still("totalacceleration", 2, (0.0, 0.0, G)), session="a")
    second = messages(still("totalacceleration", 2, (0.0, 0.0, G), start_ns=T0 + 5 * 10**9), session="b")
    run(s, [first[0], second[0], first[1], second[1]])
    assert s.counters.recordings == 2 and s.counters.late_messages == 1 and s.counters.missing_messages == 0


def test_malformed_messages_raise_the_decoders_one_error() -> None:
    for bad in (
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"messageId": "1", "sessionId": "s", "deviceId": "d", "payload": []}',
    ):
        with pytest.raises(SensorLoggerError):
            decode_message(bad)
    with pytest.raises(SensorLoggerError, match="payload: a list"):
        decode_message(b'{"messageId": 1, "sessionId": "s", "deviceId": "d"}')


def test_empty_and_huge_batches() -> None:
    s = stream()
    assert run(s, [message(0, [])]) == [] and s.counters.messages == 1
    huge = message(1, [reading("totalacceleration", T0, 0, 0, G)] * (MAX_READINGS + 1))
    with pytest.raises(SensorLoggerError, match=f"at most {MAX_READINGS}"):
        decode_message(huge)


@pytest.mark.parametrize(
    ("time", "unit"),
    [(T0 // 1_000_000, "milliseconds"), (T0 // 1_000, "microseconds"), (T0 // 10**9, "seconds")],
)
def test_a_time_in_the_wrong_unit_is_refused_and_named(time: int, unit: str) -> None:
    decoded = decode_message(message(0, [reading("totalacceleration", time, 0, 0, G)]))
    assert decoded.readings == [] and decoded.refused == 1
    assert f"as {unit} it is 2025-11-27T08:00:00" in (decoded.first_refusal or "")


def test_a_time_zone_change_changes_nothing() -> None:
    """The app's times are UTC epoch nanoseconds (README, "Understanding Timestamps"): a phone that travels from
    UTC+1 to UTC-5 mid-recording sends times that simply go on, and so do the seconds."""
    s = stream()
    before = still("totalacceleration", 3, (0.0, 0.0, G))
    after = still("totalacceleration", 3, (0.0, 0.0, G), start_ns=T0 + 3 * 10**9)
    frames = run(s, [message(0, before), message(1, after)], received_ms=T0 // 10**6 + 6_100)
    assert [f.t_ms for f in frames] == [T0 // 10**6 + k * 1000 for k in range(6)]
    assert s.counters.clock_steps == 0 and s.clock.mapped_messages == 0


def test_a_phone_clock_set_an_hour_wrong_is_mapped_onto_the_receivers() -> None:
    """A phone set to local time as if it were UTC (an hour ahead): its seconds land where the receiver's clock
    says, not an hour in the future (which the services would refuse)."""
    s = stream()
    hour_ns = 3600 * 10**9
    ahead = messages(still("totalacceleration", 4, (0.0, 0.0, G), start_ns=T0 + hour_ns))
    frames: list[FeatureFrameV1] = []
    for k, payload in enumerate(ahead):
        frames += frames_of(s.add_message(decode_message(payload), T0 // 10**6 + (k + 1) * 1000 + 50))
    frames += frames_of(s.flush())
    assert s.clock.mapped_messages == 4
    # moved by the hour less the delivery delay (70 ms here: a message's newest reading to its arrival)
    assert sum(f.n for f in frames) == 200
    assert all(T0 // 10**6 <= f.t_ms <= T0 // 10**6 + 4000 for f in frames)


def test_a_phone_clock_set_back_mid_recording_restarts_the_seconds() -> None:
    s = stream()
    run(s, [message(0, still("totalacceleration", 3, (0.0, 0.0, G), start_ns=T0 + 60 * 10**9))])
    run(s, [message(1, still("totalacceleration", 3, (0.0, 0.0, G)))])
    assert s.counters.clock_steps == 1


VALID = json.loads(message(0, still("totalacceleration", 1, (0.0, 0.0, G)) + still("gravity", 1, (0.0, 0.0, G))))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "truncated", "envelope", "reading", "values"]))
    text = json.dumps(VALID)
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "truncated":
        return text[: draw(st.integers(0, len(text) - 1))].encode()
    raw = json.loads(text)
    if kind == "envelope":
        raw[draw(st.sampled_from([*sorted(raw), "extra"]))] = draw(JSON)
    else:
        item = raw["payload"][draw(st.integers(0, len(raw["payload"]) - 1))]
        if kind == "reading":
            item[draw(st.sampled_from(["name", "time", "values", "other"]))] = draw(JSON)
        else:
            item["values"][draw(st.sampled_from(["x", "y", "z", "batteryLevel"]))] = draw(JSON)
            item["name"] = draw(st.sampled_from(["totalacceleration", "gravity", "accelerometer", "battery"]))
    return json.dumps(raw, allow_nan=True).encode()


@given(payloads=st.lists(mutated(), min_size=1, max_size=4))
def test_fuzz_the_decoder_raises_only_its_error_and_the_stream_never(payloads: list[bytes]) -> None:
    s = stream(ios_axes=True)
    for payload in payloads:
        try:
            decoded = decode_message(payload)
        except SensorLoggerError as exc:
            assert "\n" not in str(exc)
            continue
        batches = s.add_message(decoded, T0 // 10**6)
        assert all(isinstance(b, FeatureBatchV1) for b in batches)
    s.flush()

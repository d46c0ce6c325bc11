"""Repeated notifications (BlueZ delivers every notification twice after a reconnection): each profile's stream
decodes a repeat once, however the repeats interleave with later notifications, and the per-second frames are
those of the stream without repeats; the filter itself. (How often a real micro:bit reading would be taken for a
repeat is measured on real recordings in tests/integration/ingest/test_ble_repeats.py.)"""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ingest.ble.aggregate import SecondAggregator
from ingest.ble.profiles import infinitime, kinetic_diy, microbit
from ingest.ble.profiles.polar_pmd import ACC
from ingest.ble.profiles.repeats import RepeatFilter
from ingest.ble.streams import InfiniTimeStream, KineticDiyStream, MicrobitStream, MotionStream, PolarStream, Timed
from ingest.wire import FeatureFrameV1

Notification = tuple[int, bytes]  # (host ms at reception, bytes)


def run(stream: MotionStream, notifications: list[Notification]) -> tuple[Timed, list[FeatureFrameV1], int]:
    """Notifications through a stream and the collector's aggregation: samples, frames, repeats dropped."""
    samples: Timed = []
    dropped = 0
    aggregator = SecondAggregator()
    frames: list[FeatureFrameV1] = []
    for received_ms, data in notifications:
        timed = stream.decode(received_ms, data)
        if timed is None:
            dropped += 1
            continue
        samples += timed
        for t_ms, sample in timed:
            frames += aggregator.add(t_ms, sample)
    return samples, frames + aggregator.flush(), dropped


def with_repeats(
    originals: list[Notification], draw: st.DrawFn, *, max_delay_ms: int, max_later: int | None = None
) -> list[Notification]:
    """Every original repeated 0-2 times, each copy ``0..max_delay_ms`` after it (and not after the original
    ``max_later`` places on): any interleaving of repeats and later notifications the rule has to survive."""
    events: list[tuple[int, int, int, bytes]] = []  # (ms, order, copy, bytes): originals first at equal times
    for i, (t, data) in enumerate(originals):
        events.append((t, i, 0, data))
        for copy in range(draw(st.integers(0, 2))):
            limit = max_delay_ms
            if max_later is not None:
                limit = min(limit, originals[min(i + max_later, len(originals) - 1)][0] - t)
            delay = draw(st.integers(0, max(0, limit)))
            events.append((t + delay, i, copy + 1, data))
    events.sort(key=lambda e: (e[0], e[2] > 0, e[1]))
    return [(t, data) for t, _, _, data in events]


# --- counters and device timestamps: a key already seen is a repeat, however late --------------------------------
def diy_notifications(draw: st.DrawFn) -> list[Notification]:
    counter = draw(st.integers(0, 65535))
    t = 1_764_230_400_000
    out = []
    for _ in range(draw(st.integers(1, 30))):
        n = draw(st.integers(1, 13))
        samples = draw(st.binary(min_size=6 * n, max_size=6 * n))  # any int16 values
        t += draw(st.integers(0, 400))  # notifications may arrive together
        out.append((t, kinetic_diy.HEADER.pack(counter, n) + samples))
        counter = (counter + n) % 65536  # wraps: the counter is the index of the first sample, modulo 65536
    return out


@given(st.data())
def test_diy_repeats_by_counter_give_the_stream_without_repeats(data: st.DataObject) -> None:
    originals = diy_notifications(data.draw)
    arrived = with_repeats(originals, data.draw, max_delay_ms=10_000, max_later=32)
    expected, expected_frames, _ = run(diy_stream(), originals)
    got, frames, dropped = run(diy_stream(), arrived)
    assert got == expected and frames == expected_frames
    assert dropped == len(arrived) - len(originals)


def diy_stream() -> KineticDiyStream:
    stream = KineticDiyStream()
    stream.rate_hz = 52.0
    return stream


@given(st.data())
def test_polar_repeats_by_device_timestamp_give_the_stream_without_repeats(data: st.DataObject) -> None:
    device_ns = data.draw(st.integers(0, 2**62))
    t = 1_764_230_400_000
    originals = []
    for _ in range(data.draw(st.integers(1, 30))):
        n = data.draw(st.integers(1, 10))
        device_ns += n * 20_000_000  # 50 Hz
        t += data.draw(st.integers(0, 400))
        samples = data.draw(st.binary(min_size=6 * n, max_size=6 * n))  # H10 frame type 0x01: int16 mG
        originals.append((t, bytes([ACC]) + device_ns.to_bytes(8, "little") + b"\x01" + samples))
    arrived = with_repeats(originals, data.draw, max_delay_ms=10_000, max_later=32)
    expected, expected_frames, _ = run(PolarStream(), originals)
    got, frames, dropped = run(PolarStream(), arrived)
    assert got == expected and frames == expected_frames
    assert dropped == len(arrived) - len(originals)


def test_a_frame_with_a_timestamp_seen_before_but_new_samples_is_not_a_repeat() -> None:
    """A Polar clock set back gives timestamps already seen to new samples: those are data, not repeats."""
    frame = bytes([ACC]) + (10**18).to_bytes(8, "little") + b"\x01" + struct.pack("<hhh", 0, 0, 1000)
    again = frame[:-6] + struct.pack("<hhh", 0, 0, 1001)  # the same device time, another sample
    stream = PolarStream()
    assert stream.decode(1000, frame) is not None and stream.decode(1200, again) is not None
    assert stream.decode(1201, again) is None  # but that frame delivered twice is


# --- no counter: the same bytes within half a notification period ---------------------------------------------
def readings(draw: st.DrawFn, period_ms: int, *, change_only: bool) -> list[Notification]:
    """Readings from a small set of values (so equal readings are common), notified about every ``period_ms``
    (jitter: a notification may come up to half a period early or late; never two within half a period), and for
    InfiniTime only when the value changed."""
    values = draw(st.lists(st.tuples(*[st.integers(-3, 3)] * 3), min_size=2, max_size=4, unique=True))
    out: list[Notification] = []
    t = 1_764_230_400_000
    previous = None
    for i in range(draw(st.integers(1, 60))):
        value = draw(st.sampled_from(values))
        if change_only and value == previous:
            continue
        previous = value
        due = t + i * period_ms + draw(st.integers(0, period_ms // 2))
        out.append((max(due, out[-1][0] + period_ms // 2) if out else due, struct.pack("<hhh", *value)))
    return out


@given(st.data())
def test_infinitime_repeats_by_bytes_give_the_stream_without_repeats(data: st.DataObject) -> None:
    window = infinitime.MOTION_PERIOD_MS // 2
    originals = readings(data.draw, infinitime.MOTION_PERIOD_MS, change_only=True)
    arrived = with_repeats(originals, data.draw, max_delay_ms=window - 1)
    expected, expected_frames, _ = run(InfiniTimeStream(), originals)
    got, frames, dropped = run(InfiniTimeStream(), arrived)
    assert got == expected and frames == expected_frames
    assert dropped == len(arrived) - len(originals)


@given(st.data())
def test_microbit_repeats_by_bytes_give_the_stream_without_repeats(data: st.DataObject) -> None:
    window = microbit.PREFERRED_PERIOD_MS // 2
    originals = readings(data.draw, microbit.PREFERRED_PERIOD_MS, change_only=False)
    arrived = with_repeats(originals, data.draw, max_delay_ms=window - 1)
    expected, expected_frames, _ = run(MicrobitStream(), originals)
    got, frames, dropped = run(MicrobitStream(), arrived)
    assert got == expected and frames == expected_frames
    assert dropped == len(arrived) - len(originals)


def test_the_duplicated_walking_second_of_the_issue_is_one_second_of_52_samples() -> None:
    """Issue 13, case 3: a DIY sensor at 52 Hz, 13 samples a packet, every packet delivered twice 1 ms apart."""
    t0 = 1_764_230_400_000
    walk = [(0.0, 0.0, 1.0 + 0.3 * np.sin(2 * np.pi * 1.8 * i / 52)) for i in range(52 * 3)]
    originals = [
        (t0 + round((i + 12) * 1000 / 52), kinetic_diy.encode_motion(i, walk[i : i + 13])) for i in range(0, 156, 13)
    ]
    twice = [n for t, data in originals for n in ((t, data), (t + 1, data))]
    _, clean, _ = run(diy_stream(), originals)
    _, frames, dropped = run(diy_stream(), twice)
    assert frames == clean and dropped == len(originals)
    assert [f.n for f in frames[1:-1]] == [52]  # the whole second in the middle: 52 samples, not 104
    assert frames[1].steps == clean[1].steps > 0


# --- the filter ---------------------------------------------------------------------------------------------------
def test_a_third_copy_is_a_repeat_and_the_window_is_measured_from_the_first() -> None:
    repeats: RepeatFilter[bytes] = RepeatFilter(window_ms=10)
    assert [repeats.is_repeat(b"a", t) for t in (0, 1, 9, 10, 12)] == [False, True, True, False, True]
    assert repeats.repeats == 3


def test_host_time_stepping_back_does_not_hide_a_repeat() -> None:
    repeats: RepeatFilter[bytes] = RepeatFilter(window_ms=10)
    assert not repeats.is_repeat(b"a", 1000)
    assert repeats.is_repeat(b"a", 995)  # the clock stepped back 5 ms (NTP) between the two copies
    assert not repeats.is_repeat(b"a", 900)  # a real reading, far from the first in either direction


def test_memory_is_bounded_and_forgets_the_oldest() -> None:
    repeats: RepeatFilter[int] = RepeatFilter(memory=3)
    assert not any(repeats.is_repeat(k, 0) for k in (1, 2, 3, 4))
    assert not repeats.is_repeat(1, 0)  # forgotten after three newer keys
    assert repeats.is_repeat(4, 0) and len(repeats._last_ms) <= 3

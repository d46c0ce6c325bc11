"""The collector's heart-rate track (ingest/ble/collector.py ``HeartRateTrack``): every RR interval on exactly one
frame, in order; what is not a heartbeat, too many in a second or too old for any frame refused and counted."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingest.ble.collector import HeartRateTrack
from ingest.wire import FeatureFrameV1

T0 = 1_795_420_920_000


def frames(*seconds: int) -> list[FeatureFrameV1]:
    return [FeatureFrameV1(t_ms=T0 + 1000 * s, incl_deg=10.0, enmo_mg=1.0, n=50) for s in seconds]


def test_each_interval_goes_on_the_frame_of_the_second_it_arrived_in() -> None:
    track = HeartRateTrack()
    track.add(T0 + 200, 72, (0.8,))
    track.add(T0 + 1100, 72, (0.84, 0.8))
    out = track.stamp(frames(0, 1, 2))
    assert [f.rr_ms for f in out] == [[800], [840, 800], None]
    assert [f.hr_bpm for f in out] == [72.0, 72.0, 72.0]
    assert (track.carried, track.refused) == (3, 0)
    assert [f.rr_ms for f in track.stamp(frames(3))] == [None]  # none twice


def test_what_is_not_a_heartbeat_or_has_no_frame_is_refused_and_counted() -> None:
    track = HeartRateTrack()
    track.add(T0, 72, (0.1, 3.0, 0.8))  # 100 ms and 3000 ms: not heartbeats
    track.add(T0 + 500, 72, (0.8,) * 9)  # nine in one second: one more than a frame carries
    out = track.stamp(frames(0))
    assert out[0].rr_ms == [800] * 8
    assert (track.carried, track.refused) == (8, 4)
    track.add(T0 + 1000, 72, (0.8,))
    track.stamp(frames(10))  # the motion stream stopped for 9 s: that beat had no frame
    assert track.refused == 5 and not track.pending_rr


@given(st.lists(st.tuples(st.integers(0, 9_999), st.floats(0.3, 2.0)), max_size=40))
def test_every_interval_is_carried_once_or_refused(beats: list[tuple[int, float]]) -> None:
    track = HeartRateTrack()
    for offset, rr in sorted(beats):
        track.add(T0 + offset, 60, (rr,))
    carried = [r for f in track.stamp(frames(*range(10))) for r in f.rr_ms or []]
    assert len(carried) + track.refused == len(beats) and len(carried) == track.carried
    sent = iter(round(rr * 1000) for _, rr in sorted(beats))
    assert all(any(r == s for s in sent) for r in carried)  # in the order they came (a subsequence of it)


def test_only_intervals_that_are_not_heartbeats_count_as_the_devices_fault() -> None:
    """An interval outside 250-2500 ms is the device's error (dead-lettered by the collector); one refused because
    64 already wait for a frame (the motion stream stopped, heart rate goes on) was a heartbeat: refused and counted,
    not the device's fault, so no dead letter for each one while the stream is stopped."""
    track = HeartRateTrack()
    track.add(T0, 72, (0.1, 3.0, 0.8))
    assert (track.refused, track.not_heartbeats, len(track.pending_rr)) == (2, 2, 1)
    for i in range(1, 100):
        track.add(T0 + i * 1000, 72, (0.8,))
    assert len(track.pending_rr) == 64 and track.refused == 2 + 36 and track.not_heartbeats == 2

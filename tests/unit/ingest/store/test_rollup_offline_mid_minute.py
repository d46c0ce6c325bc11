"""A device marked offline in the middle of a minute that then goes on in the same minute: the collector's last will
after a Wi-Fi blip longer than the keep-alive (its queue replays the rest of the minute after reconnecting), or
`kinetic phone` after `idle_flush_s` of silence from a phone that resumes within the minute. The bridge closes the
device's open minute at the offline status and writes it; the rest of the minute then makes a second point with the
same series and time, which replaces the first in InfluxDB and in the embedded store. docs/wire.md: 'a minute
already written is never written again with part of its data'."""

from __future__ import annotations

from ingest.store.rollup import MinuteRollup
from ingest.wire import FeatureBatchV1, FeatureFrameV1

T = 1_796_500_800_000  # a minute's start


def batch(first_s: int, n: int, enmo_mg: float, seq: int) -> FeatureBatchV1:
    frames = [
        FeatureFrameV1(t_ms=T + (first_s + i) * 1000, gx=0.0, gy=-1.0, gz=0.0, enmo_mg=enmo_mg, n=50) for i in range(n)
    ]
    return FeatureBatchV1(wearer="ann", device="ann-thigh", placement="thigh", seq=seq, frames=frames)


def test_the_rest_of_a_minute_after_an_offline_status_does_not_replace_its_first_part() -> None:
    """Before: minute 0 written twice, (frames 30, enmo 2.0) then (frames 30, enmo 8.0): what is stored is the second
    half alone."""
    rollup = MinuteRollup()
    points = rollup.add(batch(0, 30, 2.0, 1))
    points += rollup.close_device("ann", "ann-thigh")  # offline: the last will, or the phone's idle flush
    points += rollup.add(batch(30, 30, 8.0, 2))  # the same minute goes on
    points += rollup.add(batch(60, 10, 2.0, 3))
    points += rollup.close_device("ann", "ann-thigh")
    minute0 = [(p.fields["frames"], p.fields["enmo_mg"]) for p in points if p.t_ms == T]
    stored = minute0[-1]  # the same series and time: the last one written is what the store keeps
    assert stored in ((60, 5.0), (30, 2.0)), minute0

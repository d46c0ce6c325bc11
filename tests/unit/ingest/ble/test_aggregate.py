"""The collector's streaming aggregation: a late notification never makes a second be sent twice."""

from __future__ import annotations

from ingest.ble.aggregate import Batcher, SecondAggregator
from ingest.wire import FeatureFrameV1

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z: a batch's times lie from 2015 to 2100


def test_a_sample_stamped_before_the_last_one_is_folded_forward_not_sent_as_a_second_again() -> None:
    agg = SecondAggregator()
    frames = []
    # 50 Hz from t = 0; the notification covering 1.00-1.18 s arrives late, the next one (stamped from its own
    # arrival) back-dates two samples into 0.98 and 0.99 s - before 1.18 s, which was already seen
    times = [i * 20 for i in range(60)] + [980, 990] + [1200 + i * 20 for i in range(50)]
    for t in times:
        frames += agg.add(T0 + t, (0.0, 0.0, 1.0))
    frames += agg.flush()
    seconds = [f.t_ms - T0 for f in frames]
    assert seconds == [0, 1000, 2000]  # each second once, in order
    assert agg.reordered == 2
    batcher = Batcher("ann", "chest", "trunk", 30)
    batches = batcher.add(frames) + batcher.flush()
    assert [len(b.frames) for b in batches] == [3]  # not split by a second that runs backwards


def test_a_second_the_wire_would_refuse_is_left_out_and_counted_not_its_batch() -> None:
    """A host clock still in 1970 (a Raspberry Pi before NTP answers), a sensor reporting zeros: those seconds are
    refused one by one, the others go out in their batch."""
    good = [FeatureFrameV1(t_ms=T0 + i * 1000, gx=0.0, gy=0.0, gz=1.0, enmo_mg=1.0, n=50) for i in range(4)]
    zeros = good[1].model_copy(update={"gx": 0.0, "gy": 0.0, "gz": 0.0})
    in_1970 = good[2].model_copy(update={"t_ms": 2000})
    batcher = Batcher("ann", "chest", "trunk", 30)
    batches = batcher.add([good[0], zeros, in_1970, good[3]]) + batcher.flush()
    assert [[f.t_ms for f in b.frames] for b in batches] == [[good[0].t_ms, good[3].t_ms]]
    assert (
        batcher.refused == 2
        and batcher.last_refusal == "frames.0.t_ms: 2000 is not Unix epoch milliseconds from 2015 to 2100"
    )

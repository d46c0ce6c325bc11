"""The collector's streaming aggregation: a late notification never makes a second be sent twice."""

from __future__ import annotations

import pytest

from ingest.ble.aggregate import Batcher, ClockWatch, SecondAggregator
from ingest.wire import FeatureFrameV1, batch_problem

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


def test_a_host_clock_set_back_starts_the_seconds_again_instead_of_piling_them_into_one() -> None:
    """NTP steps a host clock that ran an hour ahead back by an hour while 50 Hz samples stream in. Before, every
    sample until the clock caught up was folded into the last second seen: no frame for an hour, and one second
    of 180,000 samples. Now the second in progress is completed and the seconds after the step come out as they
    are lived, one per second, in the corrected time."""
    agg = SecondAggregator()
    ahead = T0 + 3_600_000
    frames = []
    for i in range(150):  # 3 s at 50 Hz with the clock an hour ahead
        frames += agg.add(ahead + i * 20, (0.0, 0.0, 1.0))
    for i in range(250):  # then 5 s in the corrected time
        frames += agg.add(T0 + 3000 + i * 20, (0.0, 0.0, 1.0))
    frames += agg.flush()
    assert [f.t_ms - T0 for f in frames] == [3_600_000, 3_601_000, 3_602_000, 3000, 4000, 5000, 6000, 7000]
    assert [f.n for f in frames] == [50] * 8
    assert agg.clock_steps == 1 and agg.last_step_ms == -(3_600_000 + 2980 - 3000) and agg.reordered == 0
    batcher = Batcher("ann", "chest", "trunk", 30)
    batches = batcher.add(frames) + batcher.flush()
    # each batch runs forward in time (the wire requires it); the step starts a new one
    assert [[f.t_ms - T0 for f in b.frames] for b in batches] == [
        [3_600_000, 3_601_000, 3_602_000],
        [3000, 4000, 5000, 6000, 7000],
    ]


def test_a_step_forward_leaves_a_gap_and_nothing_else() -> None:
    agg = SecondAggregator()
    frames = []
    for t in [i * 20 for i in range(100)] + [600_000 + i * 20 for i in range(100)]:
        frames += agg.add(T0 + t, (0.0, 0.0, 1.0))
    frames += agg.flush()
    assert [f.t_ms - T0 for f in frames] == [0, 1000, 600_000, 601_000]
    assert agg.clock_steps == 0 and agg.reordered == 0


@pytest.mark.parametrize("step_s", [1, 3, 4.9])
def test_a_host_clock_set_back_by_seconds_starts_the_seconds_again_at_the_step(step_s: float) -> None:
    """Found after the named cases: a host clock set back by less than STEP_BACK_MS (NTP correcting a few seconds)
    looked like a late notification, and every sample until the clock caught up was folded into one second
    (n = 104, 208, 307 at 52 Hz). The collector reads the host clock at each notification; a reading before the
    one before is a step (``ClockWatch``), and the aggregation restarts there. Samples are stamped as the
    collector does: at arrival, back-dated by the rate (here 5 samples at 50 Hz per notification, every 100 ms)."""
    agg, watch = SecondAggregator(), ClockWatch()
    frames = []
    for k in range(200):  # 20 s of notifications; the clock goes back step_s at 10 s
        received = T0 + k * 100 + (0 if k < 100 else -round(step_s * 1000))
        if watch.read(received):
            frames += agg.restart(watch.last_step_ms)
        for i in range(5):
            frames += agg.add(received - (4 - i) * 20, (0.0, 0.0, 1.0))
    frames += agg.flush()
    assert max(f.n for f in frames) <= 50  # before: 50 * (1 + step_s) in the second of the step
    # every sample in a second of its own time, but for a second the step cut short of min_samples
    assert 1000 - agg.min_samples < sum(f.n for f in frames) <= 1000
    assert watch.steps == 1 and watch.last_step_ms == -round(step_s * 1000) + 100
    assert agg.clock_steps == 1
    # what the receivers see: the seconds after the step repeat times already sent, and are taken as late
    times = [f.t_ms // 1000 * 1000 for f in frames]
    assert times[:10] == [T0 + (i - 1) * 1000 for i in range(10)]  # the first samples are back-dated before T0


def test_readings_of_a_clock_that_only_goes_forward_are_no_step() -> None:
    watch = ClockWatch()
    assert not any(watch.read(T0 + t) for t in (0, 0, 1, 500, 499, 498, 60_000))  # 2 ms of rounding allowed
    assert watch.steps == 0


def test_refused_seconds_are_handed_out_a_batch_at_a_time_for_dead_letters() -> None:
    """A sensor reporting zeros for a minute makes one dead letter per batch of seconds, not one per second; a lone
    bad second goes with the batch after it, and whatever is left goes when the connection ends."""
    zeros = [FeatureFrameV1(t_ms=T0 + i * 1000, gx=0.0, gy=0.0, gz=0.0, enmo_mg=1.0, n=50) for i in range(60)]
    batcher = Batcher("ann", "chest", "trunk", 10)
    letters = []
    for frame in zeros:
        assert batcher.add([frame]) == []
        taken = batcher.refusals()
        if taken:
            letters.append(taken)
    assert [len(t) for t in letters] == [10] * 6 and batcher.refused == 60
    assert [f.t_ms for f, _ in letters[1]] == [z.t_ms for z in zeros[10:20]]
    assert {reason for t in letters for _, reason in t} == {batch_problem([zeros[0]])}
    # one bad second among good ones: nothing until a batch's time has passed, then that second alone
    good = [FeatureFrameV1(t_ms=T0 + 100_000 + i * 1000, gx=0.0, gy=0.0, gz=1.0, enmo_mg=1.0, n=50) for i in range(12)]
    bad = good[1].model_copy(update={"gz": 0.0})
    batcher.add([good[0], bad])
    assert batcher.refusals() == []
    batcher.add(good[2:11])
    assert batcher.refusals() == []  # the latest second 9 s after it
    batcher.add(good[11:12])
    assert [f for f, _ in batcher.refusals()] == [bad]
    batcher.add([good[11].model_copy(update={"t_ms": good[11].t_ms + 1000, "gz": 0.0})])
    assert batcher.refusals() == [] and len(batcher.refusals(final=True)) == 1 and batcher.refusals(final=True) == []

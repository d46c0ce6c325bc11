from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from alerts.detect.bouts import Bout, BoutEnded, BoutStarted, BoutTracker
from alerts.detect.posture import Posture

T0 = 1_700_000_000_000


def run(postures: list[Posture], min_s: int = 10, gap_s: int = 60, t0: int = T0) -> list[BoutStarted | BoutEnded]:
    tracker = BoutTracker(min_s, gap_s)
    out: list[BoutStarted | BoutEnded] = []
    for i, p in enumerate(postures):
        out.extend(tracker.push(t0 + i * 1000, p))
    out.extend(tracker.close())
    return out


def ended(changes: list[BoutStarted | BoutEnded]) -> list[Bout]:
    return [c.bout for c in changes if isinstance(c, BoutEnded)]


def test_a_new_posture_counts_after_the_minimum_and_is_back_dated() -> None:
    changes = run(["sitting"] * 60 + ["standing"] * 30)
    started = [c for c in changes if isinstance(c, BoutStarted)]
    assert [(s.posture, s.start_ms, s.confirmed_ms) for s in started] == [
        ("sitting", T0, T0 + 9000),
        ("standing", T0 + 60_000, T0 + 69_000),
    ]
    assert ended(changes) == [Bout("sitting", T0, T0 + 60_000), Bout("standing", T0 + 60_000, T0 + 90_000)]


def test_a_short_interruption_does_not_break_the_bout() -> None:
    bouts = ended(run(["sitting"] * 100 + ["standing"] * 9 + ["sitting"] * 100))
    assert bouts == [Bout("sitting", T0, T0 + 209_000)]


def test_a_data_gap_ends_the_bout_at_the_last_second_seen() -> None:
    tracker = BoutTracker(10, 60)
    for i in range(100):
        tracker.push(T0 + i * 1000, "sitting")
    changes = tracker.push(T0 + 100_000 + 61_000, "sitting")
    assert ended(changes) == [Bout("sitting", T0, T0 + 100_000)]
    assert tracker.current is None


def test_duplicates_and_old_frames_are_ignored_and_counted() -> None:
    tracker = BoutTracker(10, 60)
    for i in range(20):
        tracker.push(T0 + i * 1000, "sitting")
    assert tracker.push(T0 + 5000, "standing") == [] and tracker.stale == 1


postures = st.lists(st.sampled_from(["sitting", "standing", "moving", "lying"]), min_size=1, max_size=400)


@given(postures, st.integers(min_value=1, max_value=30))
def test_bouts_are_contiguous_and_none_ended_by_a_change_is_shorter_than_the_minimum(
    seq: list[Posture], min_s: int
) -> None:
    bouts = ended(run(seq, min_s))
    for a, b in itertools.pairwise(bouts):
        assert a.end_ms == b.start_ms and a.posture != b.posture
        # the one exception: the steps that opened an upright period, then static standing (both upright)
        assert a.duration_s >= min_s or (a.posture, b.posture) == ("moving", "standing")
    if bouts:
        assert bouts[-1].end_ms == T0 + len(seq) * 1000


@given(postures, st.integers(min_value=1, max_value=50))
def test_streaming_in_any_chunking_equals_one_replay(seq: list[Posture], chunk: int) -> None:
    whole = run(seq)
    tracker = BoutTracker(10, 60)
    pieces: list[BoutStarted | BoutEnded] = []
    for start in range(0, len(seq), chunk):
        for i in range(start, min(start + chunk, len(seq))):
            pieces.extend(tracker.push(T0 + i * 1000, seq[i]))
    pieces.extend(tracker.close())
    assert pieces == whole


def test_switch_at_rewrites_the_current_bout_from_a_past_time() -> None:
    tracker = BoutTracker(10, 60)
    for i in range(100):
        tracker.push(T0 + i * 1000, "sitting")
    changes = tracker.switch_at(T0 + 40_000, "not_worn")
    assert ended(changes) == [Bout("sitting", T0, T0 + 40_000)]
    assert tracker.current == ("not_worn", T0 + 40_000)
    assert tracker.switch_at(T0 + 50_000, "not_worn") == []


UPRIGHT = ("standing", "moving")


def upright_runs(seq: list[Posture]) -> list[tuple[int, int]]:
    """(first, last + 1) second index of each run of consecutive upright seconds."""
    runs: list[tuple[int, int]] = []
    for i, p in enumerate(seq):
        if p in UPRIGHT:
            if runs and runs[-1][1] == i:
                runs[-1] = (runs[-1][0], i + 1)
            else:
                runs.append((i, i + 1))
    return runs


def test_standing_and_walking_in_turns_are_one_upright_period_that_ends_the_sitting_bout() -> None:
    cooking: list[Posture] = (["standing"] * 6 + ["moving"] * 4) * 90  # 15 min at the stove and the fridge
    bouts = ended(run(["sitting"] * 1500 + cooking + ["sitting"] * 600))
    assert bouts == [
        Bout("sitting", T0, T0 + 1_500_000),
        Bout("moving", T0 + 1_500_000, T0 + 2_400_000),  # upright with steps in it: not static standing
        Bout("sitting", T0 + 2_400_000, T0 + 3_000_000),
    ]


def test_an_upright_period_all_standing_is_a_static_standing_bout_and_a_short_shuffle_does_not_end_it() -> None:
    seq: list[Posture] = ["sitting"] * 60 + ["standing"] * 600 + ["moving"] * 5 + ["standing"] * 600
    assert ended(run(seq)) == [Bout("sitting", T0, T0 + 60_000), Bout("standing", T0 + 60_000, T0 + 1_265_000)]


def test_steps_to_the_desk_then_standing_still() -> None:
    seq: list[Posture] = ["sitting"] * 60 + ["moving"] * 4 + ["standing"] * 600
    assert ended(run(seq)) == [
        Bout("sitting", T0, T0 + 60_000),
        Bout("moving", T0 + 60_000, T0 + 64_000),
        Bout("standing", T0 + 64_000, T0 + 664_000),
    ]


def test_a_change_in_progress_is_pending_until_it_is_confirmed_or_undone() -> None:
    tracker = BoutTracker(10, 60)
    for i in range(100):
        tracker.push(T0 + i * 1000, "sitting")
    assert tracker.pending_since_ms is None
    for i in range(100, 105):
        tracker.push(T0 + i * 1000, "standing" if i % 2 else "moving")
        assert tracker.pending_since_ms == T0 + 100_000  # standing up, not confirmed yet
    tracker.push(T0 + 105_000, "sitting")
    assert tracker.pending_since_ms is None and tracker.current == ("sitting", T0)  # sat back down
    for i in range(106, 116):
        tracker.push(T0 + i * 1000, "standing")
    assert tracker.pending_since_ms is None and tracker.current == ("standing", T0 + 106_000)


sit_stand_walk = st.lists(
    st.tuples(st.sampled_from(["sitting", "standing", "moving"]), st.integers(min_value=1, max_value=40)),
    min_size=1,
    max_size=40,
)


@given(sit_stand_walk, st.integers(min_value=2, max_value=20))
def test_a_sitting_bout_never_holds_an_upright_period_of_the_minimum(
    runs: list[tuple[Posture, int]], min_s: int
) -> None:
    seq = [p for p, n in runs for _ in range(n)]
    sitting = [b for b in ended(run(seq, min_s)) if b.posture == "sitting"]
    for first, end in upright_runs(seq):
        if end - first >= min_s:
            a, b = T0 + first * 1000, T0 + end * 1000
            assert not any(s.start_ms < b and a < s.end_ms for s in sitting), (first, end, sitting)

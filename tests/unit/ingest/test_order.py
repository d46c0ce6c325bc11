"""Event-time order of a device's frames (ingest/order.py): what every receiver takes, skips and refuses."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from ingest.order import JUMP_MS, SAME_SECOND_MS, admit

T0 = 1_767_603_600_000


@dataclass(frozen=True)
class Frame:
    t_ms: int


def run(times: list[int]) -> tuple[list[int], list[int], int, int | None]:
    """Frames in arrival order -> (taken, refused as glitches, stale count, still held)."""
    last_ms: int | None = None
    held: Frame | None = None
    taken: list[int] = []
    refused: list[int] = []
    stale = 0
    for t in times:
        last_ms, held, admitted = admit(last_ms, held, Frame(t))
        taken += [f.t_ms for f in admitted.frames]
        stale += admitted.stale
        if admitted.refused is not None:
            refused.append(admitted.refused.t_ms)
            assert admitted.reason is not None and str(admitted.refused.t_ms) in admitted.reason
    return taken, refused, stale, None if held is None else held.t_ms


def test_one_frame_hours_ahead_in_a_backlog_is_refused_and_the_rest_taken() -> None:
    """Found after the named cases: a collector's replayed backlog (10:00-10:10, the host clock hours later) with
    one frame stamped 3 h ahead made every later frame of the backlog stale, in the alert service and the rollup."""
    seconds = [T0 + i * 1000 for i in range(600)]
    glitch = T0 + 3 * 3_600_000
    taken, refused, stale, held = run([*seconds[:300], glitch, *seconds[300:]])
    assert taken == seconds and refused == [glitch] and stale == 0 and held is None


def test_a_gap_is_a_gap_after_one_frame_of_delay() -> None:
    seconds = [T0 + i * 1000 for i in range(10)] + [T0 + 3_600_000 + i * 1000 for i in range(10)]
    taken, refused, stale, held = run(seconds)
    assert taken == seconds and refused == [] and stale == 0 and held is None
    # the first frame after the gap waits for the next
    taken, _, _, held = run(seconds[:11])
    assert taken == seconds[:10] and held == seconds[10]


def test_the_same_second_twice_is_counted_once() -> None:
    """Found after the named cases: frames less than a second apart (a resend stamped with another rounding) were
    each counted as a second."""
    taken, refused, stale, _ = run([T0, T0 + 400, T0 + 1000, T0 + 1499, T0 + 2000])
    assert taken == [T0, T0 + 1000, T0 + 2000] and stale == 2 and refused == []


def test_the_held_second_again_is_a_repeat_not_a_glitch() -> None:
    taken, refused, stale, held = run([T0, T0 + 90_000, T0 + 90_000, T0 + 91_000])
    assert taken == [T0, T0 + 90_000, T0 + 91_000] and stale == 1 and refused == [] and held is None


SECOND_STREAMS = st.lists(st.integers(1, 120), min_size=1, max_size=60).map(
    lambda gaps: [T0 + 1000 * sum(gaps[: i + 1]) for i in range(len(gaps))]
)


@given(SECOND_STREAMS, st.data())
def test_any_stream_with_repeats_and_one_glitch_takes_each_good_second_once(
    times: list[int], data: st.DataObject
) -> None:
    """A clean stream of seconds (gaps of any length), with earlier frames coming again anywhere and one frame
    jumping ahead of its neighbours: every good second is taken exactly once and in order, the glitch never."""
    arrivals = list(times)
    for _ in range(data.draw(st.integers(0, 10))):
        at = data.draw(st.integers(1, len(arrivals)))
        arrivals.insert(at, data.draw(st.sampled_from(arrivals[:at])))  # something already sent, again
    glitch = None
    if len(times) > 2 and data.draw(st.booleans()):
        i = data.draw(st.integers(1, len(times) - 2))
        before, after = times[i - 1], times[i + 1]
        # between two seconds that follow each other closely, a frame stamped far past both
        if after - before <= JUMP_MS:
            glitch = after + data.draw(st.integers(JUMP_MS + 1, 10 * 3_600_000))
            arrivals.insert(arrivals.index(times[i]) + 1, glitch)
    taken, refused, _, held = run(arrivals)
    everything = taken + ([] if held is None else [held])
    assert everything == sorted(set(everything))  # strictly in order: nothing taken twice
    assert glitch not in everything
    assert everything == times
    assert refused in ([], [glitch])


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=80))
def test_any_arrivals_are_taken_in_strict_order_half_a_second_apart(times: list[int]) -> None:
    taken, _, _, held = run([T0 + t for t in times])
    everything = taken + ([] if held is None else [held])
    assert all(b - a >= SAME_SECOND_MS for a, b in itertools.pairwise(everything))

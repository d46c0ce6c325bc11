"""Postural transitions from raw trunk samples (ingest.transitions): synthetic sit-to-stand and stand-to-sit, walking
and stillness, and any sample stream (property)."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ingest.ble.aggregate import SecondAggregator
from ingest.features import FloatArray, IntArray, seconds_from_samples
from ingest.transitions import REFRACTORY_S, Transition, TransitionDetector, detect
from ingest.wire import FeatureFrameV1
from tests.support.synthetic import rotation, segment

RATE_HZ = 50.0
STANDING_DEG = 3.0  # trunk inclination, forward +
SITTING_DEG = -15.0  # a sitter leans back against the chair
LEAN_DEG = 35.0  # the forward lean of the trunk during a transition (Najafi 2003: 20-60 deg)
DROP_M = 0.45  # the waist sinks or rises this much


def trunk(
    seconds: float, tilt_deg: FloatArray | float, vertical_g: FloatArray | float, rng: np.random.Generator
) -> FloatArray:
    """Body-frame samples (x forward, z up the trunk) of a trunk tilted forward by ``tilt_deg`` about the body's y
    axis, with a vertical (world) acceleration of ``vertical_g`` on top of gravity."""
    n = int(seconds * RATE_HZ)
    tilt = np.radians(np.broadcast_to(tilt_deg, (n,)))
    specific = 1.0 + np.broadcast_to(vertical_g, (n,))
    body = np.stack([np.sin(tilt) * specific, np.zeros(n), np.cos(tilt) * specific], axis=1)
    return body + rng.normal(0, 0.005, size=body.shape)


def movement(kind: str, rng: np.random.Generator, duration_s: float = 2.0) -> FloatArray:
    """A stand-to-sit or sit-to-stand: the waist moves DROP_M along a raised cosine while the trunk leans forward
    and comes back, from one posture's inclination to the other's."""
    n = int(duration_s * RATE_HZ)
    phase = np.arange(n) / n
    down = kind == "stand_to_sit"
    start, end = (STANDING_DEG, SITTING_DEG) if down else (SITTING_DEG, STANDING_DEG)
    tilt = start + (end - start) * phase + LEAN_DEG * np.sin(np.pi * phase)
    # z(t) = +-DROP_M (1 - cos(pi t / T)) / 2  ->  z'' = +-DROP_M (pi / T)^2 / 2 cos(pi t / T)
    accel = DROP_M * (math.pi / duration_s) ** 2 / 2 * np.cos(np.pi * phase) / 9.80665
    return trunk(duration_s, tilt, -accel if down else accel, rng)


def day(parts: list[tuple[str, float]], mounting: FloatArray, seed: int = 0) -> tuple[IntArray, FloatArray]:
    rng = np.random.default_rng(seed)
    blocks = []
    for what, seconds in parts:
        if what == "stand":
            blocks.append(trunk(seconds, STANDING_DEG, 0.0, rng))
        elif what == "sit":
            blocks.append(trunk(seconds, SITTING_DEG, 0.0, rng))
        elif what == "walk":
            blocks.append(segment("walk", seconds, RATE_HZ, np.eye(3), rng)[1])
        else:
            blocks.append(movement(what, rng))
    body = np.concatenate(blocks)
    t_ms = np.round(np.arange(len(body)) / RATE_HZ * 1000).astype(np.int64) + 1_767_600_000_000
    return t_ms, body @ mounting


def starts(parts: list[tuple[str, float]], t0_ms: int) -> dict[str, int]:
    out, at = {}, 0.0
    for what, seconds in parts:
        out[what] = t0_ms + int(at * 1000)
        at += seconds if what in ("stand", "sit", "walk") else 2.0
    return out


def test_a_stand_to_sit_and_a_sit_to_stand_are_found_whatever_the_mounting() -> None:
    parts = [("stand", 20), ("stand_to_sit", 2), ("sit", 30), ("sit_to_stand", 2), ("stand", 20)]
    for mounting in (np.eye(3), rotation(90, 0, 0), rotation(30, 140, 60)):
        t_ms, acc = day(parts, mounting)
        found = detect(t_ms, acc)
        at = starts(parts, int(t_ms[0]))
        assert [f.kind for f in found] == ["stand_to_sit", "sit_to_stand"], found
        for f in found:
            assert at[f.kind] - 1000 <= f.t_ms <= at[f.kind] + 2000  # within the movement
            assert 0.0 < f.confidence <= 1.0


def test_walking_standing_and_sitting_still_give_no_transition() -> None:
    t_ms, acc = day([("stand", 30), ("walk", 60), ("stand", 30)], rotation(10, 20, 30))
    assert detect(t_ms, acc) == []
    t_ms, acc = day([("sit", 120)], rotation(10, 20, 30))
    assert detect(t_ms, acc) == []


def test_a_lean_without_vertical_movement_is_no_transition() -> None:
    # picking something up from a desk while standing: the trunk leans forward and back, the waist stays put
    rng = np.random.default_rng(4)
    n = int(2 * RATE_HZ)
    lean = STANDING_DEG + LEAN_DEG * np.sin(np.pi * np.arange(n) / n)
    still = trunk(20, STANDING_DEG, 0.0, rng)
    body = np.concatenate([still, trunk(2, lean, 0.0, rng), trunk(20, STANDING_DEG, 0.0, rng)])
    t_ms = np.round(np.arange(len(body)) / RATE_HZ * 1000).astype(np.int64)
    assert detect(t_ms, body) == []


def test_the_frame_after_the_decision_carries_the_transition() -> None:
    parts = [("stand", 20), ("stand_to_sit", 2), ("sit", 30)]
    t_ms, acc = day(parts, np.eye(3))
    (expected,) = detect(t_ms, acc)
    frames = list(seconds_from_samples(t_ms, acc, transitions=TransitionDetector()))
    marked = [f for f in frames if f.trans is not None]
    assert len(marked) == 1
    (frame,) = marked
    assert frame.trans == expected.kind and frame.trans_conf == expected.confidence
    assert frame.t_ms - (frame.trans_lag_ms or 0) == expected.t_ms
    assert frame.trans_lag_ms is not None and 0 <= frame.trans_lag_ms <= 10_000
    # without a detector the frames are as before: no transition fields
    assert all(f.trans is None for f in seconds_from_samples(t_ms, acc))


def test_a_clock_set_back_starts_the_detector_again() -> None:
    parts = [("stand", 20), ("stand_to_sit", 2), ("sit", 30)]
    t_ms, acc = day(parts, np.eye(3))
    detector = TransitionDetector()
    detector.push(t_ms[:500] + 3_600_000, acc[:500])  # an hour ahead, then the right time
    found: list[Transition] = []
    for second in np.unique(t_ms // 1000):
        block = t_ms // 1000 == second
        found += detector.push(t_ms[block], acc[block])
    assert [f.kind for f in found] == ["stand_to_sit"]


samples = st.integers(0, 1500).flatmap(
    lambda n: st.tuples(
        hnp.arrays(np.int64, n, elements=st.integers(0, 200_000)),
        hnp.arrays(np.float64, (n, 3), elements=st.floats(allow_nan=True, allow_infinity=True, width=32)),
    )
)


@settings(max_examples=60, deadline=None)
@given(samples, st.booleans())
def test_any_sample_stream_gives_no_exception_and_at_most_one_transition_per_refractory_time(
    stream: tuple[IntArray, FloatArray], sort: bool
) -> None:
    t_ms, acc = stream
    if sort:
        t_ms = np.sort(t_ms)
    found = detect(t_ms, acc)
    times = [f.t_ms for f in found]
    assert all(b - a >= REFRACTORY_S * 1000 for a, b in itertools.pairwise(times))
    assert all(f.kind in ("sit_to_stand", "stand_to_sit") and 0.0 <= f.confidence <= 1.0 for f in found)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.2))
def test_a_noisy_day_of_postures_is_read_with_transitions_no_closer_than_the_refractory_time(
    seed: int, jitter: float
) -> None:
    rng = np.random.default_rng(seed)
    parts: list[tuple[str, float]] = []
    sitting = False
    for _ in range(6):
        parts.append(("sit" if sitting else "stand", float(rng.integers(5, 30))))
        parts.append(("sit_to_stand" if sitting else "stand_to_sit", 2.0))
        sitting = not sitting
    t_ms, acc = day(parts, rotation(*rng.uniform(0, 360, 3)), seed)
    acc = acc + rng.normal(0, jitter, size=acc.shape)
    found = detect(t_ms, acc)
    times = [f.t_ms for f in found]
    assert all(b - a >= REFRACTORY_S * 1000 for a, b in itertools.pairwise(times))


def test_the_collectors_aggregator_reports_the_same_transition_sample_by_sample() -> None:
    t_ms, acc = day([("stand", 20), ("stand_to_sit", 2), ("sit", 30)], rotation(0, 90, 0))
    (expected,) = detect(t_ms, acc)

    def aggregated(aggregator: SecondAggregator) -> list[FeatureFrameV1]:
        return [f for t, a in zip(t_ms.tolist(), acc.tolist(), strict=True) for f in aggregator.add(t, tuple(a))]

    marked = [f for f in aggregated(SecondAggregator(transitions=TransitionDetector())) if f.trans is not None]
    assert [(f.trans, f.t_ms - (f.trans_lag_ms or 0)) for f in marked] == [(expected.kind, expected.t_ms)]
    assert all(f.trans is None for f in aggregated(SecondAggregator()))  # a thigh or wrist sensor's: none

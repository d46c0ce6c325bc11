"""Sit-to-stand repetitions and tempo (alerts.detect.exercise.sit_to_stand) on emulated sets (tests/support/
exercise_models.py), any mounting; nothing from rest; the same result however the stream was chunked."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.detect.exercise.signal import SessionSamples
from alerts.detect.exercise.sit_to_stand import sit_to_stand_set
from tests.support import exercise_models as em
from tests.support.synthetic import rotation

MOUNTINGS = [np.eye(3), rotation(90, 0, 0), rotation(30, 140, 60), rotation(0, 90, 0)]


@pytest.mark.parametrize(("down_s", "up_s", "pause_s"), [(3, 3, 1), (2, 2, 0.5), (1.5, 1.5, 1), (4, 2, 1)])
@pytest.mark.parametrize("mounting", range(len(MOUNTINGS)))
def test_each_rep_is_counted_and_timed_whatever_the_tempo_and_mounting(
    down_s: float, up_s: float, pause_s: float, mounting: int
) -> None:
    rng = np.random.default_rng(mounting)
    body, truth = em.sit_to_stand_set(6, down_s, up_s, pause_s, rng)
    t_ms, acc = em.sensor(body, MOUNTINGS[mounting], rng)
    result = sit_to_stand_set(t_ms, acc, down_s=down_s, up_s=up_s)
    assert result.reps == 6
    assert [m.kind for m in result.movements] == [k for k, _, _ in truth]
    for m, (_, start_s, duration_s) in zip(result.movements, truth, strict=True):
        assert abs((m.start_ms - t_ms[0]) / 1000 - start_s) < 0.5
        assert abs(m.duration_s - duration_s) < 0.5
        assert not m.inferred
    assert result.within_tempo == 12


def test_a_rushed_rise_fails_the_tempo_check() -> None:
    rng = np.random.default_rng(7)
    body, _ = em.sit_to_stand_set(3, 3.0, 1.0, 1.0, rng)  # prescribed 3-1-3, the wearer rises in 1 s
    t_ms, acc = em.sensor(body, rotation(30, 140, 60), rng)
    result = sit_to_stand_set(t_ms, acc, down_s=3.0, up_s=3.0)
    assert result.reps == 3
    checks = {m.kind: c for m, c in zip(result.movements, result.tempo, strict=True)}
    assert checks["lowering"] is not None and checks["lowering"].within
    assert checks["rise"] is not None and not checks["rise"].within
    assert checks["rise"].error_s <= -1.0
    assert result.within_tempo == 3


def test_without_a_tempo_no_check_is_made() -> None:
    rng = np.random.default_rng(8)
    body, _ = em.sit_to_stand_set(2, 2.0, 2.0, 1.0, rng)
    t_ms, acc = em.sensor(body, np.eye(3), rng)
    result = sit_to_stand_set(t_ms, acc)
    assert result.reps == 2
    assert result.tempo == (None, None, None, None)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    seconds=st.floats(10, 90),
    sway_deg=st.floats(0.2, 2.0),
    shake_mg=st.floats(1, 30),
    posture=st.sampled_from([(3.0, 0.0), (-10.0, 0.0), (60.0, 0.0), (10.0, 70.0)]),
    angles=st.tuples(st.floats(0, 360), st.floats(0, 180), st.floats(0, 360)),
)
def test_no_repetition_is_counted_at_rest(
    seed: int,
    seconds: float,
    sway_deg: float,
    shake_mg: float,
    posture: tuple[float, float],
    angles: tuple[float, float, float],
) -> None:
    rng = np.random.default_rng(seed)
    body = em.hold(seconds, posture[0], posture[1], sway_deg, shake_mg, rng)
    t_ms, acc = em.sensor(body, rotation(*angles), rng)
    result = sit_to_stand_set(t_ms, acc, down_s=3, up_s=3)
    assert result.movements == ()
    assert result.reps == 0


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(1, 2_000), max_size=30), repeats=st.integers(0, 5), seed=st.integers(0, 100))
def test_the_count_does_not_depend_on_how_the_stream_was_chunked(cuts: list[int], repeats: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    body, _ = em.sit_to_stand_set(4, 2.5, 2.0, 1.0, rng)
    t_ms, acc = em.sensor(body, rotation(30, 140, 60), rng)
    whole = sit_to_stand_set(t_ms, acc, down_s=2.5, up_s=2.0)
    samples = SessionSamples()
    edges = sorted({0, len(t_ms), *(c * 7 % len(t_ms) for c in cuts)})
    for a, b in itertools.pairwise(edges):
        samples.push(t_ms[a:b], acc[a:b])
        if repeats and b > a:  # a resent chunk: duplicates, ignored
            samples.push(t_ms[max(a, b - repeats) : b], acc[max(a, b - repeats) : b])
    again = sit_to_stand_set(*samples.arrays(), down_s=2.5, up_s=2.0)
    assert again == whole
    assert whole.reps == 4

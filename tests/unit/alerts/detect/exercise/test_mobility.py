"""Spinal mobility (alerts.detect.exercise.mobility) on emulated flexion-extension swings (minimum-jerk paths,
tests/support/exercise_models.py): range, tempo, smoothness (log dimensionless jerk), nothing from rest, chunking."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.detect.exercise.mobility import MIN_JERK_LDLJ, ldlj, mobility
from alerts.detect.exercise.signal import SessionSamples
from tests.support import exercise_models as em
from tests.support.synthetic import rotation


def test_ldlj_of_a_minimum_jerk_profile_is_the_analytical_value() -> None:
    hz = 200.0
    phase = np.arange(0, 1 + 1 / (2 * hz), 1 / hz)
    velocity = 30 * phase**2 - 60 * phase**3 + 30 * phase**4  # d/ds of 10 s^3 - 15 s^4 + 6 s^5
    assert ldlj(velocity, hz) == pytest.approx(MIN_JERK_LDLJ, abs=0.1)


@pytest.mark.parametrize(("amplitude_deg", "swing_s"), [(20, 2.0), (40, 3.0), (12, 1.5)])
def test_range_and_tempo_of_smooth_swings_whatever_the_mounting(amplitude_deg: float, swing_s: float) -> None:
    for seed, mounting in enumerate([np.eye(3), rotation(30, 140, 60), rotation(90, 0, 0)]):
        rng = np.random.default_rng(seed)
        t_ms, acc = em.sensor(em.swings(amplitude_deg, swing_s, 10, rng), mounting, rng)
        found = mobility(t_ms, acc)
        assert found is not None
        assert found.range_deg == pytest.approx(amplitude_deg, abs=2.0)
        assert len(found.swings) == 10
        # timed between 10 % of the peak speed: 83 % of a minimum-jerk swing's time
        assert found.swing_s == pytest.approx(0.828 * swing_s, abs=0.15)
        for swing in found.swings:
            assert abs(swing.amplitude_deg) == pytest.approx(amplitude_deg, abs=2.0)
        assert found.ldlj is not None and found.ldlj > MIN_JERK_LDLJ - 1.5


def test_a_hesitant_movement_scores_less_smooth() -> None:
    rng = np.random.default_rng(11)
    smooth = mobility(*em.sensor(em.swings(30, 3.0, 8, rng), np.eye(3), rng))
    hesitant = mobility(*em.sensor(em.swings(30, 3.0, 8, rng, parts=3), np.eye(3), rng))
    assert smooth is not None and hesitant is not None
    assert smooth.ldlj is not None and hesitant.ldlj is not None
    assert hesitant.ldlj < smooth.ldlj - 2.0
    assert hesitant.range_deg == pytest.approx(smooth.range_deg, abs=2.0)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    seconds=st.floats(10, 90),
    sway_deg=st.floats(0.2, 1.0),
    angles=st.tuples(st.floats(0, 360), st.floats(0, 180), st.floats(0, 360)),
)
def test_no_swing_at_rest(seed: int, seconds: float, sway_deg: float, angles: tuple[float, float, float]) -> None:
    rng = np.random.default_rng(seed)
    t_ms, acc = em.sensor(em.hold(seconds, 3.0, 0.0, sway_deg, 5.0, rng), rotation(*angles), rng)
    found = mobility(t_ms, acc)
    assert found is not None
    assert found.swings == ()
    assert found.range_deg < 5.0


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(1, 3_000), max_size=30), seed=st.integers(0, 100))
def test_mobility_does_not_depend_on_how_the_stream_was_chunked(cuts: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    t_ms, acc = em.sensor(em.swings(25, 2.0, 6, rng), rotation(30, 140, 60), rng)
    samples = SessionSamples()
    edges = sorted({0, len(t_ms), *(c % len(t_ms) for c in cuts)})
    for a, b in itertools.pairwise(edges):
        samples.push(t_ms[a:b], acc[a:b])
    assert mobility(*samples.arrays()) == mobility(t_ms, acc)

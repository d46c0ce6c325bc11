"""Isometric holds (alerts.detect.exercise.hold) on emulated holds (tests/support/exercise_models.py): hold time,
steadiness, the expected inclination, and chunking."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.detect.exercise.hold import holds
from alerts.detect.exercise.signal import SessionSamples
from tests.support import exercise_models as em
from tests.support.synthetic import rotation

UP = np.array([0.0, 0.0, 1.0])


def side_plank_session(rng: np.random.Generator, shake_mg: tuple[float, float] = (5, 5)) -> np.ndarray:
    """Rest lying on the side (90 deg from upright), up into a side plank (70 deg), rest, the plank again."""
    return np.concatenate(
        [
            em.hold(10, 0, 90, 1.0, 3, rng),
            em.reposition(2, (0, 90), (10, 70), rng),
            em.hold(20, 10, 70, 0.8, shake_mg[0], rng),
            em.reposition(2, (10, 70), (0, 90), rng),
            em.hold(15, 0, 90, 1.0, 3, rng),
            em.reposition(2, (0, 90), (10, 70), rng),
            em.hold(25, 10, 70, 0.8, shake_mg[1], rng),
            em.reposition(2, (10, 70), (0, 90), rng),
            em.hold(5, 0, 90, 1.0, 3, rng),
        ]
    )


def test_holds_are_found_and_timed_whatever_the_mounting() -> None:
    for seed, mounting in enumerate([np.eye(3), rotation(30, 140, 60), rotation(90, 45, 10)]):
        rng = np.random.default_rng(seed)
        t_ms, acc = em.sensor(side_plank_session(rng), mounting, rng)
        found = holds(t_ms, acc, upright=UP @ mounting, inclination_deg=(50, 80))
        assert len(found) == 2, found
        # the slow ends of getting into and out of position (a minimum-jerk path) read as held: up to a second more
        for h, truth in zip(found, (20, 25), strict=True):
            assert 0 <= h.hold_s - truth < 1.0
        for h in found:
            assert h.inclination_deg is not None and abs(h.inclination_deg - 70.3) < 3
        every = holds(t_ms, acc)  # without the expected inclination the rests are holds too
        assert len(every) == 5


def test_a_shaking_hold_scores_less_steady() -> None:
    rng = np.random.default_rng(3)
    t_ms, acc = em.sensor(side_plank_session(rng, shake_mg=(5, 40)), np.eye(3), rng)
    first, second = holds(t_ms, acc, upright=UP, inclination_deg=(50, 80))
    assert second.shake_mg > 2 * first.shake_mg
    assert abs(first.sway_deg - second.sway_deg) < 0.5  # the same sway: the tremor is what changed


def test_more_sway_scores_more_sway() -> None:
    rng = np.random.default_rng(4)
    steady = em.hold(30, 10, 70, 0.5, 5, rng)
    swaying = em.hold(30, 10, 70, 2.5, 5, rng)
    t1, a1 = em.sensor(steady, np.eye(3), rng)
    t2, a2 = em.sensor(swaying, np.eye(3), rng)
    (h1,) = holds(t1, a1)
    (h2,) = holds(t2, a2)
    assert h2.sway_deg > 2 * h1.sway_deg
    assert abs(h1.hold_s - 30) < 0.5 and abs(h2.hold_s - 30) < 0.5


def test_moving_is_no_hold() -> None:
    rng = np.random.default_rng(5)
    t_ms, acc = em.sensor(em.swings(40, 1.5, 20, rng, rest_s=0.2, lead_s=0.5), np.eye(3), rng)
    assert holds(t_ms, acc) == []


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(1, 5_000), max_size=30), seed=st.integers(0, 100))
def test_holds_do_not_depend_on_how_the_stream_was_chunked(cuts: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    t_ms, acc = em.sensor(side_plank_session(rng), rotation(30, 140, 60), rng)
    whole = holds(t_ms, acc, upright=UP @ rotation(30, 140, 60), inclination_deg=(50, 80))
    samples = SessionSamples()
    edges = sorted({0, len(t_ms), *(c % len(t_ms) for c in cuts)})
    for a, b in itertools.pairwise(edges):
        samples.push(t_ms[a:b], acc[a:b])
    assert holds(*samples.arrays(), upright=UP @ rotation(30, 140, 60), inclination_deg=(50, 80)) == whole
    assert len(whole) == 2

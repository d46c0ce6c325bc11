"""The breathing reset (alerts.detect.exercise.breathing_reset) on modelled breathing with set inhale and exhale
times (tests/support/exercise_models.py): the target rate, which phase is longer, and the inhale cue."""

from __future__ import annotations

import numpy as np
import pytest

from alerts.detect.exercise.breathing_reset import breathing_reset
from tests.support import exercise_models as em
from tests.support.synthetic import rotation


def session(inhale_s: float, exhale_s: float, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    body, starts = em.breathing(120, inhale_s, exhale_s, rng)
    t_ms, acc = em.sensor(body, rotation(30 * seed, 140, 60), rng, noise_g=em.BREATHING_NOISE_G)
    return t_ms, acc, int(t_ms[0] + starts[3] * 1000)


@pytest.mark.parametrize(("inhale_s", "exhale_s"), [(4, 6), (3, 6), (3.5, 6.5)])
def test_slow_breathing_reaches_the_target(inhale_s: float, exhale_s: float) -> None:
    t_ms, acc, _ = session(inhale_s, exhale_s, 1)
    result = breathing_reset(t_ms, acc, target_per_min=7.0)
    assert result.breaths_per_min == pytest.approx(60 / (inhale_s + exhale_s), abs=0.3)
    assert result.reached


def test_breathing_at_twelve_a_minute_does_not_reach_six() -> None:
    t_ms, acc, _ = session(2.0, 3.0, 2)
    result = breathing_reset(t_ms, acc, target_per_min=6.0)
    assert result.breaths_per_min == pytest.approx(12.0, abs=0.3)
    assert not result.reached


@pytest.mark.parametrize("seed", range(4))
def test_the_inhale_cue_names_the_longer_exhale(seed: int) -> None:
    t_ms, acc, cue_ms = session(3.0, 7.0, seed)
    result = breathing_reset(t_ms, acc, target_per_min=7.0, inhale_at_ms=cue_ms)
    assert result.exhale_to_inhale is not None and result.exhale_to_inhale > 1.3
    no_cue = breathing_reset(t_ms, acc, target_per_min=7.0)
    assert no_cue.exhale_to_inhale is None
    assert no_cue.longer_to_shorter == result.exhale_to_inhale


def test_equal_phases_read_about_equal() -> None:
    t_ms, acc, cue_ms = session(2.5, 2.5, 5)
    result = breathing_reset(t_ms, acc, target_per_min=6.0, inhale_at_ms=cue_ms)
    assert result.exhale_to_inhale is not None and 0.75 < result.exhale_to_inhale < 1.33


def test_stillness_without_breathing_reaches_nothing() -> None:
    rng = np.random.default_rng(9)
    n = int(120 * em.RATE_HZ)
    body = em.body_samples(np.full(n, -60.0), np.zeros(n))
    t_ms, acc = em.sensor(body, np.eye(3), rng, noise_g=em.BREATHING_NOISE_G)
    result = breathing_reset(t_ms, acc, target_per_min=8.0)
    assert not result.reached

from __future__ import annotations

import numpy as np

from alerts.detect.calibration import angle_deg
from ingest.features import seconds_from_samples
from tests.support.synthetic import rotation, segment


def test_still_seconds_give_gravity_and_no_movement() -> None:
    rng = np.random.default_rng(1)
    t, acc = segment("stand", 10, 50, rotation(30, 40, 50), rng)
    frames = list(seconds_from_samples(t, acc))
    assert len(frames) == 10 and all(f.n == 50 for f in frames)
    assert all(f.enmo_mg < 20 and f.sd_mg is not None and f.sd_mg < 20 and f.steps == 0 for f in frames)
    g = frames[0].gravity
    assert g is not None and abs(np.linalg.norm(g) - 1.0) < 0.02


def test_walking_counts_about_two_steps_a_second_and_moves() -> None:
    rng = np.random.default_rng(2)
    t, acc = segment("walk", 30, 50, rotation(0, 0, 0), rng)
    frames = list(seconds_from_samples(t, acc))
    steps = sum(f.steps for f in frames)
    assert 45 <= steps <= 60  # 1.8 Hz for 30 s
    assert all(f.sd_mg is not None and f.sd_mg > 150 for f in frames)


def test_short_seconds_are_dropped_and_times_align_to_seconds() -> None:
    rng = np.random.default_rng(3)
    t, acc = segment("sit", 1.56, 50, rotation(0, 0, 0), rng, t0_s=100.5)
    frames = list(seconds_from_samples(t, acc))
    # 100.50-100.98: 25 samples; 101.00-101.98: 50; 102.00-102.04: 3, too few to count
    assert [(f.t_ms, f.n) for f in frames] == [(100_000, 25), (101_000, 50)]


def test_gravity_is_in_the_sensor_frame() -> None:
    rng = np.random.default_rng(4)
    mounting = rotation(10, 70, -20)
    t, acc = segment("stand", 3, 50, mounting, rng)
    (first, *_) = list(seconds_from_samples(t, acc))
    up_in_sensor = np.array([np.sin(np.radians(3)), 0, np.cos(np.radians(3))]) @ mounting
    assert first.gravity is not None and angle_deg(first.gravity, tuple(up_in_sensor)) < 1.0

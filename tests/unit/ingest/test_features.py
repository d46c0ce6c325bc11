from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from alerts.detect.calibration import angle_deg
from ingest.features import seconds_from_samples
from ingest.wire import MAX_ENMO_MG, MAX_SD_MG
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


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, (40, 3), elements=st.floats(-1e6, 1e6, allow_nan=False)),
)
def test_any_samples_give_frames_within_the_wire_bounds(acc: np.ndarray) -> None:
    """Samples beyond a +-16 g accelerometer (a wrong unit, a glitch) never make a frame the wire refuses: every
    value stays within ENMO's and the SD's physical bounds (the frame's own validation would raise otherwise)."""
    t = 1_796_500_800_000 + np.arange(40, dtype=np.int64) * 50  # two seconds at 20 Hz
    frames = list(seconds_from_samples(t, acc))
    assert len(frames) == 2
    assert all(f.enmo_mg <= MAX_ENMO_MG and f.sd_mg is not None and f.sd_mg <= MAX_SD_MG for f in frames)


def test_samples_at_the_range_edge_give_the_largest_enmo() -> None:
    t = 1_796_500_800_000 + np.arange(20, dtype=np.int64) * 50
    (frame,) = seconds_from_samples(t, np.full((20, 3), 1e9))
    assert MAX_ENMO_MG - 1 < frame.enmo_mg <= MAX_ENMO_MG and frame.gravity == (16.0, 16.0, 16.0)

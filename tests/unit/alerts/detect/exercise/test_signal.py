"""A session's samples gathered from chunks (alerts.detect.exercise.signal.SessionSamples): duplicates, bad values
and a flood past the bound are counted and refused; what is kept is the same however the stream was cut."""

from __future__ import annotations

import numpy as np

from alerts.detect.exercise.signal import SessionSamples, uniform


def test_duplicates_bad_values_and_a_flood_are_counted_not_kept() -> None:
    samples = SessionSamples(limit=100)
    t = np.arange(0, 60 * 20, 20, dtype=np.int64)
    acc = np.tile([0.0, 0.0, 1.0], (len(t), 1))
    acc[5] = np.nan
    samples.push(t[:40], acc[:40])
    samples.push(t[30:50], acc[30:50])  # ten resent
    samples.push(t[:1], acc[:1])  # an old one
    samples.push(t[50:], acc[50:])
    assert samples.invalid == 1
    assert samples.duplicates == 11
    assert len(samples) == 59
    samples.push(np.arange(2_000, 4_000, 10), np.tile([0.0, 0.0, 1.0], (200, 1)))
    assert len(samples) == 100
    assert samples.refused == 159
    kept_t, kept_acc = samples.arrays()
    assert np.all(np.diff(kept_t) > 0) and np.isfinite(kept_acc).all()


def test_mismatched_chunk_is_refused_whole() -> None:
    samples = SessionSamples()
    samples.push(np.arange(10), np.zeros((9, 3)))
    assert len(samples) == 0 and samples.invalid == 10


def test_too_sparse_or_short_a_stream_gives_no_grid() -> None:
    assert uniform(np.arange(0, 1_000, 10), np.zeros((100, 3))) is None  # one second
    assert uniform(np.arange(0, 10_000, 100), np.zeros((100, 3))) is None  # 10 Hz
    grid = uniform(np.arange(0, 10_000, 19), np.zeros((527, 3)))
    assert grid is not None and grid.hz == 50.0

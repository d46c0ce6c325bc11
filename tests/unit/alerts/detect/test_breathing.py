"""Breathing rate from a trunk accelerometer (issue 19, item 3): on modelled breathing with a heartbeat and sensor
noise, at any mounting; nothing rhythmic claimed from noise at rest; and on the real paced breathing recordings
(docs/exercises.md's table, reproduced)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.detect.breathing import breathing_rate
from alerts.evaluate.breathing import evaluate_breathing, markdown
from tests.support.data import dataset

ROOT = Path(__file__).resolve().parents[4]


def chest(bpm: float, seconds: float, *, rate_hz: float = 52.0, seed: int = 1, tilt_mg: float = 4.0) -> tuple:
    """A sensor on a breathing chest: gravity along a random mounting, tilted by ``tilt_mg`` at the breathing rate,
    a heartbeat (70 /min, 1 mg) and 2 mg of sensor noise; jittered sample times."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    t = np.sort(np.arange(n) / rate_hz + rng.normal(0, 0.002, n))
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    other = np.cross(axis, rng.normal(size=3))
    other /= np.linalg.norm(other)
    breath = tilt_mg / 1000 * np.sin(2 * np.pi * bpm / 60 * t)
    heart = 0.001 * np.sin(2 * np.pi * 70 / 60 * t) ** 15
    acc = axis * 1.0 + np.outer(breath + heart, other) + rng.normal(0, 0.002, (n, 3))
    return np.round(t * 1000).astype(np.int64), acc


@settings(max_examples=25)
@given(st.floats(4.0, 30.0), st.integers(0, 10_000))
def test_the_rate_of_modelled_breathing_is_found_at_any_mounting(bpm: float, seed: int) -> None:
    t_ms, acc = chest(bpm, 90.0, seed=seed)
    found = breathing_rate(t_ms, acc)
    assert found is not None
    assert abs(found.breaths_per_min - bpm) <= 0.3 and found.peak_share > 0.5


def test_noise_at_rest_holds_no_rhythm_and_a_short_window_no_rate() -> None:
    t_ms, acc = chest(6.0, 90.0, tilt_mg=0.0)  # no breathing: heartbeat and noise only
    found = breathing_rate(t_ms, acc)
    assert found is None or found.peak_share < 0.5
    short_t, short_acc = chest(3.0, 20.0)  # one breath in 20 s at 3/min: not two breaths
    assert breathing_rate(short_t, short_acc) is None
    assert breathing_rate(np.array([0, 10, 20], dtype=np.int64), np.zeros((3, 3))) is None


@pytest.mark.data
def test_the_documented_table_on_real_paced_breathing_is_reproduced() -> None:
    scores = evaluate_breathing(dataset("breathing-phone-thorax"))
    doc = (ROOT / "docs" / "exercises.md").read_text()
    table = re.search(r"<!-- breathing:begin -->\n(.*?)\n<!-- breathing:end -->", doc, re.S)
    assert table is not None and table.group(1).strip() == markdown(scores).strip()
    assert all(s.error_bpm is not None and abs(s.error_bpm) <= 1.0 for s in scores)

"""HRV readings on RR series with a known RMSSD, with and without artefacts (alerts/detect/hrv.py)."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.detect.hrv import Baseline, HrvReading, NoReading, baseline, corrected, rmssd, window


def alternating(n: int, low: float = 1000.0, high: float = 1040.0) -> list[float]:
    """RR intervals alternating ``low``, ``high``: every successive difference is 40 ms, so RMSSD is 40 ms."""
    return [low if i % 2 == 0 else high for i in range(n)]


def test_clean_series_gives_its_known_rmssd() -> None:
    reading = rmssd(alternating(300), end_ms=123)
    assert isinstance(reading, HrvReading)
    assert reading.rmssd_ms == pytest.approx(40.0)
    assert reading.ln_rmssd == pytest.approx(math.log(40.0))
    assert (reading.beats, reading.artefacts, reading.end_ms) == (300, 0, 123)


def test_random_series_matches_the_task_force_formula() -> None:
    rng = random.Random(7)
    rr = [950 + rng.gauss(0, 25) for _ in range(400)]
    expected = math.sqrt(sum((b - a) ** 2 for a, b in itertools.pairwise(rr)) / (len(rr) - 1))
    reading = rmssd(rr)
    assert isinstance(reading, HrvReading)
    assert reading.artefacts == 0
    assert reading.rmssd_ms == pytest.approx(expected)


def test_ectopic_and_missed_beats_are_dropped_and_leave_the_rmssd_as_it_was() -> None:
    rr = alternating(300)
    rr[50:52] = [600.0, 1440.0]  # a premature (ectopic) beat and its compensatory pause
    rr[120] = 2040.0  # a missed beat: two intervals as one
    rr[200] = 510.0  # a doubled beat: one interval in two
    reading = rmssd(rr)
    assert isinstance(reading, HrvReading)
    assert reading.artefacts == 4
    assert reading.rmssd_ms == pytest.approx(40.0)  # without correction these would make it about 170 ms


def test_an_artefact_as_the_first_interval_is_not_taken_as_normal() -> None:
    clean, dropped = corrected([2000.0, *alternating(100)])
    assert clean[0] is None and dropped == 1


def test_out_of_range_intervals_are_not_heartbeats() -> None:
    clean, dropped = corrected([100.0, 1000.0, 3000.0, 1010.0])
    assert clean == [None, 1000.0, None, 1010.0] and dropped == 2


def test_series_full_of_artefacts_is_no_reading_with_a_reason() -> None:
    rng = random.Random(3)
    reading = rmssd([rng.uniform(300, 2400) for _ in range(300)])
    assert isinstance(reading, NoReading)
    assert "artefacts" in reading.reason


def test_too_short_or_empty_or_flat_series_is_no_reading() -> None:
    assert isinstance(rmssd([]), NoReading)
    short = rmssd(alternating(30))
    assert isinstance(short, NoReading) and "at least 60" in short.reason
    flat = rmssd([1000.0] * 200)
    assert isinstance(flat, NoReading) and "did not vary" in flat.reason


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=400))
def test_any_series_gives_a_reading_or_a_reason_never_an_error(rr: list[float]) -> None:
    reading = rmssd(rr)
    if isinstance(reading, HrvReading):
        assert reading.rmssd_ms > 0 and math.isfinite(reading.ln_rmssd)
    else:
        assert reading.reason


def test_window_keeps_the_last_five_minutes() -> None:
    beats = [(i * 1000, 1000.0 + i) for i in range(600)]
    kept = window(beats)
    assert len(kept) == 300 and kept[-1] == 1599.0


def test_baseline_is_the_rolling_seven_day_mean_and_the_normal_range_half_an_sd() -> None:
    assert isinstance(baseline([4.0, 4.1]), NoReading)
    values = [9.9, 4.0, 4.2, 4.0, 4.2, 4.0, 4.2, 4.1]  # the oldest falls out of the 7 days
    base = baseline(values)
    assert isinstance(base, Baseline)
    assert base.days == 7
    assert base.mean == pytest.approx(4.1)
    sd = math.sqrt(sum((v - 4.1) ** 2 for v in values[1:]) / 6)
    assert base.sd == pytest.approx(sd)
    assert (base.low, base.high) == (pytest.approx(4.1 - sd / 2), pytest.approx(4.1 + sd / 2))

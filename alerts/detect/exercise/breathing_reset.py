"""The breathing reset verified from a trunk sensor (issue 19, item 3): did the breathing rate fall to the target,
and was the exhale longer than the inhale. Pure; the rate is ``alerts.detect.breathing`` (validated on real paced
breathing: docs/exercises.md).

- **Rate**: ``breathing_rate`` over the session's last ``SETTLED_S`` (the first breaths of a reset are still on
  their way down); the target is reached when the rate is at or under the target (slow breathing exercises aim at
  about 6 breaths per minute: Zaccaro et al., Front Hum Neurosci 12:353, 2018, a review; the prescription sets the
  number) and the rhythm is clear (the peak's share of the band at least ``MIN_PEAK_SHARE``).
- **Phases**: the acceleration low-passed at ``HARMONICS`` times the rate found and projected as in
  ``alerts.detect.breathing``, its turning points
  (``alerts.detect.exercise.mobility.turning_points``, hysteresis ``TURN_SHARE`` of its range) split each breath
  into a rising and a falling phase; their median durations.
- **Which phase is the exhale**: the sensor's tilt has no fixed sign (it depends on how the sensor lies on the
  chest, and the breathing signal is a principal component whose sign is arbitrary). So the exhale is named only
  when the session knows when one inhale began (``inhale_at_ms``: the guide's first "breathe in" cue): the phase
  the signal is in ``CUE_LAG_S`` later is the inhale. Without it, the ratio of the longer phase to the shorter is
  reported and ``exhale_to_inhale`` is None.

What the placement cannot see: a chest sensor sees the rib cage's tilt, not airflow, so a breath held in or out
reads as a long phase, and belly breathing with a still chest reads weakly (the peak's share falls); a sensor at the
waist sees the abdomen rise only when lying; walking or talking hides the rhythm (a low share: not judged).
Validated on modelled breathing with set inhale and exhale times (tests/unit/alerts/detect/exercise/), not on
recordings with per-breath times (the paced recordings give the pace, not the phases).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from alerts.detect.breathing import breathing_rate
from alerts.detect.exercise.mobility import turning_points
from alerts.detect.exercise.signal import low_pass, uniform
from ingest.features import FloatArray, IntArray

SETTLED_S = 60.0
MIN_PEAK_SHARE = 0.5  # alerts.detect.breathing: noise at rest stays under 0.5; paced breathing 0.7 and more
TURN_SHARE = 0.5
HARMONICS = 6  # the phase timing keeps the rate's first six harmonics: a short inhale keeps its shape
CUE_LAG_S = 1.0  # the wearer starts to breathe in about this long after the cue; the phase then is the inhale


@dataclass(frozen=True, slots=True)
class BreathingReset:
    """``breaths_per_min`` over the settled part (None when no rhythm was found), ``peak_share`` how rhythmic,
    ``reached`` whether it is at or under ``target_per_min`` with a clear rhythm, ``rising_s`` / ``falling_s`` the
    median phase durations of the breathing signal, ``exhale_to_inhale`` their ratio named by the inhale cue (None
    without a cue), ``longer_to_shorter`` the ratio of the longer phase to the shorter (>= 1)."""

    target_per_min: float
    breaths_per_min: float | None
    peak_share: float | None
    reached: bool
    rising_s: float | None
    falling_s: float | None
    exhale_to_inhale: float | None
    longer_to_shorter: float | None


def _phase_signal(t_ms: IntArray, acc_g: FloatArray, per_min: float) -> tuple[FloatArray, FloatArray] | None:
    """``(t_s, signal)``: the acceleration on a uniform grid low-passed at ``HARMONICS`` times the rate, projected on
    its direction of largest variance (as ``alerts.detect.breathing``, filtered before the projection so sensor noise
    does not steer the direction)."""
    grid = uniform(t_ms, acc_g)
    if grid is None:
        return None
    smooth = low_pass(grid.acc_g - grid.acc_g.mean(axis=0), HARMONICS * per_min / 60.0, grid.hz)
    _, _, vt = np.linalg.svd(smooth, full_matrices=False)
    return grid.t_ms / 1000.0, np.asarray(smooth @ vt[0], dtype=np.float64)


def breathing_reset(
    t_ms: IntArray, acc_g: FloatArray, target_per_min: float, inhale_at_ms: int | None = None
) -> BreathingReset:
    """A breathing reset's figures from its samples (``t_ms`` (n,) ascending ms, ``acc_g`` (n, 3) in g, a trunk
    sensor at rest) against ``target_per_min`` (breaths per minute)."""
    t = np.asarray(t_ms, dtype=np.int64)
    acc = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
    settled = t >= (int(t[-1]) - int(SETTLED_S * 1000)) if len(t) else np.zeros(0, dtype=bool)
    rate = breathing_rate(t[settled], acc[settled]) if len(t) else None
    reached = rate is not None and rate.peak_share >= MIN_PEAK_SHARE and rate.breaths_per_min <= target_per_min
    rising = falling = ratio = longer = None
    found = _phase_signal(t, acc, rate.breaths_per_min) if rate is not None else None
    if found is not None:
        grid_s, signal = found
        hz = 1.0 / float(grid_s[1] - grid_s[0])
        spread = float(np.subtract(*np.percentile(signal, [95, 5])))
        points = turning_points(signal, TURN_SHARE * spread) if spread > 0 else []
        up = [(a, b) for a, b in itertools.pairwise(points) if signal[b] > signal[a]]
        down = [(a, b) for a, b in itertools.pairwise(points) if signal[b] < signal[a]]
        if up and down:
            rising = float(np.median([(b - a) / hz for a, b in up]))
            falling = float(np.median([(b - a) / hz for a, b in down]))
            longer = max(rising, falling) / min(rising, falling)
            if inhale_at_ms is not None:
                cue_s = inhale_at_ms / 1000.0 + CUE_LAG_S
                if any(grid_s[a] <= cue_s < grid_s[b] for a, b in up):
                    ratio = falling / rising
                elif any(grid_s[a] <= cue_s < grid_s[b] for a, b in down):
                    ratio = rising / falling
    return BreathingReset(
        target_per_min,
        None if rate is None else round(rate.breaths_per_min, 2),
        None if rate is None else round(rate.peak_share, 3),
        reached,
        None if rising is None else round(rising, 2),
        None if falling is None else round(falling, 2),
        None if ratio is None else round(ratio, 2),
        None if longer is None else round(longer, 2),
    )

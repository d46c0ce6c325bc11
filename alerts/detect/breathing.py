"""Breathing rate from a trunk accelerometer (issue 19: verifying a breathing reset). Pure: samples in, a rate out.

Breathing tilts a sensor lying on the chest or clipped to the trunk by a few milli-g at the breathing rate; the
heartbeat and movement add faster parts. The estimate:

1. the acceleration (g, any mounting) resampled to a uniform ``GRID_HZ`` grid by linear interpolation (phones and
   BLE sensors deliver jittered times);
2. each axis's mean removed, then smoothed by a moving average of ``SMOOTH_S`` (passes breathing up to about
   40 breaths/min, removes the heartbeat's sharp parts);
3. the breathing signal is the projection on the direction of largest variance (principal component), so no axis
   must be known;
4. its power spectrum (Hann window, zero-padded to a 0.05 breaths/min grid) is searched for the highest peak between
   ``MIN_BPM`` and ``MAX_BPM``; the peak is refined by parabolic interpolation.

``breathing_rate`` also says how clearly the peak stands out (its share of the band's power): a low share means the
recording holds no steady breathing rhythm (movement, talking), and the caller should not judge the exercise by it.
Limits: a steady rhythm over the window (at least two breaths) is assumed; exhale / inhale ratios are not measured
here; a sensor moving with the body (walking) swamps the signal. Validated on real paced breathing:
``python -m alerts.evaluate.breathing`` and docs/exercises.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.features import FloatArray, IntArray

GRID_HZ = 10.0
SMOOTH_S = 0.5
MIN_BPM = 2.0  # a breath every 30 s: slower than any breathing exercise
MAX_BPM = 40.0  # faster is no calm breathing (panting); the smoothing keeps up to about this
MIN_BREATHS = 2  # the window must hold at least this many breaths at the rate found


@dataclass(frozen=True, slots=True)
class BreathingRate:
    breaths_per_min: float
    peak_share: float  # the peak's share of the power between MIN_BPM and MAX_BPM (0-1): how rhythmic
    seconds: float  # the span the estimate covers


def breathing_signal(t_ms: IntArray, acc_g: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """Steps 1-3 above: ``(t_s, signal)`` on the ``GRID_HZ`` grid (seconds; the projection, in g, whose sign is the
    principal component's and so arbitrary), or None for fewer than four distinct samples or no motion."""
    t_s, first = np.unique(np.asarray(t_ms, dtype=np.float64) / 1000.0, return_index=True)
    if len(t_s) < 4:
        return None
    acc = np.asarray(acc_g, dtype=np.float64)[first]
    grid = np.arange(t_s[0], t_s[-1], 1.0 / GRID_HZ)
    if len(grid) < 4:
        return None
    resampled = np.column_stack([np.interp(grid, t_s, acc[:, axis]) for axis in range(3)])
    centred = resampled - resampled.mean(axis=0)
    width = max(1, round(SMOOTH_S * GRID_HZ))
    kernel = np.ones(width) / width
    smooth = np.column_stack([np.convolve(centred[:, axis], kernel, mode="same") for axis in range(3)])
    _, _, vt = np.linalg.svd(smooth, full_matrices=False)
    signal = smooth @ vt[0]
    if not np.any(signal):
        return None
    return grid, signal


def breathing_rate(t_ms: IntArray, acc_g: FloatArray) -> BreathingRate | None:
    """The breathing rate of a window of samples (``t_ms`` ascending, repeats allowed; ``acc_g`` (n, 3) in g), or
    None when the window is too short to hold ``MIN_BREATHS`` breaths at the slowest rate found, or has no motion."""
    found = breathing_signal(t_ms, acc_g)
    if found is None:
        return None
    grid, signal = found
    seconds = float(grid[-1] - grid[0])
    window = np.hanning(len(signal))
    resolution_hz = 0.05 / 60.0
    n_fft = max(len(signal), int(2 ** np.ceil(np.log2(GRID_HZ / resolution_hz))))
    power = np.abs(np.fft.rfft(signal * window, n=n_fft)) ** 2
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / GRID_HZ)
    band = (freqs >= MIN_BPM / 60.0) & (freqs <= MAX_BPM / 60.0)
    if not np.any(band) or power[band].sum() == 0:
        return None
    index = int(np.flatnonzero(band)[np.argmax(power[band])])
    peak_hz = float(freqs[index])
    if 0 < index < len(power) - 1:  # parabolic interpolation of the peak on the log power
        a, b, c = np.log(power[index - 1 : index + 2] + 1e-30)
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        peak_hz += float(shift) * float(freqs[1] - freqs[0])
    if seconds * peak_hz < MIN_BREATHS:
        return None
    # the peak's share: the power within +-10 % of the peak frequency over the whole band's
    near = band & (np.abs(freqs - peak_hz) <= 0.1 * peak_hz)
    share = float(power[near].sum() / power[band].sum())
    return BreathingRate(peak_hz * 60.0, share, seconds)

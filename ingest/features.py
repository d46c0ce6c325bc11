"""Edge features: raw accelerometer samples -> one feature record per second. Pure (numpy), no clock reads.

Per second (samples whose timestamp falls in [t, t + 1 s)), as a wire frame (ingest.wire.FeatureFrameV1):
- ``gx, gy, gz``: mean acceleration in g, in the sensor's own axes: the gravity direction (a one-second low-pass);
  posture angles are computed from it after calibration (alerts.detect.calibration), so the mounting need not be known;
- ``enmo_mg``: mean of max(|a| - 1 g, 0) (Euclidean norm minus one, van Hees et al. 2013), in mg;
- ``sd_mg``: standard deviation of |a| in mg (movement intensity, robust to calibration offsets);
- ``steps``: peaks of |a| above 1.1 g at least 0.25 s apart (a coarse pedometer for walking seconds);
- ``n``: samples in the second (quality: a second with few samples is less certain);
- ``trans``, ``trans_conf``, ``trans_lag_ms``: with a ``TransitionDetector`` (trunk sensors), a sit-to-stand or
  stand-to-sit that the second's samples decided (ingest.transitions), in the first frame given after it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from ingest.transitions import Transition, TransitionDetector
from ingest.wire import ACCEL_RANGE_G, FeatureFrameV1

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

STEP_PEAK_G = 1.1
STEP_REFRACTORY_S = 0.25


def seconds_from_samples(
    t_ms: IntArray, acc_g: FloatArray, *, min_samples: int = 5, transitions: TransitionDetector | None = None
) -> Iterator[FeatureFrameV1]:
    """Samples (``t_ms`` increasing, ``acc_g`` shape (n, 3) in g) -> one wire frame per second that has at least
    ``min_samples`` samples. Seconds are aligned to whole seconds of the timestamps. With ``transitions`` (kept by
    the caller across calls, one per sensor), each second's samples also go through the transition detector and a
    transition it decides is reported in the next frame given (at most ``MAX_TRANSITION_LAG_MS`` after its peak)."""
    if len(t_ms) == 0:
        return
    pending: list[Transition] = []
    second_index = t_ms // 1000
    # boundaries of runs of equal second index
    cuts = np.flatnonzero(np.diff(second_index)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(t_ms)]))
    # a sample beyond the accelerometer's range (a wrong unit, a glitch) is taken at the range's edge, as the sensor
    # itself would give it: every frame stays within the wire's bounds (ingest.wire.MAX_ENMO_MG, MAX_SD_MG)
    acc_g = np.clip(acc_g, -ACCEL_RANGE_G, ACCEL_RANGE_G)
    magnitude = np.sqrt(np.einsum("ij,ij->i", acc_g, acc_g))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        n = end - start
        if transitions is not None:
            pending += transitions.push(t_ms[start:end], acc_g[start:end])
        if n < min_samples:
            continue
        block = acc_g[start:end]
        mag = magnitude[start:end]
        mean = block.mean(axis=0)
        frame_ms = int(second_index[start]) * 1000
        reported = _report(pending, frame_ms)
        pending = []
        yield FeatureFrameV1(
            t_ms=frame_ms,
            gx=float(mean[0]),
            gy=float(mean[1]),
            gz=float(mean[2]),
            enmo_mg=float(np.maximum(mag - 1.0, 0.0).mean() * 1000.0),
            sd_mg=float(mag.std() * 1000.0),
            steps=_count_steps(t_ms[start:end], mag),
            n=n,
            **reported,
        )


MAX_TRANSITION_LAG_MS = 10_000


def _report(pending: list[Transition], frame_ms: int) -> dict[str, object]:
    """The wire fields of the latest transition still recent enough to report in the frame of ``frame_ms``."""
    recent = [t for t in pending if 0 <= frame_ms - t.t_ms <= MAX_TRANSITION_LAG_MS]
    if not recent:
        return {}
    latest = recent[-1]
    return {"trans": latest.kind, "trans_conf": latest.confidence, "trans_lag_ms": frame_ms - latest.t_ms}


def _count_steps(t_ms: IntArray, magnitude: FloatArray) -> int:
    above = magnitude > STEP_PEAK_G
    if not above.any():
        return 0
    # rising edges of "above the threshold", at least the refractory time apart (a peak already above the
    # threshold when the second starts was counted in the second before)
    rising = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    steps, last = 0, -(10**12)
    for index in rising.tolist():
        if t_ms[index] - last >= STEP_REFRACTORY_S * 1000:
            steps += 1
            last = int(t_ms[index])
    return steps

"""Shared signal steps of the exercise detectors: the session's samples gathered from any chunking, resampled to a
uniform grid, the trunk's gravity direction and its angular speed. Pure.

Sensors deliver jittered sample times (phones, BLE notifications in bursts); the detectors work on a uniform
``GRID_HZ`` grid made by linear interpolation, so their figures do not depend on the sensor's rate (25 Hz and up).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ingest.features import FloatArray, IntArray
from ingest.wire import MAX_SESSION_STREAM_SAMPLES

GRID_HZ = 50.0
MIN_RATE_HZ = 20.0  # fewer samples than this per second: the session stream is too sparse to verify anything
STANDARD_GRAVITY = 9.80665  # m/s^2 per g
# A session stream is bounded (docs/wire.md): 60 minutes at 104 Hz. More is refused (counted), never stored.
MAX_SESSION_SAMPLES = MAX_SESSION_STREAM_SAMPLES

BoolArray = npt.NDArray[np.bool_]


@dataclass
class SessionSamples:
    """A session's samples gathered chunk by chunk in arrival order. Keeps strictly increasing times only (a repeat
    or an older sample is a duplicate from a resend: ``duplicates``), drops non-finite samples (``invalid``), and
    refuses samples past ``MAX_SESSION_SAMPLES`` (``refused``). The result does not depend on how the stream was cut
    into chunks."""

    limit: int = MAX_SESSION_SAMPLES
    duplicates: int = 0
    invalid: int = 0
    refused: int = 0
    _t: list[IntArray] = field(default_factory=list)
    _acc: list[FloatArray] = field(default_factory=list)
    _count: int = 0
    _last_ms: int | None = None

    def push(self, t_ms: IntArray, acc_g: FloatArray) -> None:
        """``t_ms`` (n,) sample times in ms, ``acc_g`` (n, 3) acceleration in g, of one chunk."""
        t = np.asarray(t_ms, dtype=np.int64).reshape(-1)
        acc = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
        if len(t) != len(acc):
            self.invalid += max(len(t), len(acc))
            return
        finite = np.isfinite(acc).all(axis=1)
        self.invalid += int((~finite).sum())
        t, acc = t[finite], acc[finite]
        if len(t) == 0:
            return
        running = np.maximum.accumulate(t)
        keep = np.ones(len(t), dtype=bool)
        keep[1:] = t[1:] > running[:-1]
        if self._last_ms is not None:
            keep &= t > self._last_ms
        self.duplicates += int((~keep).sum())
        t, acc = t[keep], acc[keep]
        room = self.limit - self._count
        if len(t) > room:
            self.refused += len(t) - room
            t, acc = t[:room], acc[:room]
        if len(t) == 0:
            return
        self._t.append(t)
        self._acc.append(acc)
        self._count += len(t)
        self._last_ms = int(t[-1])

    def __len__(self) -> int:
        return self._count

    def arrays(self) -> tuple[IntArray, FloatArray]:
        """All kept samples: ``t_ms`` (n,) strictly increasing, ``acc_g`` (n, 3)."""
        if not self._t:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 3), dtype=np.float64)
        return np.concatenate(self._t), np.concatenate(self._acc)


@dataclass(frozen=True, slots=True)
class Grid:
    """Samples on a uniform grid: ``t_ms`` (n,) float ms, ``acc_g`` (n, 3) in g, ``hz`` the grid's rate."""

    t_ms: FloatArray
    acc_g: FloatArray
    hz: float

    def __len__(self) -> int:
        return len(self.t_ms)


def uniform(t_ms: IntArray, acc_g: FloatArray, hz: float = GRID_HZ) -> Grid | None:
    """The samples (``t_ms`` ascending, ``acc_g`` (n, 3) in g) linearly interpolated onto a ``hz`` grid, or None when
    they are fewer than two seconds' worth or sparser than ``MIN_RATE_HZ`` on average."""
    t, first = np.unique(np.asarray(t_ms, dtype=np.int64), return_index=True)
    if len(t) < 2:
        return None
    span_s = (t[-1] - t[0]) / 1000.0
    if span_s < 2.0 or (len(t) - 1) / span_s < MIN_RATE_HZ:
        return None
    acc = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)[first]
    grid = np.arange(float(t[0]), float(t[-1]), 1000.0 / hz)
    tf = t.astype(np.float64)
    resampled = np.column_stack([np.interp(grid, tf, acc[:, axis]) for axis in range(3)])
    return Grid(grid, resampled, hz)


def low_pass(x: FloatArray, cutoff_hz: float, hz: float, order: int = 4) -> FloatArray:
    """Zero-phase Butterworth low-pass along axis 0 (``scipy.signal.sosfiltfilt``): no delay, so movement onsets and
    ends keep their times. Short inputs are returned as they are."""
    # imported here: scipy.signal is ~100 MB resident, and only a running exercise session needs it (the alert
    # service at 10,000 wearers stays under issue 18's 200 MB: bench/alerts_scale.py)
    from scipy.signal import butter, sosfiltfilt  # noqa: PLC0415

    sos = butter(order, cutoff_hz, btype="low", fs=hz, output="sos")
    if len(x) <= 3 * (2 * len(sos) + 1):
        return np.asarray(x, dtype=np.float64)
    return np.asarray(sosfiltfilt(sos, x, axis=0), dtype=np.float64)


def unit(v: FloatArray) -> FloatArray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.asarray(v / np.where(norm > 0, norm, 1.0), dtype=np.float64)


def angle_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    """Angle(s) between vectors along the last axis, in degrees."""
    return np.asarray(np.degrees(np.arccos(np.clip(np.sum(unit(a) * unit(b), axis=-1), -1.0, 1.0))))


def gravity_direction(grid: Grid, cutoff_hz: float) -> FloatArray:
    """The trunk's gravity direction (n, 3) unit vectors: the acceleration low-passed at ``cutoff_hz`` (what is left
    of a slow trunk movement once the body's own accelerations are filtered out)."""
    return unit(low_pass(grid.acc_g, cutoff_hz, grid.hz))


def angular_speed_deg_s(direction: FloatArray, hz: float) -> FloatArray:
    """How fast the gravity direction turns (n,), degrees per second, by central differences."""
    n = len(direction)
    if n < 3:
        return np.zeros(n)
    step = angle_deg(direction[2:], direction[:-2]) * hz / 2.0
    return np.concatenate(([step[0]], step, [step[-1]]))


def runs(mask: BoolArray, min_gap: int = 0) -> list[tuple[int, int]]:
    """Index runs ``[start, end)`` where ``mask`` holds, runs separated by fewer than ``min_gap`` samples merged."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], m.astype(np.int8), [0]))))
    pairs = list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
    merged: list[tuple[int, int]] = [pairs[0]]
    for s, e in pairs[1:]:
        if s - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged

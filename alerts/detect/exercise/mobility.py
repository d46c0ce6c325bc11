"""Spinal mobility (pelvic tilts, cat-cow, trunk flexion-extension) from a trunk sensor during a session (issue 19,
item 3): range of trunk inclination, tempo and smoothness. Pure.

1. The samples on a uniform grid; the trunk's gravity direction low-passed at ``CUTOFF_HZ`` (mobility movements last
   one to several seconds; faster parts are the body's own accelerations and noise).
2. The **movement angle**: the direction's tilt from its session median, signed along the main axis the tilt moves
   in (the first principal component of the deviations): flexion one way, extension the other, whatever the
   mounting. A trunk sensor measures the segment it sits on: at the lower back, pelvic tilt and lumbar motion; high
   on the chest, thoracic motion plus what the pelvis carries.
3. **Swings**: the angle's turning points with a hysteresis of ``max(MIN_SWING_DEG, TURN_SHARE x range)``; each
   swing from one turning point to the next is one movement (flexion or extension).
4. **Range**: the 95th minus the 5th percentile of the angle (deg), so one jolt does not set it; **tempo**: the
   median swing duration (s; the swing proper: from its speed's first passing ``ONSET_SHARE`` of its peak to its
   last, for a minimum-jerk swing 83 % of its whole time) and cycles per minute (two swings a cycle, over the time
   from the first swing's start to the last one's end).
5. **Smoothness**: the log dimensionless jerk of each swing's angular velocity, LDLJ = -ln(T^3 / v_peak^2 *
   integral of (d^2 v / dt^2)^2 dt) (Balasubramanian, Melendez-Calderon, Burdet, IEEE TBME 59(8):2126, 2012;
   Balasubramanian et al., J NeuroEng Rehabil 12:112, 2015, the form for velocity profiles): higher (less negative)
   is smoother; a minimum-jerk swing scores ``MIN_JERK_LDLJ`` (-ln(720 / 1.875^2), about -5.3), the best a
   point-to-point movement does; hesitations and corrections lower it. The median over the swings is reported.

Validated only on emulated movements (tests/support/exercise_models.py: minimum-jerk swings, Flash and Hogan,
J Neurosci 5(7):1688, 1985, with sub-movements and tremor), not on labelled recordings: docs/exercises.md.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from alerts.detect.exercise.signal import gravity_direction, low_pass, uniform, unit
from ingest.features import FloatArray, IntArray

CUTOFF_HZ = 3.0
MIN_SWING_DEG = 8.0  # smaller is not a mobility movement (quiet standing sways about 0.5 deg RMS, breathing less)
TURN_SHARE = 0.3
ONSET_SHARE = 0.1  # a swing starts and ends where its angular speed passes 10 % of its peak
# the angular velocity for timing and smoothness: a mobility swing (1-5 s) has next to nothing above 2 Hz, noise does
SMOOTHNESS_CUTOFF_HZ = 2.0
MIN_SWING_S = 0.4
MAX_SWING_S = 20.0
# A minimum-jerk movement's LDLJ (velocity form): T^3 / v_peak^2 * integral (v'')^2 for
# x = D (10 s^3 - 15 s^4 + 6 s^5), s = t / T, is 720 D^2 / T^5 * T^3 / (1.875 D / T)^2 = 720 / 1.875^2 = 204.8.
MIN_JERK_LDLJ = -float(np.log(720.0 / 1.875**2))


@dataclass(frozen=True, slots=True)
class Swing:
    """One flexion or extension: sample times (ms), ``amplitude_deg`` (signed along the movement axis),
    ``duration_s``, ``ldlj`` its log dimensionless jerk."""

    start_ms: int
    end_ms: int
    amplitude_deg: float
    duration_s: float
    ldlj: float


@dataclass(frozen=True, slots=True)
class Mobility:
    """A mobility session: ``range_deg`` (5th to 95th percentile of the movement angle), the swings, ``cycles``
    (swings / 2), ``swing_s`` the median swing duration, ``cycles_per_min`` (rests included), ``ldlj`` the median
    swing smoothness (None without swings)."""

    range_deg: float
    swings: tuple[Swing, ...]
    cycles: float
    swing_s: float | None
    cycles_per_min: float | None
    ldlj: float | None


def movement_angle(t_ms: IntArray, acc_g: FloatArray) -> tuple[FloatArray, FloatArray, float] | None:
    """``(t_ms, angle_deg, hz)`` on a uniform grid: the trunk's signed tilt along its main movement axis, or None
    for too few samples."""
    grid = uniform(t_ms, acc_g)
    if grid is None:
        return None
    direction = gravity_direction(grid, CUTOFF_HZ)
    centre = unit(np.median(direction, axis=0))
    deviation = direction - np.outer(direction @ centre, centre)
    _, _, vt = np.linalg.svd(deviation - deviation.mean(axis=0), full_matrices=False)
    axis = vt[0] - (vt[0] @ centre) * centre
    axis = axis / (np.linalg.norm(axis) or 1.0)
    angle = np.degrees(np.arctan2(direction @ axis, direction @ centre))
    return grid.t_ms, np.asarray(angle, dtype=np.float64), grid.hz


def turning_points(angle: FloatArray, hysteresis_deg: float) -> list[int]:
    """Indices of the alternating extremes of ``angle``: each differs from the one before by ``hysteresis_deg`` or
    more (the classic hysteresis peak detector), so small wobbles on the way are no turning points."""
    points: list[int] = []
    if len(angle) == 0:
        return points
    lowest = highest = extreme = 0
    rising = 0  # +1 rising, -1 falling, 0 not known yet
    for i in range(1, len(angle)):
        x = float(angle[i])
        if rising == 0:
            lowest = i if x < angle[lowest] else lowest
            highest = i if x > angle[highest] else highest
            if x - angle[lowest] >= hysteresis_deg:
                points.append(lowest)
                rising, extreme = 1, i
            elif angle[highest] - x >= hysteresis_deg:
                points.append(highest)
                rising, extreme = -1, i
        elif rising * (x - angle[extreme]) > 0:
            extreme = i
        elif rising * (angle[extreme] - x) >= hysteresis_deg:
            points.append(extreme)
            rising, extreme = -rising, i
    if points and abs(float(angle[extreme] - angle[points[-1]])) >= hysteresis_deg:
        points.append(extreme)
    return points


def ldlj(velocity: FloatArray, hz: float) -> float:
    """Log dimensionless jerk of one movement's velocity profile (any unit; the measure is dimensionless)."""
    duration = len(velocity) / hz
    peak = float(np.max(np.abs(velocity)))
    if peak == 0 or len(velocity) < 5:
        return float("nan")
    second = np.gradient(np.gradient(velocity, 1.0 / hz), 1.0 / hz)
    integral = float(np.sum(second**2) / hz)
    return -float(np.log(duration**3 / peak**2 * integral)) if integral > 0 else float("nan")


def mobility(t_ms: IntArray, acc_g: FloatArray) -> Mobility | None:
    """A mobility session's range, swings, tempo and smoothness from its samples (``t_ms`` (n,) ascending ms,
    ``acc_g`` (n, 3) in g, 20 Hz or more), or None for fewer than two seconds of samples."""
    found = movement_angle(t_ms, acc_g)
    if found is None:
        return None
    t, angle, hz = found
    p5, p95 = np.percentile(angle, [5, 95])
    spread = float(p95 - p5)
    points = turning_points(angle, max(MIN_SWING_DEG, TURN_SHARE * spread))
    velocity = np.gradient(low_pass(angle, SMOOTHNESS_CUTOFF_HZ, hz), 1.0 / hz)
    swings: list[Swing] = []
    for a0, b0 in itertools.pairwise(points):
        # the movement proper: where its speed exceeds ONSET_SHARE of its peak (the rest at either end is no part)
        speed = np.abs(velocity[a0 : b0 + 1])
        moving = np.flatnonzero(speed >= ONSET_SHARE * speed.max())
        a, b = a0 + int(moving[0]), a0 + int(moving[-1])
        duration = (b - a) / hz
        if not MIN_SWING_S <= duration <= MAX_SWING_S:
            continue
        swings.append(
            Swing(
                int(t[a]),
                int(t[b]),
                round(float(angle[b0] - angle[a0]), 2),
                round(duration, 3),
                round(ldlj(velocity[a : b + 1], hz), 3),
            )
        )
    durations = [s.duration_s for s in swings]
    smooth = [s.ldlj for s in swings if np.isfinite(s.ldlj)]
    swing_s = float(np.median(durations)) if durations else None
    span_min = (swings[-1].end_ms - swings[0].start_ms) / 60_000 if swings else 0.0
    return Mobility(
        round(spread, 2),
        tuple(swings),
        len(swings) / 2,
        None if swing_s is None else round(swing_s, 3),
        round(len(swings) / 2 / span_min, 2) if span_min > 0 else None,
        round(float(np.median(smooth)), 3) if smooth else None,
    )

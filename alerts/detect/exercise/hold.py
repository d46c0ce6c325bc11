"""Isometric holds (side plank, bird-dog, wall sit) from a trunk sensor during a session (issue 19, item 3). Pure.

A hold is the trunk kept in one orientation with little movement. The samples go on a uniform grid; the trunk's
gravity direction is the acceleration low-passed at ``DIRECTION_CUTOFF_HZ``. A sample is **held** when the trunk
turns slower than ``STILL_DEG_S`` and the acceleration's fast part (above ``SWAY_CUTOFF_HZ``) is under
``STILL_RMS_G`` over the surrounding second; a hold is a run of held samples (breaks shorter than ``MERGE_S``
joined: a wobble corrected is still one hold) that stays within ``DRIFT_DEG`` of its first second's direction, of at
least ``MIN_HOLD_S``. With the wearer's calibrated upright direction and an expected trunk inclination range (a side
plank's trunk is near horizontal, a wall sit's upright), runs outside that range are rest, not holds.

Quality (steadiness): movement variability during the hold, as trunk-accelerometry postural sway measures do
(Mancini et al., "ISway", J NeuroEng Rehabil 9:59, 2012: RMS of the acceleration), split in two parts:

- ``sway_deg``: RMS of the trunk's direction about its mean over the hold (slow drift and corrections, below
  ``SWAY_CUTOFF_HZ``);
- ``shake_mg``: RMS of the acceleration above ``SWAY_CUTOFF_HZ`` (milli-g): the trembling of a muscle near fatigue.

Both grow as a hold becomes harder; they compare one wearer's holds over weeks, not people (a sensor's mounting
and noise shift them). Validated only on emulated holds (tests/support/exercise_models.py: a physiologically
plausible model of sway, tremor and breathing), not on labelled recordings: docs/exercises.md.
Limits: a trunk sensor cannot tell a wall sit from standing still (the thighs make the difference), nor a correct
side plank from lying on the side propped up, unless the expected inclination range separates them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.detect.exercise.signal import (
    angle_deg,
    angular_speed_deg_s,
    gravity_direction,
    low_pass,
    runs,
    uniform,
    unit,
)
from ingest.features import FloatArray, IntArray

DIRECTION_CUTOFF_HZ = 1.0
SWAY_CUTOFF_HZ = 3.0  # physiological tremor lies at 4-12 Hz; postural sway and corrections below 2 Hz
STILL_DEG_S = 8.0  # a held trunk turns slower than this (its sway: a few deg/s at most)
STILL_RMS_G = 0.05  # fast acceleration over a second: walking and repositioning are 0.1 g and more
MERGE_S = 1.0
DRIFT_DEG = 15.0  # a hold that drifts further has become another position
MIN_HOLD_S = 3.0


@dataclass(frozen=True, slots=True)
class Hold:
    """One hold: ``start_ms`` / ``end_ms`` sample times, ``hold_s`` its length, ``sway_deg`` and ``shake_mg`` its
    steadiness (lower is steadier), ``inclination_deg`` the trunk's angle from the calibrated upright (None without
    one)."""

    start_ms: int
    end_ms: int
    hold_s: float
    sway_deg: float
    shake_mg: float
    inclination_deg: float | None


def holds(
    t_ms: IntArray,
    acc_g: FloatArray,
    upright: FloatArray | None = None,
    inclination_deg: tuple[float, float] | None = None,
) -> list[Hold]:
    """The holds in a session's samples (``t_ms`` (n,) ascending ms, ``acc_g`` (n, 3) in g, 20 Hz or more), oldest
    first. ``upright`` (3,) is the wearer's calibrated upright gravity direction in the sensor frame; with it and
    ``inclination_deg`` (low, high), only holds whose mean trunk inclination lies in that range count."""
    grid = uniform(t_ms, acc_g)
    if grid is None:
        return []
    hz = grid.hz
    direction = gravity_direction(grid, DIRECTION_CUTOFF_HZ)
    speed = angular_speed_deg_s(direction, hz)
    fast = grid.acc_g - low_pass(grid.acc_g, SWAY_CUTOFF_HZ, hz)
    window = max(1, round(hz))
    power = np.convolve(np.sum(fast**2, axis=1), np.ones(window) / window, mode="same")
    held = (speed < STILL_DEG_S) & (np.sqrt(power) < STILL_RMS_G)
    out: list[Hold] = []
    for s, e in runs(held, min_gap=round(MERGE_S * hz)):
        for a, b in _split_on_drift(direction, s, e, round(hz)):
            if (b - a) / hz < MIN_HOLD_S:
                continue
            mean = unit(direction[a:b].mean(axis=0))
            incl = None if upright is None else float(angle_deg(mean, np.asarray(upright, dtype=np.float64)))
            if (
                inclination_deg is not None
                and incl is not None
                and not inclination_deg[0] <= incl <= inclination_deg[1]
            ):
                continue
            sway = float(np.sqrt(np.mean(angle_deg(direction[a:b], mean) ** 2)))
            shake = float(np.sqrt(np.mean(np.sum(fast[a:b] ** 2, axis=1)))) * 1000.0
            out.append(
                Hold(
                    int(grid.t_ms[a]),
                    int(grid.t_ms[b - 1]),
                    round((b - a) / hz, 2),
                    round(sway, 2),
                    round(shake, 2),
                    None if incl is None else round(incl, 1),
                )
            )
    return out


def _split_on_drift(direction: FloatArray, s: int, e: int, second: int) -> list[tuple[int, int]]:
    """``[s, e)`` cut where the direction leaves ``DRIFT_DEG`` of the current piece's first second."""
    pieces: list[tuple[int, int]] = []
    a = s
    while a < e:
        reference = unit(direction[a : min(e, a + second)].mean(axis=0))
        away = np.flatnonzero(angle_deg(direction[a:e], reference) > DRIFT_DEG)
        b = e if len(away) == 0 else a + int(away[0])
        pieces.append((a, b))
        a = max(b, a + 1)
    return pieces

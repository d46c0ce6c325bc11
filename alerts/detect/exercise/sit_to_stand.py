"""Sit-to-stand repetitions and their tempo, from a trunk sensor during a session (issue 19, item 3). Pure.

In a sit-to-stand session the wearer alternates rising and sitting down; each rise and each lowering is a postural
transition with the two signatures ``ingest.transitions`` detects in the whole day (Najafi et al., IEEE TBME 50(6),
2003; Atrsaei et al., J NeuroEng Rehabil 17:70, 2020): the trunk leans forward and comes back, and the body's
centre of mass moves up (a rise) or down (a lowering). The day's detector needs a still second and a half around
each transition, which a set done at a 3-1-3 tempo does not leave; here the session says what the wearer is doing,
so the detector only has to find each movement, time it and tell its direction:

1. the samples on a uniform grid, the trunk's gravity direction low-passed at ``DIRECTION_CUTOFF_HZ`` and how fast
   it turns (deg/s);
2. a **movement** is a run where it turns faster than ``EDGE_DEG_S``, reaching ``ACTIVE_DEG_S`` (a run ending at
   its deepest lean and followed within ``MERGE_S`` is one with the next: the trunk stops turning for an instant
   there); it counts
   when the trunk leans at least ``MIN_LEAN_DEG`` from where it started and ends within ``MAX_CHANGE_DEG`` of it
   (more is lying down); its **duration** is that span;
3. its **direction** from the vertical velocity: the norm of the acceleration minus 1 g (the vertical acceleration
   whatever the mounting, as in ``ingest.transitions``) integrated over the movement and ``PAD_S`` either side, the
   linear drift removed; a rise's upward peak dominates, a lowering's downward one (dominance as in
   ``ingest.transitions``). A movement whose direction is unclear is taken as the opposite of the one before it
   (``inferred``): a set alternates.

The repetitions are the rises. Each movement's duration is compared with the prescribed tempo (``up_s`` for a rise,
``down_s`` for a lowering) within ``TEMPO_TOLERANCE`` (Kinetic's choice: a quarter of the prescribed time, at least
half a second). Validated on the labelled transitions of UCI HAPT (waist): ``python -m alerts.evaluate.sit_to_stand``.
Limits: a rise and a lowering with no stop between them are one movement (a missed repetition); a trunk sensor
cannot see the knees, so a half squat with a forward lean counts as a lowering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from alerts.detect.exercise.signal import (
    STANDARD_GRAVITY,
    angle_deg,
    angular_speed_deg_s,
    gravity_direction,
    low_pass,
    runs,
    uniform,
)
from ingest.features import FloatArray, IntArray

MovementKind = Literal["rise", "lowering"]

DIRECTION_CUTOFF_HZ = 2.0  # a transition's lean lasts 1-3 s; the body's own accelerations are faster
ACTIVE_DEG_S = 10.0  # the trunk turning faster than this is moving (at rest, sensor noise reads 1-3 deg/s)
EDGE_DEG_S = 4.0  # a movement's ends: where the turning falls under this
MERGE_S = 0.5
MIN_LEAN_DEG = 15.0  # ingest.transitions.LEAN_PEAK_DEG
MAX_CHANGE_DEG = 60.0  # ingest.transitions.MAX_CHANGE_DEG
MIN_DURATION_S = 0.5
MAX_DURATION_S = 10.0
PAD_S = 0.5  # the vertical velocity is integrated from this long before the movement to this long after it
VELOCITY_CUTOFF_HZ = 5.0
MIN_DOMINANCE = 0.15  # ingest.transitions.MIN_DOMINANCE
MIN_VELOCITY_M_S = 0.1  # a slow (3 s) rise of 0.45 m peaks at 0.24 m/s
REPEAT_COST = 0.5  # evidence a repeat of the same kind needs: a dominance of 0.5 (up to 1)
TEMPO_TOLERANCE = 0.25
MIN_TEMPO_TOLERANCE_S = 0.5


@dataclass(frozen=True, slots=True)
class Movement:
    """One rise or lowering: times in ms (sample time), ``duration_s`` its span, ``lean_deg`` the trunk's deepest
    lean from where it started, ``velocity_m_s`` the vertical velocity's dominant peak (+ up, - down), ``inferred``
    when its direction was unclear and taken from the alternation."""

    kind: MovementKind
    start_ms: int
    peak_ms: int
    end_ms: int
    duration_s: float
    lean_deg: float
    velocity_m_s: float
    inferred: bool


@dataclass(frozen=True, slots=True)
class TempoCheck:
    """A movement's duration against the prescribed phase: ``error_s`` = measured - prescribed."""

    prescribed_s: float
    error_s: float
    within: bool


@dataclass(frozen=True, slots=True)
class SitToStandSet:
    """A session's movements in time order, ``reps`` (the rises), and per movement the tempo check (None without a
    prescribed tempo)."""

    movements: tuple[Movement, ...]
    reps: int
    tempo: tuple[TempoCheck | None, ...]

    @property
    def within_tempo(self) -> int:
        return sum(1 for c in self.tempo if c is not None and c.within)


def tempo_check(movement: Movement, down_s: float, up_s: float) -> TempoCheck:
    prescribed = up_s if movement.kind == "rise" else down_s
    error = movement.duration_s - prescribed
    tolerance = max(MIN_TEMPO_TOLERANCE_S, TEMPO_TOLERANCE * prescribed)
    return TempoCheck(prescribed, round(error, 3), abs(error) <= tolerance)


def movements(t_ms: IntArray, acc_g: FloatArray) -> list[Movement]:
    """The rises and lowerings in a session's samples (``t_ms`` (n,) ascending ms, ``acc_g`` (n, 3) in g, any
    mounting, 20 Hz or more), oldest first. Nothing for fewer than two seconds of samples."""
    grid = uniform(t_ms, acc_g)
    if grid is None:
        return []
    hz = grid.hz
    direction = gravity_direction(grid, DIRECTION_CUTOFF_HZ)
    speed = angular_speed_deg_s(direction, hz)
    norm = np.linalg.norm(grid.acc_g, axis=1)
    baseline = float(np.median(norm))  # the sensor's own scale: 1 g as this sensor reads it
    vertical = low_pass(norm - baseline, VELOCITY_CUTOFF_HZ, hz) * STANDARD_GRAVITY
    pad = round(PAD_S * hz)
    spans: list[tuple[int, int, int, float, float, float, float]] = []
    for s, e in _movement_spans(direction, speed, hz):
        duration_s = (e - s) / hz
        if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
            continue
        lean = angle_deg(direction[s:e], direction[s])
        peak = s + int(np.argmax(lean))
        if lean[peak - s] < MIN_LEAN_DEG or float(angle_deg(direction[e - 1], direction[s])) > MAX_CHANGE_DEG:
            continue
        a, b = max(0, s - pad), min(len(vertical), e + pad)
        velocity = np.cumsum(vertical[a:b]) / hz
        velocity = velocity - np.linspace(0.0, float(velocity[-1]), len(velocity))
        up, down = float(velocity.max()), float(velocity.min())
        if max(up, -down) < MIN_VELOCITY_M_S:  # the trunk leaned but the body did not rise or sink: no transition
            continue
        dominance = (up + down) / (up - down) if up > down else 0.0
        spans.append((s, peak, e, float(lean[peak - s]), up, down, dominance))
    kinds = _alternating_kinds([d for *_, d in spans])
    out: list[Movement] = []
    for (s, peak, e, lean_deg, up, down, dominance), kind in zip(spans, kinds, strict=True):
        agrees = dominance >= MIN_DOMINANCE if kind == "rise" else dominance <= -MIN_DOMINANCE
        out.append(
            Movement(
                kind,
                int(grid.t_ms[s]),
                int(grid.t_ms[peak]),
                int(grid.t_ms[e - 1]),
                round((e - s) / hz, 3),
                round(lean_deg, 1),
                round(up if kind == "rise" else down, 3),
                not agrees,
            )
        )
    return out


def _movement_spans(direction: FloatArray, speed: FloatArray, hz: float) -> list[tuple[int, int]]:
    """Index spans ``[s, e)`` of the trunk turning faster than ``EDGE_DEG_S`` that reach ``ACTIVE_DEG_S``. A span
    followed within ``MERGE_S`` by the next, and ending at its deepest lean (not come back ``MIN_LEAN_DEG`` / 2 from
    it), is joined with the next: the trunk stops turning for an instant at its deepest lean (a 4 s movement for
    0.4 s)."""
    spans: list[tuple[int, int]] = []
    for s, e in runs(speed >= EDGE_DEG_S):
        if speed[s:e].max() < ACTIVE_DEG_S:
            continue
        if spans and s - spans[-1][1] < MERGE_S * hz:
            first, last = spans[-1]
            lean = angle_deg(direction[first:last], direction[first])
            if float(lean.max() - lean[-1]) < MIN_LEAN_DEG / 2:
                spans[-1] = (first, e)
                continue
        spans.append((s, e))
    return spans


def _alternating_kinds(dominance: list[float]) -> list[MovementKind]:
    """The most likely kinds of a set's movements given each one's vertical-velocity dominance (+ up, - down): a set
    alternates, so two rises or two lowerings in a row cost ``REPEAT_COST`` of evidence (a missed or an extra
    movement); Viterbi decoding over the two kinds."""
    if not dominance:
        return []
    kinds: tuple[MovementKind, MovementKind] = ("rise", "lowering")
    score = [dominance[0], -dominance[0]]
    back: list[list[int]] = []
    for d in dominance[1:]:
        evidence = (d, -d)
        new, choice = [], []
        for k in range(2):
            alternate, repeat = score[1 - k], score[k] - REPEAT_COST
            choice.append(1 - k if alternate >= repeat else k)
            new.append(max(alternate, repeat) + evidence[k])
        score, back = new, [*back, choice]
    k = 0 if score[0] >= score[1] else 1
    path = [k]
    for choice in reversed(back):
        k = choice[k]
        path.append(k)
    return [kinds[k] for k in reversed(path)]


def sit_to_stand_set(
    t_ms: IntArray, acc_g: FloatArray, down_s: float | None = None, up_s: float | None = None
) -> SitToStandSet:
    """A session's sit-to-stand set: its movements, the repetitions (rises) and, with a prescribed tempo
    (``down_s`` and ``up_s`` in seconds, as ``alerts.prompts.prescription.Tempo``), each movement's tempo check."""
    found = movements(t_ms, acc_g)
    checks = tuple(tempo_check(m, down_s, up_s) if down_s is not None and up_s is not None else None for m in found)
    return SitToStandSet(tuple(found), sum(1 for m in found if m.kind == "rise"), checks)

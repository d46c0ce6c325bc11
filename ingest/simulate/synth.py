"""Synthetic per-second features for a scripted wearer. Pure and repeatable: the same scenario and seed give
the same frames, and time comes from the scenario clock only.

The values are plausible edge features, not a physiological model: they exist to drive the pipeline and
the checks (posture detection quality is measured on real recordings, see ``kinetic evaluate``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from ingest.simulate.scenario import Scenario, Segment, WearerScript
from ingest.wire import FeatureBatchV1, FeatureFrameV1, Placement

SAMPLE_RATE_HZ = 50


@dataclass(frozen=True, slots=True)
class _Look:
    incl_deg: float
    incl_sd: float
    enmo_mg: float
    enmo_sd: float
    step_rate_hz: float = 0.0


# Mean body-segment inclination (0 = upright, 90 = horizontal) and movement per activity and placement.
_LOOKS: dict[Placement, dict[str, _Look]] = {
    "thigh": {
        "sit": _Look(82, 3, 3, 3),
        "stand": _Look(6, 2, 4, 3),
        "walk": _Look(8, 6, 180, 35, 1.8),
        "stairs": _Look(12, 8, 240, 45, 1.6),
        "lie": _Look(88, 2, 2, 2),
        "off": _Look(90, 0.01, 0.3, 0.2),  # a sensor on a desk: direction noise of a 1-s mean
    },
    "trunk": {
        "sit": _Look(20, 3, 3, 3),  # a sitter's trunk reclines or slumps (DSADS torso: ~15 deg more than walking)
        "stand": _Look(4, 1.5, 4, 3),
        "walk": _Look(4, 3, 150, 30, 1.8),
        "stairs": _Look(8, 4, 200, 40, 1.6),
        "lie": _Look(85, 3, 2, 2),
        "off": _Look(90, 0.01, 0.3, 0.2),  # a sensor on a desk: direction noise of a 1-s mean
    },
    "wrist": {
        "sit": _Look(45, 15, 12, 8),
        "stand": _Look(30, 12, 14, 8),
        "walk": _Look(25, 15, 170, 40, 1.8),
        "stairs": _Look(25, 15, 210, 45, 1.6),
        "lie": _Look(80, 10, 4, 3),
        "off": _Look(90, 0.01, 0.3, 0.2),  # a sensor on a desk: direction noise of a 1-s mean
    },
}


Matrix = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]


def _mounting(rng: random.Random) -> Matrix:
    """A random sensor orientation on the body segment (the wearer strapped it on any way round)."""
    yaw, pitch, roll = (math.radians(rng.uniform(-180, 180)) for _ in range(3))
    cy, sy, cp, sp, cr, sr = (
        math.cos(yaw),
        math.sin(yaw),
        math.cos(pitch),
        math.sin(pitch),
        math.cos(roll),
        math.sin(roll),
    )
    return (
        (cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr),
        (sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr),
        (-sp, cp * sr, cp * cr),
    )


def _to_sensor(body: tuple[float, float, float], m: Matrix) -> tuple[float, float, float]:
    # v_sensor = M^T v_body
    return (
        body[0] * m[0][0] + body[1] * m[1][0] + body[2] * m[2][0],
        body[0] * m[0][1] + body[1] * m[1][1] + body[2] * m[2][1],
        body[0] * m[0][2] + body[1] * m[1][2] + body[2] * m[2][2],
    )


def _frame(
    rng: random.Random, placement: Placement, segment: Segment, t_ms: int, step_acc: list[float], mounting: Matrix
) -> FeatureFrameV1:
    look = _LOOKS[placement][segment.activity]
    incl = max(0.0, min(180.0, look.incl_deg + segment.forward_deg + rng.gauss(0.0, look.incl_sd)))
    enmo = abs(look.enmo_mg + rng.gauss(0.0, look.enmo_sd))
    step_acc[0] += look.step_rate_hz
    steps = int(step_acc[0])
    step_acc[0] -= steps
    lean: float | None = None
    if placement == "trunk":
        lean = 0.0 if segment.activity == "off" else segment.lean_deg + rng.gauss(0.0, 1.5)
        lean = max(-90.0, min(90.0, lean))
    # Gravity ("up", as a resting accelerometer reads it) in the body frame - z along the segment, x forward,
    # y to the wearer's left - then in the sensor's own axes.
    i, l_ = math.radians(incl), math.radians(lean or 0.0)
    body = (math.sin(i) * math.cos(l_), -math.sin(l_), math.cos(i) * math.cos(l_))
    gx, gy, gz = _to_sensor(body, mounting)
    moving = look.step_rate_hz > 0
    if moving:
        sd = abs(rng.gauss(200.0, 30.0))
    elif segment.activity == "off":
        sd = abs(rng.gauss(0.3, 0.1))  # sensor noise only
    else:
        sd = abs(rng.gauss(5.0, 1.0))
    return FeatureFrameV1(
        t_ms=t_ms,
        gx=round(gx, 4),
        gy=round(gy, 4),
        gz=round(gz, 4),
        incl_deg=round(incl, 2),
        lean_deg=None if lean is None else round(lean, 2),
        enmo_mg=round(enmo, 2),
        sd_mg=round(sd, 1),
        steps=steps,
        n=SAMPLE_RATE_HZ,
    )


def frames_for(scenario: Scenario, script: WearerScript) -> Iterator[FeatureFrameV1]:
    """One frame per second of the wearer's script; 'gap' segments produce no frames. Each device gets its own
    random mounting, so the gravity vectors exercise the alert service's calibration; the frames also carry the
    angles, as a sender that knows its mounting would."""
    rng = random.Random(f"{scenario.seed}:{script.wearer}:{script.device}")
    mounting = _mounting(rng)
    t_ms = scenario.start_ms + script.start_offset_s * 1000
    step_acc = [0.0]
    for segment in script.segments:
        for _ in range(segment.duration_s):
            if segment.activity != "gap":
                yield _frame(rng, script.placement, segment, t_ms, step_acc, mounting)
            t_ms += 1000


def batches_for(scenario: Scenario, script: WearerScript, batch_s: int) -> Iterator[FeatureBatchV1]:
    """Frames grouped into wire batches of at most ``batch_s`` consecutive seconds (a gap closes a batch)."""
    seq = 0
    pending: list[FeatureFrameV1] = []

    def flush() -> FeatureBatchV1:
        nonlocal seq
        batch = FeatureBatchV1(
            wearer=script.wearer,
            device=script.device,
            placement=script.placement,
            seq=seq,
            frames=list(pending),
        )
        seq += 1
        pending.clear()
        return batch

    for frame in frames_for(scenario, script):
        if pending and (frame.t_ms - pending[0].t_ms >= batch_s * 1000 or frame.t_ms - pending[-1].t_ms > 1000):
            yield flush()
        pending.append(frame)
    if pending:
        yield flush()

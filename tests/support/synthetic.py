"""Synthetic raw accelerometer samples from a simple body model, with an arbitrary sensor mounting."""

from __future__ import annotations

import math

import numpy as np

from ingest.features import FloatArray, IntArray


def rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> FloatArray:
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    rx = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
    return rz @ ry @ rx  # type: ignore[no-any-return]


def segment(
    activity: str, seconds: float, rate_hz: float, mounting: FloatArray, rng: np.random.Generator, t0_s: float = 0.0
) -> tuple[IntArray, FloatArray]:
    """Samples in g in the sensor frame. Body frame: z is the segment's long axis (up when upright), x forward.
    Tilt of the segment from vertical: standing 3 deg, sitting (thigh) 85 deg, lying 90 deg; walking swings
    +-20 deg at 0.9 Hz with a 1.8 Hz vertical bounce of 0.35 g."""
    n = int(seconds * rate_hz)
    t = t0_s + np.arange(n) / rate_hz
    if activity == "walk":
        tilt = np.radians(20 * np.sin(2 * np.pi * 0.9 * t))
        bounce = 0.35 * np.sin(2 * np.pi * 1.8 * t)
    else:
        tilt = np.full(n, np.radians({"stand": 3.0, "sit": 85.0, "lie": 90.0}[activity]))
        bounce = np.zeros(n)
    # gravity (pointing up, as an accelerometer at rest reads) in the body frame, tilted forward about y
    body = np.stack([np.sin(tilt), np.zeros(n), np.cos(tilt)], axis=1) * (1.0 + bounce)[:, None]
    body += rng.normal(0, 0.01, size=body.shape)
    sensor = body @ mounting  # rows are vectors: v_sensor = M^T v_body
    return np.round(t * 1000).astype(np.int64), sensor

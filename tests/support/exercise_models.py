"""Emulated trunk-sensor samples of prescribed exercises, from simple physiologically plausible models (issue 19's
holds, mobility, breathing and sit-to-stand sets, until labelled recordings exist). Every figure a detector reaches
on these is a figure on a model, and docs/exercises.md says so.

The models (body frame: z up the trunk, x forward, y to the left; a sensor mounting rotates it):
- **sit-to-stand**: the trunk's centre of mass rises or sinks ``RISE_M`` along a minimum-jerk path (Flash and Hogan,
  J Neurosci 5(7):1688, 1985) over the phase's time, while the trunk leans forward ``LEAN_DEG`` and back (Najafi et
  al. 2003: 20-60 deg) on a half sine; a sitter reclines ``SITTING_DEG`` against the chair;
- **hold**: a fixed trunk orientation with postural sway (low-pass noise below 1 Hz, RMS ``sway_deg``), tremor
  (8-12 Hz acceleration, RMS ``shake_mg``: physiological tremor, larger near fatigue) and breathing (0.3 deg at
  12/min);
- **mobility**: flexion-extension swings between two angles along minimum-jerk paths; a *jerky* swing is made of
  ``parts`` sub-movements with stops between them (how a hesitant or guarded movement looks);
- **breathing**: the chest tilts ``BREATH_DEG`` on inhale and back on exhale, each a half cosine of its own time,
  so inhale and exhale can differ.
Sensor noise ``NOISE_G`` (white, per axis; ``BREATHING_NOISE_G`` for breathing, as tests/unit/alerts/detect/
test_breathing.py: a phone or IMU resting still on the chest), 52 Hz with jittered sample times unless asked otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from ingest.features import FloatArray, IntArray

RATE_HZ = 52.0
NOISE_G = 0.005
BREATHING_NOISE_G = 0.002
G_M_S2 = 9.80665
RISE_M = 0.45
LEAN_DEG = 35.0
STANDING_DEG = 3.0
SITTING_DEG = -10.0
BREATH_DEG = 0.3
T0_MS = 1_767_600_000_000


def min_jerk(phase: FloatArray) -> FloatArray:
    """Minimum-jerk position (0 -> 1) at ``phase`` 0-1."""
    return np.asarray(10 * phase**3 - 15 * phase**4 + 6 * phase**5, dtype=np.float64)


def min_jerk_accel(phase: FloatArray) -> FloatArray:
    """Its second derivative in phase units (times D / T^2 for a movement of D over T seconds)."""
    return np.asarray(60 * phase - 180 * phase**2 + 120 * phase**3, dtype=np.float64)


def body_samples(tilt_deg: FloatArray, vertical_g: FloatArray, roll_deg: FloatArray | None = None) -> FloatArray:
    """What an accelerometer on the trunk reads (g, body frame) for a trunk tilted forward ``tilt_deg`` (and
    sideways ``roll_deg``) with a vertical acceleration ``vertical_g`` of the body on top of gravity."""
    pitch = np.radians(tilt_deg)
    roll = np.radians(np.zeros_like(tilt_deg) if roll_deg is None else roll_deg)
    specific = 1.0 + vertical_g
    return (
        np.stack([np.sin(pitch) * np.cos(roll), np.sin(roll), np.cos(pitch) * np.cos(roll)], axis=1) * specific[:, None]
    )


def sensor(
    body: FloatArray,
    mounting: FloatArray,
    rng: np.random.Generator,
    rate_hz: float = RATE_HZ,
    jitter: bool = True,
    noise_g: float = NOISE_G,
) -> tuple[IntArray, FloatArray]:
    """Body-frame samples seen by a sensor mounted as ``mounting`` (rows: v_sensor = M^T v_body), with noise and
    (optionally) jittered times."""
    n = len(body)
    t_s = np.arange(n) / rate_hz
    if jitter:
        t_s = t_s + rng.uniform(-0.3, 0.3, n) / rate_hz
    t_ms = np.maximum.accumulate(np.round(t_s * 1000).astype(np.int64)) + T0_MS
    return t_ms, body @ mounting + rng.normal(0, noise_g, size=body.shape)


def sit_to_stand_set(
    reps: int,
    down_s: float,
    up_s: float,
    pause_s: float,
    rng: np.random.Generator,
    stand_s: float = 1.0,
    lead_s: float = 5.0,
    rate_hz: float = RATE_HZ,
    start: str = "sitting",
) -> tuple[FloatArray, list[tuple[str, float, float]]]:
    """Body-frame samples of a set: ``reps`` rises each followed by a lowering (the last one too), seated pauses of
    ``pause_s``, standing ones of ``stand_s``; ``lead_s`` still before and after. Also the movements as
    (kind, start s, duration s)."""
    tilt: list[FloatArray] = []
    vertical: list[FloatArray] = []
    truth: list[tuple[str, float, float]] = []
    at = 0.0

    def still(seconds: float, deg: float) -> None:
        nonlocal at
        n = int(seconds * rate_hz)
        tilt.append(np.full(n, deg))
        vertical.append(np.zeros(n))
        at += n / rate_hz

    def move(kind: str, seconds: float) -> None:
        nonlocal at
        n = int(seconds * rate_hz)
        phase = np.arange(n) / n
        begin, end = (SITTING_DEG, STANDING_DEG) if kind == "rise" else (STANDING_DEG, SITTING_DEG)
        tilt.append(begin + (end - begin) * min_jerk(phase) + LEAN_DEG * np.sin(np.pi * phase))
        accel = RISE_M / seconds**2 * min_jerk_accel(phase) / G_M_S2
        vertical.append(accel if kind == "rise" else -accel)
        truth.append((kind, at, n / rate_hz))
        at += n / rate_hz

    if start == "sitting":
        still(lead_s, SITTING_DEG)
    else:
        still(lead_s, STANDING_DEG)
        move("lowering", down_s)
        still(pause_s, SITTING_DEG)
    for rep in range(reps):
        move("rise", up_s)
        still(stand_s, STANDING_DEG)
        move("lowering", down_s)
        still(pause_s if rep < reps - 1 else lead_s, SITTING_DEG)
    return body_samples(np.concatenate(tilt), np.concatenate(vertical)), truth


def band_noise(
    n: int, rate_hz: float, low_hz: float, high_hz: float, rms: float, rng: np.random.Generator
) -> FloatArray:
    """Gaussian noise band-limited to ``low_hz``-``high_hz`` (FFT mask), scaled to ``rms``."""
    spectrum = np.fft.rfft(rng.normal(size=n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate_hz)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    x = np.fft.irfft(spectrum, n)
    sd = float(x.std())
    return np.asarray(x / sd * rms if sd > 0 else x, dtype=np.float64)


def hold(
    seconds: float,
    tilt_deg: float,
    roll_deg: float,
    sway_deg: float,
    shake_mg: float,
    rng: np.random.Generator,
    rate_hz: float = RATE_HZ,
) -> FloatArray:
    """Body-frame samples of a held position: sway (below 1 Hz) on both axes, tremor (8-12 Hz), breathing."""
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    breath = BREATH_DEG * np.sin(2 * np.pi * 0.2 * t)
    pitch = tilt_deg + band_noise(n, rate_hz, 0.05, 1.0, sway_deg / math.sqrt(2), rng) + breath
    roll = roll_deg + band_noise(n, rate_hz, 0.05, 1.0, sway_deg / math.sqrt(2), rng)
    body = body_samples(pitch, np.zeros(n), roll)
    tremor = np.column_stack([band_noise(n, rate_hz, 8.0, 12.0, shake_mg / 1000 / math.sqrt(3), rng) for _ in range(3)])
    return body + tremor


def reposition(
    seconds: float,
    start: tuple[float, float],
    end: tuple[float, float],
    rng: np.random.Generator,
    rate_hz: float = RATE_HZ,
) -> FloatArray:
    """Moving from one (tilt, roll) to another along a minimum-jerk path, with the body's accelerations of it."""
    n = int(seconds * rate_hz)
    phase = min_jerk(np.arange(n) / n)
    pitch = start[0] + (end[0] - start[0]) * phase
    roll = start[1] + (end[1] - start[1]) * phase
    return body_samples(pitch, 0.15 * np.sin(np.pi * phase), roll) + rng.normal(0, 0.05, size=(n, 3))


def swings(
    amplitude_deg: float,
    swing_s: float,
    count: int,
    rng: np.random.Generator,
    parts: int = 1,
    rest_s: float = 0.5,
    lead_s: float = 3.0,
    rate_hz: float = RATE_HZ,
) -> FloatArray:
    """Body-frame samples of ``count`` flexion-extension swings between -amplitude/2 and +amplitude/2 (deg, about the
    standing upright), each of ``swing_s`` made of ``parts`` equal sub-movements with 0.3 s stops between them,
    ``rest_s`` at each end, ``lead_s`` still before and after."""
    angle: list[FloatArray] = [np.full(int(lead_s * rate_hz), -amplitude_deg / 2)]
    position = -amplitude_deg / 2
    for i in range(count):
        target = amplitude_deg / 2 if i % 2 == 0 else -amplitude_deg / 2
        step = (target - position) / parts
        move_s = (swing_s - 0.3 * (parts - 1)) / parts
        for p in range(parts):
            n = int(move_s * rate_hz)
            angle.append(position + step * (p + min_jerk(np.arange(n) / n)))
            if p < parts - 1:
                angle.append(np.full(int(0.3 * rate_hz), position + step * (p + 1)))
        position = target
        angle.append(np.full(int(rest_s * rate_hz), position))
    angle.append(np.full(int(lead_s * rate_hz), position))
    pitch = np.concatenate(angle)
    return body_samples(pitch, np.zeros(len(pitch)))


def breathing(
    seconds: float,
    inhale_s: float,
    exhale_s: float,
    rng: np.random.Generator,
    rate_hz: float = RATE_HZ,
    tilt_deg: float = 60.0,
) -> tuple[FloatArray, list[float]]:
    """Body-frame samples of breathing with set inhale and exhale times (a half cosine each), the trunk tilted
    ``tilt_deg`` back (reclined). Also each inhale's start (s)."""
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    cycle = inhale_s + exhale_s
    phase = np.mod(t, cycle)
    rise = (1 - np.cos(np.pi * np.minimum(phase, inhale_s) / inhale_s)) / 2
    fall = (1 + np.cos(np.pi * np.clip(phase - inhale_s, 0, exhale_s) / exhale_s)) / 2
    depth = np.where(phase < inhale_s, rise, fall)
    starts = list(np.arange(0.0, seconds, cycle))
    return body_samples(-tilt_deg + BREATH_DEG * depth, np.zeros(n)), starts

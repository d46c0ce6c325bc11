"""Postural transitions (sit-to-stand, stand-to-sit) from raw trunk accelerometer samples. Pure (numpy), streaming,
time from the samples.

A sitting trunk and a standing trunk can hold the same orientation; what tells them apart is how the wearer got there.
Rising from a chair and sitting down move the trunk in a characteristic way (Najafi et al., IEEE TBME 50(6) 2003,
chest sensor; Atrsaei et al., J NeuroEng Rehabil 17:70 2020, lower back, doi 10.1186/s12984-020-00692-4):

1. the trunk **leans forward** and comes back (a flexion peak of 20-60 deg lasting 1-3 s); detected here as the
   angle between the short-term gravity direction (a 0.5 s mean of the samples) and the direction held 1.5-2.5 s
   before; a candidate is a peak of at least ``LEAN_PEAK_DEG``;
2. the body's centre of mass **moves vertically**: up in a sit-to-stand, down in a stand-to-sit. The vertical
   acceleration in the global frame is taken from the norm of the acceleration: for gravity g along the vertical
   and a body acceleration a, |g + a| = 1 g + a_vertical + O(a_horizontal^2), whatever way the sensor is mounted or
   tilts during the movement (no gyroscope needed). Minus the norm held just before (the sensor's own scale error),
   integrated over ``VELOCITY_WINDOW_S`` centred on the lean's onset (where it first passes ``LEAN_PEAK_DEG``:
   the body rises or sinks while the trunk leans, and a window on the onset holds the vertical movement of both
   kinds better than one on the peak, which in a stand-to-sit falls as the sitter settles back), with the linear
   drift removed so the velocity is zero at both ends (still before and after), it is the vertical velocity; its up
   and down peaks say the direction: a sit-to-stand's upward peak dominates, a stand-to-sit's downward one;
3. the wearer is **still** on at least one side (a sit-to-stand starts from a still sitter; a stand-to-sit ends in
   one), which walking and stairs never are, and the trunk orientation after differs from before by
   ``MIN_CHANGE_DEG`` to ``MAX_CHANGE_DEG`` (more is lying down or getting up from lying, which the orientation
   alone tells).

Reported once the data ``DECISION_DELAY_S`` after the lean peak is in, at most one per ``REFRACTORY_S``. The
confidence (0-1) grows with the dominance of the vertical velocity's peak in the detected direction.
Measured on the labelled transitions of UCI HAPT (waist): ``python -m alerts.evaluate.transitions`` and
docs/evaluation.md. The constants are round physical values read from the development subjects' distributions
(vertical velocity of a sit-to-stand at the waist: 0.3-0.7 m/s; lean peak 27-68 deg; stillness under 60 mg).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TransitionKind = Literal["sit_to_stand", "stand_to_sit"]

STANDARD_GRAVITY = 9.80665  # m/s^2 per g
LEAN_PEAK_DEG = 15.0  # the trunk flexion peak of a candidate, from the direction held just before
LEAN_WINDOW_S = 0.5  # short-term gravity direction: mean over this window, centred
REFERENCE_S = (2.5, 1.5)  # the direction held before: mean of the samples this long before the peak
VELOCITY_WINDOW_S = 3.0  # vertical velocity integrated over this window, centred on the lean peak
QUIET_WINDOW_S = 1.5  # stillness and orientation before / after: this window just outside the velocity window
MIN_VELOCITY_M_S = 0.2  # the dominant vertical velocity peak
MIN_DOMINANCE = 0.15  # (up + down) / (up - down) peaks of the velocity: + for up, - for down
STILL_SD_G = 0.06  # the norm's SD on the still side (walking and stairs: 0.07 g and more)
SEATED_SD_G = 0.02  # before a sit-to-stand: a sitter about to rise is still (HAPT: 95 % under 7 mg)
MIN_CHANGE_DEG = 5.0
MAX_CHANGE_DEG = 60.0
REFRACTORY_S = 3.0
PEAK_SPAN_MS = 1000
CLOCK_STEP_BACK_MS = 5_000  # as ingest.ble.aggregate: an earlier sample than this is a clock set back
DECISION_DELAY_S = VELOCITY_WINDOW_S / 2 + QUIET_WINDOW_S  # data needed after the peak
BUFFER_S = DECISION_DELAY_S + REFERENCE_S[0] + VELOCITY_WINDOW_S + 1.0


@dataclass(frozen=True, slots=True)
class Transition:
    """A detected postural transition: ``t_ms`` is its lean peak (sample time, ms), ``confidence`` 0-1."""

    t_ms: int
    kind: TransitionKind
    confidence: float


def _moving_mean(x: FloatArray, n: int) -> FloatArray:
    """Centred mean over ``n`` samples along axis 0 (the ends use the nearest full window)."""
    n = max(1, min(n, len(x)))
    c = np.cumsum(np.concatenate((np.zeros((1, *x.shape[1:])), x)), axis=0)
    out = (c[n:] - c[:-n]) / n
    left = (n - 1) // 2
    right = len(x) - len(out) - left
    return np.concatenate((np.repeat(out[:1], left, axis=0), out, np.repeat(out[-1:], right, axis=0)))


def _unit(v: FloatArray) -> FloatArray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.asarray(v / np.where(norm > 0, norm, 1.0), dtype=np.float64)


def _angle_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(np.degrees(np.arccos(np.clip(np.sum(_unit(a) * _unit(b), axis=-1), -1.0, 1.0))))


@dataclass
class TransitionDetector:
    """Streaming: feed the samples of each completed second in time order (``push``); get the transitions that
    the new data decided. Keeps the last ``BUFFER_S`` of samples (a few KB). ``detect`` runs it over a recording."""

    _t: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _acc: FloatArray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.float64))
    _examined_to_ms: int | None = None  # lean peaks before this time were looked at already
    _last_ms: int | None = None  # the last transition's peak

    def push(self, t_ms: IntArray, acc_g: FloatArray) -> list[Transition]:
        """Samples (``t_ms`` increasing, ``acc_g`` shape (n, 3) in g) of the next second(s) -> transitions whose
        peak lies in the span that the new data completed, oldest first. Never raises on odd values: non-finite
        samples are dropped, samples not after the last one are ignored (a clock set back by more than
        ``CLOCK_STEP_BACK_MS`` starts the detector again) and a span without enough samples gives nothing."""
        t_new = np.asarray(t_ms, dtype=np.int64)
        acc_new = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
        finite = np.isfinite(acc_new).all(axis=1)
        t_new, acc_new = t_new[finite], acc_new[finite]
        if len(t_new) == 0:
            return []
        if len(self._t) and t_new[0] < self._t[-1] - CLOCK_STEP_BACK_MS:  # the clock was set back: start again
            self._t, self._acc = self._t[:0], self._acc[:0]
            self._examined_to_ms = self._last_ms = None
        # keep strictly increasing times only
        last = int(self._t[-1]) if len(self._t) else None
        keep = np.ones(len(t_new), dtype=bool)
        running = np.maximum.accumulate(t_new)
        keep[1:] = t_new[1:] > running[:-1]
        if last is not None:
            keep &= t_new > last
        t_new, acc_new = t_new[keep], acc_new[keep]
        if len(t_new) == 0:
            return []
        t_all = np.concatenate((self._t, t_new))
        acc_all = np.concatenate((self._acc, acc_new))
        newest = int(t_all[-1])
        first = int(np.searchsorted(t_all, newest - int(BUFFER_S * 1000)))
        self._t, self._acc = t_all[first:], acc_all[first:]
        decided_to = newest - int(DECISION_DELAY_S * 1000)
        oldest = int(self._t[0])
        start = self._examined_to_ms
        if start is None:
            start = oldest + int((REFERENCE_S[0] + VELOCITY_WINDOW_S / 2) * 1000)
        start = max(start, oldest + int(REFERENCE_S[0] * 1000))
        if decided_to <= start:
            return []
        self._examined_to_ms = decided_to
        found = self._examine(start, decided_to)
        return [] if found is None else [found]

    def _examine(self, from_ms: int, to_ms: int) -> Transition | None:
        t, acc = self._t, self._acc
        if len(t) < 20:
            return None
        span_s = (t[-1] - t[0]) / 1000.0
        rate = (len(t) - 1) / span_s if span_s > 0 else 0.0
        if rate < 5.0:
            return None

        def samples(seconds: float) -> int:
            return max(1, round(seconds * rate))

        short = _moving_mean(acc, samples(LEAN_WINDOW_S))
        # the lean over the span and a second either side (a peak must be the highest within PEAK_SPAN_S of it)
        earliest = int(t[0]) + int(REFERENCE_S[0] * 1000)
        around = np.flatnonzero((t >= max(from_ms - PEAK_SPAN_MS, earliest)) & (t < to_ms + PEAK_SPAN_MS))
        if len(around) == 0:
            return None
        ref_start = np.searchsorted(t, t[around] - int(REFERENCE_S[0] * 1000))
        ref_end = np.searchsorted(t, t[around] - int(REFERENCE_S[1] * 1000))
        csum = np.concatenate((np.zeros((1, 3)), np.cumsum(acc, axis=0)))
        count = np.maximum(ref_end - ref_start, 1)[:, None]
        reference = (csum[ref_end] - csum[ref_start]) / count
        tilt = _angle_deg(short[around], reference)
        times = t[around]
        in_span = np.flatnonzero((times >= from_ms) & (times < to_ms))
        if len(in_span) == 0:
            return None
        best = int(in_span[np.argmax(tilt[in_span])])
        if tilt[best] < LEAN_PEAK_DEG:
            return None
        near = (times >= times[best] - PEAK_SPAN_MS) & (times <= times[best] + PEAK_SPAN_MS)
        if tilt[best] < tilt[near].max():
            return None  # the shoulder of a higher peak next door: examined in its own span
        idx = around
        peak = int(idx[best])
        peak_ms = int(t[peak])
        if self._last_ms is not None and peak_ms - self._last_ms < REFRACTORY_S * 1000:
            return None
        # one lean, one decision: a later peak of the same movement (the trunk coming back as the sitter settles,
        # measured against the leaning direction) is not examined again
        self._last_ms = peak_ms
        onset = best
        while onset > 0 and tilt[onset - 1] >= LEAN_PEAK_DEG:
            onset -= 1
        found = self._classify(t, acc, int(idx[onset]), rate)
        return None if found is None else Transition(peak_ms, found.kind, found.confidence)

    def _classify(self, t: IntArray, acc: FloatArray, centre: int, rate: float) -> Transition | None:
        """The transition whose windows are centred on sample ``centre``, or None."""
        half = int(VELOCITY_WINDOW_S / 2 * 1000)
        quiet = int(QUIET_WINDOW_S * 1000)
        peak_ms = int(t[centre])
        s, e = np.searchsorted(t, [peak_ms - half, peak_ms + half])
        ps, pe = np.searchsorted(t, [peak_ms - half - quiet, peak_ms - half])
        qs, qe = np.searchsorted(t, [peak_ms + half, peak_ms + half + quiet])
        if e - s < 10 or pe - ps < 5 or qe - qs < 5:
            return None
        norm = np.linalg.norm(acc, axis=1)
        sd_before, sd_after = float(norm[ps:pe].std()), float(norm[qs:qe].std())
        if min(sd_before, sd_after) >= STILL_SD_G:
            return None
        change = float(_angle_deg(acc[ps:pe].mean(axis=0), acc[qs:qe].mean(axis=0)))
        if not MIN_CHANGE_DEG <= change <= MAX_CHANGE_DEG:
            return None
        baseline = float(np.median(norm[ps:pe]))
        velocity = np.cumsum((norm[s:e] - baseline) * STANDARD_GRAVITY) / rate
        velocity = velocity - np.linspace(0.0, float(velocity[-1]), len(velocity))
        up, down = float(velocity.max()), float(velocity.min())
        dominance = (up + down) / (up - down) if up > down else 0.0
        # the seated side is the still one: a sitter is still before rising, and settles after sitting down
        if dominance >= MIN_DOMINANCE and up >= MIN_VELOCITY_M_S and sd_before < SEATED_SD_G:
            kind: TransitionKind = "sit_to_stand"
        elif dominance <= -MIN_DOMINANCE and down <= -MIN_VELOCITY_M_S and sd_after < STILL_SD_G:
            kind = "stand_to_sit"
        else:
            return None
        return Transition(peak_ms, kind, round(min(1.0, abs(dominance)), 3))


def detect(t_ms: IntArray, acc_g: FloatArray) -> list[Transition]:
    """All transitions of a recording (samples as in ``TransitionDetector.push``), fed one second at a time as the
    collector does, so the result is what the live path reports."""
    detector = TransitionDetector()
    out: list[Transition] = []
    if len(t_ms) == 0:
        return out
    second = t_ms // 1000
    cuts = np.flatnonzero(np.diff(second)) + 1
    for block_t, block_acc in zip(np.split(t_ms, cuts), np.split(acc_g, cuts), strict=True):
        out += detector.push(block_t, block_acc)
    return out

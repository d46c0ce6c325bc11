"""Streaming: raw samples -> one feature frame per completed second -> wire batches. Pure (time from the samples)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ingest.features import seconds_from_samples
from ingest.transitions import TransitionDetector
from ingest.wire import FeatureBatchV1, FeatureFrameV1, Placement, batch_problem


@dataclass
class SecondAggregator:
    """Buffers the samples of the current second; a sample of a later second completes it.

    Sample times come from the host clock at notification arrival, back-dated by the sample rate; a notification
    delivered late followed by one on time can stamp a sample before the last one. Such a sample is moved forward
    to the last time seen (counted in ``reordered``): time never runs backwards, so a second that was already
    sent is never sent again.

    A sample more than ``STEP_BACK_MS`` before the last is no late notification but the clock set back (NTP
    stepping a host clock that ran ahead, a device clock reset): folding it forward would pile every sample until
    the clock catches up into one second that never ends. The current second is completed and the aggregation
    starts again at the new time (counted in ``clock_steps``, the size in ``last_step_ms``); the receivers treat
    the seconds that follow as late data (docs/wire.md, "Time"). A step forward needs nothing: the second it
    interrupts is completed, and the gap is a gap."""

    min_samples: int = 3
    transitions: TransitionDetector | None = None  # a trunk sensor's postural transitions (ingest.transitions)
    reordered: int = 0
    clock_steps: int = 0
    last_step_ms: int = 0
    _second: int | None = None
    _last_t: int | None = None
    _t: list[int] = field(default_factory=list)
    _xyz: list[tuple[float, float, float]] = field(default_factory=list)

    STEP_BACK_MS: ClassVar[int] = 5_000  # longer than any notification is held back by the link or the host

    def add(self, t_ms: int, sample_g: tuple[float, float, float]) -> list[FeatureFrameV1]:
        out: list[FeatureFrameV1] = []
        if self._last_t is not None and t_ms < self._last_t:
            if self._last_t - t_ms > self.STEP_BACK_MS:
                self.clock_steps += 1
                self.last_step_ms = t_ms - self._last_t
                out = self.flush()
            else:
                self.reordered += 1
                t_ms = self._last_t
        self._last_t = t_ms
        second = t_ms // 1000
        if self._second is not None and second != self._second:
            out = self.flush()
        self._second = second
        self._t.append(t_ms)
        self._xyz.append(sample_g)
        return out

    def restart(self, step_ms: int) -> list[FeatureFrameV1]:
        """The sample clock was set back by ``step_ms`` (negative; ``ClockWatch`` saw the host's clock go back):
        complete the second in progress and start again at whatever time comes next, however close to the last,
        instead of folding the samples of the next seconds into it. Counted in ``clock_steps``, the step kept in
        ``last_step_ms``."""
        self.clock_steps += 1
        self.last_step_ms = step_ms
        self._last_t = None
        return self.flush()

    def flush(self) -> list[FeatureFrameV1]:
        if not self._t:
            return []
        frames = list(
            seconds_from_samples(
                np.array(self._t, dtype=np.int64),
                np.array(self._xyz),
                min_samples=self.min_samples,
                transitions=self.transitions,
            )
        )
        self._t, self._xyz, self._second = [], [], None
        return frames


@dataclass
class ClockWatch:
    """Readings of the host clock at notification arrival, in the order they were taken. Pure (readings in).

    Notifications arrive in real time, so readings never go back unless the clock was set back (NTP stepping a
    clock that ran ahead, a manual change): any reading more than ``TOLERANCE_MS`` before the one before is a step.
    Sample times are back-dated from arrival, so a step of under ``SecondAggregator.STEP_BACK_MS`` looks like a late
    notification to the aggregator, which would fold every sample until the clock catches up into one second
    (a 3 s step: one second of 208 samples at 52 Hz); the collector restarts the aggregation at a step instead.
    ``steps`` counts them, ``last_step_ms`` is the last one's size (negative)."""

    TOLERANCE_MS: ClassVar[int] = 2  # rounding of two readings of the same instant
    steps: int = 0
    last_step_ms: int = 0
    _last_ms: int | None = None

    def read(self, now_ms: int) -> bool:
        """Take a reading; True when the clock went back since the last one."""
        stepped = self._last_ms is not None and now_ms < self._last_ms - self.TOLERANCE_MS
        if stepped:
            assert self._last_ms is not None
            self.steps += 1
            self.last_step_ms = now_ms - self._last_ms
        self._last_ms = now_ms
        return stepped


@dataclass
class Batcher:
    """Consecutive frames of one device -> FeatureBatchV1 of at most ``batch_s`` seconds."""

    wearer: str
    device: str
    placement: Placement
    batch_s: int
    seq: int = 0
    refused: int = 0  # frames the wire contract would refuse (a host clock in 1970, a sensor reporting zeros)
    last_refusal: str | None = None
    _frames: list[FeatureFrameV1] = field(default_factory=list)
    _refusals: list[tuple[FeatureFrameV1, str]] = field(default_factory=list)  # not yet taken by ``refusals``
    _latest_ms: int | None = None  # the second added last, refused or not (after a clock set back: the new time)

    def add(self, frames: list[FeatureFrameV1]) -> list[FeatureBatchV1]:
        """Frames in, the batches they complete out; a frame the wire contract would refuse is counted in
        ``refused`` (its reason in ``last_refusal``), kept for ``refusals`` and left out, so one bad second never
        costs its batch."""
        out: list[FeatureBatchV1] = []
        for frame in frames:
            self._latest_ms = frame.t_ms
            problem = batch_problem([frame])
            if problem is not None:
                self.refused += 1
                self.last_refusal = problem
                self._refusals.append((frame, problem))
                continue
            if self._frames and (
                frame.t_ms - self._frames[0].t_ms >= self.batch_s * 1000 or frame.t_ms <= self._frames[-1].t_ms
            ):
                out += self.flush()
            self._frames.append(frame)
        return out

    def refusals(self, final: bool = False) -> list[tuple[FeatureFrameV1, str]]:
        """The refused seconds (each with the rule it breaks) not taken yet, once there is a batch's worth of them
        for one dead letter: ``batch_s`` of them, or the first of them ``batch_s`` seconds before the second added
        last (by its time), or, ``final`` (the connection ends), whatever there is; else none. So a sensor that
        reports zeros for an hour makes a letter per batch, not one per second, and a lone bad second goes out
        with the batch after it."""
        if not self._refusals:
            return []
        first_ms = self._refusals[0][0].t_ms
        latest_ms = first_ms if self._latest_ms is None else self._latest_ms
        if final or len(self._refusals) >= self.batch_s or latest_ms - first_ms >= self.batch_s * 1000:
            taken, self._refusals = self._refusals, []
            return taken
        return []

    def flush(self) -> list[FeatureBatchV1]:
        if not self._frames:
            return []
        batch = FeatureBatchV1(
            wearer=self.wearer, device=self.device, placement=self.placement, seq=self.seq, frames=self._frames
        )
        self.seq += 1
        self._frames = []
        return [batch]

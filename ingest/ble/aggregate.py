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

    def add(self, frames: list[FeatureFrameV1]) -> list[FeatureBatchV1]:
        """Frames in, the batches they complete out; a frame the wire contract would refuse is counted in
        ``refused`` (its reason in ``last_refusal``) and left out, so one bad second never costs its batch."""
        out: list[FeatureBatchV1] = []
        for frame in frames:
            problem = batch_problem([frame])
            if problem is not None:
                self.refused += 1
                self.last_refusal = problem
                continue
            if self._frames and (
                frame.t_ms - self._frames[0].t_ms >= self.batch_s * 1000 or frame.t_ms <= self._frames[-1].t_ms
            ):
                out += self.flush()
            self._frames.append(frame)
        return out

    def flush(self) -> list[FeatureBatchV1]:
        if not self._frames:
            return []
        batch = FeatureBatchV1(
            wearer=self.wearer, device=self.device, placement=self.placement, seq=self.seq, frames=self._frames
        )
        self.seq += 1
        self._frames = []
        return [batch]

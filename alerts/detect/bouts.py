"""Posture bouts in event time, activPAL style. Pure, constant memory per wearer.

A new posture counts only once it has lasted ``min_posture_s`` (activPAL's default 10 s); it is then
back-dated to its first second, so a 5-second stand inside a long sit does not break the sitting bout.
A data gap longer than ``max_gap_s`` ends the current bout at the last second seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.detect.posture import Posture


@dataclass(frozen=True, slots=True)
class Bout:
    posture: Posture
    start_ms: int
    end_ms: int  # exclusive: the first millisecond after the bout

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000.0


@dataclass(frozen=True, slots=True)
class BoutStarted:
    posture: Posture
    start_ms: int
    confirmed_ms: int  # when the minimum duration was reached (the frame that confirmed it)


@dataclass(frozen=True, slots=True)
class BoutEnded:
    bout: Bout


BoutChange = BoutStarted | BoutEnded


class BoutTracker:
    """Feed one posture per second in time order; get bout starts and ends back."""

    __slots__ = (
        "_cand_posture",
        "_cand_start_ms",
        "_cur_posture",
        "_cur_start_ms",
        "_last_ms",
        "max_gap_ms",
        "min_posture_ms",
        "stale",
    )

    def __init__(self, min_posture_s: int = 10, max_gap_s: int = 60) -> None:
        self.min_posture_ms = min_posture_s * 1000
        self.max_gap_ms = max_gap_s * 1000
        self._cur_posture: Posture | None = None
        self._cur_start_ms = 0
        self._cand_posture: Posture | None = None
        self._cand_start_ms = 0
        self._last_ms: int | None = None
        self.stale = 0  # frames dropped because they were not newer than the last one (duplicates)

    @property
    def current(self) -> tuple[Posture, int] | None:
        """The confirmed posture and its start, or None before the first confirmation / after a gap."""
        return None if self._cur_posture is None else (self._cur_posture, self._cur_start_ms)

    @property
    def last_ms(self) -> int | None:
        return self._last_ms

    def push(self, t_ms: int, posture: Posture) -> list[BoutChange]:
        out: list[BoutChange] = []
        if self._last_ms is not None:
            if t_ms <= self._last_ms:
                self.stale += 1
                return out
            if t_ms - self._last_ms > self.max_gap_ms:
                out.extend(self.close())
        self._last_ms = t_ms
        if posture == self._cur_posture:
            self._cand_posture = None
            return out
        if posture != self._cand_posture:
            self._cand_posture, self._cand_start_ms = posture, t_ms
        if t_ms + 1000 - self._cand_start_ms >= self.min_posture_ms:
            if self._cur_posture is not None:
                out.append(BoutEnded(Bout(self._cur_posture, self._cur_start_ms, self._cand_start_ms)))
            self._cur_posture, self._cur_start_ms = posture, self._cand_start_ms
            self._cand_posture = None
            out.append(BoutStarted(posture, self._cur_start_ms, t_ms))
        return out

    def switch_at(self, since_ms: int, posture: Posture) -> list[BoutChange]:
        """Say, after the fact, that since ``since_ms`` (already seen) the posture has been ``posture`` - for
        states that are only recognisable after a long time, such as a sensor not being worn."""
        out: list[BoutChange] = []
        if self._cur_posture == posture:
            return out
        start = since_ms
        if self._cur_posture is not None:
            start = max(since_ms, self._cur_start_ms)
            if start > self._cur_start_ms:
                out.append(BoutEnded(Bout(self._cur_posture, self._cur_start_ms, start)))
        self._cur_posture, self._cur_start_ms = posture, start
        self._cand_posture = None
        out.append(BoutStarted(posture, start, self._last_ms if self._last_ms is not None else start))
        return out

    def close(self) -> list[BoutChange]:
        """End the current bout at the last second seen (a gap, or the end of the data)."""
        out: list[BoutChange] = []
        if self._cur_posture is not None and self._last_ms is not None:
            out.append(BoutEnded(Bout(self._cur_posture, self._cur_start_ms, self._last_ms + 1000)))
        self._cur_posture = None
        self._cand_posture = None
        return out

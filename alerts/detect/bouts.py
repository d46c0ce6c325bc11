"""Posture bouts in event time, activPAL style. Pure, constant memory per wearer.

The minimum posture duration (``min_posture_s``, activPAL's default 10 s) applies to a change of posture *class*:
sitting, upright (standing and moving together), lying, not worn, unknown. A sitting bout ends at an upright period
of at least the minimum, however it alternates standing and walking (6 s at the counter, 4 s to the fridge); a
shorter one (a 5-second stand) does not break it. The new bout is back-dated to the period's first second. An upright
period that was all standing opens a static standing bout; one with steps in it opens a moving bout (stepping: not
stationary, SBRN). Inside an upright period, standing and moving change into each other after the minimum of the
new one, so a few seconds of shuffling do not end a static standing bout.
A data gap longer than ``max_gap_s`` ends the current bout at the last second seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from alerts.detect.posture import Posture
from alerts.detect.structs import restore_fields

PostureClass = Literal["sitting", "upright", "lying", "not_worn", "unknown"]
POSTURE_CLASS: dict[Posture, PostureClass] = {
    "sitting": "sitting",
    "standing": "upright",
    "moving": "upright",
    "lying": "lying",
    "not_worn": "not_worn",
    "unknown": "unknown",
}
# The bout an upright period of mixed standing and stepping opens: it is not static standing.
MIXED_UPRIGHT: Posture = "moving"


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


# The explicit form of a bout tracker in a format-2 snapshot (alerts/state.py, read only): the minimum posture and
# maximum gap (ms), the current bout's posture and start, the candidate posture's run, the run of another class, the
# last second seen (ms) and the stale frames counted. Format 3 writes the tracker itself (its fields in order).
TrackerSnapshot = tuple[int, int, Posture | None, int, Posture | None, int, PostureClass | None, int, int | None, int]


class BoutTracker(msgspec.Struct, array_like=True):
    """Feed one posture per second in time order; get bout starts and ends back. ``BoutTracker(10, 60)``: the minimum
    posture duration and the maximum gap in seconds. A ``msgspec.Struct``: the alert service's snapshot (format 3)
    writes it in C as the array of its fields in the order declared (a field added, removed or moved changes the
    format)."""

    min_posture_s: int = 10
    max_gap_s: int = 60
    _cur_posture: Posture | None = None
    _cur_start_ms: int = 0
    # the latest run of one posture other than the current one (a candidate for a change within a class)
    _cand_posture: Posture | None = None
    _cand_start_ms: int = 0
    # the latest run of seconds of one class other than the current bout's (a candidate for a change of class)
    _run_class: PostureClass | None = None
    _run_start_ms: int = 0
    _last_ms: int | None = None
    stale: int = 0  # frames dropped because they were not newer than the last one (duplicates)

    def __setstate__(self, state: tuple[None, dict[str, Any]] | dict[str, Any]) -> None:
        """Unpickle a tracker of a format-1 snapshot (a class with __slots__ then, its limits in ms); one saved before
        posture classes (no run of another class) starts without one."""
        slots = dict(state[1] if isinstance(state, tuple) else state)
        slots["min_posture_s"] = slots.pop("min_posture_ms") // 1000
        slots["max_gap_s"] = slots.pop("max_gap_ms") // 1000
        restore_fields(self, slots)

    @property
    def min_posture_ms(self) -> int:
        return self.min_posture_s * 1000

    @property
    def max_gap_ms(self) -> int:
        return self.max_gap_s * 1000

    @classmethod
    def from_snapshot(cls, s: TrackerSnapshot) -> BoutTracker:
        """The tracker of a format-2 snapshot."""
        if s[0] % 1000 or s[1] % 1000:
            raise ValueError(
                f"a bout tracker's minimum posture and maximum gap in whole seconds, not {s[0]}, {s[1]} ms"
            )
        return cls(s[0] // 1000, s[1] // 1000, *s[2:])

    @property
    def current(self) -> tuple[Posture, int] | None:
        """The confirmed posture and its start, or None before the first confirmation / after a gap."""
        return None if self._cur_posture is None else (self._cur_posture, self._cur_start_ms)

    @property
    def pending_since_ms(self) -> int | None:
        """When a change of the current bout began that is not confirmed yet (the wearer may be standing up, or
        only shifting): the first second of the earliest candidate; None when nothing is pending."""
        if self._cur_posture is None:
            return None
        if self._run_class is not None:  # a run of another class began (the candidate posture's run is within it)
            return self._run_start_ms
        return self._cand_start_ms if self._cand_posture is not None else None

    @property
    def last_ms(self) -> int | None:
        return self._last_ms

    def push(self, t_ms: int, posture: Posture) -> list[BoutChange]:
        out: list[BoutChange] = []
        if self._last_ms is not None:
            if t_ms <= self._last_ms:
                self.stale += 1
                return out
            if t_ms - self._last_ms > self.max_gap_s * 1000:
                out.extend(self.close())
        self._last_ms = t_ms
        if posture == self._cur_posture:
            self._cand_posture = self._run_class = None
            return out
        if posture != self._cand_posture:
            self._cand_posture, self._cand_start_ms = posture, t_ms
        posture_class = POSTURE_CLASS[posture]
        if self._cur_posture is not None and posture_class == POSTURE_CLASS[self._cur_posture]:
            # a change within the class (standing <-> moving): the new posture needs the minimum of its own
            self._run_class = None
            if t_ms + 1000 - self._cand_start_ms >= self.min_posture_s * 1000:
                self._confirm(posture, self._cand_start_ms, t_ms, out)
            return out
        if posture_class != self._run_class:
            self._run_class, self._run_start_ms = posture_class, t_ms
        if t_ms + 1000 - self._run_start_ms >= self.min_posture_s * 1000:
            # the candidate posture's run began with the class's: one posture all along; else a mixed upright period
            same = self._cand_start_ms <= self._run_start_ms
            self._confirm(posture if same else MIXED_UPRIGHT, self._run_start_ms, t_ms, out)
        return out

    def _confirm(self, posture: Posture, start_ms: int, t_ms: int, out: list[BoutChange]) -> None:
        if self._cur_posture is not None:
            out.append(BoutEnded(Bout(self._cur_posture, self._cur_start_ms, start_ms)))
        self._cur_posture, self._cur_start_ms = posture, start_ms
        self._run_class = None
        if self._cand_posture == posture:
            self._cand_posture = None  # else a run of the other upright posture goes on as a candidate
        out.append(BoutStarted(posture, start_ms, t_ms))

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
        self._cand_posture = self._run_class = None
        out.append(BoutStarted(posture, start, self._last_ms if self._last_ms is not None else start))
        return out

    def close(self) -> list[BoutChange]:
        """End the current bout at the last second seen (a gap, or the end of the data)."""
        out: list[BoutChange] = []
        if self._cur_posture is not None and self._last_ms is not None:
            out.append(BoutEnded(Bout(self._cur_posture, self._cur_start_ms, self._last_ms + 1000)))
        self._cur_posture = self._cand_posture = self._run_class = None
        return out

"""Minute rollups of the feature stream, computed by the bridge as frames pass. Pure, event time.

Dashboards over weeks read ``features_1m`` (one point per device and minute) instead of 60 raw points, and raw
frames may expire (retention) while rollups stay. A minute is complete, and emitted, when a frame of a later
minute arrives or the device reports ``offline``. A device that goes on in the same minute after an ``offline`` (a
collector's last will after a Wi-Fi blip, a phone resuming after its idle flush) adds to the minute already
emitted, which is emitted again whole when it completes: the point replaces the first with the complete minute,
never with the rest of it alone. The state (at most one open minute per device) is saved with
each spool transaction - the devices the transaction's batch touched (``state_changes``), not all of them - so a
crash neither loses nor double-counts a minute: redelivered frames that are not newer than the last one seen are
ignored (``ingest.order``: the same rules as the alert service).
"""

from __future__ import annotations

import bisect
import functools
import json
import operator
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import msgspec

from ingest.order import JUMP_MS, SAME_SECOND_MS, admit
from ingest.store.fast_features import BatchLike
from ingest.store.points import Point

MINUTE_MS = 60_000
# Batches shorter than this are folded frame by frame even when in order: summing a minute's columns at once costs
# fixed work per minute (a list per column) that only longer batches repay. `python -m bench.feature_path` (session
# 18, two runs), a minute at once against frame by frame, us a frame: 1 frame a message 3.52-3.63 against 1.26-1.27,
# 10 frames 0.77 against 0.75-0.76, 12 frames 0.70-0.72 against 0.74, 20 frames 0.63-0.69 against 0.76-0.77.
AT_ONCE_MIN_FRAMES = 12


@dataclass
class _Open:
    wearer: str
    placement: str
    minute_ms: int
    last_ms: int
    frames: int = 0
    incl_sum: float = 0.0
    incl_n: int = 0
    g_sum: tuple[float, float, float] = (0.0, 0.0, 0.0)
    g_n: int = 0
    lean_sum: float = 0.0
    lean_n: int = 0
    enmo_sum: float = 0.0
    steps: int = 0
    emitted: int = 0  # frames in the point last emitted for this minute (an offline closed it): 0, none yet

    def point(self, device: str) -> Point:
        fields: dict[str, float | int] = {
            "frames": self.frames,
            "enmo_mg": round(self.enmo_sum / self.frames, 3),
            "steps": self.steps,
        }
        if self.incl_n:
            fields["incl_deg"] = round(self.incl_sum / self.incl_n, 3)
        if self.g_n:
            for axis, total in zip(("gx", "gy", "gz"), self.g_sum, strict=True):
                fields[axis] = round(total / self.g_n, 4)
        if self.lean_n:
            fields["lean_deg"] = round(self.lean_sum / self.lean_n, 3)
        tags = (("device", device), ("placement", self.placement), ("wearer", self.wearer))
        return Point("features_1m", tags, fields, self.minute_ms)


@dataclass
class _HeldFrame:
    """What the rollup needs of a frame held over a checkpoint (the spool's saved state)."""

    t_ms: int
    incl_deg: float | None
    gx: float | None
    gy: float | None
    gz: float | None
    enmo_mg: float
    steps: int
    lean_deg: float | None


_OPEN_FIELDS = tuple(_Open.__dataclass_fields__)
_MEMBER_ENCODER = msgspec.json.Encoder()  # a member as JSON, as json.dumps would write it but faster (any spacing)


def _key(wearer: str, device: str) -> str:
    return f"{wearer}/{device}"  # ids match the wire's pattern, which has no "/"


# Python 3.12's sum() of floats compensates its rounding (Neumaier), which the frame-by-frame ``+=`` does not: there,
# reduce(add) keeps the same order of additions and so the same bits; 3.11's sum() adds in order, faster.
_in_order_sum: Callable[[Sequence[Any], Any], Any] = (
    sum if sys.version_info < (3, 12) else lambda values, start: functools.reduce(operator.add, values, start)
)


def _fold_optional(values: list[float | None], total: float, n: int) -> tuple[float, int]:
    """A column that may miss values (the angles) added in order to ``total``/``n``: the present ones only."""
    if None not in values:
        return _in_order_sum(values, total), n + len(values)
    for value in values:
        if value is not None:
            total += value
            n += 1
    return total, n


def _fold_run(current: _Open, frames: Sequence[Any]) -> None:
    """Frames of ``current``'s minute, in order, into its sums: what ``MinuteRollup._fold`` does frame by frame,
    a column at a time (a column with some values missing, which the wire refuses for gx/gy/gz but allows for the
    angles, frame by frame)."""
    current.frames += len(frames)
    current.incl_sum, current.incl_n = _fold_optional([f.incl_deg for f in frames], current.incl_sum, current.incl_n)
    gx = [f.gx for f in frames]
    gy = [f.gy for f in frames]
    gz = [f.gz for f in frames]
    if None not in gx and None not in gy and None not in gz:
        sx, sy, sz = current.g_sum
        current.g_sum = (_in_order_sum(gx, sx), _in_order_sum(gy, sy), _in_order_sum(gz, sz))
        current.g_n += len(gx)
    else:
        for x, y, z in zip(gx, gy, gz, strict=True):
            if x is not None and y is not None and z is not None:
                sx, sy, sz = current.g_sum
                current.g_sum = (sx + x, sy + y, sz + z)
                current.g_n += 1
    current.enmo_sum = _in_order_sum([f.enmo_mg for f in frames], current.enmo_sum)
    current.steps += sum([f.steps for f in frames])
    current.lean_sum, current.lean_n = _fold_optional([f.lean_deg for f in frames], current.lean_sum, current.lean_n)


class MinuteRollup:
    def __init__(self, state: str | None = None) -> None:
        self._open: dict[str, _Open] = {}
        self._held: dict[str, Any] = {}  # per device, a frame that jumped ahead and waits for the next
        self._changed: set[str] = set()  # devices whose member of ``state`` changed since ``state_changes``
        self.stale_frames = 0
        self.glitch_frames = 0
        if state:
            for key, values in json.loads(state).items():
                held = values.pop("held", None)
                if held is not None:
                    self._held[key if "/" in key else _key(values["wearer"], key)] = _HeldFrame(**held)
                minute = _Open(**{**values, "g_sum": tuple(values.get("g_sum", (0.0, 0.0, 0.0)))})
                # state saved before the key held the wearer was keyed by device id alone
                self._open[key if "/" in key else _key(minute.wearer, key)] = minute

    def add(self, batch: BatchLike) -> list[Point]:
        """Fold a batch in; return the minutes it completed. Frames are taken in event time per device
        (``ingest.order.admit``): repeats and the same second again are counted in ``stale_frames``, a frame that
        jumps more than a minute ahead waits for the next, and one refused as a clock glitch is counted in
        ``glitch_frames``.

        The common case - the device's minute open, no frame held, every frame 1 s .. a minute after the one
        before - is folded a minute at a time (``_add_in_order``) when the batch has at least
        ``AT_ONCE_MIN_FRAMES``, the same sums as frame by frame (property-tested against ``_add_frames``,
        tests/unit/ingest/store/test_rollup_fast.py)."""
        key = _key(batch.wearer, batch.device)
        current = self._open.get(key)
        frames = batch.frames
        if current is not None and key not in self._held and len(frames) >= AT_ONCE_MIN_FRAMES:
            times = [f.t_ms for f in frames]
            gaps = list(map(operator.sub, times, [current.last_ms, *times]))
            if min(gaps) >= SAME_SECOND_MS and max(gaps) <= JUMP_MS:
                self._changed.add(key)
                return self._add_in_order(key, current, batch, times)
        return self._add_frames(batch)

    def _add_in_order(self, key: str, current: _Open, batch: BatchLike, times: list[int]) -> list[Point]:
        """``add`` for frames each taken as they come (``add`` checked it): a minute's frames summed at once."""
        out: list[Point] = []
        frames = batch.frames
        start = 0
        end = len(times)
        while start < end:
            minute = times[start] - times[start] % MINUTE_MS
            stop = bisect.bisect_left(times, minute + MINUTE_MS, start)
            if minute != current.minute_ms:
                if current.frames > current.emitted:
                    out.append(current.point(batch.device))
                current = _Open(batch.wearer, batch.placement, minute, times[start])
                self._open[key] = current
            _fold_run(current, frames[start:stop] if start or stop < end else frames)
            start = stop
        current.last_ms = times[-1]
        return out

    def _add_frames(self, batch: BatchLike) -> list[Point]:
        """``add`` frame by frame, each through ``ingest.order.admit`` unless it plainly follows the one before."""
        out: list[Point] = []
        key = _key(batch.wearer, batch.device)
        self._changed.add(key)
        current = self._open.get(key)
        # Sums run in local variables (this is on the bridge's hot path) and go back at minute boundaries.
        last_ms = current.last_ms if current is not None else None
        held = self._held.get(key)
        for received in batch.frames:
            t_ms = received.t_ms
            if held is None and last_ms is not None and last_ms + SAME_SECOND_MS <= t_ms <= last_ms + JUMP_MS:
                taken: tuple[Any, ...] = (received,)  # the common case, without the call
                last_ms = t_ms
            else:
                last_ms, held, admitted = admit(last_ms, held, received)
                self.stale_frames += admitted.stale
                self.glitch_frames += admitted.refused is not None
                taken = admitted.frames
            for frame in taken:
                current = self._fold(key, current, batch.wearer, batch.placement, batch.device, frame, out)
        if current is not None and last_ms is not None:
            current.last_ms = last_ms
        if held is None:
            self._held.pop(key, None)
        else:
            self._held[key] = held
        return out

    def _fold(
        self, key: str, current: _Open | None, wearer: str, placement: str, device: str, frame: Any, out: list[Point]
    ) -> _Open:
        """One frame taken into its device's minute; a frame of a later minute completes the open one (into
        ``out``). Returns the open minute."""
        t_ms = frame.t_ms
        minute = t_ms - t_ms % MINUTE_MS
        if current is None or minute != current.minute_ms:
            if current is not None and current.frames > current.emitted:
                out.append(current.point(device))
            current = _Open(wearer, placement, minute, t_ms)
            self._open[key] = current
        current.frames += 1
        if frame.incl_deg is not None:
            current.incl_sum += frame.incl_deg
            current.incl_n += 1
        if frame.gx is not None and frame.gy is not None and frame.gz is not None:
            sx, sy, sz = current.g_sum
            current.g_sum = (sx + frame.gx, sy + frame.gy, sz + frame.gz)
            current.g_n += 1
        current.enmo_sum += frame.enmo_mg
        current.steps += frame.steps
        if frame.lean_deg is not None:
            current.lean_sum += frame.lean_deg
            current.lean_n += 1
        return current

    def close_device(self, wearer: str, device: str) -> list[Point]:
        """The device went offline: its open minute is emitted. A frame held after a jump was its last and is
        taken first (no frame will come to refuse it). The minute is kept: frames of the same minute that still
        come (the device was back within it) add to it, and the whole minute is emitted again when it completes.
        The last time seen is kept, so a redelivered old frame cannot reopen (and overwrite) a finished minute."""
        key = _key(wearer, device)
        self._changed.add(key)
        current = self._open.get(key)
        out: list[Point] = []
        held = self._held.pop(key, None)
        if held is not None and current is not None:
            current = self._fold(key, current, wearer, current.placement, device, held, out)
            current.last_ms = held.t_ms
        if current is None or current.frames == current.emitted:
            return out
        current.emitted = current.frames
        return [*out, current.point(device)]

    def state(self) -> str:
        """Every open minute (and frame held after a jump), as a JSON object keyed ``wearer/device``: what
        ``MinuteRollup(state)`` starts from."""
        return json.dumps({key: self._member(key) for key in self._open})

    def state_changes(self) -> dict[str, str | None]:
        """The members of ``state`` that changed since the last call, each as its JSON value (None: the device was
        forgotten): what the bridge saves with each spool transaction (``Spool.append``'s ``parts``), so that a
        transaction writes the devices it touched, not all of them (at 10,000 devices ``state`` is about 2.7 MB)."""
        encode = _MEMBER_ENCODER.encode
        changes = {key: encode(self._member(key)).decode() if key in self._open else None for key in self._changed}
        self._changed.clear()
        return changes

    def _member(self, key: str) -> dict[str, Any]:
        """A device's member of ``state``: its open minute's fields (and ``held``, a frame held after a jump). Read
        field by field, not with ``dataclasses.asdict``, which copies deeply and cost 10 us a device."""
        minute = self._open[key]
        member = {name: getattr(minute, name) for name in _OPEN_FIELDS}
        held = self._held.get(key)
        if held is not None:
            member["held"] = {name: getattr(held, name) for name in _HeldFrame.__dataclass_fields__}
        return member

    def open_minutes(self, wearer: str) -> dict[str, dict[str, object]]:
        """The wearer's devices and the minute each has open (data rights: ``kinetic data export``). A device whose
        last minute was emitted (offline) is here with that minute (``emitted`` = ``frames``): the bridge keeps it,
        and the time it was last seen (``last_ms``), in case the device goes on within it; ``forget`` erases them
        too, so export shows them."""
        prefix = _key(wearer, "")
        return {
            key.removeprefix(prefix): asdict(values) for key, values in self._open.items() if values.wearer == wearer
        }

    def forget(self, wearer: str) -> bool:
        """Drop the wearer's open minutes without emitting them (``kinetic data delete``); True if any was held."""
        self._held = {
            key: frame for key, frame in self._held.items() if key in self._open and self._open[key].wearer != wearer
        }
        kept = {key: values for key, values in self._open.items() if values.wearer != wearer}
        self._changed.update(self._open.keys() - kept.keys())
        forgotten = len(kept) != len(self._open)
        self._open = kept
        return forgotten

"""Event-time order of one device's frames, as every receiver follows it. Pure: time comes from the frames.

A receiver (the alert service per sensor, the bridge's minute rollup) takes a device's frames in event time and
must survive at-least-once delivery and clocks that glitch:

- A frame not newer than the newest taken (a redelivery, a collector replaying its queue, a repeated BLE
  notification) is **stale**: skipped, counted, never counted twice.
- A frame less than ``SAME_SECOND_MS`` after the newest taken is the **same second** sent again (a collector's
  resend with a different rounding): frames are per second (docs/wire.md), so it is stale too. Two frames half a
  second apart would otherwise count one second of sitting twice.
- A frame more than ``JUMP_MS`` after the newest taken is a **jump**: a gap (the sensor was off, out of range) or a
  clock glitch (one frame stamped hours ahead in a replayed backlog). It is **held** until the device's next frame
  says which: a next frame after it confirms the jump (the held frame is taken, then the next one); a next frame
  between the newest taken and the held one shows the held frame was the glitch: it is **refused** with the reason
  and the stream goes on from the next frame. Without the hold, one frame stamped hours ahead made every later
  frame of a backlog stale, and the receiver skipped hours of good data.

The cost is one frame of delay after every gap. What this cannot tell: two or more consecutive frames that jump
ahead together and agree with one another are taken as the stream's new time (as a clock set forward is), and
what comes from before them is then stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

SAME_SECOND_MS = 500  # frames are per second: two closer than half a second are one second sent twice
JUMP_MS = 60_000  # a frame more than a minute after the last waits for the next to confirm it


class Timed(Protocol):
    @property
    def t_ms(self) -> int: ...


F = TypeVar("F", bound=Timed)


@dataclass(frozen=True)
class Admitted(Generic[F]):
    """What ``admit`` decided for one frame: the frames to take now, in order (none, the frame, or a held frame
    confirmed and then this one), whether the frame was stale, and a held frame refused as a glitch with the
    reason."""

    frames: tuple[F, ...] = ()
    stale: bool = False
    refused: F | None = None
    reason: str | None = None


def admit(last_ms: int | None, held: F | None, frame: F) -> tuple[int | None, F | None, Admitted[F]]:
    """One frame of a device against that device's order state: ``last_ms`` (the newest frame taken, epoch ms, or
    None before the first) and ``held`` (a frame that jumped ahead and waits for confirmation, or None). Returns the
    new ``last_ms``, the new ``held`` and what to do (``Admitted``). Callers keep the two state values with the
    device (they are plain data: pickled by the alert service, JSON in the bridge's rollup state)."""
    t_ms = frame.t_ms
    taken: tuple[F, ...] = ()
    if held is not None:
        if t_ms >= held.t_ms + SAME_SECOND_MS:  # the stream went on from the jump: it was real
            taken, last_ms, held = (held,), held.t_ms, None
        elif t_ms > held.t_ms - SAME_SECOND_MS or (last_ms is not None and t_ms < last_ms + SAME_SECOND_MS):
            return last_ms, held, Admitted(stale=True)  # the held second again, or older than the newest taken
        else:  # the stream went on from before the jump: the held frame was a glitch
            reason = (
                f"t_ms {held.t_ms} jumped {(held.t_ms - (last_ms or t_ms)) / 1000:.0f} s ahead of the device's "
                f"stream (t_ms {last_ms}), which went on from t_ms {t_ms}: refused as a clock glitch"
            )
            return t_ms, None, Admitted(frames=(frame,), refused=held, reason=reason)
    if last_ms is not None and t_ms < last_ms + SAME_SECOND_MS:
        return last_ms, held, Admitted(frames=taken, stale=True)
    if last_ms is not None and t_ms - last_ms > JUMP_MS:
        return last_ms, frame, Admitted(frames=taken)
    return t_ms, None, Admitted(frames=(*taken, frame))

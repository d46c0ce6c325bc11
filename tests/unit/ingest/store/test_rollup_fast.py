"""The rollup's minute-at-a-time path (``MinuteRollup._add_in_order``) gives exactly what folding frame by frame
(``MinuteRollup._add_frames``, the path it shortcuts) gives: the same points, the same saved state, the same counts,
for any sequence of batches and offlines, in order or not."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.store.points import Point
from ingest.store.rollup import AT_ONCE_MIN_FRAMES, MinuteRollup

T0 = 1_800_000_000_000 - 1_800_000_000_000 % 60_000


@dataclass(frozen=True)
class Frame:
    t_ms: int
    enmo_mg: float
    steps: int = 0
    n: int = 50
    gx: float | None = None
    gy: float | None = None
    gz: float | None = None
    incl_deg: float | None = None
    lean_deg: float | None = None
    sd_mg: float | None = None
    hr_bpm: float | None = None


@dataclass(frozen=True)
class Batch:
    wearer: str
    device: str
    placement: str
    frames: list[Frame]


class FrameByFrame(MinuteRollup):
    """The rollup with every batch folded frame by frame: the oracle."""

    def add(self, batch: Batch) -> list[Point]:  # type: ignore[override]
        return self._add_frames(batch)


class Counting(MinuteRollup):
    minutes_at_once = 0

    def _add_in_order(self, *args: object) -> list[Point]:  # type: ignore[override]
        self.minutes_at_once += 1
        return super()._add_in_order(*args)  # type: ignore[arg-type]


IN_ORDER_MS = [1000, 1000, 1000, 1000, 1000, 1000, 1500, 30_000, 59_000, 60_000]
ANY_STEP_MS = [1000, 1000, 1000, 1500, 999, 0, -1000, 30_000, 59_000, 60_000, 60_001, 200_000]


@st.composite
def frames_after(draw: st.DrawFn, t_ms: int) -> tuple[list[Frame], int]:
    """Frames after ``t_ms``: most batches in order (each frame 1 s to a minute after the one before, the path
    taken a minute at a time), some now and then repeated, out of order, or after a jump, and any batch may start
    with a repeat or a jump; each column (the gravity vector, the angles) there in every frame, in none, or in some
    (a gravity vector partly there is not valid on the wire, which the rollup does not rely on). The values come from
    a generator seeded by one draw, so that a history of many frames stays within what hypothesis draws."""
    rnd = random.Random(draw(st.integers(0, 2**32)))  # a seed drawn, the values made from it
    steps = draw(st.sampled_from([IN_ORDER_MS, IN_ORDER_MS, IN_ORDER_MS, ANY_STEP_MS]))
    g_kind, incl_kind, lean_kind = (draw(st.sampled_from(["all", "all", "none", "some"])) for _ in range(3))

    def column(kind: str, lo: float, hi: float) -> float | None:
        if kind == "none" or (kind == "some" and rnd.random() < 0.5):
            return None
        return rnd.uniform(lo, hi)

    out = []
    for i in range(draw(st.integers(1, 70))):
        t_ms += rnd.choice(ANY_STEP_MS if i == 0 else steps)
        gx, gy, gz = (rnd.uniform(-2, 2) for _ in range(3))
        if g_kind == "none" or (g_kind == "some" and rnd.random() < 0.5):
            gx, gz = (None, None) if rnd.random() < 0.5 else (gx, gz)
            gy = None
        out.append(
            Frame(
                t_ms=t_ms,
                enmo_mg=rnd.uniform(0, 1000),
                steps=rnd.randint(0, 3),
                gx=gx,
                gy=gy,
                gz=gz,
                incl_deg=column(incl_kind, 0, 180),
                lean_deg=column(lean_kind, -90, 90),
            )
        )
    return out, t_ms


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, Batch | str]]:
    clocks = {"d1": T0 + draw(st.integers(0, 59)) * 1000, "d2": T0}
    out: list[tuple[str, Batch | str]] = []
    for _ in range(draw(st.integers(1, 12))):
        device = draw(st.sampled_from(["d1", "d1", "d2"]))
        if draw(st.integers(0, 9)) == 0:
            out.append(("offline", device))
            continue
        frames, clocks[device] = draw(frames_after(clocks[device]))
        if draw(st.integers(0, 9)) == 0:
            clocks[device] -= 120_000  # redelivery of older frames, or a clock set back
        out.append(("add", Batch("ann", device, "trunk", frames)))
    return out


@settings(max_examples=200, deadline=None)
@given(histories())
def test_minutes_at_once_equal_frames_one_by_one(history: list[tuple[str, Batch | str]]) -> None:
    fast, oracle = MinuteRollup(), FrameByFrame()
    for op, what in history:
        if op == "offline":
            assert isinstance(what, str)
            assert fast.close_device("ann", what) == oracle.close_device("ann", what)
        else:
            assert isinstance(what, Batch)
            assert fast.add(what) == oracle.add(what)  # type: ignore[arg-type]
        assert fast.state_changes() == oracle.state_changes()
        assert (fast.stale_frames, fast.glitch_frames) == (oracle.stale_frames, oracle.glitch_frames)
    assert fast.state() == oracle.state()


def test_frames_a_second_apart_take_the_minute_at_a_time_path() -> None:
    """Not vacuous: the common stream (a batch of 50 one-second frames after another) goes the fast way."""
    rollup = Counting()
    for start in range(0, 500, 50):
        frames = [Frame(t_ms=T0 + (start + i) * 1000, enmo_mg=1.0, incl_deg=10.0) for i in range(50)]
        rollup.add(Batch("ann", "d1", "trunk", frames))  # type: ignore[arg-type]
    assert rollup.minutes_at_once == 9  # all but the first batch, which opens the device's first minute


def test_short_batches_are_folded_frame_by_frame() -> None:
    """A stream of one frame per message (a phone, a collector flushing each second) takes the frame path, cheaper
    for few frames; a batch of AT_ONCE_MIN_FRAMES takes the minute at a time."""
    rollup = Counting()
    for second in range(200):
        rollup.add(Batch("ann", "d1", "trunk", [Frame(t_ms=T0 + second * 1000, enmo_mg=1.0, incl_deg=10.0)]))  # type: ignore[arg-type]
    assert rollup.minutes_at_once == 0
    t_ms = T0 + 200 * 1000
    for size, at_once in ((AT_ONCE_MIN_FRAMES - 1, 0), (AT_ONCE_MIN_FRAMES, 1)):
        frames = [Frame(t_ms=t_ms + i * 1000, enmo_mg=1.0, incl_deg=10.0) for i in range(size)]
        rollup.add(Batch("ann", "d1", "trunk", frames))  # type: ignore[arg-type]
        assert rollup.minutes_at_once == at_once
        t_ms += size * 1000

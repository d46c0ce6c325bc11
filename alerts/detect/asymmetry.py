"""Asymmetric (one-sided) loading and trunk exposure, per wearer, in event time. Pure, constant memory.

Every metric is defined once in docs/metrics.md. Inputs are per-second trunk angles relative to the wearer's
calibrated neutral: ``lean_deg`` (lateral, + = right) and ``incl_deg`` (forward inclination from upright).
Only static seconds count (sitting or standing): a walking trunk sways by design.
"""

from __future__ import annotations

from typing import Any

import msgspec

from alerts.detect.posture import Posture
from alerts.detect.structs import restore_fields

LEAN_LIMIT_DEG = 10.0  # ISO 11226 / EN 1005-4: lateral flexion beyond +-10 deg is not acceptable when static
SYMMETRY_DEADBAND_DEG = 2.0  # lean within +-2 deg is "centred" and adds to neither side
FORWARD_BANDS_DEG = (20.0, 60.0)  # ISO 11226 trunk inclination: 0-20 acceptable, 20-60 conditional, > 60 not
# Lean episodes (docs/metrics.md). An episode begins with a static second beyond the limit and holds while the lean
# stays above the limit minus LEAN_HYSTERESIS_DEG: no standard sets a leaving line; 3 deg is twice the 1-s noise
# of a trunk lean at rest that issue 14 names (+-1.5 deg), so noise alone rarely crosses both lines. It ends once
# the wearer has been out of it (below the leaving line, not static, no lean or no data) for LEAN_MIN_INTERRUPTION_S,
# the minimum posture duration of the bouts (activPAL's 10 s), back-dated to the first second out.
LEAN_HYSTERESIS_DEG = 3.0
LEAN_MIN_INTERRUPTION_S = 10
# An episode is still going on while the wearer was last in it at most this long ago (the seconds between a frame
# and the next are 1000 ms give or take jitter; half a second of slack).
EPISODE_TOLERANCE_MS = LEAN_MIN_INTERRUPTION_S * 1000 + 500
STATIC: frozenset[Posture] = frozenset({"sitting", "standing"})


def symmetry_index(right_deg_s: float, left_deg_s: float) -> float:
    """SI = (R - L) / (0.5 (R + L)) x 100 %; 0 when there is no lean. A day's SI comes from the day's sums of R and
    L (hourly summaries store them), not from averaging hourly SIs."""
    total = right_deg_s + left_deg_s
    return round((right_deg_s - left_deg_s) / (0.5 * total) * 100, 1) if total else 0.0


class LeanEpisode(msgspec.Struct, frozen=True, array_like=True):
    side: str  # "left" | "right"
    start_ms: int
    end_ms: int
    mean_abs_deg: float

    def __setstate__(self, state: dict[str, Any] | list[Any]) -> None:
        """Unpickle an episode of a format-1 snapshot (a dataclass then)."""
        restore_fields(self, state)

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000


# The explicit forms (alerts/state.py, formats 2, 3) of a lean run (side, start ms, last ms in it), an episode
# (side, start ms, end ms, mean |lean| deg) and a day's exposure (its fields in order, its lean run and episodes
# nested; sums of degree-seconds as float64) are these structures themselves: ``msgspec.Struct`` with
# ``array_like=True`` is written as the array of its fields in the order declared, in C, and decoded back to them.
class LeanRun(msgspec.Struct, array_like=True):
    """A lean episode as it happens (the live form, for prompts; ``ExposureDay`` counts the same episodes): since
    when has the trunk leant to one side while static? Pure, constant memory, event time.

    It begins with a static second beyond ``limit_deg`` on one side (``start_ms``); a second counts as in it while
    the lean stays beyond the limit, or beyond the leaving line (limit - ``LEAN_HYSTERESIS_DEG``) when the second
    before was in it too (hysteresis); ``last_ms`` is the last second in it. It ends once the wearer has been out of
    it for ``LEAN_MIN_INTERRUPTION_S`` seconds (missing seconds count as out), at ``last_ms`` + 1 s, or at once when
    the trunk leans beyond the limit to the other side (a new episode begins there).
    """

    side: str | None = None
    start_ms: int = 0
    last_ms: int = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a lean run of a format-1 snapshot (a dataclass then)."""
        restore_fields(self, state)

    def push(self, t_ms: int, posture: Posture, lean_deg: float | None, limit_deg: float) -> tuple[int, int] | None:
        """Feed one trunk second; returns (start_ms, end_ms) of an episode that has just ended."""
        static = posture in STATIC and lean_deg is not None
        lean = lean_deg if static and lean_deg is not None else 0.0
        beyond = ("right" if lean > 0 else "left") if static and abs(lean) > limit_deg else None
        ended = None
        if self.side is not None:
            seconds_since_in = round((t_ms - self.last_ms) / 1000)
            towards = lean if self.side == "right" else -lean
            holding = static and seconds_since_in == 1 and towards >= limit_deg - LEAN_HYSTERESIS_DEG
            if beyond == self.side or holding:
                if seconds_since_in - 1 < LEAN_MIN_INTERRUPTION_S:  # missing seconds between were out
                    self.last_ms = t_ms
                    return None
                ended = self._end()
            elif beyond is not None or seconds_since_in >= LEAN_MIN_INTERRUPTION_S:
                ended = self._end()  # across to the other side, or out for long enough
            else:
                return None  # an interruption in progress: the episode may still go on
        if beyond is not None:
            self.side, self.start_ms, self.last_ms = beyond, t_ms, t_ms
        return ended

    def _end(self) -> tuple[int, int]:
        ended = (self.start_ms, self.last_ms + 1000)
        self.side = None
        return ended

    @property
    def current_start_ms(self) -> int | None:
        return self.start_ms if self.side is not None else None


LeanRunSnapshot = LeanRun
EpisodeSnapshot = LeanEpisode


class ExposureDay(msgspec.Struct, array_like=True):
    """Accumulates one wearer's day; ``summary()`` gives the documented metrics."""

    min_episode_s: int = 5 * 60
    static_s: int = 0
    above_limit_s: int = 0
    right_deg_s: float = 0.0
    left_deg_s: float = 0.0
    forward_s: list[int] = msgspec.field(default_factory=lambda: [0, 0, 0])
    episodes: list[LeanEpisode] = msgspec.field(default_factory=list)
    _run: LeanRun = msgspec.field(default_factory=LeanRun)
    _run_sum: float = 0.0
    _run_n: int = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle an exposure of a format-1 snapshot (a dataclass then: the dict of its fields); one from before
        lean episodes had hysteresis kept its run in three fields."""
        if "_run" not in state:
            old = (state.pop("_run_side", None), state.pop("_run_start", 0), state.pop("_run_last", 0))
            state["_run"] = LeanRun(*old)
        restore_fields(self, state)

    def add(self, t_ms: int, posture: Posture, lean_deg: float | None, incl_deg: float | None) -> LeanEpisode | None:
        """Feed one second; returns a sustained lean episode when one has just ended."""
        static = posture in STATIC and lean_deg is not None
        if static and lean_deg is not None:
            self.static_s += 1
            if abs(lean_deg) > LEAN_LIMIT_DEG:
                self.above_limit_s += 1
            if lean_deg > SYMMETRY_DEADBAND_DEG:
                self.right_deg_s += lean_deg - SYMMETRY_DEADBAND_DEG
            elif lean_deg < -SYMMETRY_DEADBAND_DEG:
                self.left_deg_s += -lean_deg - SYMMETRY_DEADBAND_DEG
        if posture in STATIC and incl_deg is not None:
            band = 0 if incl_deg <= FORWARD_BANDS_DEG[0] else 1 if incl_deg <= FORWARD_BANDS_DEG[1] else 2
            self.forward_s[band] += 1
        # sustained episodes: the live lean run's definition (hysteresis, minimum interruption) at the ISO line
        side = self._run.side
        ended = self._run.push(t_ms, posture, lean_deg, LEAN_LIMIT_DEG)
        episode = self._record(side, ended) if ended is not None and side is not None else None
        if self._run.side is not None and self._run.last_ms == t_ms:  # this second is in the episode
            if self._run.start_ms == t_ms:
                self._run_sum, self._run_n = 0.0, 0
            self._run_sum, self._run_n = self._run_sum + abs(lean_deg or 0.0), self._run_n + 1
        return episode

    def _record(self, side: str, span: tuple[int, int]) -> LeanEpisode | None:
        start_ms, end_ms = span
        if end_ms - start_ms < self.min_episode_s * 1000 or not self._run_n:
            return None
        episode = LeanEpisode(side, start_ms, end_ms, self._run_sum / self._run_n)
        self.episodes.append(episode)
        return episode

    def _close_run(self) -> LeanEpisode | None:
        side, episode = self._run.side, None
        if side is not None:
            episode = self._record(side, (self._run.start_ms, self._run.last_ms + 1000))
        self._run = LeanRun()
        return episode

    def summary(self) -> dict[str, float | int]:
        self._close_run()
        return {
            "static_s": self.static_s,
            "lean_above_10deg_s": self.above_limit_s,
            "lean_above_10deg_pct": round(100 * self.above_limit_s / self.static_s, 1) if self.static_s else 0.0,
            "lean_symmetry_index_pct": symmetry_index(self.right_deg_s, self.left_deg_s),
            "lean_right_deg_s": round(self.right_deg_s, 1),
            "lean_left_deg_s": round(self.left_deg_s, 1),
            "sustained_lean_episodes": len(self.episodes),
            "forward_0_20_s": self.forward_s[0],
            "forward_20_60_s": self.forward_s[1],
            "forward_over_60_s": self.forward_s[2],
        }


ExposureSnapshot = ExposureDay

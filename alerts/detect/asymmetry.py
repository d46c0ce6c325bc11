"""Asymmetric (one-sided) loading and trunk exposure, per wearer, in event time. Pure, constant memory.

Every metric is defined once in docs/metrics.md. Inputs are per-second trunk angles relative to the wearer's
calibrated neutral: ``lean_deg`` (lateral, + = right) and ``incl_deg`` (forward inclination from upright).
Only static seconds count (sitting or standing): a walking trunk sways by design.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.detect.posture import Posture

LEAN_LIMIT_DEG = 10.0  # ISO 11226 / EN 1005-4: lateral flexion beyond +-10 deg is not acceptable when static
SYMMETRY_DEADBAND_DEG = 2.0  # lean within +-2 deg is "centred" and adds to neither side
FORWARD_BANDS_DEG = (20.0, 60.0)  # ISO 11226 trunk inclination: 0-20 acceptable, 20-60 conditional, > 60 not
EPISODE_TOLERANCE_MS = 3000  # up to 2 seconds between two seconds beyond the line
STATIC: frozenset[Posture] = frozenset({"sitting", "standing"})


def symmetry_index(right_deg_s: float, left_deg_s: float) -> float:
    """SI = (R - L) / (0.5 (R + L)) x 100 %; 0 when there is no lean. A day's SI comes from the day's sums of R and
    L (hourly summaries store them), not from averaging hourly SIs."""
    total = right_deg_s + left_deg_s
    return round((right_deg_s - left_deg_s) / (0.5 * total) * 100, 1) if total else 0.0


@dataclass(frozen=True, slots=True)
class LeanEpisode:
    side: str  # "left" | "right"
    start_ms: int
    end_ms: int
    mean_abs_deg: float

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000


@dataclass
class ExposureDay:
    """Accumulates one wearer's day; ``summary()`` gives the documented metrics."""

    min_episode_s: int = 5 * 60
    static_s: int = 0
    above_limit_s: int = 0
    right_deg_s: float = 0.0
    left_deg_s: float = 0.0
    forward_s: list[int] = field(default_factory=lambda: [0, 0, 0])
    episodes: list[LeanEpisode] = field(default_factory=list)
    _run_side: str | None = None
    _run_start: int = 0
    _run_last: int = 0
    _run_sum: float = 0.0
    _run_n: int = 0

    def add(self, t_ms: int, posture: Posture, lean_deg: float | None, incl_deg: float | None) -> LeanEpisode | None:
        """Feed one second; returns a sustained lean episode when one has just ended."""
        ended: LeanEpisode | None = None
        static = posture in STATIC and lean_deg is not None
        side = None
        if static and lean_deg is not None:
            self.static_s += 1
            if abs(lean_deg) > LEAN_LIMIT_DEG:
                self.above_limit_s += 1
                side = "right" if lean_deg > 0 else "left"
            if lean_deg > SYMMETRY_DEADBAND_DEG:
                self.right_deg_s += lean_deg - SYMMETRY_DEADBAND_DEG
            elif lean_deg < -SYMMETRY_DEADBAND_DEG:
                self.left_deg_s += -lean_deg - SYMMETRY_DEADBAND_DEG
        if posture in STATIC and incl_deg is not None:
            band = 0 if incl_deg <= FORWARD_BANDS_DEG[0] else 1 if incl_deg <= FORWARD_BANDS_DEG[1] else 2
            self.forward_s[band] += 1
        # sustained episodes: seconds beyond the limit on one side, tolerating up to 2 s between them (a second of
        # noise under the line or missing data does not split an episode)
        within_tolerance = self._run_side is not None and t_ms - self._run_last <= EPISODE_TOLERANCE_MS
        if side is not None and side == self._run_side and within_tolerance:
            self._run_last, self._run_sum, self._run_n = t_ms, self._run_sum + abs(lean_deg or 0), self._run_n + 1
        elif side is None and within_tolerance:
            pass
        else:
            ended = self._close_run()
            if side is not None:
                self._run_side, self._run_start, self._run_last = side, t_ms, t_ms
                self._run_sum, self._run_n = abs(lean_deg or 0.0), 1
        return ended

    def _close_run(self) -> LeanEpisode | None:
        episode = None
        if self._run_side is not None and (self._run_last + 1000 - self._run_start) >= self.min_episode_s * 1000:
            episode = LeanEpisode(self._run_side, self._run_start, self._run_last + 1000, self._run_sum / self._run_n)
            self.episodes.append(episode)
        self._run_side = None
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


@dataclass
class LeanRun:
    """The live form of a lean episode, for prompts: since when has the trunk stayed beyond ``limit_deg`` on one
    side while static (same tolerance as the episodes above)? Pure, constant memory."""

    side: str | None = None
    start_ms: int = 0
    last_ms: int = 0

    def push(self, t_ms: int, posture: Posture, lean_deg: float | None, limit_deg: float) -> tuple[int, int] | None:
        """Feed one trunk second; returns (start, end) of a run that has just ended."""
        side = None
        if posture in STATIC and lean_deg is not None and abs(lean_deg) > limit_deg:
            side = "right" if lean_deg > 0 else "left"
        within = self.side is not None and t_ms - self.last_ms <= EPISODE_TOLERANCE_MS
        if side is not None and side == self.side and within:
            self.last_ms = t_ms
            return None
        if side is None and within:
            return None
        ended = (self.start_ms, self.last_ms + 1000) if self.side is not None else None
        self.side = side
        if side is not None:
            self.start_ms = self.last_ms = t_ms
        return ended

    @property
    def current_start_ms(self) -> int | None:
        return self.start_ms if self.side is not None else None

"""The alert engine: per-wearer streaming state from feature batches to prompts and events. Pure.

Everything is in event time: the clock is the ``t_ms`` of the frames, never the wall clock, so the same
engine runs live, replays a week in seconds and is tested deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alerts.bouts import BoutEnded, BoutStarted, BoutTracker
from alerts.calibration import UprightCalibration
from alerts.catalog import Exercise, choose_exercise
from alerts.posture import NOT_WORN_S, PROMPT_HOLD_S, StillnessTracker, classify, inclination_deg
from alerts.settings import AlertsSettings
from alerts.summary import HOUR_MS, HourSummary, LeanNeutral
from ingest.wire import EventV1, FeatureBatchV1, FeatureFrameV1, Placement, PromptV1

# When a wearer wears several sensors, the bouts follow the most informative one (sedentary-science.md s3).
_PLACEMENT_RANK: dict[Placement, int] = {"thigh": 0, "trunk": 1, "wrist": 2}

Output = PromptV1 | EventV1


@dataclass(frozen=True, slots=True)
class EngineConfig:
    sitting_threshold_s: float = 30 * 60
    min_posture_s: int = 10
    max_gap_s: int = 60
    prompt_ttl_s: float = 15 * 60

    @classmethod
    def from_settings(cls, settings: AlertsSettings) -> EngineConfig:
        return cls(
            sitting_threshold_s=settings.sitting_threshold_min * 60,
            min_posture_s=settings.min_posture_s,
            max_gap_s=settings.max_gap_s,
            prompt_ttl_s=settings.prompt_ttl_min * 60,
        )


@dataclass
class WearerState:
    device: str
    placement: Placement
    tracker: BoutTracker
    calibration: UprightCalibration = field(default_factory=UprightCalibration)
    stillness: StillnessTracker = field(default_factory=StillnessTracker)
    still_ms: int = 0
    lean_neutral: LeanNeutral = field(default_factory=LeanNeutral)
    hour: HourSummary | None = None
    prompted_bout_start_ms: int | None = None
    prompts_sent: int = 0
    frames: int = 0


@dataclass
class EngineCounters:
    batches: int = 0
    frames: int = 0
    secondary_batches: int = 0  # from a wearer's less informative sensor, not used for bouts (yet)
    stale_frames: int = 0


def _dt(t_ms: int) -> datetime:
    return datetime.fromtimestamp(t_ms / 1000, UTC)


@dataclass
class AlertEngine:
    config: EngineConfig
    catalog: Sequence[Exercise]
    wearers: dict[str, WearerState] = field(default_factory=dict)
    counters: EngineCounters = field(default_factory=EngineCounters)

    def process(self, batch: FeatureBatchV1) -> list[Output]:
        state = self._state_for(batch)
        if state is None:
            self.counters.secondary_batches += 1
            return []
        self.counters.batches += 1
        out: list[Output] = []
        for frame in batch.frames:
            self.counters.frames += 1
            last = state.tracker.last_ms
            if last is not None and frame.t_ms <= last:  # a redelivered or late frame: already counted
                state.tracker.stale += 1
                self.counters.stale_frames += 1
                continue
            state.frames += 1
            out += self._second(batch.wearer, batch.placement, state, frame)
        return out

    def _second(self, wearer: str, placement: Placement, state: WearerState, frame: FeatureFrameV1) -> list[Output]:
        out: list[Output] = []
        gravity = frame.gravity
        if gravity is not None:
            state.calibration.observe(gravity, frame.sd_mg or 0.0, frame.steps)
        posture = classify(frame, placement, state.calibration.reference)
        state.still_ms = state.stillness.push(frame)
        if state.still_ms >= NOT_WORN_S * 1000 and state.stillness.start_ms is not None:
            posture = "not_worn"
            changes = state.tracker.switch_at(state.stillness.start_ms, "not_worn")
            changes += state.tracker.push(frame.t_ms, posture)
        else:
            changes = state.tracker.push(frame.t_ms, posture)

        hour_ms = frame.t_ms - frame.t_ms % HOUR_MS
        if state.hour is None or state.hour.hour_ms != hour_ms:
            if state.hour is not None:
                out.append(self._summary_event(wearer, state.hour))
            state.hour = HourSummary(hour_ms)
        lean_rel = incl = None
        if placement == "trunk":
            if frame.lean_deg is not None:
                if posture == "moving":
                    state.lean_neutral.observe(frame.lean_deg)
                lean_rel = state.lean_neutral.relative(frame.lean_deg)
            incl = inclination_deg(frame, state.calibration.reference)
        state.hour.add_second(frame.t_ms, posture, lean_rel, incl)
        for i, change in enumerate(changes):
            out.append(self._event_for(wearer, change))
            if isinstance(change, BoutEnded):
                following = changes[i + 1] if i + 1 < len(changes) else None
                state.hour.add_bout(change.bout, following.posture if isinstance(following, BoutStarted) else None)

        prompt = self._maybe_prompt(wearer, state, frame.t_ms)
        if prompt is not None:
            out.append(prompt)
            out.append(
                EventV1(
                    kind="prompt_sent",
                    wearer=wearer,
                    t=prompt.created,
                    prompt_id=prompt.id,
                    trigger=prompt.trigger,
                    exercise=prompt.exercise,
                    bout_start=prompt.bout_start,
                )
            )
        return out

    def close(self, wearer: str) -> list[Output]:
        """End of data: end the wearer's current bout at the last frame seen, and summarise the open hour."""
        state = self.wearers.get(wearer)
        if state is None:
            return []
        out: list[Output] = []
        for change in state.tracker.close():
            out.append(self._event_for(wearer, change))
            if isinstance(change, BoutEnded) and state.hour is not None:
                state.hour.add_bout(change.bout, None)
        if state.hour is not None:
            out.append(self._summary_event(wearer, state.hour))
            state.hour = None
        return out

    @staticmethod
    def _summary_event(wearer: str, hour: HourSummary) -> EventV1:
        return EventV1(kind="summary", wearer=wearer, t=_dt(hour.hour_ms), metrics=hour.metrics())

    def _state_for(self, batch: FeatureBatchV1) -> WearerState | None:
        state = self.wearers.get(batch.wearer)
        if state is None or (
            batch.device != state.device and _PLACEMENT_RANK[batch.placement] < _PLACEMENT_RANK[state.placement]
        ):
            state = WearerState(
                batch.device, batch.placement, BoutTracker(self.config.min_posture_s, self.config.max_gap_s)
            )
            self.wearers[batch.wearer] = state
        return state if batch.device == state.device else None

    @staticmethod
    def _event_for(wearer: str, change: BoutStarted | BoutEnded) -> EventV1:
        if isinstance(change, BoutStarted):
            return EventV1(
                kind="bout_started",
                wearer=wearer,
                t=_dt(change.start_ms),
                posture=change.posture,
                bout_start=_dt(change.start_ms),
            )
        bout = change.bout
        return EventV1(
            kind="bout_ended",
            wearer=wearer,
            t=_dt(bout.end_ms),
            posture=bout.posture,
            bout_start=_dt(bout.start_ms),
            duration_s=bout.duration_s,
        )

    def _maybe_prompt(self, wearer: str, state: WearerState, t_ms: int) -> PromptV1 | None:
        current = state.tracker.current
        if current is None or current[0] != "sitting":
            return None
        start_ms = current[1]
        if state.prompted_bout_start_ms == start_ms:
            return None  # exactly one prompt per bout (re-prompts come with the policy, issue 5)
        if state.still_ms >= PROMPT_HOLD_S * 1000:
            return None  # perfectly still: maybe on a desk; held until it shows life or is found not worn
        if t_ms - start_ms < self.config.sitting_threshold_s * 1000:
            return None
        state.prompted_bout_start_ms = start_ms
        exercise = choose_exercise(self.catalog, "sitting", state.prompts_sent)
        state.prompts_sent += 1
        created = _dt(t_ms)
        sat_min = (t_ms - start_ms) / 60000
        return PromptV1(
            id=f"{wearer}-sitting-{t_ms}",
            wearer=wearer,
            trigger="sitting",
            exercise=exercise.id,
            title=exercise.title,
            text=f"You have been sitting for {sat_min:.0f} min. {exercise.text}",
            created=created,
            expires=created + timedelta(seconds=self.config.prompt_ttl_s),
            bout_start=_dt(start_ms),
        )

"""The alert engine: per-wearer streaming state from feature batches to prompts and events. Pure.

Everything is in event time: the clock is the ``t_ms`` of the frames, never the wall clock, so the same
engine runs live, replays a week in seconds and is tested deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alerts.bouts import BoutEnded, BoutStarted, BoutTracker
from alerts.calibration import UprightCalibration, Vector
from alerts.catalog import Exercise, choose_exercise
from alerts.posture import NOT_WORN_S, PROMPT_HOLD_S, Posture, StillnessTracker, classify, fuse, inclination_deg
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
    lean_episode_s: int = 5 * 60

    @classmethod
    def from_settings(cls, settings: AlertsSettings) -> EngineConfig:
        return cls(
            sitting_threshold_s=settings.sitting_threshold_min * 60,
            min_posture_s=settings.min_posture_s,
            max_gap_s=settings.max_gap_s,
            prompt_ttl_s=settings.prompt_ttl_min * 60,
            lean_episode_s=round(settings.lean_episode_min * 60),
        )


@dataclass
class DeviceState:
    """What the engine knows about one sensor: its mounting, stillness and latest posture."""

    placement: Placement
    calibration: UprightCalibration = field(default_factory=UprightCalibration)
    stillness: StillnessTracker = field(default_factory=StillnessTracker)
    still_ms: int = 0
    lean_neutral: LeanNeutral = field(default_factory=LeanNeutral)
    last_ms: int | None = None
    last_posture: Posture = "unknown"
    explicit_from_ms: int | None = None  # a "stand still" calibration was asked for from this time
    explicit_seconds: list[Vector] = field(default_factory=list)


@dataclass
class WearerState:
    """One wearer: the primary (most informative) sensor drives bouts and prompts; a trunk sensor worn with a
    thigh sensor adds lying (thigh + trunk fusion) and the lean exposure."""

    primary: str
    tracker: BoutTracker
    devices: dict[str, DeviceState] = field(default_factory=dict)
    hour: HourSummary | None = None
    prompted_bout_start_ms: int | None = None
    prompts_sent: int = 0
    frames: int = 0

    @property
    def primary_device(self) -> DeviceState:
        return self.devices[self.primary]

    def trunk_partner(self) -> DeviceState | None:
        if self.primary_device.placement != "thigh":
            return None
        return next((d for d in self.devices.values() if d.placement == "trunk"), None)


@dataclass
class EngineCounters:
    batches: int = 0  # every batch processed
    frames: int = 0
    secondary_batches: int = 0  # of which from a wearer's other sensors (trunk partner of a thigh, or wrist)
    stale_frames: int = 0


def _dt(t_ms: int) -> datetime:
    return datetime.fromtimestamp(t_ms / 1000, UTC)


# How far apart in event time a thigh second and its trunk partner's latest second may be to be fused.
FUSION_WINDOW_MS = 15_000
EXPLICIT_STILL_SECONDS = 5
EXPLICIT_MAX_SD_MG = 25.0


@dataclass
class AlertEngine:
    config: EngineConfig
    catalog: Sequence[Exercise]
    wearers: dict[str, WearerState] = field(default_factory=dict)
    counters: EngineCounters = field(default_factory=EngineCounters)

    def process(self, batch: FeatureBatchV1) -> list[Output]:
        state = self._state_for(batch)
        device = state.devices[batch.device]
        primary = batch.device == state.primary
        self.counters.batches += 1
        if not primary:
            self.counters.secondary_batches += 1
        out: list[Output] = []
        for frame in batch.frames:
            self.counters.frames += 1
            if device.last_ms is not None and frame.t_ms <= device.last_ms:  # redelivered or late: counted already
                self.counters.stale_frames += 1
                if primary:
                    state.tracker.stale += 1
                continue
            device.last_ms = frame.t_ms
            posture = self._device_second(device, frame)
            if primary:
                state.frames += 1
                out += self._wearer_second(batch.wearer, state, device, frame, posture)
            elif device.placement == "trunk" and state.hour is not None:
                lean, incl = self._trunk_angles(device, frame, posture)
                state.hour.add_exposure(frame.t_ms, posture, lean, incl)
        return out

    def calibrate(self, wearer: str, from_ms: int, device: str | None = None) -> bool:
        """An explicit "stand still for 5 s" calibration from ``from_ms`` (event time). False if unknown."""
        state = self.wearers.get(wearer)
        if state is None:
            return False
        for name, d in state.devices.items():
            if device is None or name == device:
                d.explicit_from_ms, d.explicit_seconds = from_ms, []
        return device is None or device in state.devices

    def _device_second(self, device: DeviceState, frame: FeatureFrameV1) -> Posture:
        gravity = frame.gravity
        if gravity is not None:
            if device.explicit_from_ms is not None and frame.t_ms >= device.explicit_from_ms:
                if (frame.sd_mg or 0.0) <= EXPLICIT_MAX_SD_MG:
                    device.explicit_seconds.append(gravity)
                if len(device.explicit_seconds) >= EXPLICIT_STILL_SECONDS:
                    device.calibration.set_explicit(device.explicit_seconds)
                    device.explicit_from_ms, device.explicit_seconds = None, []
            device.calibration.observe(gravity, frame.sd_mg or 0.0, frame.steps)
        posture = classify(frame, device.placement, device.calibration.reference)
        device.still_ms = device.stillness.push(frame)
        if device.still_ms >= NOT_WORN_S * 1000:
            posture = "not_worn"
        device.last_posture = posture
        return posture

    def _trunk_angles(
        self, device: DeviceState, frame: FeatureFrameV1, posture: Posture
    ) -> tuple[float | None, float | None]:
        lean = None
        if frame.lean_deg is not None:
            if posture == "moving":
                device.lean_neutral.observe(frame.lean_deg)
            lean = device.lean_neutral.relative(frame.lean_deg)
        return lean, inclination_deg(frame, device.calibration.reference)

    def _wearer_second(
        self, wearer: str, state: WearerState, device: DeviceState, frame: FeatureFrameV1, posture: Posture
    ) -> list[Output]:
        out: list[Output] = []
        partner = state.trunk_partner()
        if (
            partner is not None
            and partner.last_ms is not None
            and abs(partner.last_ms - frame.t_ms) <= FUSION_WINDOW_MS
            and posture not in ("not_worn", "unknown")
        ):
            posture = fuse(posture, partner.last_posture)
        if posture == "not_worn" and device.stillness.start_ms is not None:
            changes = state.tracker.switch_at(device.stillness.start_ms, "not_worn")
            changes += state.tracker.push(frame.t_ms, posture)
        else:
            changes = state.tracker.push(frame.t_ms, posture)

        hour_ms = frame.t_ms - frame.t_ms % HOUR_MS
        if state.hour is None or state.hour.hour_ms != hour_ms:
            if state.hour is not None:
                out.append(self._summary_event(wearer, state.hour))
            state.hour = HourSummary(hour_ms, lean_episode_s=self.config.lean_episode_s)
        state.hour.add_posture(posture)
        if device.placement == "trunk":
            lean, incl = self._trunk_angles(device, frame, posture)
            state.hour.add_exposure(frame.t_ms, posture, lean, incl)
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

    def _state_for(self, batch: FeatureBatchV1) -> WearerState:
        state = self.wearers.get(batch.wearer)
        if state is None:
            state = WearerState(batch.device, BoutTracker(self.config.min_posture_s, self.config.max_gap_s))
            self.wearers[batch.wearer] = state
        if batch.device not in state.devices:
            state.devices[batch.device] = DeviceState(batch.placement)
            if _PLACEMENT_RANK[batch.placement] < _PLACEMENT_RANK[state.primary_device.placement]:
                # a more informative sensor joined: it drives the bouts from now on
                state.primary = batch.device
                state.tracker = BoutTracker(self.config.min_posture_s, self.config.max_gap_s)
        return state

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
        if state.primary_device.still_ms >= PROMPT_HOLD_S * 1000:
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

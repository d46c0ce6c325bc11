"""The alert engine: per-wearer streaming state from feature batches to prompts and events. Pure.

Each second goes one way: frame -> the sensor's posture (``alerts.detect.device``) -> the wearer's posture, bouts
and exposures (``alerts.detect.wearer``) -> the planner (``alerts.prompts.policy``) -> prompts and events.
Everything is in event time: the clock is the ``t_ms`` of the frames, never the wall clock, so the same
engine runs live, replays a week in seconds and is tested deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from alerts.detect.bouts import BoutEnded, BoutStarted, BoutTracker
from alerts.detect.device import DeviceState
from alerts.detect.posture import PROMPT_HOLD_S, Posture
from alerts.detect.structs import restore_fields
from alerts.detect.summary import HourSummary
from alerts.detect.wearer import NO_SENSOR_YET, DetectionSnapshot, WearerDetection, WearerSecond
from alerts.errors import PolicyError
from alerts.prompts.calendar import Busy, busy_at, busy_before
from alerts.prompts.catalog import DayType, Exercise, choose_exercise, load_catalog
from alerts.prompts.commands import EVENT_TIME_SOURCES, on_data_clock, pause_over
from alerts.prompts.policy.model import PolicyBook, PromptPolicy, merge
from alerts.prompts.policy.planner import EpisodeV2, Held, PlannerState, Send, day_type, local_time
from alerts.prompts.response import OpenPrompt, Outcome, ResponseTracker
from alerts.readiness import BeatsSnapshot, CheckIn, LyingBeats, ReadinessDecision, ReadinessTracker
from alerts.settings import AlertsSettings
from ingest.order import admit
from ingest.wire import (
    STRESS_LEVELS,
    CommandV1,
    EventV1,
    FeatureBatchV1,
    PromptContext,
    PromptV1,
    Trigger,
)

Output = PromptV1 | EventV1


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Detection settings shared by every wearer; prompting is per wearer (alerts.prompts.policy)."""

    min_posture_s: int = 10
    max_gap_s: int = 60
    lean_episode_s: int = 5 * 60
    trunk_transitions: bool = False  # hold a trunk's sitting/upright from its postural transitions

    @classmethod
    def from_settings(cls, settings: AlertsSettings) -> EngineConfig:
        return cls(
            min_posture_s=settings.min_posture_s,
            max_gap_s=settings.max_gap_s,
            lean_episode_s=round(settings.lean_episode_min * 60),
            trunk_transitions=settings.trunk_transitions,
        )


def policy_book(settings: AlertsSettings) -> PolicyBook:
    """The policies from settings: the policy file's defaults and wearers over the service-wide defaults (the zone of
    a wearer whose policy names none: ``timezone``, by default this host's)."""
    base = PromptPolicy(
        sitting_threshold_min=settings.sitting_threshold_min,
        prompt_ttl_min=settings.prompt_ttl_min,
        timezone=settings.timezone,
    )
    return PolicyBook.load(settings.policy_file, base)


def engine_from_settings(settings: AlertsSettings) -> AlertEngine:
    """An engine with the catalog (built-in + clinicians' folders) and the policy file of the settings."""
    return AlertEngine(
        EngineConfig.from_settings(settings),
        load_catalog(settings.catalog_dirs),
        policy_book(settings),
        commands_on_data_clock=settings.commands_on_data_clock,
    )


# A wearer's state in a format-2 snapshot (alerts/state.py, read only; format 3 writes ``WearerState`` itself). The
# planner: its exposures (``EpisodeV2``: the trigger, then ``Episode``'s fields in order), the prompt times of the
# last two days (ms), the recent exercises, pause until and do-not-disturb from (ms). The responses: settle ms, the
# open prompts (``OpenPrompt``'s fields in order).
PlannerSnapshot = tuple[tuple[EpisodeV2, ...], list[int], list[str], int | None, int | None]
ResponsesSnapshot = tuple[int, list[OpenPrompt]]
# Readiness: the night (a date, as its proleptic Gregorian ordinal), its lying and observed seconds, lying now, the
# night's lying RR intervals (``BeatsSnapshot``), ln RMSSD by night (ordinal, float64), the latest pain and stress
# check-ins (t_ms, pain, stress), the day decided last (ordinal) and today's decision (day ordinal, day type, reasons,
# metrics).
DecisionSnapshot = tuple[int, DayType, tuple[str, ...], dict[str, int | float]]
ReadinessSnapshot = tuple[
    int | None,
    int,
    int,
    bool,
    BeatsSnapshot | None,
    tuple[tuple[int, float], ...],
    CheckIn | None,
    CheckIn | None,
    int | None,
    DecisionSnapshot | None,
]
WearerSnapshot = tuple[
    DetectionSnapshot, PlannerSnapshot, ResponsesSnapshot, dict[str, Any], int, int | None, ReadinessSnapshot
]


def _readiness_from(s: ReadinessSnapshot) -> ReadinessTracker:
    today = None
    if s[9] is not None:
        day, kind, reasons, metrics = s[9]
        today = ReadinessDecision(date.fromordinal(day), kind, reasons, metrics)
    return ReadinessTracker(
        night_ordinal=s[0],
        night_lying_s=s[1],
        night_observed_s=s[2],
        lying=s[3],
        lying_beats=LyingBeats.unpacked(s[4]),
        history=dict(s[5]),
        pain=s[6],
        stress=s[7],
        decided_ordinal=s[8],
        today=today,
    )


class WearerState(msgspec.Struct, array_like=True):
    """One wearer: what detection follows (sensors, bouts, hour, lean run) and what prompting follows (planner,
    open prompts, live policy overrides). A ``msgspec.Struct`` of Structs: the alert service's snapshot (format 3,
    alerts/state.py) is this state written by msgspec in one call, each Struct as the array of its fields in the
    order declared (a field added, removed or moved in any of them changes the format: a new format byte, and a
    reader for the old one)."""

    detection: WearerDetection
    planner: PlannerState = msgspec.field(default_factory=PlannerState)
    responses: ResponseTracker = msgspec.field(default_factory=ResponseTracker)
    live_policy: dict[str, Any] = msgspec.field(default_factory=dict)  # overrides set over MQTT or the CLI
    prompts_sent: int = 0
    driving_ms: int | None = None  # the newest frame (any of the wearer's sensors) saying "automotive" (a phone's)
    readiness: ReadinessTracker = msgspec.field(default_factory=ReadinessTracker)  # last night, check-ins, today

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a format-1 snapshot (a dataclass then); one written before detection had its own state (session
        3) is folded into it."""
        if "detection" not in state:
            detection = WearerDetection(state.pop("primary"), state.pop("tracker"), state.pop("devices"))
            detection.hour, detection.lean_run = state.pop("hour"), state.pop("lean_run")
            detection.frames = state.pop("frames")
            state["detection"] = detection
        restore_fields(self, state)  # readiness: a snapshot from before readiness (issue 17) starts with none
        for prompt in self.responses.open:  # a snapshot from before prompt contexts (issue 17): the planner knows
            episode = self.planner.episodes.get(prompt.trigger)
            if prompt.context is None and episode is not None and episode.last_prompt_id == prompt.prompt_id:
                first: PromptContext = "after_meeting" if episode.context == "after_meeting" else "threshold"
                prompt.context = "reprompt" if episode.attempts > 1 else first

    @classmethod
    def from_snapshot(cls, s: WearerSnapshot) -> WearerState:
        """The state of a format-2 snapshot (decoded against ``WearerSnapshot``)."""
        episodes, sent_ms, recent, pause_until_ms, dnd_from_ms = s[1]
        planner = PlannerState({e.trigger: e.current() for e in episodes}, sent_ms, recent, pause_until_ms, dnd_from_ms)
        responses = ResponseTracker(s[2][0], s[2][1])
        return cls(WearerDetection.from_snapshot(s[0]), planner, responses, s[3], s[4], s[5], _readiness_from(s[6]))

    @property
    def primary(self) -> str:
        return self.detection.primary

    @property
    def primary_device(self) -> DeviceState:
        return self.detection.primary_device


@dataclass
class EngineCounters:
    batches: int = 0  # every batch processed
    frames: int = 0
    secondary_batches: int = 0  # of which from a wearer's other sensors (trunk partner of a thigh, or wrist)
    stale_frames: int = 0
    glitch_frames: int = 0  # frames that jumped ahead of their sensor's stream and were refused (ingest/order.py)


def _dt(t_ms: int) -> datetime:
    return datetime.fromtimestamp(t_ms / 1000, UTC)


# What ends an exposure with a break: a sitting bout into standing or moving, a static standing bout into moving or
# sitting (a lean run ends when the trunk straightens).
_BREAKS: dict[Posture, frozenset[Posture]] = {
    "sitting": frozenset({"standing", "moving"}),
    "standing": frozenset({"moving", "sitting"}),
}
_FOREVER_MS = 2**62
# How far behind a sensor's data a "stand still now" calibration may be asked (the CLI stamps it with the host's
# clock; a sensor's frames reach the service within a batch or two)
CALIBRATE_LATE_MS = 60_000
# How long a phone's "automotive" holds prompts after the last frame that said so (the phone says when it changes;
# a phone that stops sending holds nothing for long)
DRIVING_HOLD_MS = 60_000
# Commands for a wearer whose data has not started (since this service started): kept and applied from the first frame
_KEPT_BEFORE_DATA = frozenset({"pause", "resume", "policy", "dnd_on", "dnd_off"})
# on the data's clock, a wearer's commands held until their first frame (a demo: more is a flood, refused)
HELD_BEFORE_DATA_MAX = 64


def _after_meeting(state: WearerState, busy: list[Busy], t_ms: int, sitting_ms: int, policy: PromptPolicy) -> None:
    """The brief's "a short hip-opening sequence after meetings": once the wearer's last meeting is over, if they sat
    through at least ``after_meeting_min`` of it (and so the meeting lasted that long) in the sitting bout that still
    goes on (started at ``sitting_ms``), that bout's first prompt is due ``after_meeting_delay_min`` after the
    meeting's end even if the sitting threshold is not reached. Held as any prompt (pause, quiet hours, caps,
    spacing); a bout already prompted keeps its own rules (``PlannerState.bring_forward``)."""
    assert policy.after_meeting_min is not None
    meeting = busy_before(busy, t_ms)
    if meeting is None:
        return
    sat_ms = meeting.end_ms - max(meeting.start_ms, sitting_ms)
    if sat_ms < policy.after_meeting_min * 60_000:
        return
    due_ms = meeting.end_ms + round(policy.after_meeting_delay_min * 60_000)
    state.planner.bring_forward("sitting", sitting_ms, due_ms, "after_meeting")


@dataclass
class AlertEngine:
    config: EngineConfig
    catalog: Sequence[Exercise]
    policies: PolicyBook = field(default_factory=PolicyBook)
    wearers: dict[str, WearerState] = field(default_factory=dict)
    counters: EngineCounters = field(default_factory=EngineCounters)

    _resolved: dict[str, PromptPolicy] = field(default_factory=dict, repr=False)
    # why frames were refused while processing (a clock glitch); the service dead-letters and clears them
    refused: list[str] = field(default_factory=list, repr=False)
    # each wearer's busy time from their calendars (alerts/prompts/calendar.py), set by whoever reads the feeds;
    # not checkpointed: the last good copies of the feeds are, and give it again
    busy: dict[str, list[Busy]] = field(default_factory=dict, repr=False)
    # each wearer's policy with the relief-day cap (readiness), made once per policy
    _relief: dict[str, tuple[PromptPolicy, PromptPolicy]] = field(default_factory=dict, repr=False)
    # the stream is simulated or replayed (``kinetic demo``): a command a person sends is stamped with the host's
    # clock, which is not the data's; it is judged at the wearer's latest event time (``on_data_clock``)
    commands_on_data_clock: bool = False
    # with it, the commands a person sent before the wearer's first frame (pause, resume, dnd, policy, check-in), in
    # the order sent: judged at that frame's time when it comes (``process``); not checkpointed (a demo's minutes)
    held_before_data: dict[str, list[CommandV1]] = field(default_factory=dict, repr=False)

    def policy(self, wearer: str) -> PromptPolicy:
        """The wearer's effective policy, resolved once (every second needs it) and again after a live change."""
        policy = self._resolved.get(wearer)
        if policy is None:
            state = self.wearers.get(wearer)
            policy = self.policies.for_wearer(wearer, state.live_policy if state else None)
            self._resolved[wearer] = policy
        return policy

    def prompt_due_by(self, wearer: str, t_ms: int) -> bool:
        """Whether a prompt of ``wearer`` comes due at or before ``t_ms`` (event time, ms) if their exposures go on:
        an exposure the planner follows whose due time is at most ``t_ms`` and which is not held (a held one waits for
        its hold to end, which no frame time foretells). False for a wearer the engine does not know.

        A hint for whoever schedules the wearers' messages (the alert service handles such a wearer's next message
        before others waiting: issue 18 item 1); what the engine decides never depends on it."""
        state = self.wearers.get(wearer)
        if state is None:
            return False
        for episode in state.planner.episodes.values():
            if episode.due_ms is not None and episode.held_reason is None and episode.due_ms <= t_ms:
                return True
        return False

    def process(self, batch: FeatureBatchV1) -> list[Output]:
        held = self.held_before_data.pop(batch.wearer, None) if batch.frames else None
        state = self._state_for(batch)
        out: list[Output] = []
        for command in held or ():  # sent before the wearer's first data: in force from it, before its first second
            out += self._judged_and_applied(on_data_clock(command, _dt(batch.frames[0].t_ms)))[1]
        detection = state.detection
        device = detection.devices[batch.device]
        primary = batch.device == detection.primary
        self.counters.batches += 1
        if not primary:
            self.counters.secondary_batches += 1
        policy = self.policy(batch.wearer)
        lean_limit_deg, zone, lean_episode_s = policy.lean_threshold_deg, policy.zone, self.config.lean_episode_s
        for received in batch.frames:
            self.counters.frames += 1
            # event-time order per sensor (ingest/order.py): repeats skipped, a jump held until the next frame
            device.last_ms, device.held, admitted = admit(device.last_ms, device.held, received)
            if admitted.stale:  # redelivered, late or the same second again: counted already
                self.counters.stale_frames += 1
                if primary:
                    detection.tracker.stale += 1
            if admitted.reason is not None:
                self.counters.glitch_frames += 1
                self.refused.append(f"{batch.wearer}/{batch.device}: {admitted.reason}")
            for frame in admitted.frames:
                if frame.activity == "automotive":
                    state.driving_ms = max(state.driving_ms or 0, frame.t_ms)
                posture = device.second(frame)  # frame -> the sensor's posture
                if primary:  # -> the wearer's posture, bouts and exposures -> planner -> outputs
                    second = detection.second(
                        frame, device, posture, lean_limit_deg, zone, lean_episode_s, self.config.trunk_transitions
                    )
                    if second.changes or second.closed_hour or second.lean_ended or second.corrected_hours:
                        out += self._detected(batch.wearer, state, second)
                    if policy.readiness:
                        local = state.readiness.local_minute(frame.t_ms, zone)
                        # lying is known from a trunk sensor (the primary, or a thigh's trunk partner)
                        lying_known = device.placement == "trunk" or detection.trunk_partner() is not None
                        state.readiness.second(local, second.posture, lying_known)
                        if frame.rr_ms:
                            state.readiness.beats(frame.t_ms, frame.rr_ms)
                        out += self._readiness(batch.wearer, state, frame.t_ms, local, policy)
                    out += self._prompt_second(batch.wearer, state, frame.t_ms)
                else:  # a trunk partner's exposure and lean run
                    ended = detection.partner_second(frame, device, posture, lean_limit_deg)
                    out += self._lean_ended(batch.wearer, state, ended)
                    if frame.rr_ms and policy.readiness:  # a chest strap beside the posture sensor
                        state.readiness.beats(frame.t_ms, frame.rr_ms)
        return out

    def _lean_ended(self, wearer: str, state: WearerState, ended: tuple[int, int] | None) -> list[Output]:
        if ended is None:
            return []
        return self._outcomes(wearer, state.responses.ended("lean", ended[0], ended[1], moved=True))

    def calibrate(self, wearer: str, from_ms: int, device: str | None = None) -> bool:
        """An explicit "stand still for 5 s" calibration from ``from_ms`` (event time). False if the wearer or
        device is unknown, or no sensor took it: a calibration asked at or before one already taken is a repeat (a
        redelivery, a retained or replayed command), and one more than ``CALIBRATE_LATE_MS`` behind the sensor's
        data asks for a moment that is over (the wearer has moved on): taking the next quiet seconds instead would
        learn the upright from whatever the wearer does now. That one is refused with the reason (``refused``), as
        is one for a wearer none of whose sensors has sent data yet (nothing says when the moment to stand still
        was)."""
        state = self.wearers.get(wearer)
        if state is None or not state.detection.devices:
            self.refused.append(
                f"{wearer}: calibrate: no sensor of this wearer has sent data since the alert service started; "
                "ask again once it sends"
            )
            return False
        taken = False
        for name, d in state.detection.devices.items():
            if device is not None and name != device:
                continue
            if d.calibrate_at_ms is not None and from_ms <= d.calibrate_at_ms:
                continue
            if d.last_ms is not None and from_ms < d.last_ms - CALIBRATE_LATE_MS:
                self.refused.append(
                    f"{wearer}/{name}: calibrate at t_ms {from_ms} is {(d.last_ms - from_ms) / 1000:.0f} s behind the "
                    f"sensor's data (t_ms {d.last_ms}): the moment to stand still is over; ask again"
                )
                continue
            d.calibrate_from(from_ms)
            d.calibrate_at_ms = from_ms
            taken = True
        return taken

    def _detected(self, wearer: str, state: WearerState, second: WearerSecond) -> list[Output]:
        """Events for what detection found this second, and the prompt responses it settles."""
        out: list[Output] = []
        if second.closed_hour is not None:
            out.append(self._summary_event(wearer, second.closed_hour))
        # an hour published before, corrected: the same series and time stamp, so the store keeps the correction
        out += [self._summary_event(wearer, hour) for hour in second.corrected_hours]
        out += self._lean_ended(wearer, state, second.lean_ended)
        for change, next_posture in second.changes:
            out.append(self._event_for(wearer, change))
            if isinstance(change, BoutEnded):
                bout = change.bout
                if bout.posture in _BREAKS:
                    moved = next_posture in _BREAKS[bout.posture]
                    trigger: Trigger = "sitting" if bout.posture == "sitting" else "standing"
                    out += self._outcomes(wearer, state.responses.ended(trigger, bout.start_ms, bout.end_ms, moved))
        return out

    def _readiness(
        self, wearer: str, state: WearerState, t_ms: int, local: datetime, policy: PromptPolicy
    ) -> list[Output]:
        """The day's readiness decision (alerts/readiness.py), once per local day, at the first second from the
        policy's ``readiness_time``: an event with the figures and the reasons in words (none without data)."""
        if (
            state.readiness.decided_ordinal == local.date().toordinal()
            or local.hour * 60 + local.minute < policy.readiness_minute
        ):
            return []
        decision = state.readiness.decide_day(t_ms, local.date())
        if decision is None:
            return []
        return [
            EventV1(kind="readiness", wearer=wearer, t=_dt(t_ms), reason=decision.words[:200], metrics=decision.metrics)
        ]

    def day_policy(self, wearer: str, t_ms: int) -> PromptPolicy:
        """The wearer's policy for the day of ``t_ms``: on a relief day decided by readiness, the day's cap is at
        most ``relief_max_per_day``."""
        policy = self.policy(wearer)
        state = self.wearers.get(wearer)
        if state is None or state.readiness.today is None or state.readiness.today.day_type != "relief":
            return policy
        if state.readiness.day_type(state.readiness.local_minute(t_ms, policy.zone).date()) != "relief":
            return policy
        cached = self._relief.get(wearer)
        if cached is None or cached[0] is not policy:
            cap = min(policy.max_per_day, policy.relief_max_per_day)
            cached = self._relief[wearer] = (policy, policy.model_copy(update={"max_per_day": cap}))
        return cached[1]

    def _prompt_second(self, wearer: str, state: WearerState, t_ms: int) -> list[Output]:
        policy = self.day_policy(wearer, t_ms)
        hold: dict[Trigger, str] = {}
        exposures = state.detection.exposures(t_ms)
        busy = self.busy.get(wearer)
        if state.primary_device.still_ms >= PROMPT_HOLD_S * 1000:
            # perfectly still: maybe on a desk; held until it shows life or is found not worn
            hold = {"sitting": "sensor_still", "standing": "sensor_still"}
        elif busy and busy_at(busy, t_ms) is not None:
            # in a meeting (the wearer's calendar): held, and sent after it if the exposure still goes on
            hold = {"sitting": "meeting", "standing": "meeting", "lean": "meeting"}
        elif state.driving_ms is not None and 0 <= t_ms - state.driving_ms < DRIVING_HOLD_MS:
            # driving (a phone's activity): held as in a meeting; the hold ends a minute after the last such frame
            hold = {"sitting": "driving", "standing": "driving", "lean": "driving"}
        elif busy and policy.after_meeting_min is not None and "sitting" in exposures:
            _after_meeting(state, busy, t_ms, exposures["sitting"], policy)
        # a change of posture not confirmed yet (the wearer may be standing up): the bout prompts wait for it
        changing: tuple[Trigger, ...] = ()
        if state.detection.tracker.pending_since_ms is not None:
            changing = ("sitting", "standing")
        out: list[Output] = []
        for decision in state.planner.step(t_ms, exposures, policy, hold, changing):
            if isinstance(decision, Send):
                out += self._send(wearer, state, policy, decision, t_ms)
            else:
                kind = "prompt_held" if isinstance(decision, Held) else "prompt_cancelled"
                out.append(
                    EventV1(
                        kind=kind,
                        wearer=wearer,
                        t=_dt(t_ms),
                        trigger=decision.trigger,
                        bout_start=_dt(decision.start_ms),
                        reason=decision.reason,
                    )
                )
        out += self._outcomes(wearer, state.responses.tick(t_ms))
        return out

    def _send(self, wearer: str, state: WearerState, policy: PromptPolicy, send: Send, t_ms: int) -> list[Output]:
        after_meeting = send.context == "after_meeting"
        after_pause = send.held_reason in ("paused", "dnd", "quiet_hours", "meeting", "driving")
        local_day = local_time(t_ms, policy).date()
        exercise = choose_exercise(
            self.catalog,
            send.trigger,
            day_type=state.readiness.day_type(local_day) or day_type(t_ms, policy),
            recent=state.planner.recent_exercises,
            no_repeat_last=policy.no_repeat_last,
            context="after_meeting" if after_meeting else "after_pause" if after_pause else None,
        )
        reason = None if send.held_reason is None else f"held: {send.held_reason}"
        if after_meeting:
            reason = "after_meeting"
        prompt_id = f"{wearer}-{send.trigger}-{t_ms}"
        created = _dt(t_ms)
        minutes = (t_ms - send.start_ms) / 60000
        what = {
            "sitting": f"You have been sitting for {minutes:.0f} min.",
            "standing": f"You have been standing still for {minutes:.0f} min.",
            "lean": f"You have been leaning to the {state.detection.lean_run.side or 'side'} for {minutes:.0f} min.",
        }[send.trigger]
        if send.attempt > 1:
            what = f"Gentle reminder: {what[0].lower()}{what[1:]}"
        elif after_meeting:
            what = f"Your meeting is over: {what[0].lower()}{what[1:]}"
        prompt = PromptV1(
            id=prompt_id,
            wearer=wearer,
            trigger=send.trigger,
            exercise=exercise.id,
            title=exercise.title,
            text=f"{what} {exercise.text}",
            created=created,
            expires=created + timedelta(minutes=policy.prompt_ttl_min),
            bout_start=_dt(send.start_ms),
            attempt=send.attempt,
            duration_s=exercise.duration_s,
            held_s=None if send.held_ms is None else send.held_ms / 1000,
        )
        # the planner and the response tracker learn of the prompt once it exists: a prompt the contract refuses
        # (a catalog text it cannot carry) leaves the wearer's state as it was
        state.planner.sent(send.trigger, prompt_id, exercise.id)
        context: PromptContext = "after_meeting" if after_meeting else "reprompt" if send.attempt > 1 else "threshold"
        state.responses.add(
            OpenPrompt(
                prompt_id,
                send.trigger,
                exercise.id,
                t_ms,
                send.start_ms,
                context=context,
                held_reason=send.held_reason,
                held_ms=send.held_ms,
            )
        )
        state.prompts_sent += 1
        sent = EventV1(
            kind="prompt_sent",
            wearer=wearer,
            t=created,
            prompt_id=prompt_id,
            trigger=send.trigger,
            exercise=exercise.id,
            bout_start=prompt.bout_start,
            reason=reason,
        )
        return [prompt, sent]

    @staticmethod
    def _outcomes(wearer: str, outcomes: list[Outcome]) -> list[Output]:
        return [
            EventV1(
                kind="prompt_outcome",
                wearer=wearer,
                t=_dt(o.prompt.created_ms),
                prompt_id=o.prompt.prompt_id,
                trigger=o.prompt.trigger,
                exercise=o.prompt.exercise,
                bout_start=_dt(o.prompt.start_ms),
                metrics=o.metrics(),
                context=o.prompt.context,
                reason=o.reason,
            )
            for o in outcomes
        ]

    def command(self, command: CommandV1) -> tuple[bool, list[Output]]:
        """Apply a wearer's command (ack, snooze, pause, resume, dnd_on, dnd_off, policy, calibrate, forget). Returns
        whether it applied (False: the prompt or wearer is unknown, or the bout is already over) and the events to
        publish. A pause, resume, dnd or policy for a wearer with no data yet is kept in their state and in force from
        their first frame (it applies); a calibrate then is refused with the reason (``refused``).

        With ``commands_on_data_clock``, a command a person sent is first moved to the wearer's latest event time
        (``on_data_clock``; a pause until a time of day already over there is refused, ``pause_over``); one sent
        before the wearer's first frame has no time of theirs yet: a pause, resume, dnd, policy or check-in is held
        (applies; up to ``HELD_BEFORE_DATA_MAX``) and judged at that frame's time, its events coming out of
        ``process``; an ack, snooze or calibrate is judged as without the setting (a prompt cannot be known)."""
        if self.commands_on_data_clock and command.source not in EVENT_TIME_SOURCES and command.kind != "forget":
            data_now = self.data_now(command.wearer)
            if data_now is None and command.kind in _KEPT_BEFORE_DATA | {"checkin"}:
                held = self.held_before_data.setdefault(command.wearer, [])
                if len(held) >= HELD_BEFORE_DATA_MAX:
                    self.refused.append(
                        f"{command.wearer}: {command.kind} refused: {HELD_BEFORE_DATA_MAX} commands already wait for "
                        "the wearer's first data (commands_on_data_clock)"
                    )
                    return False, []
                held.append(command)
                return True, []
            if data_now is not None:
                return self._judged_and_applied(on_data_clock(command, data_now))
        return self._apply(command)

    def _judged_and_applied(self, command: CommandV1) -> tuple[bool, list[Output]]:
        """A command moved to the data's clock: applied, or refused (``refused``) as a pause already over."""
        problem = pause_over(command)
        if problem is not None:
            self.refused.append(f"{command.wearer}: {problem}")
            return False, []
        return self._apply(command)

    def judged(self, command: CommandV1) -> CommandV1:
        """``command`` on the clock commands are judged on: with ``commands_on_data_clock``, moved to the wearer's
        latest event time (``on_data_clock``) when some is known; otherwise as sent. For the session verifier's
        ``session_start`` / ``session_end`` (alerts/service.py), the same rule as ``command``'s."""
        if not self.commands_on_data_clock:
            return command
        data_now = self.data_now(command.wearer)
        return command if data_now is None else on_data_clock(command, data_now)

    def data_now(self, wearer: str) -> datetime | None:
        """The wearer's latest event time: the newest frame seen of any of their sensors; None before their first."""
        state = self.wearers.get(wearer)
        seen = [] if state is None else [d.last_ms for d in state.detection.devices.values() if d.last_ms is not None]
        return _dt(max(seen)) if seen else None

    def _apply(self, command: CommandV1) -> tuple[bool, list[Output]]:
        """``command`` at its ``at`` (``command``'s answer)."""
        at_ms = round(command.at.timestamp() * 1000)
        if command.kind == "forget":
            return self.forget(command.wearer), []
        if command.kind == "calibrate":
            return self.calibrate(command.wearer, at_ms, command.device), []
        if command.kind == "checkin":
            return True, [self._checkin(command, at_ms)]
        state = self.wearers.get(command.wearer)
        if state is None:
            if command.kind not in _KEPT_BEFORE_DATA:  # a prompt of theirs cannot be known yet
                return False, []
            # a pause or a threshold given before the sensor is switched on: kept in the wearer's state (checkpointed
            # with it) and in force from their first frame
            state = self.wearers[command.wearer] = WearerState(WearerDetection(NO_SENSOR_YET, self._new_tracker()))
        event = {"wearer": command.wearer, "t": command.at}
        if command.kind in ("ack", "snooze"):
            assert command.prompt_id is not None
            tracked = state.responses.find(command.prompt_id)
            if tracked is not None:
                event["t"] = _dt(tracked.created_ms)
                if command.kind == "ack":
                    tracked.acked = True
                else:
                    tracked.snoozed = True
            if command.kind == "ack":
                applied = state.planner.ack(command.prompt_id)
            else:
                policy = self.policy(command.wearer)
                applied = state.planner.snooze(command.prompt_id, at_ms, policy, command.minutes)
            kind = "prompt_ack" if command.kind == "ack" else "prompt_snoozed"
            reason = None if applied else "the bout was already over"
            return applied, [EventV1(kind=kind, prompt_id=command.prompt_id, reason=reason, **event)]
        if command.kind in ("pause", "resume"):
            until = command.until if command.kind == "pause" else None
            forever = command.kind == "pause" and until is None
            state.planner.pause(_FOREVER_MS if forever else None if until is None else round(until.timestamp() * 1000))
            reason = (
                "resumed" if command.kind == "resume" else f"paused until {until.isoformat() if until else 'resume'}"
            )
            return True, [EventV1(kind="policy_changed", reason=reason, **event)]
        if command.kind in ("dnd_on", "dnd_off"):
            state.planner.do_not_disturb(at_ms if command.kind == "dnd_on" else None)
            reason = "do not disturb on" if command.kind == "dnd_on" else "do not disturb off"
            return True, [EventV1(kind="policy_changed", reason=reason, **event)]
        assert command.settings is not None
        live = {**state.live_policy, **command.settings}
        live = {k: v for k, v in live.items() if v != "default"}
        try:
            policy = merge(self.policies.for_wearer(command.wearer), live, f"policy command for {command.wearer}")
        except PolicyError as exc:
            self.refused.append(f"{command.wearer}: policy command rejected: {exc}")
            return False, [EventV1(kind="policy_changed", reason=f"rejected: {exc}"[:200], **event)]
        state.live_policy = live
        self._resolved[command.wearer] = policy
        state.planner.replan(policy)
        changed = ", ".join(f"{k}={v}" for k, v in sorted(command.settings.items()))
        return True, [EventV1(kind="policy_changed", reason=f"set {changed}"[:200], **event)]

    def _checkin(self, command: CommandV1, at_ms: int) -> EventV1:
        """A check-in (pain 0-10, stress): kept for the next readiness decision and stored as an event."""
        state = self.wearers.get(command.wearer)
        if state is None:  # before the wearer's first frame: kept, as a pause is
            state = self.wearers[command.wearer] = WearerState(WearerDetection(NO_SENSOR_YET, self._new_tracker()))
        state.readiness.checkin(CheckIn(at_ms, command.pain, command.stress))
        metrics: dict[str, float] = {}
        words = []
        if command.pain is not None:
            metrics["pain"] = command.pain
            words.append(f"pain {command.pain}/10")
        if command.stress is not None:
            metrics["stress_level"] = STRESS_LEVELS.index(command.stress)
            words.append(f"stress {command.stress}")
        return EventV1(kind="checkin", wearer=command.wearer, t=command.at, reason=", ".join(words), metrics=metrics)

    def not_sent(self, wearer: str, prompt_id: str) -> None:
        """A prompt the service did not send after all (it had expired when its data arrived): no outcome is followed
        for it (the wearer never saw it). The planner keeps it as decided: a re-prompt follows its rules."""
        state = self.wearers.get(wearer)
        tracked = None if state is None else state.responses.find(prompt_id)
        if state is not None and tracked is not None:
            state.responses.open.remove(tracked)

    def forget(self, wearer: str) -> bool:
        """Drop everything held for a wearer, without an event (``kinetic data delete``); False if nothing was."""
        self._resolved.pop(wearer, None)
        self.busy.pop(wearer, None)
        held = self.held_before_data.pop(wearer, None)
        return self.wearers.pop(wearer, None) is not None or bool(held)

    def close(self, wearer: str) -> list[Output]:
        """End of data: end the wearer's current bout at the last frame seen, and summarise the open hour."""
        state = self.wearers.get(wearer)
        if state is None:
            return []
        changes, closed = state.detection.close()
        out: list[Output] = [self._event_for(wearer, change) for change in changes]
        if closed is not None:
            out.append(self._summary_event(wearer, closed))
        return out

    @staticmethod
    def _summary_event(wearer: str, hour: HourSummary) -> EventV1:
        return EventV1(kind="summary", wearer=wearer, t=_dt(hour.hour_ms), metrics=hour.metrics())

    def _state_for(self, batch: FeatureBatchV1) -> WearerState:
        state = self.wearers.get(batch.wearer)
        if state is None:
            state = WearerState(WearerDetection(batch.device, self._new_tracker()))
            self.wearers[batch.wearer] = state
        state.detection.device(batch.device, batch.placement, self._new_tracker)
        return state

    def _new_tracker(self) -> BoutTracker:
        return BoutTracker(self.config.min_posture_s, self.config.max_gap_s)

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

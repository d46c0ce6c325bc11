"""When to prompt: one wearer's prompt planner, fed once per second of event time. Pure, small state.

The engine tells the planner, each second, which exposures are going on and since when (``sitting`` and
``standing`` bouts, a sustained one-sided ``lean`` run). An exposure that passes its threshold makes a prompt due;
the planner then applies, in order:

- hold (a pause, a do-not-disturb switch, outside active hours, quiet hours, spacing between prompts, caps per hour
  and per day): the due prompt is held and delivered when the hold ends, if the exposure is still going on;
- reset on own movement: an exposure that ends (the wearer broke the bout by themselves) drops whatever was due or
  held for it, and the next exposure starts from zero; while its end is not yet known (the wearer has just stood up,
  the stand is not confirmed) nothing is sent for it: the prompt goes out when the wearer sits back down, or not at
  all once the break is confirmed;
- escalation: one gentle re-prompt after ``escalate_after_min`` without a break, then nothing more for that bout;
- snooze: remind once more after ``snooze_min``; done (ack): nothing more for that bout.

Every decision is in event time (the frames' ``t_ms``) and in the wearer's local time for schedules, so replays
and tests are deterministic, and time zones and DST are handled by zoneinfo.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from alerts.detect.structs import restore_fields
from alerts.prompts.catalog import DayType
from alerts.prompts.policy.model import WEEKDAYS, PromptPolicy, Window
from ingest.wire import Trigger

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def in_windows(local: datetime, by_day: Mapping[int, list[Window]]) -> bool:
    """Is this local time inside one of the day's windows? A window that crosses midnight belongs to the day it
    starts on ('fri 22:00-02:00' covers Saturday 01:00)."""
    minute = local.hour * 60 + local.minute
    day = local.weekday()
    for start, end in by_day.get(day, ()):
        if (start < end and start <= minute < end) or (start > end and minute >= start):
            return True
    return any(start > end and minute < end for start, end in by_day.get((day - 1) % 7, ()))


def local_time(t_ms: int, policy: PromptPolicy) -> datetime:
    return datetime.fromtimestamp(t_ms / 1000, policy.zone)


def day_type(t_ms: int, policy: PromptPolicy) -> DayType:
    return policy.week_plan.get(WEEKDAYS[local_time(t_ms, policy).weekday()], "relief")


class Episode(msgspec.Struct, array_like=True):
    """One exposure (a sitting bout, a standing bout, a lean run) and what was done about it, kept under its trigger
    (``PlannerState.episodes``: the trigger is not repeated in it). Its explicit form in the alert service's snapshot
    is itself: the array of its fields in order (alerts.detect.structs)."""

    start_ms: int
    due_ms: int | None  # None: nothing more for this exposure
    attempts: int = 0
    held_reason: str | None = None
    held_since_ms: int | None = None
    snoozed: bool = False
    escalated: bool = False
    last_prompt_id: str | None = None
    context: str | None = None  # why it was brought forward ("after_meeting"); the exercise suits it

    def __setstate__(self, state: dict[str, Any] | tuple[Any, ...]) -> None:
        """Unpickle an exposure of a format-1 snapshot (a dataclass then, its trigger the first field: dropped, the
        planner keeps it as the exposure's key)."""
        if isinstance(state, tuple) and not (len(state) == 2 and isinstance(state[1], dict)):
            state = state[1:]  # the values in order, the trigger first
        restore_fields(self, state)


class EpisodeV2(msgspec.Struct, array_like=True):
    """An exposure as a format-2 snapshot wrote it (alerts/state.py, read only): its trigger, then ``Episode``'s
    fields in order."""

    trigger: Trigger
    start_ms: int
    due_ms: int | None
    attempts: int = 0
    held_reason: str | None = None
    held_since_ms: int | None = None
    snoozed: bool = False
    escalated: bool = False
    last_prompt_id: str | None = None
    context: str | None = None

    def current(self) -> Episode:
        return Episode(*msgspec.structs.astuple(self)[1:])


@dataclass(frozen=True, slots=True)
class Send:
    trigger: Trigger
    start_ms: int
    attempt: int
    held_ms: int | None
    held_reason: str | None
    context: str | None = None  # "after_meeting": brought forward by a meeting's end (``bring_forward``)


@dataclass(frozen=True, slots=True)
class Held:
    trigger: Trigger
    start_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class Cancelled:
    trigger: Trigger
    start_ms: int
    reason: str


Decision = Send | Held | Cancelled

# Reasons the planner does not announce as held events (they happen every second a desk sensor lies still).
SILENT_HOLDS = frozenset({"sensor_still"})

# Why a prompt waited or was dropped, in a person's words (the held / cancelled events' ``reason``; the demo, the web
# app and Home Assistant show these). The caps and spacing are the wearer's policy (docs/prompts.md).
REASON_WORDS: dict[str, str] = {
    "paused": "prompts paused",
    "dnd": "do not disturb",
    "outside_active_hours": "outside active hours",
    "quiet_hours": "quiet hours",
    "spacing": "too soon after the last prompt",
    "hour_cap": "hourly prompt limit reached",
    "day_cap": "daily prompt limit reached",
    "sensor_still": "sensor perfectly still (off the body?)",
    "moved": "moved before it was sent",
    "meeting": "in a meeting (calendar)",
    "after_meeting": "after a meeting (calendar)",
    "driving": "driving (phone activity)",
}


def reason_in_words(reason: str | None) -> str:
    """``"hour_cap"`` -> ``"hourly prompt limit reached"``; ``"held: hour_cap"`` (a sent prompt that waited) ->
    ``"waited: hourly prompt limit reached"``; anything else as it is; None -> ``""``."""
    if not reason:
        return ""
    if reason.startswith("held: "):
        return "waited: " + REASON_WORDS.get(reason[6:], reason[6:])
    return REASON_WORDS.get(reason, reason)


class PlannerState(msgspec.Struct, array_like=True):
    """A wearer's prompting: the exposures followed (by trigger), the prompts of the last day, the recent exercises,
    a pause and do not disturb. A ``msgspec.Struct``: the alert service's snapshot writes it as the array of its
    fields in order (a field added, removed or moved changes the format)."""

    episodes: dict[Trigger, Episode] = msgspec.field(default_factory=dict)
    sent_ms: list[int] = msgspec.field(default_factory=list)  # prompts of the last day, for the caps
    recent_exercises: list[str] = msgspec.field(default_factory=list)
    pause_until_ms: int | None = None
    dnd_from_ms: int | None = None  # do-not-disturb on since (event time); None: off

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a planner of a format-1 snapshot (a dataclass then)."""
        restore_fields(self, state)

    def hold_reason(self, t_ms: int, policy: PromptPolicy) -> str | None:
        if self.pause_until_ms is not None and t_ms < self.pause_until_ms:
            return "paused"
        if self.dnd_from_ms is not None and t_ms >= self.dnd_from_ms:
            return "dnd"
        local = None
        if policy.active_windows is not None:
            local = local_time(t_ms, policy)
            if not in_windows(local, policy.active_windows):
                return "outside_active_hours"
        if policy.quiet_hours:
            local = local or local_time(t_ms, policy)
            if in_windows(local, policy.quiet_windows):
                return "quiet_hours"
        if self.sent_ms and t_ms - self.sent_ms[-1] < policy.min_spacing_min * 60_000:
            return "spacing"
        if sum(1 for s in self.sent_ms if t_ms - s < HOUR_MS) >= policy.max_per_hour:
            return "hour_cap"
        if self.sent_ms:
            today = (local or local_time(t_ms, policy)).date()
            if sum(1 for s in self.sent_ms if local_time(s, policy).date() == today) >= policy.max_per_day:
                return "day_cap"
        return None

    def step(
        self,
        t_ms: int,
        exposures: Mapping[Trigger, int],
        policy: PromptPolicy,
        extra_hold: Mapping[Trigger, str] | None = None,
        changing: Collection[Trigger] = (),
    ) -> list[Decision]:
        """One second: ``exposures`` maps each ongoing exposure to its start; ``changing`` names those that may be
        ending (a change of posture has begun and is not confirmed yet): nothing is sent or held for them this
        second. Returns what to do now."""
        out: list[Decision] = []
        for name, old in list(self.episodes.items()):
            if exposures.get(name) != old.start_ms:
                del self.episodes[name]
                if old.held_reason not in (None, *SILENT_HOLDS) and old.due_ms is not None:
                    out.append(Cancelled(name, old.start_ms, "moved"))
        for trigger, start_ms in exposures.items():
            episode = self.episodes.get(trigger)
            if episode is None:
                threshold = policy.threshold_ms(trigger)
                episode = Episode(start_ms, None if threshold is None else start_ms + threshold)
                self.episodes[trigger] = episode
            if episode.due_ms is None or t_ms < episode.due_ms or trigger in changing:
                continue
            reason = (extra_hold or {}).get(trigger) or self.hold_reason(t_ms, policy)
            if reason is not None:
                if reason != episode.held_reason:
                    if reason not in SILENT_HOLDS:
                        out.append(Held(trigger, start_ms, reason))
                    if episode.held_since_ms is None:
                        episode.held_since_ms = t_ms
                    episode.held_reason = reason
                continue
            held_ms = None if episode.held_since_ms is None else t_ms - episode.held_since_ms
            context = episode.context if episode.attempts == 0 else None  # a re-prompt is an ordinary one
            out.append(Send(trigger, start_ms, episode.attempts + 1, held_ms, episode.held_reason, context))
            episode.attempts += 1
            episode.held_reason, episode.held_since_ms = None, None
            self.sent_ms = [s for s in self.sent_ms if t_ms - s < 2 * DAY_MS] + [t_ms]
            if episode.snoozed or episode.escalated or policy.escalate_after_min is None:
                episode.due_ms = None
            else:
                episode.escalated = True  # the one re-prompt is scheduled
                episode.due_ms = t_ms + round(policy.escalate_after_min * 60_000)
        return out

    def bring_forward(self, trigger: Trigger, start_ms: int, due_ms: int, context: str) -> bool:
        """Make the exposure that started at ``start_ms`` due by ``due_ms`` at the latest, for ``context`` (the end of
        a meeting sat through): once per exposure, and only before its first prompt (a prompted bout follows its
        re-prompt rules). The hold rules still apply when it comes due. False if nothing changed."""
        episode = self.episodes.get(trigger)
        if (
            episode is None
            or episode.start_ms != start_ms
            or episode.attempts
            or episode.due_ms is None
            or episode.context is not None
        ):
            return False
        episode.due_ms = min(episode.due_ms, due_ms)
        episode.context = context
        return True

    def replan(self, policy: PromptPolicy) -> None:
        """The policy changed: exposures not yet prompted get the new threshold."""
        for trigger, episode in self.episodes.items():
            if episode.attempts == 0 and episode.held_reason is None:
                threshold = policy.threshold_ms(trigger)
                episode.due_ms = None if threshold is None else episode.start_ms + threshold

    def sent(self, trigger: Trigger, prompt_id: str, exercise: str) -> None:
        """Record the prompt made for a ``Send`` (its id and exercise)."""
        episode = self.episodes.get(trigger)
        if episode is not None:
            episode.last_prompt_id = prompt_id
        self.recent_exercises = [*self.recent_exercises[-19:], exercise]

    def _episode_of(self, prompt_id: str) -> Episode | None:
        return next((e for e in self.episodes.values() if e.last_prompt_id == prompt_id), None)

    def ack(self, prompt_id: str) -> bool:
        """The wearer did it ("Done"): nothing more for this exposure. False if the exposure is already over."""
        episode = self._episode_of(prompt_id)
        if episode is None:
            return False
        episode.due_ms = None
        return True

    def snooze(self, prompt_id: str, at_ms: int, policy: PromptPolicy, minutes: float | None = None) -> bool:
        """Remind once more after the snooze, if the exposure is still going on then."""
        episode = self._episode_of(prompt_id)
        if episode is None:
            return False
        episode.due_ms = at_ms + round((minutes or policy.snooze_min) * 60_000)
        episode.snoozed = True
        return True

    def do_not_disturb(self, from_ms: int | None) -> None:
        """A do-not-disturb switch on from ``from_ms`` (event time); None: off."""
        self.dnd_from_ms = from_ms

    def pause(self, until_ms: int | None) -> None:
        """Do-not-disturb until ``until_ms``; None ends a pause."""
        self.pause_until_ms = until_ms

"""Closing the loop: did the wearer break the bout after a prompt, and how soon? Pure, event time.

Every prompt is followed until its exposure ends or until 5 minutes (+ the minimum posture duration, so a break
that starts at 4 min 55 s is still seen) have passed; then one ``prompt_outcome`` is reported with
``break_after_s`` and the 1 / 3 / 5-minute flags of sedentary-science.md s5, the exercise, and whether the wearer
acknowledged or snoozed it, and why it was sent (``context``: threshold, after_meeting, reprompt) with what held it
and how long (``held_reason``, ``held_ms``), so its outcome can be counted by context on its own (issue 17: the
after-meeting response in the Weekly review, where InfluxQL cannot join the outcome to the ``prompt_sent`` event).
A break is the exposure ending into standing or moving, after the prompt: a break that
began before it (at or before the second the prompt was made in) is not the prompt's and is not counted. An exposure
that ends into a data gap or a sensor taken off is reported with ``ended_without_break``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from alerts.detect.structs import restore_fields
from ingest.wire import PromptContext, Trigger

WINDOWS_MIN = (1, 3, 5)
FOLLOW_MS = max(WINDOWS_MIN) * 60_000


class OpenPrompt(msgspec.Struct, array_like=True):
    """A prompt followed until its outcome. Its explicit form in the alert service's snapshot is itself: the array of
    its fields in order (alerts.detect.structs)."""

    prompt_id: str
    trigger: Trigger
    exercise: str
    created_ms: int
    start_ms: int  # the exposure it was about
    acked: bool = False
    snoozed: bool = False
    # why it was sent and what held it before (issue 17); None: not known (a prompt opened before these existed)
    context: PromptContext | None = None
    held_reason: str | None = None  # the planner's hold reason ("meeting", "dnd", "paused", ...), None: never held
    held_ms: int | None = None

    def __setstate__(self, state: dict[str, object]) -> None:
        """Unpickle; a prompt from a snapshot written before issue 17's context has none (the engine recovers it from
        the planner, ``WearerState.__setstate__``) and no hold recorded."""
        restore_fields(self, state)


@dataclass(frozen=True, slots=True)
class Outcome:
    prompt: OpenPrompt
    break_after_s: float | None  # None: no break within the follow-up window
    ended_without_break: bool

    def metrics(self) -> dict[str, float]:
        out = {
            "acked": float(self.prompt.acked),
            "snoozed": float(self.prompt.snoozed),
            "ended_without_break": float(self.ended_without_break),
        }
        for minutes in WINDOWS_MIN:
            out[f"broke_{minutes}min"] = float(self.break_after_s is not None and self.break_after_s <= minutes * 60)
        if self.break_after_s is not None:
            out["break_after_s"] = self.break_after_s
        if self.prompt.held_ms is not None:
            out["held_s"] = self.prompt.held_ms / 1000
        return out

    @property
    def reason(self) -> str | None:
        """What held the prompt before it was sent, as its ``prompt_sent`` event says it (``held: meeting``)."""
        return None if self.prompt.held_reason is None else f"held: {self.prompt.held_reason}"


class ResponseTracker(msgspec.Struct, array_like=True):
    """The prompts followed until their outcome. A ``msgspec.Struct``: the alert service's snapshot writes it as the
    array of its fields in order."""

    settle_ms: int = 10_000  # the bout tracker's minimum posture: a break is confirmed this long after it began
    open: list[OpenPrompt] = msgspec.field(default_factory=list)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a tracker of a format-1 snapshot (a dataclass then)."""
        restore_fields(self, state)

    def add(self, prompt: OpenPrompt) -> None:
        self.open.append(prompt)

    def find(self, prompt_id: str) -> OpenPrompt | None:
        return next((p for p in self.open if p.prompt_id == prompt_id), None)

    def ended(self, trigger: Trigger, start_ms: int, end_ms: int, moved: bool) -> list[Outcome]:
        """An exposure ended at ``end_ms`` (into movement when ``moved``): settles the prompts about it."""
        out = []
        for prompt in [p for p in self.open if p.trigger == trigger and p.start_ms == start_ms]:
            self.open.remove(prompt)
            after_ms = end_ms - prompt.created_ms
            if moved and 0 < after_ms <= FOLLOW_MS:
                out.append(Outcome(prompt, after_ms / 1000, False))
            else:  # no break, or one that began before the prompt (the prompt saw its first second): not its doing
                out.append(Outcome(prompt, None, not moved))
        return out

    def tick(self, t_ms: int) -> list[Outcome]:
        """Prompts followed for the whole window without a break."""
        late = [p for p in self.open if t_ms - p.created_ms > FOLLOW_MS + self.settle_ms]
        for prompt in late:
            self.open.remove(prompt)
        return [Outcome(p, None, False) for p in late]

"""Kinetic's MQTT messages folded into what the Today page shows live, per wearer, in event time. Pure.

The clock of a wearer is the newest time in their data (feature frames, events, prompts), never this host's, so the
same fold runs live, on the demo's accelerated day and in tests. What it keeps:

- the posture of the wearer's current bout and since when (``bout_started`` events: a posture is confirmed after
  the minimum posture duration, docs/metrics.md), and how long it has lasted at the wearer's clock;
- while sitting, the threshold ahead: the wearer's effective ``sitting_threshold_min`` minus the bout's duration;
  the effective policy is the one the alert service publishes (``PolicyV1``, retained: known from the start), with
  the ``policy`` commands seen since on top; until one is published, the policy file with the commands seen;
- the newest trunk lean (``lean_deg`` of the newest frame that has one, + to the wearer's right);
- the newest prompt, a pause (``pause`` until a time or until ``resume``);
- counters of bouts ended and prompts / outcomes seen, so a page knows when to reload the day's charts.

Home Assistant's fold (dashboards/homeassistant/states.py) answers a different question (entity payloads under a
rate limit, day totals); this one keeps only the live card's state and is read as JSON by server-sent events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.errors import PolicyError
from alerts.prompts.commands import DEFAULT
from alerts.prompts.policy.in_force import policy_from_message
from alerts.prompts.policy.model import PolicyBook, PromptPolicy, merge
from ingest.wire import CommandV1, DeviceStatusV1, EventV1, FeatureBatchV1, Payload, PolicyV1, PromptV1


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


@dataclass
class LiveWearer:
    """One wearer's live state; ``version`` grows with every change a page should see."""

    now_ms: int | None = None
    posture: str | None = None
    posture_since_ms: int | None = None
    lean_deg: float | None = None
    last_prompt: PromptV1 | None = None
    paused: bool = False
    paused_until_ms: int | None = None  # None while paused: until 'resume'
    live_policy: dict[str, Any] = field(default_factory=dict)
    # the policy in force as the alert service last published it (None: not yet) and the policy commands seen since
    published: PolicyV1 | None = None
    policy_changes: list[tuple[int, str, list[str]]] = field(default_factory=list)  # (at ms, by, settings changed)
    bouts_ended: int = 0
    prompts_seen: int = 0
    outcomes_seen: int = 0
    version: int = 0
    forgotten: bool = False  # erased (a forget) and nothing heard since: not one of the wearers the app knows


# The events timed by the wearer's data (the alert service's bouts and prompts): they move the wearer's clock. The
# others are timed when a person acted (a check-in, a consent change, a session's end, a clinician's prescription) or
# cover a span (an hour's summary, its t the hour's start): during a replayed or simulated day, stamped with this
# host's clock, they sent the Today page to a date with no data (found by the fresh-clone pass).
SENSOR_TIMED = frozenset({"bout_started", "bout_ended", "prompt_sent", "prompt_held", "prompt_cancelled"})


class LiveBoard:
    """Every wearer's live state from the messages fed, in the order they came."""

    def __init__(self, book: PolicyBook | None = None) -> None:
        self.book = book or PolicyBook()
        self._wearers: dict[str, LiveWearer] = {}
        self._policies: dict[str, PromptPolicy] = {}

    def wearers(self) -> list[str]:
        """The wearers heard from, except those erased since (``kinetic data delete``) with nothing heard after."""
        return sorted(name for name, w in self._wearers.items() if not w.forgotten)

    def get(self, wearer: str) -> LiveWearer | None:
        return self._wearers.get(wearer)

    def feed(self, message: Payload) -> str | None:
        """Fold one decoded message; return the wearer whose state changed (None: nothing a page shows)."""
        wearer = getattr(message, "wearer", None)
        if not isinstance(wearer, str):
            return None
        w = self._wearers.setdefault(wearer, LiveWearer())
        w.forgotten = False
        if isinstance(message, FeatureBatchV1):
            self._clock(w, message.frames[-1].t_ms)
            leans = [f.lean_deg for f in message.frames if f.lean_deg is not None]
            if leans:
                w.lean_deg = leans[-1]
        elif isinstance(message, EventV1):
            self._event(w, message)
        elif isinstance(message, PromptV1):
            self._clock(w, _ms(message.created))
            w.last_prompt = message
            w.prompts_seen += 1
        elif isinstance(message, CommandV1):
            self._command(wearer, w, message)
        elif isinstance(message, DeviceStatusV1):
            if message.t_ms is not None:
                self._clock(w, message.t_ms)
        elif isinstance(message, PolicyV1):
            self._published(wearer, w, message)
        else:
            return None
        self._wearers[wearer].version += 1  # (a forget replaced w)
        return wearer

    @staticmethod
    def _clock(w: LiveWearer, t_ms: int) -> None:
        w.now_ms = t_ms if w.now_ms is None else max(w.now_ms, t_ms)

    def _event(self, w: LiveWearer, event: EventV1) -> None:
        t_ms = _ms(event.t)
        if event.kind == "bout_started" and event.posture:
            w.posture = event.posture
            w.posture_since_ms = _ms(event.bout_start) if event.bout_start is not None else t_ms
            self._clock(w, t_ms)
        elif event.kind == "bout_ended":
            w.bouts_ended += 1
            self._clock(w, t_ms)
            if event.posture == w.posture:  # until the next bout is confirmed, the posture is not known
                w.posture, w.posture_since_ms = None, None
        elif event.kind == "prompt_outcome":
            w.outcomes_seen += 1  # t is the prompt's time, in the past: not the wearer's clock
        elif event.kind in SENSOR_TIMED:
            self._clock(w, t_ms)

    def _command(self, wearer: str, w: LiveWearer, command: CommandV1) -> None:
        if command.kind == "pause":
            w.paused, w.paused_until_ms = True, (None if command.until is None else _ms(command.until))
        elif command.kind == "resume":
            w.paused, w.paused_until_ms = False, None
        elif command.kind == "policy" and command.settings:
            live = dict(w.live_policy)
            for key, value in command.settings.items():
                if value == DEFAULT:
                    live.pop(key, None)
                else:
                    live[key] = value
            try:  # the alert service refuses what does not merge: so does this fold
                if w.published is None:
                    policy = self.book.for_wearer(wearer, live)
                else:  # on what the service applies; a key set back to its default: this app's policy file's value
                    settings = {
                        key: getattr(self.book.for_wearer(wearer), key) if value == DEFAULT else value
                        for key, value in command.settings.items()
                    }
                    policy = merge(self.policy(wearer), settings, f"policy command for {wearer}")
                self._policies[wearer] = policy
                w.live_policy = live
                w.policy_changes.append((_ms(command.at), command.source or "a command", sorted(command.settings)))
            except PolicyError:
                pass
        elif command.kind == "forget":  # everything held is dropped; the version goes on (pages keep up)
            self._policies.pop(wearer, None)
            self._wearers[wearer] = LiveWearer(version=w.version, forgotten=True)

    def _published(self, wearer: str, w: LiveWearer, message: PolicyV1) -> None:
        """The policy in force as the alert service publishes it: the commands seen before it are in it."""
        try:
            policy = policy_from_message(message)
        except PolicyError:  # keys this app does not know (a newer alert service): the file and the commands seen
            return
        self._policies[wearer] = policy
        w.published = message
        w.live_policy = {k: v for k, v in message.values.items() if message.sources.get(k) == "command"}
        w.policy_changes = []

    def policy(self, wearer: str) -> PromptPolicy:
        """The wearer's effective policy: the one the alert service published, with the policy commands seen since;
        before it publishes one, the policy file with the live overrides seen."""
        if wearer not in self._policies:
            self._policies[wearer] = self.book.for_wearer(wearer)
        return self._policies[wearer]

    def policy_origin(self, wearer: str) -> dict[str, Any]:
        """Where the wearer's effective policy (``policy``) comes from, for the Settings page: ``published_ms`` (when
        the alert service published the policy it applies; None: not yet, and the rest is this app's own reading),
        ``file`` (the policy file, or None: built-in defaults), ``section`` (before a publication, 'wearers.<id>' when
        the file has one for the wearer, else None), ``sources`` {key: 'default' | 'file' | 'command'} and
        ``changes`` [(at ms, by, [setting, ...])]: the ``policy`` commands seen since (the alert service publishes
        again once it applies them)."""
        w = self._wearers.get(wearer) or LiveWearer()
        published = w.published
        if published is None:
            file, sources = self.book.file, self.book.sources(wearer, w.live_policy)
        else:
            file, sources = published.file, dict(published.sources)
        for _, _, names in w.policy_changes:
            sources.update(dict.fromkeys(names, "command"))
        return {
            "published_ms": None if published is None else _ms(published.t),
            "file": file,
            "section": None if published is not None else f"wearers.{wearer}" if wearer in self.book.wearers else None,
            "sources": sources,
            "changes": list(w.policy_changes),
        }

    def snapshot(self, wearer: str) -> dict[str, Any]:
        """What the Today page's live card shows, as JSON: times in ms (the wearer's clock), durations in s."""
        w = self._wearers.get(wearer) or LiveWearer()
        policy = self.policy(wearer)
        posture_s = None
        if w.posture_since_ms is not None and w.now_ms is not None:
            posture_s = max(0.0, (w.now_ms - w.posture_since_ms) / 1000)
        bout = None
        if w.posture == "sitting" and posture_s is not None:
            threshold_s = policy.sitting_threshold_min * 60
            bout = {
                "start_ms": w.posture_since_ms,
                "duration_s": posture_s,
                "threshold_s": threshold_s,
                "ahead_s": threshold_s - posture_s,
            }
        prompt = None
        if w.last_prompt is not None:
            p = w.last_prompt
            prompt = {
                "id": p.id,
                "title": p.title,
                "exercise": p.exercise,
                "trigger": p.trigger,
                "created_ms": _ms(p.created),
                "attempt": p.attempt,
            }
        return {
            "wearer": wearer,
            "now_ms": w.now_ms,
            "posture": w.posture,
            "posture_since_ms": w.posture_since_ms,
            "posture_s": posture_s,
            "sitting_bout": bout,
            "lean_deg": w.lean_deg,
            "last_prompt": prompt,
            "paused": w.paused,
            "paused_until_ms": w.paused_until_ms,
            "sitting_threshold_min": policy.sitting_threshold_min,
            "timezone": policy.timezone,
            "bouts_ended": w.bouts_ended,
            "prompts_seen": w.prompts_seen,
            "outcomes_seen": w.outcomes_seen,
            "version": w.version,
        }

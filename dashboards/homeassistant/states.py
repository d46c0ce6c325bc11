"""Kinetic's messages folded into Home Assistant entity states, per wearer, in event time. Pure.

The clock of a wearer is the newest time in their data (feature frames, events, prompts, status), never this host's:
the same fold runs live, on a replayed day and in tests. What each state is (docs/home-assistant.md):

- ``posture``: the posture of the wearer's current bout (``bout_started`` events: confirmed after the minimum posture
  duration, docs/metrics.md); published at once when it changes.
- ``sitting_today``, ``breaks_today``: the closed hours of the wearer's local day from the hourly ``summary`` events
  (``sitting_s``, ``breaks``: the figures of the dashboards and the weekly report), plus the open hour from the bout
  events (sitting bouts clipped to it; a break is a sitting bout followed directly by an upright bout, counted where
  the sitting bout ends, as the summary counts it).
- ``lean_today``: ``lean_above_10deg_s`` of the day's closed hours (the open hour's lean is only known when it
  closes).
- ``sitting_bout``: minutes since the current sitting bout began (0 when not sitting).
- ``last_prompt`` (title; text, trigger, exercise in its attributes) and ``last_prompt_time``.
- ``response_rate_week``: of this ISO week's prompts with an outcome, the share after which the wearer broke the
  bout within 5 min (``broke_5min``, the Weekly review dashboard's figure); ``None`` (unknown) before the first.
- ``prompts_paused``: a ``pause`` command's time is not over (or it had none) and no ``resume`` came since.
- ``do_not_disturb``: the last ``dnd_on`` / ``dnd_off`` command seen (the switch's state).
- ``sitting_threshold``: the wearer's effective ``sitting_threshold_min``: the policy file, then the live overrides
  of the ``policy`` commands seen.
- per sensor, ``<device>_battery`` (``battery_pct`` of its status) and ``<device>_connection``.

The wearer's day and week are those of their policy's time zone (``timezone``), as in the engine's hourly summaries
and the weekly report. A value is published when it changed, and at most once per ``min_interval_ms`` of the wearer's
event time (a changed value waits for the next message after that, or for ``flush`` once the wearer's data has
stopped); posture, pause, threshold and connection are published at once on a change, and the current sitting bout
with a change of posture. Availability
(``<root>/ha/<wearer>/availability``, ``<device>_availability``) follows Kinetic's status topics: a sensor is
available while its status says ``online`` (or, without a status, once its features arrive) and no collector that
lists it is offline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from alerts.detect.summary import HOUR_MS, POSTURES
from alerts.errors import PolicyError
from alerts.prompts.policy.model import PolicyBook, PromptPolicy, merge
from dashboards.homeassistant.entities import (
    DEVICE_ENTITIES,
    OFF,
    OFFLINE,
    ON,
    ONLINE,
    HaTopics,
    device_configs,
    wearer_configs,
)
from ingest.wire import (
    CollectorStatusV1,
    CommandV1,
    DeadLetterV1,
    DeviceStatusV1,
    EventV1,
    FeatureBatchV1,
    Payload,
    PromptV1,
)

# What HA's MQTT sensor reads as "unknown" (its PAYLOAD_NONE)
NONE_PAYLOAD = "None"
_FOREVER_MS = 2**62
_UPRIGHT = frozenset({"standing", "moving"})
# Published at once on a change: what a person did (pause, a threshold) or a sensor's link, not a measured quantity
_ON_CHANGE = frozenset({"posture", "prompts_paused", "do_not_disturb", "sitting_threshold"})


@dataclass(frozen=True, slots=True)
class Publication:
    """One MQTT message for Home Assistant: retained unless said (an empty retained payload removes)."""

    topic: str
    payload: bytes
    retain: bool = True


@dataclass
class _Device:
    status: str | None = None  # its retained status: online / offline
    battery_pct: int | None = None
    features: bool = False  # its features arrived (a sender without a status topic)


@dataclass
class _Wearer:
    name: str
    now_ms: int | None = None
    live: dict[str, Any] = field(default_factory=dict)
    devices: dict[str, _Device] = field(default_factory=dict)
    posture: str | None = None
    bout_start_ms: int | None = None
    last_ended: tuple[str, int] | None = None  # posture and end of the bout that ended last
    hours: dict[int, dict[str, float]] = field(default_factory=dict)  # closed hours: hour start -> metrics
    covered_until_ms: int = 0  # the end of the newest closed hour
    sitting_done: list[tuple[int, int]] = field(default_factory=list)  # sitting bouts ended after covered_until_ms
    breaks_at: list[int] = field(default_factory=list)  # breaks after covered_until_ms
    last_prompt: PromptV1 | None = None
    outcomes: dict[str, tuple[int, bool]] = field(default_factory=dict)  # prompt id -> created, moved within 5 min
    paused_until_ms: int | None = None
    dnd: bool = False
    sent: dict[str, tuple[bytes, int | None]] = field(default_factory=dict)  # topic -> payload, event time sent
    policy: PromptPolicy | None = None  # the effective policy, resolved


def _day_start_ms(t_ms: int, zone: tzinfo, days_back: int = 0) -> int:
    """The start (UTC ms) of the local day ``t_ms`` is in, ``days_back`` days earlier (-1: the next day's)."""
    local = datetime.fromtimestamp(t_ms / 1000, UTC).astimezone(zone).date() - timedelta(days=days_back)
    return int(datetime(local.year, local.month, local.day, tzinfo=zone).timestamp() * 1000)


def _week_start_ms(t_ms: int, zone: tzinfo) -> int:
    """The start of the ISO week (Monday 00:00 local) ``t_ms`` is in."""
    weekday = datetime.fromtimestamp(t_ms / 1000, UTC).astimezone(zone).weekday()
    return _day_start_ms(t_ms, zone, weekday)


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _number(value: float) -> str:
    return f"{value:g}"


class StateTracker:
    """Folds Kinetic's messages (already validated against the wire contract) into what Home Assistant is told.

    ``feed`` takes one message and returns the publications it makes due: the discovery configs of a wearer or sensor
    seen for the first time, availability changes, and the states that changed (rate-limited as the module says).
    ``configs`` is every config again (Home Assistant restarted); ``forget`` removes a wearer's entities."""

    def __init__(
        self,
        topics: HaTopics,
        policies: PolicyBook | None = None,
        *,
        sw_version: str = "0",
        min_interval_ms: int = 60_000,
    ) -> None:
        self.topics = topics
        self.policies = policies or PolicyBook()
        self.sw_version = sw_version
        self.min_interval_ms = min_interval_ms
        self.wearers: dict[str, _Wearer] = {}
        self.collectors: dict[str, tuple[str, frozenset[str]]] = {}  # id -> state, devices it lists
        self.ignored = 0  # messages with nothing for Home Assistant (a policy command the policy refuses, ...)

    # -- the fold ---------------------------------------------------------------------------------------------

    def feed(self, message: Payload) -> list[Publication]:
        """The publications one message makes due. Never raises for a message the contract accepted."""
        if isinstance(message, CollectorStatusV1):
            self.collectors[message.collector] = (message.state, frozenset(message.devices))
            out: list[Publication] = []
            for wearer, w in self.wearers.items():
                if any(d in message.devices for d in w.devices):
                    out += self._due(wearer)
            return out
        if isinstance(message, CommandV1):
            return self._command(message)
        if isinstance(message, DeadLetterV1):  # nothing for Home Assistant
            self.ignored += 1
            return []
        wearer = message.wearer
        out = self._announce(wearer)
        w = self.wearers[wearer]
        if isinstance(message, FeatureBatchV1):
            out += self._announce_device(wearer, message.device)
            w.devices[message.device].features = True
            self._clock(w, message.frames[-1].t_ms)
        elif isinstance(message, DeviceStatusV1):
            out += self._announce_device(wearer, message.device)
            device = w.devices[message.device]
            device.status = message.state
            if message.battery_pct is not None:
                device.battery_pct = message.battery_pct
            if message.t_ms is not None:
                self._clock(w, message.t_ms)
        elif isinstance(message, PromptV1):
            created = _ms(message.created)
            if w.last_prompt is None or created >= _ms(w.last_prompt.created):
                w.last_prompt = message
            self._clock(w, created)
        elif isinstance(message, EventV1):
            self._event(wearer, w, message)
        return out + self._due(wearer)

    def _clock(self, w: _Wearer, t_ms: int) -> None:
        if w.now_ms is None or t_ms > w.now_ms:
            w.now_ms = t_ms
            self._prune(w)

    def _event(self, wearer: str, w: _Wearer, event: EventV1) -> None:
        t_ms = _ms(event.t)
        # Events come at least once (the alert service re-publishes what it had not checkpointed when it was killed):
        # each is folded so that a repeat changes nothing. A break is known by its time, a sitting bout by its start
        # (a repeat of its end, or a corrected end, replaces it).
        if event.kind == "bout_started" and event.posture is not None:
            if w.bout_start_ms is None or t_ms >= w.bout_start_ms:
                if event.posture in _UPRIGHT and w.last_ended == ("sitting", t_ms) and t_ms not in w.breaks_at:
                    w.breaks_at.append(t_ms)
                w.posture, w.bout_start_ms = event.posture, t_ms
            self._clock(w, t_ms)
        elif event.kind == "bout_ended" and event.posture is not None and event.bout_start is not None:
            w.last_ended = (event.posture, t_ms)
            if event.posture == "sitting":
                start_ms = _ms(event.bout_start)
                w.sitting_done = [(s, e) for s, e in w.sitting_done if s != start_ms]
                w.sitting_done.append((start_ms, t_ms))
            if w.bout_start_ms == _ms(event.bout_start):  # the current bout ended (a gap): nothing is current
                w.posture, w.bout_start_ms = None, None
            self._clock(w, t_ms)
        elif event.kind == "summary" and event.metrics is not None:
            w.hours[t_ms] = dict(event.metrics)
            w.covered_until_ms = max(w.covered_until_ms, t_ms + HOUR_MS)
            self._clock(w, t_ms)
            self._prune(w)
        elif event.kind == "prompt_outcome" and event.metrics is not None and event.prompt_id is not None:
            w.outcomes[event.prompt_id] = (t_ms, event.metrics.get("broke_5min", 0.0) >= 1.0)
            self._clock(w, t_ms)
        else:  # prompt_sent, held, ack, ...: only the clock
            self._clock(w, t_ms)

    def _command(self, command: CommandV1) -> list[Publication]:
        if command.kind == "forget":
            return self.forget(command.wearer)
        if command.kind not in ("pause", "resume", "dnd_on", "dnd_off", "policy"):
            self.ignored += 1
            return []
        # the alert service keeps a pause or a threshold given before a wearer's first data (alerts.engine): so is it
        # shown, from then on
        out = self._announce(command.wearer)
        w = self.wearers[command.wearer]
        if command.kind == "pause":
            w.paused_until_ms = _FOREVER_MS if command.until is None else _ms(command.until)
        elif command.kind == "resume":
            w.paused_until_ms = None
        elif command.kind in ("dnd_on", "dnd_off"):
            w.dnd = command.kind == "dnd_on"
        else:
            assert command.settings is not None
            live = {k: v for k, v in {**w.live, **command.settings}.items() if v != "default"}
            try:  # as the alert service does: a policy the validation refuses changes nothing
                merge(self.policies.for_wearer(command.wearer), live, f"policy command for {command.wearer}")
            except PolicyError:
                self.ignored += 1
                return out
            w.live, w.policy = live, None
        return out + self._due(command.wearer)

    def _prune(self, w: _Wearer) -> None:
        """Forget what cannot count any more: hours before today, outcomes before this week, open-hour bouts and
        breaks a closed hour covers."""
        if w.now_ms is None:
            return
        zone = self._policy_of(w).zone
        day_start, week_start = _day_start_ms(w.now_ms, zone), _week_start_ms(w.now_ms, zone)
        w.hours = {h: m for h, m in w.hours.items() if h >= day_start}
        w.outcomes = {p: o for p, o in w.outcomes.items() if o[0] >= week_start}
        floor = max(w.covered_until_ms, day_start)  # bouts and breaks before it count nowhere any more
        w.sitting_done = [(s, e) for s, e in w.sitting_done if e > floor]
        w.breaks_at = [t for t in w.breaks_at if t >= floor]

    # -- what Home Assistant is told ----------------------------------------------------------------------------

    def policy(self, wearer: str) -> PromptPolicy:
        w = self.wearers.get(wearer)
        return self.policies.for_wearer(wearer) if w is None else self._policy_of(w)

    def _policy_of(self, w: _Wearer) -> PromptPolicy:
        if w.policy is None:  # resolved once, and again after a policy command (a merge validates: not per frame)
            w.policy = self.policies.for_wearer(w.name, w.live)
        return w.policy

    def _announce(self, wearer: str) -> list[Publication]:
        if wearer in self.wearers:
            return []
        self.wearers[wearer] = _Wearer(wearer)
        return [
            self._json(topic, config) for topic, config in wearer_configs(self.topics, wearer, self.sw_version).items()
        ]

    def _announce_device(self, wearer: str, device: str) -> list[Publication]:
        devices = self.wearers[wearer].devices
        if device in devices:
            return []
        devices[device] = _Device()
        return self._configs(wearer, device)

    def _configs(self, wearer: str, device: str | None) -> list[Publication]:
        if device is None:
            configs = wearer_configs(self.topics, wearer, self.sw_version)
        else:
            configs = device_configs(self.topics, wearer, device, self.sw_version)
        return [self._json(topic, config) for topic, config in configs.items()]

    def configs(self) -> list[Publication]:
        """Every discovery config of every wearer and sensor seen (Home Assistant's birth message)."""
        out: list[Publication] = []
        for wearer, w in self.wearers.items():
            out += [self._json(t, c) for t, c in wearer_configs(self.topics, wearer, self.sw_version).items()]
            for device in w.devices:
                out += [
                    self._json(t, c) for t, c in device_configs(self.topics, wearer, device, self.sw_version).items()
                ]
        return out

    def forget(self, wearer: str) -> list[Publication]:
        """Remove a wearer's entities and states from Home Assistant (``kinetic data delete``): an empty retained
        message on each config and state topic it was given."""
        w = self.wearers.pop(wearer, None)
        if w is None:
            return []
        topics = list(wearer_configs(self.topics, wearer, self.sw_version))
        for device in w.devices:
            topics += list(device_configs(self.topics, wearer, device, self.sw_version))
        topics += list(w.sent)
        return [Publication(topic, b"") for topic in topics]

    def _device_online(self, device: str, d: _Device) -> bool:
        if d.status == OFFLINE or (d.status is None and not d.features):
            return False
        listing = [state for state, devices in self.collectors.values() if device in devices]
        return not listing or ONLINE in listing

    def _values(self, wearer: str, w: _Wearer) -> dict[str, tuple[str, bool]]:
        """topic -> (payload, published at once on a change) for every state known now."""
        t = self.topics
        out: dict[str, tuple[str, bool]] = {}
        online = {device: self._device_online(device, d) for device, d in w.devices.items()}
        out[t.availability(wearer)] = (ONLINE if any(online.values()) else OFFLINE, True)
        for device, d in w.devices.items():
            out[t.device_availability(wearer, device)] = (ONLINE if online[device] else OFFLINE, True)
            out[t.state(wearer, f"{device}_connection")] = (ON if online[device] else OFF, True)
            if d.battery_pct is not None:
                out[t.state(wearer, f"{device}_battery")] = (str(d.battery_pct), False)
        policy = self._policy_of(w)
        out[t.state(wearer, "sitting_threshold")] = (_number(policy.sitting_threshold_min), True)
        now = w.now_ms
        paused = w.paused_until_ms is not None and (now is None or w.paused_until_ms > now)
        out[t.state(wearer, "prompts_paused")] = (ON if paused else OFF, True)
        out[t.state(wearer, "do_not_disturb")] = (ON if w.dnd else OFF, True)
        if now is None:
            return out
        zone = policy.zone
        if w.posture is not None:
            out[t.state(wearer, "posture")] = (w.posture if w.posture in POSTURES else "unknown", True)
        sitting = w.posture == "sitting" and w.bout_start_ms is not None
        bout_s = max(0, now - w.bout_start_ms) / 1000 if sitting and w.bout_start_ms is not None else 0.0
        out[t.state(wearer, "sitting_bout")] = (_minutes(bout_s), False)
        day_start, day_end = _day_start_ms(now, zone), _day_start_ms(now, zone, -1)
        hours = [m for h, m in w.hours.items() if day_start <= h < day_end]
        open_from = max(w.covered_until_ms, day_start)
        intervals = list(w.sitting_done)
        if sitting and w.bout_start_ms is not None:
            intervals.append((w.bout_start_ms, now))
        open_sitting_ms = sum(max(0, min(e, now) - max(s, open_from)) for s, e in intervals)
        sitting_s = sum(m.get("sitting_s", 0.0) for m in hours) + open_sitting_ms / 1000
        out[t.state(wearer, "sitting_today")] = (_minutes(sitting_s), False)
        breaks = sum(m.get("breaks", 0.0) for m in hours) + sum(1 for b in w.breaks_at if open_from <= b <= now)
        out[t.state(wearer, "breaks_today")] = (str(round(breaks)), False)
        lean_s = sum(m.get("lean_above_10deg_s", 0.0) for m in hours)
        out[t.state(wearer, "lean_today")] = (_minutes(lean_s), False)
        # the day's totals restart at the wearer's midnight: HA's statistics take it from last_reset (entities.py)
        reset = json.dumps({"last_reset": datetime.fromtimestamp(day_start / 1000, zone).isoformat()})
        for total in ("sitting_today", "breaks_today", "lean_today"):
            out[t.attributes(wearer, total)] = (reset, False)
        week_start = _week_start_ms(now, zone)
        week = [moved for created, moved in w.outcomes.values() if week_start <= created <= now]
        rate = NONE_PAYLOAD if not week else _number(round(100 * sum(week) / len(week), 1))
        out[t.state(wearer, "response_rate_week")] = (rate, False)
        out[t.attributes(wearer, "response_rate_week")] = (
            json.dumps({"prompts": len(week), "moved_within_5min": sum(week)}),
            False,
        )
        if w.last_prompt is not None:
            p = w.last_prompt
            out[t.state(wearer, "last_prompt")] = (p.title, False)
            attributes = {
                "id": p.id,
                "text": p.text,
                "trigger": p.trigger,
                "exercise": p.exercise,
                "created": p.created.isoformat(),
                "expires": p.expires.isoformat(),
                "attempt": p.attempt,
            }
            out[t.attributes(wearer, "last_prompt")] = (json.dumps(attributes, ensure_ascii=False), False)
            out[t.state(wearer, "last_prompt_time")] = (p.created.astimezone(UTC).isoformat(), False)
        return out

    def flush(self, wearer: str) -> list[Publication]:
        """What the rate limit still holds back for a wearer, now. For when their data has stopped (the adapter calls
        it once nothing came for ``min_interval_ms`` of its own clock): event time no longer passes then, and the
        last corrections (a bout confirmed after its minimum duration and back-dated, an hour's summary) would
        otherwise never be shown."""
        return self._due(wearer, force=True)

    def _due(self, wearer: str, *, force: bool = False) -> list[Publication]:
        w = self.wearers.get(wearer)
        if w is None:
            return []
        out: list[Publication] = []
        posture, bout = self.topics.state(wearer, "posture"), self.topics.state(wearer, "sitting_bout")
        posture_changed = False
        for topic, (text, at_once) in self._values(wearer, w).items():
            payload = text.encode()
            last = w.sent.get(topic)
            if last is not None and last[0] == payload:
                continue
            if topic == posture:  # the current bout changes with it (values() gives posture first)
                posture_changed = True
            limited = not (force or at_once or (topic == bout and posture_changed))
            if limited and last is not None and self._too_soon(last[1], w.now_ms):
                continue
            w.sent[topic] = (payload, w.now_ms)
            out.append(Publication(topic, payload))
        return out

    def _too_soon(self, sent_ms: int | None, now_ms: int | None) -> bool:
        return sent_ms is not None and now_ms is not None and now_ms - sent_ms < self.min_interval_ms

    @staticmethod
    def _json(topic: str, config: Mapping[str, Any]) -> Publication:
        return Publication(topic, json.dumps(config, ensure_ascii=False, separators=(",", ":")).encode())


__all__ = ["DEVICE_ENTITIES", "NONE_PAYLOAD", "Publication", "StateTracker"]

"""Scenario files: how people (and our checks) describe a day. Pure parsing, errors carry file and line.

Format (documented in docs/scenarios.md)::

    start: 2026-11-23T09:00:00+01:00   # optional, ISO 8601 with an offset; default 2026-01-05T09:00:00Z
    seed: 7                            # optional, makes the sensor noise repeatable
    wearers:
      - wearer: alice
        placement: thigh               # thigh | trunk | wrist
        device: alice-thigh            # optional, default <wearer>-<placement>
        start_offset: 5m               # optional, this wearer starts later
        segments:
          - sit 35m
          - stand 2m
          - walk 5m
          - sit 20m lean_left 12deg

        calendar:                      # optional: the wearer's meetings (issue 17)
          - 10:00 60m                  # WHEN DURATION [busy|free]; busy by default
          - 2h30m 30m free
        commands:                      # optional: what the wearer (or Home Assistant) asks, at given times
          - 12:00 pause 30m            # pause [DURATION] | resume | dnd on | dnd off | calibrate
          - 16:00 checkin pain 6 stress high

A segment is ``ACTIVITY DURATION [MODIFIER VALUE]...``. Activities: sit, stand, walk, stairs, lie,
off (sensor not worn, lying still on a desk), gap (no data: out of range, battery flat).
Durations: 90s, 35m, 2h, 1h30m. Modifiers: lean_left/lean_right Ndeg (lateral trunk lean),
forward Ndeg (forward trunk inclination), repeat N (the segment N times in a row).

WHEN is in event time: a duration from the scenario's ``start`` (``1h05m``) or a clock time ``HH:MM`` in the start's
UTC offset, the first at or after the start. Calendar events become an iCalendar feed (``calendar_ics``), commands
the ``CommandV1`` messages the alert service obeys, stamped with their event time (``commands_for``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Literal, cast, get_args

import yaml

from ingest.errors import ScenarioError
from ingest.textfile import TextFileError, read_text
from ingest.wire import EARLIEST_MS, ID_PATTERN, LATEST_MS, CommandV1, Placement

Activity = Literal["sit", "stand", "walk", "stairs", "lie", "off", "gap"]
ACTIVITIES: tuple[str, ...] = get_args(Activity)
PLACEMENTS: tuple[str, ...] = get_args(Placement)
DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MAX_SCENARIO_S = 31 * 24 * 3600

_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
_ANGLE_RE = re.compile(r"^(-?\d+(?:\.\d+)?)deg$")
_CLOCK_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
ScriptedKind = Literal["pause", "resume", "dnd_on", "dnd_off", "calibrate", "checkin"]
Stress = Literal["low", "medium", "high"]
STRESS_LEVELS: tuple[str, ...] = get_args(Stress)


@dataclass(frozen=True, slots=True)
class Segment:
    activity: Activity
    duration_s: int
    lean_deg: float = 0.0  # lateral lean, positive = to the wearer's right
    forward_deg: float = 0.0
    line: int = 0


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """A meeting in the wearer's calendar: ``start_s`` after the scenario's start, ``duration_s`` long."""

    start_s: int
    duration_s: int
    busy: bool = True
    line: int = 0


@dataclass(frozen=True, slots=True)
class ScriptedCommand:
    """Something the wearer asks at ``at_s`` after the scenario's start. ``minutes``: a pause's length (None: until
    resume); ``pain`` (0-10) and ``stress``: a check-in's answers."""

    at_s: int
    kind: ScriptedKind
    minutes: float | None = None
    pain: int | None = None
    stress: Stress | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class WearerScript:
    wearer: str
    device: str
    placement: Placement
    start_offset_s: int
    segments: tuple[Segment, ...]
    calendar: tuple[CalendarEvent, ...] = ()
    commands: tuple[ScriptedCommand, ...] = ()

    @property
    def checkins(self) -> tuple[ScriptedCommand, ...]:
        return tuple(c for c in self.commands if c.kind == "checkin")

    @property
    def duration_s(self) -> int:
        return self.start_offset_s + sum(s.duration_s for s in self.segments)


@dataclass(frozen=True, slots=True)
class Scenario:
    start: datetime
    seed: int
    wearers: tuple[WearerScript, ...]

    @property
    def start_ms(self) -> int:
        return round(self.start.timestamp() * 1000)

    @property
    def duration_s(self) -> int:
        return max(w.duration_s for w in self.wearers)


def lead_over_clock_ms(scenario: Scenario, host_ms: int, speed: float) -> int:
    """How far (ms) the scenario's frames run ahead of the host clock at the moment each is published; <= 0: never.

    ``host_ms``: the host clock when the simulation starts (Unix ms); ``speed``: time acceleration (0 = as fast as
    possible: everything is published at ``host_ms``). A frame stamped ``t`` is published at
    ``host_ms + (t - start) / speed``, so its lead is linear in ``t`` and the largest lead is at the start or the end.
    The receivers refuse frames more than ``KINETIC_CLOCK__MAX_AHEAD_S`` ahead of their clock (docs/wire.md, "Time").
    """
    end_ms = scenario.start_ms + scenario.duration_s * 1000
    if speed <= 0:
        return end_ms - host_ms
    return max(scenario.start_ms - host_ms, end_ms - host_ms - round(scenario.duration_s * 1000 / speed))


def parse_duration_s(text: str) -> int:
    """'1h30m' -> 5400. Raises ValueError with the expected form."""
    match = _DURATION_RE.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"duration {text!r} must look like 90s, 35m, 2h or 1h30m")
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    total = round(h * 3600 + m * 60 + s)
    if total <= 0:
        raise ValueError(f"duration {text!r} must be at least 1s")
    return total


def parse_segment(text: str, line: int = 0) -> list[Segment]:
    """One segment line -> segments (several with ``repeat N``). Raises ValueError naming the problem."""
    words = text.split()
    if len(words) < 2:
        raise ValueError(f"segment {text!r} must be 'ACTIVITY DURATION [MODIFIER VALUE]...', e.g. 'sit 35m'")
    activity, duration = words[0], words[1]
    if activity not in ACTIVITIES:
        raise ValueError(f"unknown activity {activity!r}: expected one of {', '.join(ACTIVITIES)}")
    duration_s = parse_duration_s(duration)
    lean = forward = 0.0
    repeat = 1
    rest = words[2:]
    if len(rest) % 2:
        raise ValueError(f"modifier {rest[-1]!r} needs a value, e.g. 'lean_left 12deg'")
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        if name == "repeat":
            if not value.isdigit() or not 1 <= int(value) <= 1000:
                raise ValueError(f"repeat {value!r} must be a whole number from 1 to 1000")
            repeat = int(value)
            continue
        angle = _ANGLE_RE.match(value)
        if angle is None:
            raise ValueError(f"{name} {value!r}: the value must be an angle like 12deg")
        degrees = float(angle.group(1))
        if name in ("lean_left", "lean_right"):
            if not 0 <= degrees <= 60:
                raise ValueError(f"{name} {value}: lean must be between 0deg and 60deg")
            lean = -degrees if name == "lean_left" else degrees
        elif name == "forward":
            if not -30 <= degrees <= 90:
                raise ValueError(f"forward {value}: must be between -30deg and 90deg")
            forward = degrees
        else:
            raise ValueError(f"unknown modifier {name!r}: expected lean_left, lean_right, forward or repeat")
    return [Segment(activity, duration_s, lean, forward, line)] * repeat  # type: ignore[arg-type]


def parse_when_s(text: str, start: datetime) -> int:
    """WHEN -> seconds after ``start``: a duration (``1h05m``, ``0s``) or a clock time ``HH:MM`` in the start's UTC
    offset, the first at or after the start. Raises ValueError with the expected forms."""
    clock = _CLOCK_RE.match(text.strip())
    if clock is not None:
        at = start.replace(hour=int(clock.group(1)), minute=int(clock.group(2)), second=0, microsecond=0)
        if at < start:
            at += timedelta(days=1)
        return round((at - start).total_seconds())
    if text.strip() in ("0", "0s"):
        return 0
    try:
        return parse_duration_s(text)
    except ValueError:
        raise ValueError(
            f"time {text!r} must be a clock time like 10:30 or a duration from the start like 1h30m"
        ) from None


def parse_calendar_event(text: str, start: datetime, line: int = 0) -> CalendarEvent:
    """``WHEN DURATION [busy|free]`` -> a CalendarEvent. Raises ValueError naming the problem."""
    words = text.split()
    if len(words) not in (2, 3):
        raise ValueError(f"calendar event {text!r} must be 'WHEN DURATION [busy|free]', e.g. '10:00 60m'")
    if len(words) == 3 and words[2] not in ("busy", "free"):
        raise ValueError(f"calendar event {text!r}: {words[2]!r} must be busy or free")
    return CalendarEvent(parse_when_s(words[0], start), parse_duration_s(words[1]), words[2:] != ["free"], line)


def parse_command(text: str, start: datetime, line: int = 0) -> ScriptedCommand:
    """``WHEN pause [DURATION] | resume | dnd on | dnd off | calibrate | checkin [pain N] [stress LEVEL]`` -> a
    ScriptedCommand. Raises ValueError naming the problem."""
    words = text.split()
    if len(words) < 2:
        raise ValueError(f"command {text!r} must be 'WHEN WHAT', e.g. '12:00 pause 30m'")
    at_s, what, rest = parse_when_s(words[0], start), words[1], words[2:]
    if what == "pause" and len(rest) <= 1:
        return ScriptedCommand(at_s, "pause", parse_duration_s(rest[0]) / 60 if rest else None, line=line)
    if what in ("resume", "calibrate") and not rest:
        return ScriptedCommand(at_s, what, line=line)  # type: ignore[arg-type]
    if what == "dnd" and rest in (["on"], ["off"]):
        return ScriptedCommand(at_s, "dnd_on" if rest == ["on"] else "dnd_off", line=line)
    if what == "checkin" and rest and len(rest) % 2 == 0:
        answers = dict(zip(rest[::2], rest[1::2], strict=True))
        if set(answers) - {"pain", "stress"} or len(answers) != len(rest) // 2:
            raise ValueError(f"check-in {text!r}: answers are 'pain N' (0-10) and 'stress low|medium|high'")
        pain = answers.get("pain")
        if pain is not None and not (pain.isdigit() and 0 <= int(pain) <= 10):
            raise ValueError(f"check-in pain {pain!r} must be a whole number from 0 to 10")
        stress = answers.get("stress")
        if stress is not None and stress not in STRESS_LEVELS:
            raise ValueError(f"check-in stress {stress!r} must be low, medium or high")
        return ScriptedCommand(
            at_s,
            "checkin",
            pain=None if pain is None else int(pain),
            stress=cast("Stress | None", stress),
            line=line,
        )
    raise ValueError(
        f"command {' '.join(words[1:])!r}: expected pause [DURATION], resume, dnd on, dnd off, calibrate or "
        "checkin [pain N] [stress low|medium|high]"
    )


def calendar_ics(scenario: Scenario, script: WearerScript) -> str:
    """The wearer's scripted meetings as an iCalendar feed (RFC 5545; times in UTC, a free event as
    ``TRANSP:TRANSPARENT``): what a calendar server would publish, read by the same code as a real feed."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Kinetic//scenario//EN"]
    for n, event in enumerate(script.calendar):
        begin = scenario.start.astimezone(UTC) + timedelta(seconds=event.start_s)
        end = begin + timedelta(seconds=event.duration_s)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{script.wearer}-{n}@scenario.kinetic",
            f"DTSTAMP:{scenario.start.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            f"DTSTART:{begin:%Y%m%dT%H%M%SZ}",
            f"DTEND:{end:%Y%m%dT%H%M%SZ}",
            f"TRANSP:{'OPAQUE' if event.busy else 'TRANSPARENT'}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def commands_for(scenario: Scenario, script: WearerScript, source: str = "scenario") -> list[CommandV1]:
    """The wearer's scripted commands as wire commands, in time order, each stamped with its **event time** (the
    scenario clock, not the host's: an accelerated demo's pause covers the scenario's minutes). A check-in is a
    ``checkin`` command with its pain and stress: the alert service records it as the wearer's ``checkin`` event at
    that time, as it does for the CLI's, the web app's and ntfy's."""
    out: list[CommandV1] = []
    for command in sorted(script.commands, key=lambda c: c.at_s):
        at = scenario.start + timedelta(seconds=command.at_s)
        until = None if command.minutes is None else at + timedelta(minutes=command.minutes)
        out.append(
            CommandV1(
                kind=command.kind,
                wearer=script.wearer,
                at=at,
                until=until,
                pain=command.pain,
                stress=command.stress,
                source=source,
            )
        )
    return out


def _scalar(node: yaml.Node, what: str, where: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise ScenarioError(f"{where}:{node.start_mark.line + 1}: {what} must be a single value")
    return str(node.value)


def _mapping(node: yaml.Node, what: str, where: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise ScenarioError(f"{where}:{node.start_mark.line + 1}: {what} must be a mapping of 'key: value'")
    out: dict[str, yaml.Node] = {}
    for key_node, value in node.value:
        key = _scalar(key_node, "a key", where)
        if key not in allowed:
            raise ScenarioError(
                f"{where}:{key_node.start_mark.line + 1}: unknown key {key!r} (expected {', '.join(allowed)})"
            )
        out[key] = value
    return out


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse scenario YAML. Every error names ``source:line`` and the problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{source}{line}: not valid YAML ({problem})") from exc
    except RecursionError:
        raise ScenarioError(f"{source}: lists and mappings are nested too deeply for a scenario") from None
    if root is None:
        raise ScenarioError(f"{source}: the scenario is empty; it needs a 'wearers:' list")
    top = _mapping(root, "the scenario", source, ("start", "seed", "wearers", "name", "description"))

    start = DEFAULT_START
    if "start" in top:
        raw = _scalar(top["start"], "start", source)
        try:
            start = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise ScenarioError(
                f"{source}:{top['start'].start_mark.line + 1}: start {raw!r} must be ISO 8601, "
                "e.g. 2026-11-23T09:00:00+01:00"
            ) from exc
        if start.tzinfo is None:
            raise ScenarioError(
                f"{source}:{top['start'].start_mark.line + 1}: start {raw!r} needs a UTC offset, "
                "e.g. 2026-11-23T09:00:00+01:00"
            )
        if not EARLIEST_MS <= start.timestamp() * 1000 <= LATEST_MS - MAX_SCENARIO_S * 1000:
            raise ScenarioError(
                f"{source}:{top['start'].start_mark.line + 1}: start {raw!r} must lie from 2015 to 2099 (the times "
                "the wire contract accepts, docs/wire.md)"
            )
    seed = 0
    if "seed" in top:
        raw = _scalar(top["seed"], "seed", source)
        if not raw.lstrip("-").isdigit():
            raise ScenarioError(f"{source}:{top['seed'].start_mark.line + 1}: seed {raw!r} must be a whole number")
        seed = int(raw)

    if "wearers" not in top:
        raise ScenarioError(f"{source}:{root.start_mark.line + 1}: missing 'wearers:' list")
    wearers_node = top["wearers"]
    if not isinstance(wearers_node, yaml.SequenceNode) or not wearers_node.value:
        raise ScenarioError(f"{source}:{wearers_node.start_mark.line + 1}: 'wearers' must be a non-empty list")
    wearers = [_parse_wearer(node, source, start) for node in wearers_node.value]
    seen: set[tuple[str, str]] = set()
    for node, w in zip(wearers_node.value, wearers, strict=True):
        if (w.wearer, w.device) in seen:
            raise ScenarioError(
                f"{source}:{node.start_mark.line + 1}: wearer {w.wearer!r} device {w.device!r} appears twice"
            )
        seen.add((w.wearer, w.device))
    scenario = Scenario(start, seed, tuple(wearers))
    if scenario.duration_s > MAX_SCENARIO_S:
        raise ScenarioError(f"{source}: the scenario lasts {scenario.duration_s} s; at most 31 days are supported")
    return scenario


def _lines(fields: dict[str, yaml.Node], key: str, source: str) -> list[tuple[str, int]]:
    """A wearer's optional list of one-line entries (``calendar``, ``commands``), each with its line number."""
    if key not in fields:
        return []
    node = fields[key]
    if not isinstance(node, yaml.SequenceNode):
        raise ScenarioError(f"{source}:{node.start_mark.line + 1}: {key!r} must be a list")
    return [(_scalar(item, f"a {key} entry", source), item.start_mark.line + 1) for item in node.value]


def _parse_wearer(node: yaml.Node, source: str, start: datetime = DEFAULT_START) -> WearerScript:
    fields = _mapping(
        node,
        "a wearer",
        source,
        ("wearer", "device", "placement", "start_offset", "segments", "calendar", "commands"),
    )
    line = node.start_mark.line + 1
    for required in ("wearer", "placement", "segments"):
        if required not in fields:
            raise ScenarioError(f"{source}:{line}: this wearer has no {required!r}")
    wearer = _scalar(fields["wearer"], "wearer", source)
    placement = _scalar(fields["placement"], "placement", source)
    device = _scalar(fields["device"], "device", source) if "device" in fields else f"{wearer}-{placement}"
    for key, value in (("wearer", wearer), ("device", device)):
        if not re.match(ID_PATTERN, value):
            at = fields[key].start_mark.line + 1 if key in fields else line
            raise ScenarioError(
                f"{source}:{at}: {key} {value!r} must be lower-case letters, digits, '-' or '_' (max 64)"
            )
    if placement not in PLACEMENTS:
        raise ScenarioError(
            f"{source}:{fields['placement'].start_mark.line + 1}: placement {placement!r} must be one of "
            f"{', '.join(PLACEMENTS)}"
        )
    offset_s = 0
    if "start_offset" in fields:
        raw = _scalar(fields["start_offset"], "start_offset", source)
        try:
            offset_s = parse_duration_s(raw)
        except ValueError as exc:
            raise ScenarioError(f"{source}:{fields['start_offset'].start_mark.line + 1}: start_offset: {exc}") from exc
    seg_node = fields["segments"]
    if not isinstance(seg_node, yaml.SequenceNode) or not seg_node.value:
        raise ScenarioError(f"{source}:{seg_node.start_mark.line + 1}: 'segments' must be a non-empty list")
    segments: list[Segment] = []
    for item in seg_node.value:
        at = item.start_mark.line + 1
        text = _scalar(item, "a segment", source)
        try:
            segments.extend(parse_segment(text, at))
        except ValueError as exc:
            raise ScenarioError(f"{source}:{at}: {exc}") from exc
    calendar: list[CalendarEvent] = []
    commands: list[ScriptedCommand] = []
    for text, at in _lines(fields, "calendar", source):
        try:
            calendar.append(parse_calendar_event(text, start, at))
        except ValueError as exc:
            raise ScenarioError(f"{source}:{at}: {exc}") from exc
    for text, at in _lines(fields, "commands", source):
        try:
            commands.append(parse_command(text, start, at))
        except ValueError as exc:
            raise ScenarioError(f"{source}:{at}: {exc}") from exc
    return WearerScript(
        wearer,
        device,
        placement,  # type: ignore[arg-type]
        offset_s,
        tuple(segments),
        tuple(calendar),
        tuple(commands),
    )


def load_scenario(path: Path) -> Scenario:
    try:
        text = read_text(path)
    except TextFileError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    return parse_scenario(text, str(path))


def default_scenario() -> Scenario:
    """The built-in workday (``ingest/simulate/scenarios/workday.yaml``): what ``kinetic demo`` plays."""
    text = resources.files("ingest.simulate").joinpath("scenarios/workday.yaml").read_text(encoding="utf-8")
    return parse_scenario(text, "workday.yaml (built in)")

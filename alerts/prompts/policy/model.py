"""Prompt policy as data: defaults, a clinician's per-wearer file, live overrides. Pure (no clock, no I/O but the
file loader).

Resolution order for one wearer: built-in defaults < the policy file's ``defaults`` < its ``wearers.<id>`` entry <
live overrides (``kinetic prompts policy`` / the commands topic), which the alert service keeps with the wearer's
state. Every key is documented in docs/prompts.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from alerts.errors import PolicyError
from alerts.prompts.catalog import DayType
from ingest.errors import WireError
from ingest.textfile import TextFileError, parse_yaml, read_text
from ingest.wire import PolicySource, check_id

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Channel = Literal["mqtt", "ntfy", "webhook"]
Window = tuple[int, int]  # minutes of the local day: start, end; end <= start crosses midnight

_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def parse_window(text: str) -> Window:
    """'09:00-12:30' -> (540, 750); '22:00-02:00' crosses midnight; '00:00-24:00' is the whole day."""
    match = _WINDOW_RE.match(text.strip())
    if not match:
        raise ValueError(f"window {text!r} must look like 'HH:MM-HH:MM'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end > 24 * 60 or start == end:
        raise ValueError(f"window {text!r} is empty or ends after 24:00")
    return start, end


def _check_windows(windows: list[str]) -> list[str]:
    for window in windows:
        parse_window(window)
    return windows


DEFAULT_WEEK_PLAN: dict[Weekday, DayType] = {
    "mon": "capacity",
    "tue": "relief",
    "wed": "capacity",
    "thu": "relief",
    "fri": "capacity",
    "sat": "relief",
    "sun": "relief",
}


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a tz folder ('Europe'), a long name
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Europe/Berlin')") from exc
    return value


ZoneName = Annotated[str, AfterValidator(_known_zone)]
"""An IANA time zone name the system's tz database knows (``zoneinfo``)."""


class PromptPolicy(BaseModel):
    """One wearer's effective policy. Thresholds are in event time; schedules in the wearer's local time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: ZoneName = Field(default="UTC", description="IANA zone for schedules, caps per day and day types")
    sitting_threshold_min: float = Field(default=30.0, gt=0, le=24 * 60)
    standing_threshold_min: float | None = Field(default=45.0, gt=0, le=24 * 60, description="null: never")
    lean_threshold_deg: float = Field(default=10.0, gt=0, le=60)
    lean_duration_min: float | None = Field(default=10.0, gt=0, le=24 * 60, description="null: never")
    active_hours: dict[Weekday, list[str]] | None = Field(
        default=None, description="per weekday, windows 'HH:MM-HH:MM' (several: a lunch break); null: always"
    )
    quiet_hours: list[str] = Field(default_factory=list, description="every day, e.g. ['12:00-13:00']")
    snooze_min: float = Field(default=10.0, gt=0, le=240)
    escalate_after_min: float | None = Field(
        default=10.0, gt=0, le=240, description="one gentle re-prompt after this long without a break; null: never"
    )
    max_per_hour: int = Field(default=2, ge=0, le=60)
    max_per_day: int = Field(default=12, ge=0, le=500)
    min_spacing_min: float = Field(default=5.0, ge=0, le=240, description="between any two prompts")
    no_repeat_last: int = Field(default=2, ge=0, le=20, description="an exercise is not repeated within this many")
    week_plan: dict[Weekday, DayType] = Field(default_factory=lambda: dict(DEFAULT_WEEK_PLAN))
    readiness: bool = Field(
        default=True, description="decide each day's type from last night and check-ins (alerts/readiness.py)"
    )
    readiness_time: str = Field(
        default="08:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="local time of the day's readiness decision; before it, the week plan",
    )
    relief_max_per_day: int = Field(
        default=8, ge=0, le=500, description="the day's prompt cap on a relief day decided by readiness"
    )
    prompt_ttl_min: float = Field(default=15.0, gt=0, le=24 * 60)
    after_meeting_min: float | None = Field(
        default=30.0,
        gt=0,
        le=24 * 60,
        description="a calendar meeting sat through for at least this long brings the next sitting prompt forward to "
        "after_meeting_delay_min after its end, with an after-meeting exercise; null: never",
    )
    after_meeting_delay_min: float = Field(
        default=2.0, ge=0, le=60, description="how long after such a meeting the wearer, still seated, is prompted"
    )
    channels: list[Channel] = Field(default_factory=lambda: list[Channel](["mqtt"]), min_length=1)
    ntfy_topic: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: list[str]) -> list[str]:
        return _check_windows(value)

    @field_validator("active_hours")
    @classmethod
    def _active(cls, value: dict[Weekday, list[str]] | None) -> dict[Weekday, list[str]] | None:
        for windows in (value or {}).values():
            _check_windows(windows)
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def active_windows(self) -> dict[int, list[Window]] | None:
        if self.active_hours is None:
            return None
        return {WEEKDAYS.index(day): [parse_window(w) for w in ws] for day, ws in self.active_hours.items()}

    @cached_property
    def quiet_windows(self) -> dict[int, list[Window]]:
        windows = [parse_window(w) for w in self.quiet_hours]
        return dict.fromkeys(range(7), windows)

    @cached_property
    def readiness_minute(self) -> int:
        """``readiness_time`` as minutes of the local day."""
        hours, minutes = self.readiness_time.split(":")
        return int(hours) * 60 + int(minutes)

    def threshold_ms(self, trigger: str) -> int | None:
        minutes = {
            "sitting": self.sitting_threshold_min,
            "standing": self.standing_threshold_min,
            "lean": self.lean_duration_min,
        }[trigger]
        return None if minutes is None else round(minutes * 60_000)


POLICY_KEYS = frozenset(PromptPolicy.model_fields)


def merge(base: PromptPolicy, overrides: Mapping[str, Any], where: str) -> PromptPolicy:
    """``base`` with ``overrides`` applied (null is a value: 'never' for the keys that allow it); PolicyError names
    the bad key."""
    unknown = sorted(set(overrides) - POLICY_KEYS)
    if unknown:
        raise PolicyError(f"{where}: unknown policy key {unknown[0]!r} (known: {', '.join(sorted(POLICY_KEYS))})")
    data = base.model_dump()
    data.update(overrides)
    try:
        return PromptPolicy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise PolicyError(f"{where}: {loc}: {err['msg']}") from exc


class PolicyBook:
    """Defaults and per-wearer overrides from a clinician's file; resolves (and caches) one wearer's policy."""

    def __init__(
        self,
        defaults: PromptPolicy | None = None,
        wearers: Mapping[str, Mapping[str, Any]] | None = None,
        source: str = "policy",
        file_defaults: frozenset[str] = frozenset(),
    ) -> None:
        self.defaults = defaults or PromptPolicy()
        self.source = source
        self.file_defaults = file_defaults  # the keys the file's ``defaults`` section sets
        self.wearers = {w: dict(o) for w, o in (wearers or {}).items()}
        for wearer, overrides in self.wearers.items():
            merge(self.defaults, overrides, f"{source}: wearers.{wearer}")  # fail at load time, not at the first prompt

    def for_wearer(self, wearer: str, live: Mapping[str, Any] | None = None) -> PromptPolicy:
        """Resolve one wearer's policy (the engine keeps the result until the wearer's live overrides change)."""
        policy = self.defaults
        if wearer in self.wearers:
            policy = merge(policy, self.wearers[wearer], f"{self.source}: wearers.{wearer}")
        if live:
            policy = merge(policy, live, f"live policy of {wearer}")
        return policy

    @property
    def file(self) -> str | None:
        """The policy file's path (None: no file, the built-in defaults and the service's settings)."""
        return None if self.source == "policy" else self.source

    def sources(self, wearer: str, live: Mapping[str, Any] | None = None) -> dict[str, PolicySource]:
        """Where each key of the wearer's effective policy comes from: ``command`` (a live override), ``file`` (the
        wearer's section of the policy file, or its ``defaults``), else ``default`` (built in or the settings')."""
        wearer_keys = self.wearers.get(wearer, {})
        return {
            key: "command"
            if key in (live or {})
            else "file"
            if key in wearer_keys or key in self.file_defaults
            else "default"
            for key in PromptPolicy.model_fields
        }

    @classmethod
    def load(cls, path: Path | None, base: PromptPolicy | None = None) -> PolicyBook:
        """Read a YAML policy file: ``defaults: {...}`` and ``wearers: {<id>: {...}}``. None: defaults only."""
        base = base or PromptPolicy()
        if path is None:
            return cls(base)
        try:
            text = read_text(path)
            data = parse_yaml(text) or {}
        except TextFileError as exc:
            raise PolicyError(f"{path}: cannot read the policy file ({exc})") from None
        if not isinstance(data, dict) or set(data) - {"defaults", "wearers"}:
            raise PolicyError(f"{path}: expected only 'defaults:' and 'wearers:' at the top level")
        defaults = data.get("defaults") or {}
        wearers = data.get("wearers") or {}
        if not isinstance(defaults, dict) or not isinstance(wearers, dict):
            raise PolicyError(f"{path}: 'defaults' and 'wearers' must be mappings")
        if any(not isinstance(wearer, str) for wearer in wearers):
            raise PolicyError(f"{path}: {_unquoted_wearer_id(text)}")
        for wearer, overrides in wearers.items():
            try:  # 'Ann' or 'ann ' would never match a wearer on the wire: their overrides silently never applied
                check_id(str(wearer))
            except WireError as exc:
                raise PolicyError(f"{path}: wearers: {exc}") from None
            if not isinstance(overrides, dict):
                raise PolicyError(f"{path}: wearers.{wearer} must be a mapping of policy keys")
        return cls(
            merge(base, defaults, f"{path}: defaults"), wearers, source=str(path), file_defaults=frozenset(defaults)
        )


def _unquoted_wearer_id(text: str) -> str:
    """Why the file's ``wearers`` mapping has a key YAML does not read as text, naming the key as written: an unquoted
    patient number is an integer to YAML (``0755`` even the octal 493) and ``2024-01-05`` a date, and such a key
    never matches a wearer id on the wire (text): the overrides would silently never apply."""
    root = yaml.compose(text)  # parsed once already: it is YAML
    wearers = (
        next(
            (v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "wearers"),
            None,
        )
        if isinstance(root, yaml.MappingNode)
        else None
    )
    keys = wearers.value if isinstance(wearers, yaml.MappingNode) else []
    for key, _ in keys:
        if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:str":
            tag = key.tag.rsplit(":", 1)[-1]
            kind = {"int": "a number", "float": "a number", "timestamp": "a date", "bool": "true/false"}.get(tag, tag)
            return (
                f"wearers: line {key.start_mark.line + 1}: the wearer id {key.value} is read by YAML as {kind}, "
                f"not text; quote it ('{key.value}')"
            )
    return "wearers: every wearer id must be text; quote ids made of digits ('1042')"
